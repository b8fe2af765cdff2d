"""
Helpers of the Shopware 6 adapter tests against the emulator: an emulator, a
shop on it, the contract's categories pushed, what the shop holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ecomsync import (
    DataType,
    Outgoing,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.testing._platform_contract import (
    CATEGORIES,
)
from ecomsync.testing.shopware6 import ShopwareEmulator

from ._shopware6 import SECRET


def _shop(emu: ShopwareEmulator, **kwargs: Any) -> Shopware6:
    return Shopware6(
        "http://shop.test",
        emu.client_id,
        emu.client_secret,
        transport=httpx.ASGITransport(app=emu.app),
        **kwargs,
    )


def _number_of_category(emu: ShopwareEmulator, cid: str | None) -> str | None:
    if cid is None:
        return None
    row = emu.entities["category"].get(cid)
    if row is None:
        return None
    return (row.get("customFields") or {}).get("ecomsync_number")


def _state(emu: ShopwareEmulator, row: dict[str, Any]) -> str | None:
    state = emu.entities["state_machine_state"].get(row.get("stateId", ""))
    return None if state is None else str(state["technicalName"])


@pytest.fixture(name="emu")
def adapter_emu() -> ShopwareEmulator:
    return ShopwareEmulator(client_id="SWIATEST", client_secret=SECRET)


@pytest.fixture(name="shop")
async def adapter_shop(emu: ShopwareEmulator) -> AsyncIterator[Shopware6]:
    shop = _shop(emu)
    yield shop
    await shop.aclose()


async def _catalogue(shop: Shopware6) -> None:
    outcomes = await shop.push(
        DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
    )
    assert all(o.ok for o in outcomes)


def _products(emu: ShopwareEmulator) -> list[str]:
    return sorted(p["productNumber"] for p in emu.entities["product"].values())

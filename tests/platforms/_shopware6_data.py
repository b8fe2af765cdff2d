"""
Helpers of the tests of merchant data as it really is on a Shopware 6 shop:
an emulator, a shop on it with the contract's categories, pushes, what the
shop holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx
import pytest

from ecomsync import (
    DataType,
    Outcome,
    Outgoing,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.testing._platform_contract import CATEGORIES
from ecomsync.testing.shopware6 import ShopwareEmulator


SECRET = "data-secret"


@pytest.fixture(name="emu")
def data_emu() -> ShopwareEmulator:
    return ShopwareEmulator(client_id="SWIADATA", client_secret=SECRET)


def _shop(emu: ShopwareEmulator, **kwargs: Any) -> Shopware6:
    return Shopware6(
        "http://shop.test",
        emu.client_id,
        SECRET,
        transport=httpx.ASGITransport(app=emu.app),
        **kwargs,
    )


@pytest.fixture(name="shop")
async def data_shop(emu: ShopwareEmulator) -> AsyncIterator[Shopware6]:
    shop = _shop(emu)
    outcomes = await shop.push(
        DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
    )
    assert all(o.ok for o in outcomes)
    yield shop
    await shop.aclose()


def _numbers(emu: ShopwareEmulator) -> dict[str, dict[str, Any]]:
    return {p["productNumber"]: p for p in emu.entities["product"].values()}


def _syncs(emu: ShopwareEmulator) -> int:
    return sum(1 for r in emu.requests if r.path == "/api/_action/sync")


async def _push(
    shop: Shopware6, data_type: DataType, *records: Any
) -> list[Outcome]:
    return await shop.push(data_type, [Outgoing(record=r) for r in records])


def _seeded() -> int:
    """
    How many categories a fresh emulator holds (its root).
    """
    return len(ShopwareEmulator().entities["category"])


def attrs_evolve(instance: Any, **changes: Any) -> Any:
    """
    Build a changed copy without the converters' checks (the ERP side may
    hand over values no constructor would accept).
    """
    values = attrs.asdict(instance, recurse=False)
    values.update(changes)
    copy = object.__new__(type(instance))
    for name, value in values.items():
        object.__setattr__(copy, name, value)
    return copy

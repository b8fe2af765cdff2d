"""
Merchant data as it really is, from a live Tryton into the Shopware 6
emulator: a template with variants (one discontinued), a template without
code, a code reused by an active product after an inactive one, an
inactive article, two warehouses and stock held by open orders.  The
shop must end up exactly as Tryton has it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from ecomsync import (
    All,
    ChangedSince,
    DataType,
    LocalLicensePool,
    MediaStaging,
    RunRecord,
    RunStatus,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync.erp.tryton import TrytonErp
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._mapping import product_id
from ecomsync.testing._tryton_seed import (
    TRAP_ARTICLES,
    TRAP_STOCK,
    seed_traps,
    sell,
)
from ecomsync.testing.shopware6 import ShopwareEmulator

from .conftest import make_erp


pytestmark = [pytest.mark.anyio, pytest.mark.tryton, pytest.mark.slow]

SECRET = "traps-s3cr3t"
CATALOGUE = SyncSpec(
    types={
        DataType.CATEGORIES: All(),
        DataType.ARTICLES: All(),
        DataType.STOCK: All(),
    }
)


def _succeeded(run: RunRecord) -> None:
    assert run.status is RunStatus.SUCCEEDED, (run.error, run.failures)
    assert not run.failures, run.failures


def _by_number(emu: ShopwareEmulator) -> dict[str, dict[str, Any]]:
    return {
        row["productNumber"]: row for row in emu.entities["product"].values()
    }


def _options(emu: ShopwareEmulator, pid: str) -> set[tuple[str, str]]:
    groups = emu.entities["property_group"]
    options = emu.entities["property_group_option"]
    return {
        (
            groups[options[link["optionId"]]["groupId"]]["name"],
            options[link["optionId"]]["name"],
        )
        for link in emu.entities["product_option"].values()
        if link["productId"] == pid
    }


def _gross(row: dict[str, Any]) -> Decimal:
    (price,) = row["price"]
    return Decimal(str(price["gross"]))


class TestTrapsToShopware6:
    async def test_shop_holds_what_tryton_has(
        self,
        tryton_server: dict[str, Any],
        tryton_admin: TrytonErp,
        tmp_path: Path,
    ) -> None:
        """Variants land as one product with children and options, the
        active product holds a reused number, the inactive article is
        inactive, stock is what is available to sell over both
        warehouses; a new order lowers it on the next run."""
        async with tryton_admin.session() as session:
            products = await seed_traps(session.rpc)
        emu = ShopwareEmulator(client_id="SWIATRAPS", client_secret=SECRET)
        shop = Shopware6(
            "http://shopware.test",
            emu.client_id,
            SECRET,
            transport=httpx.ASGITransport(app=emu.app),
        )
        store = SqliteStore(tmp_path / "state.db")
        sync = Synchronizer(
            erp=make_erp(tryton_server),
            platforms={"shop": shop},
            store=store,
            licenses=LocalLicensePool(1),
            staging=MediaStaging(tmp_path / "staging"),
        )
        try:
            with anyio.fail_after(120):
                first = await sync.execute(CATALOGUE)
            _succeeded(first)
            shop_state = _by_number(emu)

            # every article and variant, nothing else (no Old Z, no SHIRT-L)
            expected_numbers = {
                n
                for a in TRAP_ARTICLES
                for n in (a.number, *(v.number for v in a.variants))
            }
            assert expected_numbers == set(shop_state)
            for article in TRAP_ARTICLES:
                parent = shop_state[article.number]
                assert parent["id"] == product_id(article.number)
                assert parent["name"] == article.name
                assert parent["active"] is article.active, article.number
                assert _gross(parent) == article.price
                assert parent.get("parentId") is None
                for variant in article.variants:
                    child = shop_state[variant.number]
                    assert child["parentId"] == parent["id"]
                    assert _options(emu, child["id"]) == set(variant.options)
                    assert _gross(child) == (variant.price or article.price)
            # stock: available to sell, one level per product
            assert TRAP_STOCK == {
                number: shop_state[number]["stock"] for number in TRAP_STOCK
            }
            assert first.counts[DataType.STOCK].created == len(TRAP_STOCK)

            # a rerun changes nothing
            mark = len(emu.requests)
            again = await sync.execute(CATALOGUE)
            _succeeded(again)
            for typed in again.counts.values():
                assert (typed.created, typed.updated) == (0, 0)
            assert [
                r for r in list(emu.requests)[mark:] if r.route == "sync"
            ] == []

            # a new confirmed order holds two more shirts
            moment = datetime.now(UTC)
            async with tryton_admin.session() as session:
                await sell(session.rpc, products["SHIRT-S"], 2)
            stock = await sync.execute(
                SyncSpec(types={DataType.STOCK: ChangedSince(moment)})
            )
            _succeeded(stock)
            assert stock.counts[DataType.STOCK].updated == 1
            assert (
                _by_number(emu)["SHIRT-S"]["stock"]
                == TRAP_STOCK["SHIRT-S"] - 2
            )
        finally:
            await shop.aclose()
            await store.aclose()

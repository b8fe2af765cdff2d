"""
Templates with variants from a live Tryton into a live Vendure, end to
end: the whole Vendure catalogue (products, variants, options, SKUs,
prices, stock) must be what Tryton says; a second run writes nothing; a
changed variant price updates exactly that variant; stock per warehouse
lands in the mapped stock locations.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from ecomsync import (
    All,
    Article,
    DataType,
    LocalLicensePool,
    MediaStaging,
    RunRecord,
    RunStatus,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
)
from ecomsync.erp.tryton import TrytonErp
from ecomsync.testing._tryton_seed import (
    TRAP_ARTICLES,
    TRAP_STOCK,
    TRAP_STOCK_PER_WAREHOUSE,
    seed_traps,
)
from tests.platforms._vendure_shop import _CountingTransport
from tests.platforms.vendure_server import (
    VendureAdmin,
    VendureServer,
    _fresh_vendure,
    _vendure_server,
)

from .conftest import make_erp


__all__ = ["_fresh_vendure", "_vendure_server"]

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.tryton,
    pytest.mark.vendure,
    pytest.mark.slow,
]

CATALOGUE = SyncSpec(
    types={
        DataType.CATEGORIES: All(),
        DataType.ARTICLES: All(),
        DataType.STOCK: All(),
    }
)
DEFAULT = "Default Stock Location"

_PRODUCTS = """{ products(options: { take: 100 }) { totalItems items {
  id name enabled
  variants { id sku enabled priceWithTax updatedAt
    options { name group { name } }
    stockLevels { stockLocation { name } stockOnHand stockAllocated }
  } } } }"""


def _succeeded(run: RunRecord) -> None:
    assert run.status is RunStatus.SUCCEEDED, (run.error, run.failures)
    assert not run.failures, run.failures


async def _shop(admin: VendureAdmin) -> list[dict[str, Any]]:
    data = await admin.gql(_PRODUCTS)
    products: list[dict[str, Any]] = data["products"]["items"]
    assert data["products"]["totalItems"] == len(products)
    return products


def _catalogue(products: list[dict[str, Any]]) -> set[Any]:
    """
    Vendure's catalogue as comparable values: per product its name,
    whether it is enabled, and per variant SKU, enabled, gross price in
    cents and options.
    """
    return {
        (
            p["name"],
            p["enabled"],
            frozenset(
                (
                    v["sku"],
                    v["enabled"],
                    v["priceWithTax"],
                    frozenset(
                        (o["group"]["name"], o["name"]) for o in v["options"]
                    ),
                )
                for v in p["variants"]
            ),
        )
        for p in products
    }


def _expected(articles: list[Article]) -> set[Any]:
    """
    What Vendure must hold for the ERP's *articles*.
    """

    def cents(price: Decimal) -> int:
        return int(price * 100)

    return {
        (
            a.name,
            a.active,
            frozenset(
                (
                    v.number,
                    a.active,
                    cents(v.price if v.price is not None else a.price),
                    frozenset(v.options),
                )
                for v in a.variants
            )
            if a.variants
            else frozenset(
                {(a.number, a.active, cents(a.price), frozenset())}
            ),
        )
        for a in articles
    }


def _stock(products: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """
    What the shop sells per SKU and location (zero levels left out:
    Vendure keeps one at every location).
    """
    return {
        v["sku"]: {
            s["stockLocation"]["name"]: s["stockOnHand"] - s["stockAllocated"]
            for s in v["stockLevels"]
            if s["stockOnHand"] - s["stockAllocated"]
        }
        for p in products
        for v in p["variants"]
    }


async def _read(erp: TrytonErp, data_type: DataType) -> list[Any]:
    async with erp.session() as session:
        return [
            record
            async for batch in session.read(data_type, All(), batch_size=50)
            for record in batch
        ]


class TestTrytonToVendure:
    async def test_variants_round_trip(
        self,
        tryton_server: dict[str, Any],
        tryton_admin: TrytonErp,
        fresh_vendure: VendureServer,
        tmp_path: Path,
    ) -> None:
        """Templates with variants become one Vendure product each with
        its variants, options, SKUs and prices, inactive ones disabled,
        stock available to sell; a rerun sends no mutation; a changed
        variant price updates exactly that variant; stock per warehouse
        lands whole in the mapped locations."""
        async with tryton_admin.session() as session:
            products = await seed_traps(session.rpc)
        admin = fresh_vendure.admin()
        await admin.gql(
            'mutation { createStockLocation(input: { name: "North", '
            'description: "" }) { id } }'
        )
        transport = _CountingTransport()
        shop = fresh_vendure.platform(transport=transport)
        store = SqliteStore(tmp_path / "state.db")
        sync = Synchronizer(
            erp=make_erp(tryton_server),
            platforms={"vendure": shop},
            store=store,
            licenses=LocalLicensePool(1),
            staging=MediaStaging(tmp_path / "staging"),
        )
        per_warehouse = fresh_vendure.platform(
            stock_locations={"WH": DEFAULT, "WH2": "North"}
        )
        try:
            with anyio.fail_after(300):
                first = await sync.execute(CATALOGUE)
            _succeeded(first)
            erp_articles = await _read(tryton_admin, DataType.ARTICLES)
            before = await _shop(admin)

            mark = transport.mutations
            again = await sync.execute(CATALOGUE)
            quiet = transport.mutations - mark
            _succeeded(again)

            async with tryton_admin.session() as session:
                await session.rpc.model(
                    "product.product",
                    "write",
                    [products["SOCK-RED"]],
                    {"list_price": Decimal("5.50")},
                )
            dearer = await sync.execute(CATALOGUE)
            _succeeded(dearer)
            erp_dearer = await _read(tryton_admin, DataType.ARTICLES)
            after = await _shop(admin)

            split = Synchronizer(
                erp=make_erp(tryton_server, stock_per_warehouse=True),
                platforms={"vendure": per_warehouse},
                store=store,
            )
            located = await split.execute(
                SyncSpec(types={DataType.STOCK: All()})
            )
            _succeeded(located)
            erp_levels = await _read(
                make_erp(tryton_server, stock_per_warehouse=True),
                DataType.STOCK,
            )
            placed = await _shop(admin)
        finally:
            await per_warehouse.aclose()
            await shop.aclose()
            await admin.aclose()
            await store.aclose()

        # the whole catalogue is what the ERP says, nothing more
        assert sorted(a.number for a in TRAP_ARTICLES) == sorted(
            a.number for a in erp_articles
        )
        assert _expected(erp_articles) == _catalogue(before)
        assert 4 == len(before)
        skus = {v["sku"] for p in before for v in p["variants"]}
        assert {
            "SHIRT-M",
            "SHIRT-S",
            "SOCK-BLUE",
            "SOCK-RED",
            "Z-1",
            "G-1",
        } == skus
        # stock: available to sell, summed, at the default location
        assert {
            sku: {DEFAULT: n} if n else {} for sku, n in TRAP_STOCK.items()
        } == {sku: _stock(before)[sku] for sku in TRAP_STOCK}
        assert first.counts[DataType.STOCK].created == len(TRAP_STOCK)

        # a rerun writes nothing
        assert 0 == quiet
        for typed in again.counts.values():
            assert (typed.created, typed.updated) == (0, 0)

        # one variant's price: exactly that variant changes
        assert _expected(erp_dearer) == _catalogue(after)
        assert 1 == dearer.counts[DataType.ARTICLES].updated
        old = {v["sku"]: v for p in before for v in p["variants"]}
        new = {v["sku"]: v for p in after for v in p["variants"]}
        changed = {
            sku
            for sku in new
            if (new[sku]["priceWithTax"], new[sku]["updatedAt"])
            != (old[sku]["priceWithTax"], old[sku]["updatedAt"])
        }
        assert {"SOCK-RED"} == changed
        assert 550 == new["SOCK-RED"]["priceWithTax"]

        # stock per warehouse: each article's levels in their locations
        assert all(isinstance(s, StockLevel) for s in erp_levels)
        expected: dict[str, dict[str, int]] = {}
        for (sku, warehouse), n in TRAP_STOCK_PER_WAREHOUSE.items():
            if n:
                where = DEFAULT if warehouse == "WH" else "North"
                expected.setdefault(sku, {})[where] = n
        assert {sku: expected.get(sku, {}) for sku in TRAP_STOCK} == {
            sku: _stock(placed)[sku] for sku in TRAP_STOCK
        }
        assert len(TRAP_STOCK) == located.counts[DataType.STOCK].updated

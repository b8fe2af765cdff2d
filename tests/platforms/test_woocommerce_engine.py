"""
The engine over the WooCommerce adapter and emulator: the engine contract
(a plan equals the run that follows it and bounds its requests, a plan
writes nothing, no secret leaks) and the dirty catalogue, which lands
exactly or fails by name.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import attrs
import httpx
import pytest
import stamina

from ecomsync import (
    All,
    Article,
    Category,
    ChangedSince,
    DataType,
    MemoryErp,
    Only,
    OrderState,
    RunStatus,
    StockLevel,
    SyncSpec,
)
from ecomsync.platforms.woocommerce import WooCommerce, category_slug
from ecomsync.testing import (
    DirtyCatalogue,
    Trap,
    dirty_catalogue,
)
from ecomsync.testing.woocommerce import RequestRecord, WooCommerceEmulator

from .._engine_contract import (
    DirtyCatalogueContract,
    LostStateContract,
    Outcome,
    PlatformEngineContract,
    two_runs,
)
from .._push import PUSH, pushing


CANARY = "cs_canary-S3CR3T-4f1d9b"
APP = "app-CANARY-password"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _emu() -> WooCommerceEmulator:
    return WooCommerceEmulator(
        "ck_engine", CANARY, wp_user="sync", wp_application_password=APP
    )


def shop(emu: WooCommerceEmulator, secret: str = CANARY) -> WooCommerce:
    return WooCommerce(
        "http://shop.test",
        "ck_engine",
        secret,
        wp_user="sync",
        wp_application_password=APP,
        transport=httpx.ASGITransport(app=emu.app),
    )


class TestEngine(PlatformEngineContract):
    """The engine contract over WooCommerce and its emulator."""

    secrets = (CANARY, APP)
    wrong_secret = "cs_wrong-S3CR3T-zz"

    def emulator(self) -> WooCommerceEmulator:
        return _emu()

    def platform(
        self, emu: WooCommerceEmulator, *, secret: str | None = None
    ) -> WooCommerce:
        return shop(emu, CANARY if secret is None else secret)

    def place_costly_orders(self, emu: WooCommerceEmulator) -> str:
        # a refunded order: its refunds cost a request more
        for n in range(6):
            order = emu.place_order(
                billing={"country": "DE", "last_name": "Muster"},
                lines=[
                    {
                        "sku": "A-1",
                        "quantity": 2,
                        "price": "10.00",
                        "subtotal": "20.00",
                        "total": "20.00",
                    }
                ],
                total="20.00",
            )
            if n:
                emu.refund(order, {"A-1": 1})
        return str(order)

    def writes(self, emu: WooCommerceEmulator) -> list[RequestRecord]:
        return [r for r in emu.requests if r.method in WRITES]

    def stock(self, emu: WooCommerceEmulator, number: str) -> list[int]:
        return [
            p["stock_quantity"]
            for p in emu.shop.products.values()
            if p["sku"] == number
        ]

    def check_first_sync(
        self, emu: WooCommerceEmulator, sent: list[RequestRecord]
    ) -> None:
        """Each image uploaded once through wp/v2/media and attached by
        id."""
        uploads = [r for r in sent if r.route == "media_upload"]
        assert 6 == len(uploads)
        with_images = [p for p in emu.shop.products.values() if p["images"]]
        assert 6 == len(with_images)
        assert 6 == len(emu.shop.media)


# -- the dirty catalogue ---------------------------------------------------


class TestLostState(LostStateContract):
    """
    WordPress gives each image uploaded again a slug "<hash>-2": the
    adapter deletes that copy and keeps the attachment already holding
    the content.
    """

    def emulator(self) -> WooCommerceEmulator:
        return _emu()

    def platform(self, emu: WooCommerceEmulator) -> WooCommerce:
        return shop(emu)

    def media(self, emu: WooCommerceEmulator) -> object:
        return set(emu.shop.media)

    def attached(self, emu: WooCommerceEmulator) -> dict[int, list[int]]:
        return {
            n: [i["id"] for i in p["images"]]
            for n, p in emu.shop.products.items()
        }

    def requests(self, emu: WooCommerceEmulator) -> int:
        return len(emu.requests)

    def catalogue(self, emu: WooCommerceEmulator) -> object:
        shop = emu.shop
        names = {c["id"]: c["name"] for c in shop.categories.values()}
        files = {a.id: a.sha256 for a in shop.media.values()}
        return (
            sorted(
                (
                    p["sku"],
                    p["type"],
                    p["parent_id"] != 0,
                    sorted(shop.products[v]["sku"] for v in p["variations"]),
                    [files.get(i["id"]) for i in p["images"]],
                    sorted(c["name"] for c in p["categories"]),
                    p["stock_quantity"],
                    p["regular_price"],
                )
                for p in shop.products.values()
            ),
            sorted(
                (c["name"], names.get(c["parent"]))
                for c in shop.categories.values()
            ),
            sorted(files.values()),
        )


@attrs.frozen
class _Shop:
    """
    The emulated shop's catalogue, by SKU and slug.
    """

    emu: WooCommerceEmulator

    def product(self, number: str) -> dict[str, Any] | None:
        for row in self.emu.shop.products.values():
            if row["sku"] == number:
                return row
        return None

    def category(self, number: str) -> dict[str, Any] | None:
        for row in self.emu.shop.categories.values():
            if row["slug"] == category_slug(number):
                return row
        return None

    def check_article(self, article: Article) -> None:
        row = self.product(article.number)
        assert row is not None, f"{article.number!r} is not in the shop"
        products = self.emu.shop.products
        assert article.name == row["name"]
        assert article.active == (row["status"] == "publish")
        assert {
            self.category(c)["id"]  # type: ignore[index]
            for c in article.categories
        } == {c["id"] for c in row["categories"]}
        assert len(article.media) == len(row["images"])
        children = {products[v]["sku"]: products[v] for v in row["variations"]}
        assert {v.number for v in article.variants} == set(children)
        if not article.variants:
            assert article.price == Decimal(row["regular_price"])
        for variant in article.variants:
            child = children[variant.number]
            price = article.price if variant.price is None else variant.price
            assert price == Decimal(child["regular_price"])
            assert list(variant.options) == [
                (a["name"], a["option"]) for a in child["attributes"]
            ]

    def check_category(self, category: Category) -> None:
        row = self.category(category.number)
        assert row is not None, f"{category.number!r} is not in the shop"
        assert category.name == row["name"]
        parent = self.category(category.parent) if category.parent else None
        assert (parent["id"] if parent else 0) == row["parent"]

    def check_stock(self, stock: StockLevel) -> None:
        row = self.product(stock.number)
        assert row is not None
        assert stock.quantity == row["stock_quantity"]

    def holds(self, trap: Trap) -> bool:
        number = trap.record.number
        if trap.data_type is DataType.CATEGORIES:
            return self.category(number) is not None
        row = self.product(number)
        if trap.data_type is DataType.STOCK:
            return row is not None and row["stock_quantity"] == (
                trap.record.quantity  # type: ignore[union-attr]
            )
        return row is not None


class TestDirtyCatalogue(DirtyCatalogueContract):
    """The dirty catalogue into the WooCommerce emulator, twice."""

    @staticmethod
    def catalogue() -> DirtyCatalogue:
        # WordPress stores post titles as TEXT: no name limit; SKUs
        # compare in MySQL's _ci collation: numbers fold.
        return dirty_catalogue(numbers_fold=True, name_limit=None)

    @pytest.fixture(scope="class", name="dirty")
    @classmethod
    def _dirty(
        cls, tmp_path_factory: pytest.TempPathFactory
    ) -> tuple[DirtyCatalogue, Outcome]:
        stamina.set_testing(True, attempts=2)
        emulator = _emu()
        catalogue = cls.catalogue()
        try:
            outcome = anyio.run(
                two_runs,
                catalogue,
                shop(emulator),
                tmp_path_factory.mktemp("woo"),
            )
        finally:
            stamina.set_testing(False)
        outcome.shop = _Shop(emulator)
        return catalogue, outcome

    def test_whole_shop(self, dirty: tuple[DirtyCatalogue, Outcome]) -> None:
        """
        The shop holds exactly what must land (one shared image uploaded
        once).
        """
        catalogue, outcome = dirty
        emu = outcome.shop.emu
        parents = [
            p for p in emu.shop.products.values() if p["type"] != "variation"
        ]

        assert len(catalogue.landing(DataType.ARTICLES)) == len(parents)
        assert len(catalogue.landing(DataType.CATEGORIES)) + 1 == len(
            emu.shop.categories
        )
        assert 1 == len(emu.shop.media)


# -- an order paid after it was placed ---------------------------------------


class TestPendingOrderStock:
    """A pending order paid later, through the engine."""

    pytestmark = pytest.mark.anyio

    async def test_paid_pending_order_leaves_the_erps_available(
        self, tmp_path: Path
    ) -> None:
        """
        An order placed ``pending`` (unpaid; WooCommerce keeps its stock)
        and paid after an order sync and a stock push: the shop then
        sells what the ERP has available (on hand less the orders it
        holds), not that less the order's units once more.
        """
        on_hand = 10
        erp = MemoryErp(
            [
                Category(number="C-1", name="Hats"),
                Article(
                    number="A-1",
                    name="Hat",
                    price=Decimal("10.00"),
                    categories=("C-1",),
                ),
                StockLevel(number="A-1", quantity=on_hand),
            ]
        )
        emu = _emu()
        started = datetime.now(UTC) - timedelta(minutes=1)
        orders = SyncSpec(
            types={DataType.ADDRESSES_AND_ORDERS: ChangedSince(started)}
        )
        stock = SyncSpec(types={DataType.STOCK: All()})

        async def run(spec: SyncSpec) -> None:
            result = await sync.execute(spec)
            assert RunStatus.SUCCEEDED == result.status, result.failures

        def available() -> int:
            # the ERP holds the units of the orders it imported
            held = sum(
                line.quantity
                for order in erp.orders.values()
                for line in order.lines
                if line.article_number == "A-1"
            )
            return on_hand - held

        async with pushing(shop(emu), erp, tmp_path) as sync:
            await run(PUSH)
            oid = emu.place_order(
                status="pending",
                billing={"country": "DE", "last_name": "Muster"},
                lines=[{"sku": "A-1", "quantity": 3, "price": "10.00"}],
                total="30.00",
            )
            await run(orders)
            erp.put(StockLevel(number="A-1", quantity=available()))
            await run(stock)
            emu.shop.update_order(oid, {"status": "processing"})  # paid
            await run(orders)
            erp.put(StockLevel(number="A-1", quantity=available()))
            await run(stock)

        (hat,) = [p for p in emu.shop.products.values() if p["sku"] == "A-1"]
        assert [str(oid)] == [o.number for o in erp.orders.values()]
        assert (7, 7) == (available(), hat["stock_quantity"])


class TestOrderStatusBackInTheShop:
    """Orders whose status the shop moves back, through the engine."""

    pytestmark = pytest.mark.anyio

    @staticmethod
    def _erp(on_hand: int) -> MemoryErp:
        return MemoryErp(
            [
                Category(number="C-1", name="Hats"),
                Article(
                    number="A-1",
                    name="Hat",
                    price=Decimal("10.00"),
                    categories=("C-1",),
                ),
                StockLevel(number="A-1", quantity=on_hand),
            ]
        )

    @staticmethod
    def _available(erp: MemoryErp, on_hand: int) -> int:
        # the ERP holds the units of the open orders it imported
        return on_hand - sum(
            line.quantity
            for key, order in erp.orders.items()
            if erp.order_states[key] is not OrderState.CANCELLED
            for line in order.lines
            if line.article_number == "A-1"
        )

    async def test_failed_on_hold_order_then_cancelled_keeps_stock_right(
        self, tmp_path: Path
    ) -> None:
        """
        An ``on-hold`` order turned ``failed`` before the order sync
        (WooCommerce keeps its units off stock), then goods received and
        pushed, then the order cancelled (WooCommerce gives its units
        back): the shop sells what the ERP has, not those units on top.
        """
        erp = self._erp(10)
        emu = _emu()
        started = datetime.now(UTC) - timedelta(minutes=1)
        orders = SyncSpec(
            types={DataType.ADDRESSES_AND_ORDERS: ChangedSince(started)}
        )
        stock = SyncSpec(types={DataType.STOCK: All()})

        async def run(spec: SyncSpec) -> None:
            result = await sync.execute(spec)
            assert RunStatus.SUCCEEDED == result.status, result.failures

        async def push_stock(on_hand: int) -> None:
            available = self._available(erp, on_hand)
            erp.put(StockLevel(number="A-1", quantity=available))
            await run(stock)

        async with pushing(shop(emu), erp, tmp_path) as sync:
            await run(PUSH)
            oid = emu.place_order(
                status="on-hold",
                billing={"country": "DE", "last_name": "Muster"},
                lines=[{"sku": "A-1", "quantity": 3, "price": "10.00"}],
                total="30.00",
            )
            emu.shop.update_order(oid, {"status": "failed"})
            await run(orders)
            await push_stock(12)  # two hats received
            emu.shop.update_order(oid, {"status": "cancelled"})
            await run(orders)
            await push_stock(12)

        (hat,) = [p for p in emu.shop.products.values() if p["sku"] == "A-1"]
        assert (12, 12) == (self._available(erp, 12), hat["stock_quantity"])

    async def test_imported_order_set_back_to_pending_is_a_failure(
        self, tmp_path: Path
    ) -> None:
        """
        An imported order the merchant sets back to ``pending``
        (WooCommerce gives its units back to stock, the ERP still holds
        them) fails in the next order sync on ``status``, naming the
        order and what to do, instead of the run passing it over.
        """
        erp = self._erp(10)
        emu = _emu()
        started = datetime.now(UTC) - timedelta(minutes=1)
        orders = SyncSpec(
            types={DataType.ADDRESSES_AND_ORDERS: ChangedSince(started)}
        )

        async with pushing(shop(emu), erp, tmp_path) as sync:
            assert RunStatus.SUCCEEDED == (await sync.execute(PUSH)).status
            oid = emu.place_order(
                status="processing",
                billing={"country": "DE", "last_name": "Muster"},
                lines=[{"sku": "A-1", "quantity": 3, "price": "10.00"}],
                total="30.00",
            )
            imported = await sync.execute(orders)
            emu.shop.update_order(oid, {"status": "pending"})
            again = await sync.execute(orders)

        assert RunStatus.SUCCEEDED == imported.status, imported.failures
        assert [str(oid)] == [o.number for o in erp.orders.values()]
        assert [(DataType.ADDRESSES_AND_ORDERS, str(oid), "status")] == [
            (f.data_type, f.number, f.field) for f in again.failures
        ]
        assert "gave its units back to stock" in again.failures[0].message

    async def test_imported_on_hold_order_set_back_to_pending_is_a_failure(
        self, tmp_path: Path
    ) -> None:
        """
        An ``on-hold`` order imported and set back to ``pending`` before
        any status push (no payment date, no ERP state in WooCommerce)
        fails in the next order sync (and its plan) on ``status``, and in
        a read of its number, saying it was imported; a checkout never
        paid (nor imported) in the same reads is left out without a
        failure.
        """
        erp = self._erp(10)
        emu = _emu()
        started = datetime.now(UTC) - timedelta(minutes=1)
        orders = SyncSpec(
            types={DataType.ADDRESSES_AND_ORDERS: ChangedSince(started)}
        )
        lines = [{"sku": "A-1", "quantity": 3, "price": "10.00"}]
        billing = {"country": "DE", "last_name": "Muster"}

        async with pushing(shop(emu), erp, tmp_path) as sync:
            assert RunStatus.SUCCEEDED == (await sync.execute(PUSH)).status
            oid = emu.place_order(
                status="on-hold", billing=billing, lines=lines, total="30.00"
            )
            imported = await sync.execute(orders)
            emu.shop.update_order(oid, {"status": "pending"})
            unpaid = emu.place_order(
                status="pending", billing=billing, lines=lines, total="30.00"
            )
            again = await sync.execute(orders)
            planned = await sync.plan(orders)
            asked = await sync.execute(
                SyncSpec(
                    types={
                        DataType.ADDRESSES_AND_ORDERS: Only(
                            [str(oid), str(unpaid)]
                        )
                    }
                )
            )

        assert RunStatus.SUCCEEDED == imported.status, imported.failures
        assert emu.shop.orders[oid]["date_paid_gmt"] is None
        assert [str(oid)] == [o.number for o in erp.orders.values()]
        assert [(DataType.ADDRESSES_AND_ORDERS, str(oid), "status")] == [
            (f.data_type, f.number, f.field) for f in again.failures
        ]
        assert f"order {oid} was imported and is pending" in (
            again.failures[0].message
        )
        assert "gave its units back to stock" in again.failures[0].message
        assert [str(oid)] == [
            r.number
            for r in planned.types[DataType.ADDRESSES_AND_ORDERS].invalid
        ]
        messages = {f.number: f.message for f in asked.failures}
        assert {str(oid), str(unpaid)} == set(messages)
        assert "was imported and is pending" in messages[str(oid)]
        assert "(not paid): not imported yet" in messages[str(unpaid)]

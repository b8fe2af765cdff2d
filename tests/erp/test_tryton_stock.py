"""
Stock per warehouse from a live Tryton with two warehouses
(``stock_per_warehouse=True``), through the engine: an article's levels
land whole, a change in one warehouse leaves every level exact, and a
refused level is retried until the article is complete.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

from ecomsync import (
    All,
    ChangedSince,
    DataType,
    MemoryPlatform,
    Only,
    OrderLine,
    OrderState,
    RecordFailed,
    RecordSynced,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync._model import Record
from ecomsync._spec import Selection
from ecomsync.erp.tryton import TrytonErp, TrytonError
from ecomsync.exceptions import ConfigurationError
from ecomsync.testing import capture_events
from ecomsync.testing._erp_contract import make_order
from ecomsync.testing._tryton_seed import (
    TRAP_STOCK_PER_WAREHOUSE,
    add_warehouse,
    sell,
    set_stock,
    storage_location,
)

from .conftest import flour, make_erp, tryton_with_traps


pytestmark = [pytest.mark.anyio, pytest.mark.tryton, pytest.mark.slow]

STOCK = DataType.STOCK


@pytest.fixture(name="warehouses_server", scope="module")
def _warehouses_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """
    A Tryton of this module's own holding the traps (two warehouses,
    stock held by open sales), which the tests change.
    """
    with tryton_with_traps(tmp_path_factory.mktemp("tryton-stock")) as info:
        yield info


def _per_warehouse() -> dict[str, dict[str | None, int]]:
    found: dict[str, dict[str | None, int]] = {}
    for (number, warehouse), quantity in TRAP_STOCK_PER_WAREHOUSE.items():
        found.setdefault(number, {})[warehouse] = quantity
    return found


def _refuse_wh2(record: Record) -> str | None:
    if isinstance(record, StockLevel) and record.warehouse == "WH2":
        return "location WH2 is closed"
    return None


class TestStockPerWarehouse:
    async def test_levels_land_whole(
        self, warehouses_server: dict[str, Any], tmp_path: Path
    ) -> None:
        """Every warehouse's level lands; a change in WH2 alone updates
        that article with both levels exact; a refused WH2 level fails
        its article by name while WH lands, and the next scheduled run
        completes it."""
        products = warehouses_server["products"]
        platform = MemoryPlatform()
        store = SqliteStore(tmp_path / "state.db")
        sync = Synchronizer(
            erp=make_erp(warehouses_server, stock_per_warehouse=True),
            platforms={"shop": platform},
            store=store,
        )
        admin = make_erp(warehouses_server)
        only_stock = SyncSpec(types={STOCK: All()})

        async def scheduled() -> Any:
            async with capture_events(
                sync, only_stock, trigger=Trigger.SCHEDULED
            ) as run:
                pass
            return run

        try:
            await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))
            with anyio.fail_after(120):
                first = await scheduled()
            landed = {n: dict(w) for n, w in platform.stock.items()}

            async with admin.session() as session:
                wh2 = await storage_location(session.rpc, "WH2")
                wh = await storage_location(session.rpc)
                await set_stock(session.rpc, wh2, {products["SHIRT-S"]: 9})
            one = await scheduled()

            platform.reject = _refuse_wh2
            async with admin.session() as session:
                await set_stock(session.rpc, wh, {products["Z-1"]: 6})
                await set_stock(session.rpc, wh2, {products["Z-1"]: 3})
            refused = await scheduled()
            partly = dict(platform.stock["Z-1"])
            ledger = await store.list_failures("shop", STOCK)

            platform.reject = None
            healed = await scheduled()
            left = await store.list_failures("shop", STOCK)
        finally:
            await store.aclose()

        assert not first.of(RecordFailed), first.of(RecordFailed)
        assert _per_warehouse() == landed
        assert len(landed) == first.summary.counts[STOCK].created

        assert ["SHIRT-S"] == [e.number for e in one.of(RecordSynced)]
        assert {"WH": 7, "WH2": 9} == platform.stock["SHIRT-S"]

        (failed,) = refused.of(RecordFailed)
        assert "Z-1" == failed.number
        assert "stock in 'WH2': location WH2 is closed" in failed.message
        assert {"WH": 6, "WH2": 0} == partly
        assert ["Z-1"] == [f.number for f in ledger]

        assert ["Z-1"] == [e.number for e in healed.of(RecordSynced)]
        assert {"WH": 6, "WH2": 3} == platform.stock["Z-1"]
        assert [] == left
        expected = _per_warehouse()
        expected["SHIRT-S"]["WH2"] = 9
        expected["Z-1"] = {"WH": 6, "WH2": 3}
        assert expected == platform.stock


async def _summed(erp: TrytonErp, selection: Selection) -> dict[str, int]:
    async with erp.session() as session:
        return {
            level.number: level.quantity
            async for batch in session.read(STOCK, selection, batch_size=50)
            for level in batch
            if isinstance(level, StockLevel)
        }


class TestUnconfirmedShopOrders:
    async def test_a_shop_order_left_a_draft_holds_its_goods(
        self, warehouses_server: dict[str, Any]
    ) -> None:
        """A shop order imported as a draft (confirm_orders=False) holds
        its goods, in its warehouse, and a ChangedSince read finds it; a
        quotation typed in Tryton (an offer) holds nothing; the order
        cancelled in the shop holds nothing again."""
        products = warehouses_server["products"]
        drafts = make_erp(warehouses_server, confirm_orders=False)
        summed = make_erp(warehouses_server)
        per = make_erp(warehouses_server, stock_per_warehouse=True)
        line = OrderLine(
            article_number="SHIRT-S",
            name="Shirt S",
            quantity=2,
            unit_price=Decimal("10.00"),
        )
        order = attrs.evolve(
            make_order(),
            lines=(line,),
            total=Decimal("20.00"),
            platform="shop",
        )
        offer = None
        try:
            before = await _summed(summed, Only(["SHIRT-S", "SOCK-RED"]))
            per_before = await _read_levels(per)
            await anyio.sleep(0.01)
            moment = datetime.now(UTC)
            async with drafts.session() as session:
                (imported,) = await session.import_orders([order])
                offer = await sell(
                    session.rpc, products["SOCK-RED"], 3, confirm=False
                )
            since = await _summed(summed, ChangedSince(moment))
            held = await _summed(summed, Only(["SHIRT-S", "SOCK-RED"]))
            per_held = await _read_levels(per)
            async with drafts.session() as session:
                (cancelled,) = await session.import_orders(
                    [attrs.evolve(order, state=OrderState.CANCELLED)]
                )
            after = await _summed(summed, Only(["SHIRT-S", "SOCK-RED"]))
        finally:
            if offer is not None:
                async with summed.session() as session:
                    await session.rpc.model("sale.sale", "cancel", [offer])
            for erp in (drafts, summed, per):
                await erp.aclose()

        assert (True, True) == (imported.ok, cancelled.ok)
        assert before["SHIRT-S"] - 2 == since["SHIRT-S"]
        assert {**before, "SHIRT-S": before["SHIRT-S"] - 2} == held
        assert {
            **per_before,
            ("SHIRT-S", "WH"): per_before["SHIRT-S", "WH"] - 2,
        } == per_held
        assert before == after

    async def test_a_draft_imported_without_platform_holds_its_goods(
        self, warehouses_server: dict[str, Any]
    ) -> None:
        """A draft imported for an order naming no platform (marked
        "Imported (ecomsync)", import_orders outside the engine) holds
        its goods like a platform's draft (it held nothing)."""
        drafts = make_erp(warehouses_server, confirm_orders=False)
        summed = make_erp(warehouses_server)
        order = attrs.evolve(
            make_order(),
            lines=(
                OrderLine(
                    article_number="SHIRT-S",
                    name="Shirt S",
                    quantity=2,
                    unit_price=Decimal("10.00"),
                ),
            ),
            total=Decimal("20.00"),
            platform=None,
        )
        try:
            before = await _summed(summed, Only(["SHIRT-S"]))
            async with drafts.session() as session:
                (imported,) = await session.import_orders([order])
            held = await _summed(summed, Only(["SHIRT-S"]))
            async with drafts.session() as session:
                (cancelled,) = await session.import_orders(
                    [attrs.evolve(order, state=OrderState.CANCELLED)]
                )
            after = await _summed(summed, Only(["SHIRT-S"]))
        finally:
            for erp in (drafts, summed):
                await erp.aclose()

        assert (True, True) == (imported.ok, cancelled.ok)
        assert {"SHIRT-S": before["SHIRT-S"] - 2} == held
        assert before == after

    async def test_a_quotation_quoting_the_mark_holds_nothing(
        self, warehouses_server: dict[str, Any]
    ) -> None:
        """A quotation typed in Tryton whose comment merely quotes the
        import marks (a reply citing "Imported (ecomsync)") holds no
        goods, as order status and imports judge it by whole lines (a
        substring match held them)."""
        products = warehouses_server["products"]
        erp = make_erp(warehouses_server)
        quoted = [
            "Re: see Imported (ecomsync) order 1001",
            '> Platform (ecomsync): "shop"',
        ]
        offers: list[int] = []
        try:
            before = await _summed(erp, Only(["SOCK-RED"]))
            async with erp.session() as session:
                for comment in quoted:
                    offer = await sell(
                        session.rpc, products["SOCK-RED"], 3, confirm=False
                    )
                    offers.append(offer)
                    await session.rpc.model(
                        "sale.sale", "write", [offer], {"comment": comment}
                    )
            held = await _summed(erp, Only(["SOCK-RED"]))
        finally:
            async with erp.session() as session:
                await session.rpc.model("sale.sale", "cancel", offers)
            await erp.aclose()

        assert before == held

    async def test_weighed_goods_held_in_the_products_unit(
        self, warehouses_server: dict[str, Any]
    ) -> None:
        """Goods kept in kg (sold in g in Tryton): a shop order of 2 is
        booked in kg, the unit of the stock and list price the shop was
        sent (it was booked as 2 g, the shop's 2 kg), so its draft holds
        2 of the 2.5 kg on hand; a draft an earlier import booked in g
        (750 g) holds 0.75 kg, not 750: none available, rounded down."""
        drafts = make_erp(warehouses_server, confirm_orders=False)
        async with drafts.session() as session:
            product = await flour(session.rpc, "KG-2")
        line = OrderLine(
            article_number="KG-2",
            name="Flour",
            quantity=2,
            unit_price=Decimal("6.00"),
        )
        order = attrs.evolve(
            make_order(),
            lines=(line,),
            total=Decimal("12.00"),
            platform="shop",
        )
        old = None
        try:
            async with drafts.session() as session:
                (imported,) = await session.import_orders([order])
                (sale,) = await session.rpc.read(
                    "sale.sale", [int(imported.platform_id or 0)], ["lines"]
                )
                booked = await session.rpc.read(
                    "sale.line", sale["lines"], ["unit.symbol", "quantity"]
                )
            held = await _summed(drafts, Only(["KG-2"]))
            async with drafts.session() as session:
                old = await sell(
                    session.rpc, product, 750, unit="g", confirm=False
                )
                await session.rpc.model(
                    "sale.sale",
                    "write",
                    [old],
                    {"comment": 'Platform (ecomsync): "shop"'},
                )
            both = await _summed(drafts, Only(["KG-2"]))
        finally:
            async with drafts.session() as session:
                await session.import_orders(
                    [attrs.evolve(order, state=OrderState.CANCELLED)]
                )
                if old is not None:
                    await session.rpc.model("sale.sale", "cancel", [old])
                await session.rpc.model(
                    "product.product",
                    "write",
                    [product],
                    {"suffix_code": None},
                )
            await drafts.aclose()

        assert imported.ok, imported
        assert [("kg", 2.0)] == [
            (row["unit."]["symbol"], row["quantity"]) for row in booked
        ]
        assert {"KG-2": 0} == held
        assert {"KG-2": -1} == both

    async def test_a_confirmed_sale_not_processed_holds_its_goods(
        self, warehouses_server: dict[str, Any]
    ) -> None:
        """A confirmed sale Tryton has not processed yet (a queue worker
        not there yet, or processing failed: here its customer has no
        customer location) has no moves but holds its goods."""
        products = warehouses_server["products"]
        erp = make_erp(warehouses_server)
        try:
            before = await _summed(erp, Only(["SHIRT-M"]))
            async with erp.session() as session:
                rpc = session.rpc
                sale = await sell(rpc, products["SHIRT-M"], 2, confirm=False)
                (row,) = await rpc.read("sale.sale", [sale], ["party"])
                (party,) = await rpc.read(
                    "party.party", [row["party"]], ["customer_location"]
                )
                await rpc.model(
                    "party.party",
                    "write",
                    [party["id"]],
                    {"customer_location": None},
                )
                try:
                    with contextlib.suppress(TrytonError):
                        await rpc.model("sale.sale", "confirm", [sale])
                finally:
                    await rpc.model(
                        "party.party",
                        "write",
                        [party["id"]],
                        {"customer_location": party["customer_location"]},
                    )
                (state,) = await rpc.read(
                    "sale.sale", [sale], ["state", "shipments"]
                )
            held = await _summed(erp, Only(["SHIRT-M"]))
            async with erp.session() as session:
                await session.rpc.model("sale.sale", "draft", [sale])
                await session.rpc.model("sale.sale", "cancel", [sale])
            after = await _summed(erp, Only(["SHIRT-M"]))
        finally:
            await erp.aclose()

        assert ("confirmed", []) == (state["state"], state["shipments"])
        assert {"SHIRT-M": before["SHIRT-M"] - 2} == held
        assert before == after

    async def test_a_sale_shipped_by_hand_holds_its_goods(
        self, warehouses_server: dict[str, Any]
    ) -> None:
        """A sale shipped manually (or on invoice paid) is processing
        with no moves, yet holds what it sold until shipped: 3 sold and
        1 taken back in one sale hold 3, not 2 (it held none), and a
        ChangedSince read after its confirmation finds it."""
        products = warehouses_server["products"]
        erp = make_erp(warehouses_server)
        sale = None
        try:
            before = await _summed(erp, Only(["SHIRT-M"]))
            await anyio.sleep(0.01)
            moment = datetime.now(UTC)
            async with erp.session() as session:
                rpc = session.rpc
                sale = await sell(rpc, products["SHIRT-M"], 3, confirm=False)
                await rpc.model("sale.sale", "draft", [sale])
                (row,) = await rpc.read("sale.sale", [sale], ["lines"])
                (line,) = await rpc.read("sale.line", row["lines"], ["unit"])
                await rpc.model(
                    "sale.sale",
                    "write",
                    [sale],
                    {
                        "shipment_method": "manual",
                        "lines": [
                            [
                                "create",
                                [
                                    {
                                        "type": "line",
                                        "product": products["SHIRT-M"],
                                        "quantity": -1.0,
                                        "unit": line["unit"],
                                        "unit_price": Decimal("10.00"),
                                    }
                                ],
                            ]
                        ],
                    },
                )
                for step in ("quote", "confirm"):
                    await rpc.model("sale.sale", step, [sale])
                (state,) = await rpc.read(
                    "sale.sale", [sale], ["state", "shipments", "moves"]
                )
            held = await _summed(erp, Only(["SHIRT-M"]))
            since = await _summed(erp, ChangedSince(moment))
        finally:
            if sale is not None:
                # ship it by hand, then cancel the shipment: its cancelled
                # moves hold nothing (the return's incoming ones never do)
                async with erp.session() as session:
                    rpc = session.rpc
                    await rpc.model("sale.sale", "manual_shipment", [sale])
                    (row,) = await rpc.read("sale.sale", [sale], ["shipments"])
                    await rpc.model(
                        "stock.shipment.out", "cancel", row["shipments"]
                    )
            after = await _summed(erp, Only(["SHIRT-M"]))
            await erp.aclose()

        assert ("processing", [], []) == (
            state["state"],
            state["shipments"],
            state["moves"],
        )
        assert {"SHIRT-M": before["SHIRT-M"] - 3} == held
        assert before["SHIRT-M"] - 3 == since["SHIRT-M"]
        assert before == after


async def _read_levels(erp: TrytonErp) -> dict[tuple[str, str | None], int]:
    async with erp.session() as session:
        return {
            (level.number, level.warehouse): level.quantity
            async for batch in session.read(
                STOCK, Only(["SHIRT-S"]), batch_size=50
            )
            for level in batch
            if isinstance(level, StockLevel)
        }


class TestWarehouseCodes:
    @pytest.mark.parametrize("code", [None, "WH2"], ids=["none", "taken"])
    async def test_a_warehouse_the_levels_cannot_name(
        self, warehouses_server: dict[str, Any], code: str | None
    ) -> None:
        """With stock_per_warehouse, a counted warehouse without a code, or
        with another's, is a ConfigurationError naming the warehouses,
        not levels in warehouse 'None' or two levels in 'WH2'."""
        admin = make_erp(warehouses_server)
        per = make_erp(warehouses_server, stock_per_warehouse=True)
        async with admin.session() as session:
            wh3 = await add_warehouse(session.rpc, "WH3")
            await session.rpc.model(
                "stock.location", "write", [wh3], {"code": code}
            )
        try:
            with pytest.raises(ConfigurationError) as info:
                await _read_levels(per)
        finally:
            async with admin.session() as session:
                await session.rpc.model(
                    "stock.location", "write", [wh3], {"active": False}
                )
            await admin.aclose()
            await per.aclose()

        assert "'Warehouse WH3'" in str(info.value)
        if code:
            assert "'Warehouse WH2'" in str(info.value)


class TestCompanies:
    async def test_another_companys_open_move_holds_nothing(
        self, warehouses_server: dict[str, Any]
    ) -> None:
        """With the user's company filter on all companies, an open move
        of another company out of the warehouse leaves the stock available
        to sell as it was: on hand counts the moves of the user's company
        (Tryton's quantity), and so now do the moves that hold; before,
        the other company's move was taken off this company's stock."""
        products = warehouses_server["products"]
        erp = make_erp(warehouses_server)
        before = await _summed(erp, Only(["SOCK-RED"]))
        async with erp.session() as session:
            rpc = session.rpc
            (party,) = await rpc.model(
                "party.party", "create", [{"name": "Other company"}]
            )
            (own,) = await rpc.read(
                "company.company", [rpc.context["company"]], ["currency"]
            )
            (other,) = await rpc.model(
                "company.company",
                "create",
                [{"party": party, "currency": own["currency"]}],
            )
            await rpc.model(
                "res.user",
                "write",
                [rpc.user_id],
                {"companies": [["add", [other]]], "company_filter": "all"},
            )
        move = None
        try:
            async with erp.session() as session:
                rpc = session.rpc
                (customer,) = await rpc.model(
                    "stock.location", "search", [["type", "=", "customer"]]
                )
                (product,) = await rpc.read(
                    "product.product", [products["SOCK-RED"]], ["default_uom"]
                )
                (move,) = await rpc.model(
                    "stock.move",
                    "create",
                    [
                        {
                            "product": products["SOCK-RED"],
                            "unit": product["default_uom"],
                            "quantity": 2.0,
                            "from_location": await storage_location(rpc),
                            "to_location": customer,
                            "company": other,
                            "unit_price": Decimal(1),
                            "currency": own["currency"],
                        }
                    ],
                )
            held = await _summed(erp, Only(["SOCK-RED"]))
        finally:
            async with erp.session() as session:
                if move is not None:
                    await session.rpc.model("stock.move", "delete", [move])
                await session.rpc.model(
                    "res.user",
                    "write",
                    [session.rpc.user_id],
                    {
                        "companies": [["remove", [other]]],
                        "company_filter": "one",
                    },
                )
            await erp.aclose()

        assert before == held

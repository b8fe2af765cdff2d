"""
Stock per warehouse into Vendure's stock locations, through the engine,
against a live Vendure server: an article's levels land whole.  Stock of
a variant that does not track its inventory fails.  Negative stock is
judged per location, on the sum of the warehouses mapped there.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from ecomsync import (
    All,
    Article,
    DataType,
    MemoryErp,
    Outgoing,
    RecordFailed,
    RecordSynced,
    RunStarted,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync.platforms.vendure import Vendure
from ecomsync.testing import capture_events

from ._vendure_shop import _shop_order
from .test_vendure_merchant import _article, _stock
from .vendure_server import VendureAdmin, VendureServer


pytestmark = [pytest.mark.vendure, pytest.mark.anyio]

STOCK = DataType.STOCK
DEFAULT = "Default Stock Location"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 8, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += timedelta(hours=1)


async def _locations(admin: VendureAdmin, *skus: str) -> dict[str, Any]:
    data = await admin.gql(
        "query ($s: [String!]!) { productVariants(options: { filter: "
        "{ sku: { in: $s } } }) { items { sku stockLevels { stockLocation "
        "{ name } stockOnHand stockAllocated } } } }",
        {"s": list(skus)},
    )
    return {
        v["sku"]: {
            s["stockLocation"]["name"]: s["stockOnHand"] - s["stockAllocated"]
            for s in v["stockLevels"]
            if s["stockOnHand"]  # Vendure keeps a zero level everywhere
        }
        for v in data["productVariants"]["items"]
    }


class TestStockLocationsThroughTheEngine:
    async def test_levels_land_whole(
        self, fresh_vendure: VendureServer, tmp_path: Path
    ) -> None:
        """
        Two warehouses mapped to two locations: one changed level leaves
        both locations exact; an unmapped warehouse fails its article by
        name while its mapped levels land; once mapped, the next
        scheduled run heals it without any ERP change (reading all stock
        once: the mapping changed).
        """
        admin = fresh_vendure.admin()
        for name in ("North", "South"):
            await admin.gql(
                "mutation ($n: String!) { createStockLocation(input: "
                '{ name: $n, description: "" }) { id } }',
                {"n": name},
            )
        clock = Clock()
        erp = MemoryErp(
            [
                Article(number="W-1", name="Hammer", price=1, tax_rate=0),
                Article(number="W-2", name="Saw", price=2, tax_rate=0),
                StockLevel(number="W-1", quantity=3, warehouse="WH1"),
                StockLevel(number="W-1", quantity=5, warehouse="WH2"),
                StockLevel(number="W-2", quantity=1, warehouse="WH1"),
                StockLevel(number="W-2", quantity=2, warehouse="WH2"),
            ],
            clock=clock,
        )
        store = SqliteStore(tmp_path / "state.db")
        mapping = {"WH1": DEFAULT, "WH2": "North"}
        shops: list[Vendure] = []

        def engine(locations: dict[str, str]) -> Synchronizer:
            shops.append(fresh_vendure.platform(stock_locations=locations))
            return Synchronizer(
                erp=erp,
                platforms={"vendure": shops[-1]},
                store=store,
                clock=clock,
                overlap=timedelta(0),
            )

        async def scheduled(sync: Synchronizer) -> Any:
            clock.tick()
            async with capture_events(
                sync, SyncSpec(types={STOCK: All()}), trigger=Trigger.SCHEDULED
            ) as run:
                pass
            return run

        sync = engine(mapping)
        try:
            await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))
            await scheduled(sync)
            first = await _locations(admin, "W-1", "W-2")

            clock.tick()
            erp.put(StockLevel(number="W-1", quantity=9, warehouse="WH2"))
            one = await scheduled(sync)
            changed = await _locations(admin, "W-1", "W-2")

            clock.tick()
            erp.put(StockLevel(number="W-2", quantity=7, warehouse="WH1"))
            erp.put(StockLevel(number="W-2", quantity=4, warehouse="WH3"))
            refused = await scheduled(sync)
            partly = await _locations(admin, "W-2")
            ledger = await store.list_failures("vendure", STOCK)

            healed = await scheduled(engine({**mapping, "WH3": "South"}))
            whole = await _locations(admin, "W-1", "W-2")
            left = await store.list_failures("vendure", STOCK)
        finally:
            for shop in shops:
                await shop.aclose()
            await admin.aclose()
            await store.aclose()

        assert {
            "W-1": {DEFAULT: 3, "North": 5},
            "W-2": {DEFAULT: 1, "North": 2},
        } == first
        assert ["W-1"] == [e.number for e in one.of(RecordSynced)]
        assert {"W-1": {DEFAULT: 3, "North": 9}} == {"W-1": changed["W-1"]}
        assert changed["W-2"] == first["W-2"]
        (failed,) = refused.of(RecordFailed)
        assert ["W-2"] == [f.number for f in ledger]
        assert ("W-2", "warehouse") == (failed.number, failed.field)
        assert "'WH3'" in failed.message
        assert "2 of 3 warehouses landed" in failed.message
        assert {"W-2": {DEFAULT: 7, "North": 2}} == partly
        # The mapping changed (WH3 added): the healing run reads all stock
        # once and writes every level where the mapping now says.
        assert "stock layout" in healed.of(RunStarted)[0].widened[STOCK]
        assert ["W-1", "W-2"] == [e.number for e in healed.of(RecordSynced)]
        assert {
            "W-1": {DEFAULT: 3, "North": 9},
            "W-2": {DEFAULT: 7, "North": 2, "South": 4},
        } == whole
        assert [] == left

    async def test_moved_warehouse_reaches_its_new_location(
        self, fresh_vendure: VendureServer, tmp_path: Path
    ) -> None:
        """
        WH2 moved from location North to South in the mapping, no ERP
        change: the next manual stock run writes its level at South and
        North sells nothing; the run after finds everything unchanged.
        """
        admin = fresh_vendure.admin()
        for name in ("North", "South"):
            await admin.gql(
                "mutation ($n: String!) { createStockLocation(input: "
                '{ name: $n, description: "" }) { id } }',
                {"n": name},
            )
        erp = MemoryErp(
            [
                Article(number="M-1", name="Hammer", price=1, tax_rate=0),
                StockLevel(number="M-1", quantity=3, warehouse="WH1"),
                StockLevel(number="M-1", quantity=5, warehouse="WH2"),
            ]
        )
        store = SqliteStore(tmp_path / "state.db")
        only_stock = SyncSpec(types={STOCK: All()})
        shops = [
            fresh_vendure.platform(
                stock_locations={"WH1": DEFAULT, "WH2": where}
            )
            for where in ("North", "South")
        ]
        try:
            before = Synchronizer(
                erp=erp, platforms={"vendure": shops[0]}, store=store
            )
            await before.execute(SyncSpec(types={DataType.ARTICLES: All()}))
            await before.execute(only_stock)
            first = await _locations(admin, "M-1")
            after = Synchronizer(
                erp=erp, platforms={"vendure": shops[1]}, store=store
            )
            moved = await after.execute(only_stock)
            now = await _locations(admin, "M-1")
            again = await after.execute(only_stock)
        finally:
            for shop in shops:
                await shop.aclose()
            await admin.aclose()
            await store.aclose()

        assert {"M-1": {DEFAULT: 3, "North": 5}} == first
        assert 1 == moved.counts[STOCK].updated
        assert {"M-1": {DEFAULT: 3, "South": 5}} == now
        assert 1 == again.counts[STOCK].unchanged

    async def test_a_warehouse_the_erp_drops_sells_nothing(
        self, fresh_vendure: VendureServer, tmp_path: Path
    ) -> None:
        """
        The ERP no longer gives a level for WH2 (it stopped counting the
        warehouse; then it sums every warehouse into one level), the
        mapping unchanged: North, WH2's location, sells nothing, where
        the shop went on selling its last figure on top of the ERP's.
        """
        admin = fresh_vendure.admin()
        await admin.gql(
            "mutation { createStockLocation(input: "
            '{ name: "North", description: "" }) { id } }'
        )
        erp = MemoryErp(
            [
                Article(number="D-1", name="Hammer", price=1, tax_rate=0),
                StockLevel(number="D-1", quantity=3, warehouse="WH1"),
                StockLevel(number="D-1", quantity=5, warehouse="WH2"),
            ]
        )
        store = SqliteStore(tmp_path / "state.db")
        only_stock = SyncSpec(types={STOCK: All()})
        shop = fresh_vendure.platform(
            stock_locations={"WH1": DEFAULT, "WH2": "North"}
        )
        sync = Synchronizer(erp=erp, platforms={"vendure": shop}, store=store)
        try:
            await sync.execute(SyncSpec(types={DataType.ARTICLES: All()}))
            await sync.execute(only_stock)
            first = await _locations(admin, "D-1")
            erp.remove(STOCK, "D-1")
            erp.put(StockLevel(number="D-1", quantity=3, warehouse="WH1"))
            dropped = await sync.execute(only_stock)
            one = await _locations(admin, "D-1")
            erp.remove(STOCK, "D-1")
            erp.put(StockLevel(number="D-1", quantity=4))
            summed = await sync.execute(only_stock)
            sum_only = await _locations(admin, "D-1")
        finally:
            await shop.aclose()
            await admin.aclose()
            await store.aclose()

        assert {"D-1": {DEFAULT: 3, "North": 5}} == first
        assert (1, ()) == (dropped.counts[STOCK].updated, dropped.failures)
        assert {"D-1": {DEFAULT: 3}} == one
        assert (1, ()) == (summed.counts[STOCK].updated, summed.failures)
        assert {"D-1": {DEFAULT: 4}} == sum_only


async def _tracking(admin: VendureAdmin, *skus: str) -> dict[str, Any]:
    """
    ``(trackInventory, stockOnHand)`` per SKU.
    """
    data = await admin.gql(
        "query ($s: [String!]!) { productVariants(options: { filter: "
        "{ sku: { in: $s } } }) { items { id sku trackInventory "
        "stockOnHand } } }",
        {"s": list(skus)},
    )
    return {
        v["sku"]: (v["trackInventory"], v["stockOnHand"], v["id"])
        for v in data["productVariants"]["items"]
    }


async def _global_tracking(admin: VendureAdmin, on: bool) -> None:
    await admin.gql(
        "mutation ($t: Boolean!) { updateGlobalSettings(input: "
        "{ trackInventory: $t }) { ... on GlobalSettings { id } } }",
        {"t": on},
    )


async def _set_flag(admin: VendureAdmin, variant: str, flag: str) -> None:
    await admin.gql(
        "mutation ($i: [UpdateProductVariantInput!]!) "
        "{ updateProductVariants(input: $i) { id } }",
        {"i": [{"id": variant, "trackInventory": flag}]},
    )


class TestUntrackedInventory:
    """
    Vendure sells a variant that does not track its inventory without
    limit: its stock fails loudly instead of counting as synced.
    """

    async def test_made_variants_track_inventory(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        With the global Track inventory off, a variant the adapter
        makes tracks its inventory (TRUE, not INHERIT), so its stock
        limits what the shop sells.
        """
        admin = fresh_vendure.admin()
        try:
            await _global_tracking(admin, False)
            async with fresh_vendure.platform() as shop:
                made = await _article(shop, "T-1")
                (level,) = await shop.push(
                    DataType.STOCK,
                    [Outgoing(record=StockLevel(number="T-1", quantity=4))],
                )
            variants = await _tracking(admin, "T-1")
        finally:
            await admin.aclose()

        assert made.ok, made.error
        assert level.ok, level.error
        assert ("TRUE", 4) == variants["T-1"][:2]

    async def test_untracked_variants_fail_on_quantity(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        A variant with Track inventory FALSE, and one that inherits it
        while the global setting is off, fail on quantity naming the SKU
        and the setting to turn on; nothing is written for them; the
        tracked variant of the batch lands.
        """
        admin = fresh_vendure.admin()
        try:
            async with fresh_vendure.platform() as shop:
                made = await shop.push(
                    DataType.ARTICLES,
                    [
                        Outgoing(record=Article(number=n, name=n, price=1))
                        for n in ("U-1", "U-2", "U-3")
                    ],
                )
                ids = await _tracking(admin, "U-1", "U-2", "U-3")
                await _set_flag(admin, ids["U-1"][2], "FALSE")
                await _set_flag(admin, ids["U-2"][2], "INHERIT")
                await _global_tracking(admin, False)
                levels = await shop.push(
                    DataType.STOCK,
                    [
                        Outgoing(record=StockLevel(number=n, quantity=q))
                        for n, q in (("U-1", 3), ("U-2", 5), ("U-3", 7))
                    ],
                )
            after = await _tracking(admin, "U-1", "U-2", "U-3")
        finally:
            await admin.aclose()

        assert all(m.ok for m in made), [m.error for m in made]
        off, inherits, tracked = levels
        assert ("U-1", "quantity") == (off.number, off.field)
        assert "SKU U-1" in str(off.error)
        assert '"Track inventory" for the variant' in str(off.error)
        assert ("U-2", "quantity") == (inherits.number, inherits.field)
        assert "SKU U-2" in str(inherits.error)
        assert "global settings" in str(inherits.error)
        assert tracked.ok, tracked.error
        assert {
            "U-1": ("FALSE", 0),
            "U-2": ("INHERIT", 0),
            "U-3": ("TRUE", 7),
        } == {sku: v[:2] for sku, v in after.items()}


@attrs.define
class _CancelBeforeWrite(httpx.AsyncBaseTransport):
    """
    Cancels the shop order *code* just before the first stock write
    reaches Vendure: what a merchant does in the Admin UI while a sync
    writes that variant's stock.
    """

    admin: VendureAdmin
    code: str
    inner: httpx.AsyncBaseTransport = attrs.Factory(httpx.AsyncHTTPTransport)
    done: bool = False

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        body = request.content
        if not self.done and b"updateProductVariants" in body:
            self.done = True
            data = await self.admin.gql(
                "query ($c: String!) { orders(options: { filter: "
                "{ code: { eq: $c } } }) { items { id } } }",
                {"c": self.code},
            )
            (order,) = data["orders"]["items"]
            cancelled = await self.admin.gql(
                "mutation ($i: CancelOrderInput!) { cancelOrder(input: $i) "
                "{ __typename ... on Order { state } } }",
                {"i": {"orderId": order["id"]}},
            )
            assert "Cancelled" == cancelled["cancelOrder"]["state"]
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class TestAllocationChangesDuringTheWrite:
    async def test_an_order_cancelled_between_read_and_write(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        The adapter read 2 units allocated by a paid order and wrote 10
        (ERP) + 2 on hand; the order was cancelled in between, releasing
        the 2, so the shop sold 12 of the ERP's 10 until the ERP's
        figure changed again (it does not, for an order it never
        imported).  The write's answer shows the allocation it met: the
        level is written again from it, and the shop sells 10.
        """
        admin = fresh_vendure.admin()
        try:
            async with fresh_vendure.platform() as shop:
                made = await _article(shop, "R-1")
                (ten,) = await shop.push(
                    STOCK,
                    [Outgoing(record=StockLevel(number="R-1", quantity=10))],
                )
            code = await _shop_order(fresh_vendure.url, str(ten.platform_id))
            ordered = await _stock(admin, "R-1")
            racing = _CancelBeforeWrite(admin, code)
            async with fresh_vendure.platform(transport=racing) as shop:
                (again,) = await shop.push(
                    STOCK,
                    [Outgoing(record=StockLevel(number="R-1", quantity=10))],
                )
            held = await _stock(admin, "R-1")
        finally:
            await admin.aclose()

        assert [True, True, True] == [made.ok, ten.ok, again.ok], again.error
        assert {DEFAULT: (10, 2), "sells": 8} == ordered
        assert racing.done
        assert {DEFAULT: (10, 0), "sells": 10} == held


class TestNegativeStock:
    async def test_the_sum_at_a_location_counts(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        Warehouses mapped to one location sell their sum there: a
        negative warehouse next to a larger positive one lands as the sum
        (not the positive one alone, which would oversell), and a
        negative sum sells 0 and fails every level on quantity, naming
        the warehouses.
        """
        admin = fresh_vendure.admin()

        def level(number: str, quantity: int, warehouse: str) -> Outgoing:
            return Outgoing(
                record=StockLevel(
                    number=number, quantity=quantity, warehouse=warehouse
                )
            )

        try:
            async with fresh_vendure.platform(
                stock_locations={"WH1": DEFAULT, "WH2": DEFAULT}
            ) as shop:
                await shop.push(
                    DataType.ARTICLES,
                    [
                        Outgoing(
                            record=Article(
                                number=n, name=n, price=1, tax_rate=0
                            )
                        )
                        for n in ("S-1", "S-2")
                    ],
                )
                await shop.push(STOCK, [level("S-2", 4, "WH1")])
                before = await _locations(admin, "S-2")
                outcomes = await shop.push(
                    STOCK,
                    [
                        level("S-1", -3, "WH1"),
                        level("S-1", 5, "WH2"),
                        level("S-2", -7, "WH1"),
                        level("S-2", 5, "WH2"),
                    ],
                )
            held = await _locations(admin, "S-1", "S-2")
        finally:
            await admin.aclose()

        assert {"S-2": {DEFAULT: 4}} == before
        assert [True, True, False, False] == [o.ok for o in outcomes]
        for outcome in outcomes[2:]:
            assert "quantity" == outcome.field
            assert (outcome.error or "").startswith(
                "quantity -2 of 'S-2' at stock location "
            )
            assert "warehouses 'WH1', 'WH2'" in (outcome.error or "")
        assert {"S-1": {DEFAULT: 2}, "S-2": {}} == held

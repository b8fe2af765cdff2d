"""
What the Tryton end-to-end scenarios share, whatever the shop: the seed
(a small catalogue, storefront orders, the one that ships), the counting
transport that sees Tryton's sessions, reading and shipping sales in
Tryton, and the steps every scenario goes through (a first run of all
five types, shipping, a scheduled delta, a quiet rerun).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import anyio
import attrs

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    LocalLicensePool,
    MediaRef,
    RunRecord,
    RunStatus,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync.erp._tryton_rpc import Rpc
from ecomsync.erp.tryton import TrytonErp
from ecomsync.testing._erp_contract import ErpSeed, png
from tests.erp.conftest import CountingTransport


PLATFORM = "shop"
ALL_TYPES = SyncSpec(types=dict.fromkeys(DataType, All()))
TRACKING = "1Z999AA10123456784"


def _image(key: str) -> MediaRef:
    return MediaRef(key=key, filename=f"{key}.png", mime_type="image/png")


def _catalogue() -> ErpSeed:
    """
    A category tree three deep, ten articles with images (A-1 has two;
    A-9 and A-10 share one picture), stock for each (A-7 sold out).
    """
    categories = (
        Category(number="C-1", name="Werkzeug"),
        Category(number="C-2", name="Hämmer", parent="C-1"),
        Category(number="C-3", name="Schraubendreher", parent="C-1"),
        Category(number="C-4", name="Vorschlaghämmer", parent="C-2"),
        Category(number="C-10", name="Farben"),
    )
    homes = ("C-2", "C-3", "C-4", "C-10")
    articles = []
    media: dict[str, bytes] = {}
    for i in range(1, 11):
        keys = [f"img-a{i}"]
        if i == 1:
            keys.append("img-a1-side")
        if i in (9, 10):
            keys = ["img-shared"]
        for n, key in enumerate(keys):
            media[key] = png(8 + n, 8, (20 * i, 100 + n * 50, 255 - 20 * i))
        articles.append(
            Article(
                number=f"A-{i}",
                name=f"Artikel {i}",
                description=f"Beschreibung {i}",
                price=Decimal(f"{9 + i}.95"),
                categories=(homes[i % len(homes)],),
                media=tuple(_image(k) for k in keys),
            )
        )
    media["img-shared"] = png(12, 12, (1, 2, 3))
    stock = tuple(
        StockLevel(
            number=f"A-{i}", quantity=0 if i == 7 else 3 * i, warehouse="WH"
        )
        for i in range(1, 11)
    )
    return ErpSeed(
        categories=categories,
        articles=tuple(articles),
        stock=stock,
        order_status=(),
        media=media,
    )


SEED = _catalogue()
STOCK = {s.number: s.quantity for s in SEED.stock}

#: Storefront orders: number -> (customer number, lines).
ORDERS: dict[str, tuple[str, list[tuple[str, int]]]] = {
    "10001": ("K-1", [("A-1", 2), ("A-4", 1)]),
    "10002": ("K-2", [("A-2", 1)]),
    "10003": ("K-1", [("A-10", 3)]),
}
CUSTOMERS = {
    "K-1": ("erika@example.com", "Erika", "Mustermann"),
    "K-2": ("max@example.com", "Max", "Muster"),
}
SHIPPED = "10002"

#: What the shop must show after a run of all types: the ERP's stock less
#: what the storefront orders hold, since orders are imported (and held
#: in Tryton) before stock is pushed.
AVAILABLE = {
    number: quantity
    - sum(q for _, lines in ORDERS.values() for n, q in lines if n == number)
    for number, quantity in STOCK.items()
}


# -- Tryton's side ----------------------------------------------------------


async def sales(rpc: Rpc) -> dict[str, dict[str, Any]]:
    rows = await rpc.search_read(
        "sale.sale",
        [["reference", "in", sorted(ORDERS)]],
        ["reference", "party", "state", "lines", "shipments"],
    )
    return {row["reference"]: row for row in rows}


async def ship(rpc: Rpc, number: str, tracking: str) -> None:
    """
    Ship Tryton's sale for order *number* with *tracking* as the
    shipment's reference, the way a warehouse would.
    """
    (sale,) = await rpc.search_read(
        "sale.sale", [["reference", "=", number]], ["shipments"]
    )
    shipments = sale["shipments"]
    assert shipments, f"Tryton created no shipment for {number}"
    await rpc.model(
        "stock.shipment.out", "write", shipments, {"reference": tracking}
    )
    for step in ("assign_try", "pick", "pack", "do"):
        await rpc.model("stock.shipment.out", step, shipments)


async def watermarks(store: SqliteStore) -> dict[DataType, Any]:
    return {t: await store.get_watermark(PLATFORM, t) for t in DataType}


def succeeded(run: RunRecord) -> None:
    assert run.status is RunStatus.SUCCEEDED, (run.error, run.failures)
    assert not run.failures, run.failures


async def tryton_images(admin: TrytonErp) -> dict[str, str]:
    """
    The SHA-256 of each product image in Tryton, by its key.
    """
    async with admin.session() as session:
        return {
            row["description"]: hashlib.sha256(row["image"]).hexdigest()
            for row in await session.rpc.search_read(
                "product.image", [], ["description", "image"]
            )
        }


async def check_orders_in_tryton(admin: TrytonErp) -> dict[str, Any]:
    """
    Every storefront order is one confirmed sale in Tryton with its
    lines, and the two customers are two parties; returns the sales.
    """
    async with admin.session() as session:
        rpc = session.rpc
        found = await sales(rpc)
        assert set(found) == set(ORDERS)
        for number, (_, lines) in ORDERS.items():
            sale = found[number]
            assert sale["state"] in ("confirmed", "processing")
            rows = await rpc.read(
                "sale.line", sale["lines"], ["product.code", "quantity"]
            )
            assert sorted(
                (r["product."]["code"], int(r["quantity"])) for r in rows
            ) == sorted(lines)
        assert len({s["party"] for s in found.values()}) == len(CUSTOMERS)
    return found


# -- the scenario's steps ---------------------------------------------------


@attrs.define
class World:
    """
    One scenario's Tryton, shop, engine and the counters around them.
    """

    shop: Any
    admin: TrytonErp
    sessions: CountingTransport
    licenses: LocalLicensePool
    store: SqliteStore
    sync: Synchronizer

    async def run(
        self, spec: SyncSpec, trigger: Trigger = Trigger.MANUAL
    ) -> RunRecord:
        """
        A run that succeeds, with Tryton's sessions closed after it and
        never more open than licences.
        """
        with anyio.fail_after(180):
            run = await self.sync.execute(spec, trigger=trigger)
        succeeded(run)
        assert self.sessions.open == 0
        assert self.sessions.most <= self.licenses.size
        return run

    def mark(self) -> int:
        """
        Where the shop's record of writes stands now.
        """
        raise NotImplementedError

    def writes(self, since: int) -> list[str]:
        """
        The writes to the shop since *since* (a `mark`).
        """
        raise NotImplementedError


async def first_run(w: World) -> RunRecord:
    """
    One manual run of all five types creates everything, and moves no
    watermark.
    """
    first = await w.run(ALL_TYPES)
    counts = first.counts
    assert counts[DataType.CATEGORIES].created == len(SEED.categories)
    assert counts[DataType.ARTICLES].created == len(SEED.articles)
    assert counts[DataType.STOCK].created == len(SEED.stock)
    assert counts[DataType.ADDRESSES_AND_ORDERS].created == len(ORDERS)
    assert counts[DataType.ORDER_STATUS].created == len(ORDERS)
    assert await watermarks(w.store) == dict.fromkeys(DataType)
    return first


async def ship_one(w: World) -> None:
    """
    Tryton ships `SHIPPED` with `TRACKING`; an order-status run updates
    the shop.
    """
    async with w.admin.session() as session:
        await ship(session.rpc, SHIPPED, TRACKING)
    status = await w.run(SyncSpec(types={DataType.ORDER_STATUS: All()}))
    assert status.counts[DataType.ORDER_STATUS].updated >= 1


async def scheduled_delta(w: World) -> tuple[RunRecord, str, int]:
    """
    A scheduled run moves every watermark to when it started; returns
    it, and the article the shipped order took and the stock it must
    have left.
    """
    scheduled = await w.run(ALL_TYPES, Trigger.SCHEDULED)
    assert await watermarks(w.store) == dict.fromkeys(
        DataType, scheduled.started_at
    )
    (article, quantity) = ORDERS[SHIPPED][1][0]
    return scheduled, article, STOCK[article] - quantity


async def quiet_rerun(w: World, scheduled: RunRecord) -> None:
    """
    A manual rerun without changes writes nothing to the shop, counts
    nothing and moves no watermark.
    """
    mark = w.mark()
    quiet = await w.run(ALL_TYPES)
    assert w.writes(mark) == []
    for data_type, typed in quiet.counts.items():
        assert (typed.created, typed.updated, typed.failed) == (0, 0, 0), (
            data_type
        )
    assert await watermarks(w.store) == dict.fromkeys(
        DataType, scheduled.started_at
    )


async def quiet_scheduled(w: World) -> None:
    """
    The next scheduled run writes nothing either.
    """
    mark = w.mark()
    await w.run(ALL_TYPES, Trigger.SCHEDULED)
    assert w.writes(mark) == []

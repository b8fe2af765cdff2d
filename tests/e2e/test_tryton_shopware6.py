"""
Tryton to Shopware 6, end to end: a live Tryton seeded with a small
catalogue, the Shopware emulator with orders placed in its storefront,
and the engine moving all five data types between them, once with the
emulator in process (``httpx.ASGITransport``) and once served on loopback
(real HTTP).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeAlias

import anyio
import attrs
import httpx
import pytest

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    LocalLicensePool,
    MediaRef,
    MediaStaging,
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
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._mapping import category_id, product_id
from ecomsync.testing._erp_contract import ErpSeed, png
from ecomsync.testing._tryton_seed import seed_tryton
from ecomsync.testing.shopware6 import ShopwareEmulator, serve

from .conftest import make_erp


pytestmark = [pytest.mark.anyio, pytest.mark.tryton, pytest.mark.slow]

SECRET = "e2e-s3cr3t-NEVER-SHOWN"
PLATFORM = "shop"
ALL_TYPES = SyncSpec(types=dict.fromkeys(DataType, All()))
TRACKING = "1Z999AA10123456784"

#: Routes of the emulator that change the shop.
WRITE_ROUTES = frozenset(
    {
        "sync",
        "upload",
        "transition",
        "state_machine_transition",
        "create_row",
        "update_row",
        "delete_row",
    }
)


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

#: Makes the world once the shop's URL and transport are known.
Maker: TypeAlias = Callable[[str, httpx.AsyncBaseTransport | None], "_World"]


def _place_orders(emu: ShopwareEmulator) -> None:
    prices = {a.number: a.price for a in SEED.articles}
    for number, (customer, lines) in ORDERS.items():
        email, first, last = CUSTOMERS[customer]
        emu.place_order(
            order_number=number,
            customer={
                "email": email,
                "firstName": first,
                "lastName": last,
                "customerNumber": customer,
            },
            lines=[
                {
                    "productNumber": article,
                    "quantity": quantity,
                    "unitPrice": float(prices[article]),
                }
                for article, quantity in lines
            ],
        )


class _CountingTransport(httpx.AsyncBaseTransport):
    """
    Counts the Tryton sessions open at once through it.
    """

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.open = 0
        self.most = 0
        self.logins = 0

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        body = request.content
        response = await self.inner.handle_async_request(request)
        if response.status_code == 200 and b'"common.db.login"' in body:
            self.open += 1
            self.logins += 1
            self.most = max(self.most, self.open)
        if b'"common.db.logout"' in body:
            self.open -= 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


# -- reading the two sides ------------------------------------------------


def _state(emu: ShopwareEmulator, row: dict[str, Any]) -> str | None:
    state = emu.entities["state_machine_state"].get(row.get("stateId", ""))
    return None if state is None else str(state["technicalName"])


def _order(emu: ShopwareEmulator, number: str) -> dict[str, Any]:
    (row,) = (
        r for r in emu.entities["order"].values() if r["orderNumber"] == number
    )
    return row


def _delivery(emu: ShopwareEmulator, number: str) -> dict[str, Any]:
    oid = _order(emu, number)["id"]
    (row,) = (
        r
        for r in emu.entities["order_delivery"].values()
        if r["orderId"] == oid
    )
    return row


def _product(emu: ShopwareEmulator, number: str) -> dict[str, Any]:
    return emu.entities["product"][product_id(number)]


def _writes(emu: ShopwareEmulator, since: int) -> list[str]:
    """
    The routes of requests since the *since*-th that changed the shop.
    """
    return [
        f"{r.method} {r.path}"
        for r in list(emu.requests)[since:]
        if r.route in WRITE_ROUTES
    ]


async def _sales(rpc: Rpc) -> dict[str, dict[str, Any]]:
    rows = await rpc.search_read(
        "sale.sale",
        [["reference", "in", sorted(ORDERS)]],
        ["reference", "party", "state", "lines", "shipments"],
    )
    return {row["reference"]: row for row in rows}


async def _ship(rpc: Rpc, number: str, tracking: str) -> None:
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


async def _watermarks(store: SqliteStore) -> dict[DataType, Any]:
    return {t: await store.get_watermark(PLATFORM, t) for t in DataType}


def _succeeded(run: RunRecord) -> None:
    assert run.status is RunStatus.SUCCEEDED, (run.error, run.failures)
    assert not run.failures, run.failures


# -- the scenario ---------------------------------------------------------


@attrs.define
class _World:
    emu: ShopwareEmulator
    shop: Shopware6
    admin: TrytonErp
    erp: TrytonErp
    sessions: _CountingTransport
    licenses: LocalLicensePool
    store: SqliteStore
    sync: Synchronizer

    async def run(
        self, spec: SyncSpec, trigger: Trigger = Trigger.MANUAL
    ) -> RunRecord:
        with anyio.fail_after(120):
            run = await self.sync.execute(spec, trigger=trigger)
        _succeeded(run)
        assert self.sessions.open == 0
        assert self.sessions.most <= self.licenses.size
        return run


async def _scenario(w: _World) -> None:
    emu = w.emu

    # 1. one manual run of all five types
    first = await w.run(ALL_TYPES)
    counts = first.counts
    assert counts[DataType.CATEGORIES].created == len(SEED.categories)
    assert counts[DataType.ARTICLES].created == len(SEED.articles)
    assert counts[DataType.STOCK].created == len(SEED.stock)
    assert counts[DataType.ADDRESSES_AND_ORDERS].created == len(ORDERS)
    assert counts[DataType.ORDER_STATUS].created == len(ORDERS)
    await _check_catalogue(w)
    await _check_orders_in_tryton(w)
    for number in ORDERS:
        assert _state(emu, _order(emu, number)) == "in_progress"
        assert _state(emu, _delivery(emu, number)) == "open"
    assert await _watermarks(w.store) == dict.fromkeys(DataType)

    # 2. importing the same orders again creates no sale
    async with w.admin.session() as session:
        before = await _sales(session.rpc)
    again = await w.run(
        SyncSpec(types={DataType.ADDRESSES_AND_ORDERS: All()}, force=True)
    )
    assert again.counts[DataType.ADDRESSES_AND_ORDERS].updated == len(ORDERS)
    async with w.admin.session() as session:
        after = await _sales(session.rpc)
        for number in ORDERS:
            count = await session.rpc.model(
                "sale.sale", "search_count", [["reference", "=", number]]
            )
            assert count == 1, number
    assert {n: r["id"] for n, r in before.items()} == {
        n: r["id"] for n, r in after.items()
    }

    # 3. Tryton ships one order: status and tracking go to the shop
    async with w.admin.session() as session:
        await _ship(session.rpc, SHIPPED, TRACKING)
    status = await w.run(SyncSpec(types={DataType.ORDER_STATUS: All()}))
    assert status.counts[DataType.ORDER_STATUS].updated >= 1
    delivery = _delivery(emu, SHIPPED)
    assert delivery["trackingCodes"] == [TRACKING]
    assert _state(emu, delivery) == "shipped"
    for number in set(ORDERS) - {SHIPPED}:
        assert _state(emu, _delivery(emu, number)) == "open"
        assert _delivery(emu, number)["trackingCodes"] == []

    # 4. a scheduled run moves every watermark to when it started, and
    # picks up the stock Tryton shipped
    scheduled = await w.run(ALL_TYPES, Trigger.SCHEDULED)
    assert await _watermarks(w.store) == dict.fromkeys(
        DataType, scheduled.started_at
    )
    (article, quantity) = ORDERS[SHIPPED][1][0]
    assert _product(emu, article)["stock"] == STOCK[article] - quantity

    # 5. a manual rerun without changes: no watermark moves, the shop is
    # not written to, and a plan finds nothing to do
    mark = len(emu.requests)
    manual = await w.run(ALL_TYPES)
    assert await _watermarks(w.store) == dict.fromkeys(
        DataType, scheduled.started_at
    )
    assert _writes(emu, mark) == []
    for data_type, typed in manual.counts.items():
        assert (typed.created, typed.updated, typed.failed) == (0, 0, 0), (
            data_type
        )
    plan = await w.sync.plan(ALL_TYPES)
    for data_type, planned in plan.types.items():
        assert (planned.create, planned.update) == ((), ()), data_type

    # 6. a scheduled and a manual run at once share the one licence: one
    # Tryton session at a time, still nothing written
    mark = len(emu.requests)
    results: dict[Trigger, RunRecord] = {}

    async def one(trigger: Trigger) -> None:
        with anyio.fail_after(120):
            results[trigger] = await w.sync.execute(ALL_TYPES, trigger=trigger)
        _succeeded(results[trigger])

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, Trigger.SCHEDULED)
        tg.start_soon(one, Trigger.MANUAL)
    assert w.sessions.most == 1
    assert _writes(emu, mark) == []
    assert await _watermarks(w.store) == dict.fromkeys(
        DataType, results[Trigger.SCHEDULED].started_at
    )


async def _check_catalogue(w: _World) -> None:
    emu = w.emu
    categories = emu.entities["category"]
    for category in SEED.categories:
        row = categories[category_id(category.number)]
        assert row["name"] == category.name
        parent = category_id(category.parent) if category.parent else None
        assert row["parentId"] == parent, category.number

    async with w.admin.session() as session:
        images = {
            row["description"]: hashlib.sha256(row["image"]).hexdigest()
            for row in await session.rpc.search_read(
                "product.image", [], ["description", "image"]
            )
        }
    links = {
        (row["productId"], row["categoryId"])
        for row in emu.entities["product_category"].values()
    }
    for article in SEED.articles:
        row = _product(emu, article.number)
        assert row["productNumber"] == article.number
        assert row["name"] == article.name
        (price,) = row["price"]
        assert Decimal(str(price["gross"])) == article.price
        assert row["stock"] == STOCK[article.number]
        (home,) = article.categories
        assert (row["id"], category_id(home)) in links
        media = sorted(
            (
                m
                for m in emu.entities["product_media"].values()
                if m["productId"] == row["id"]
            ),
            key=lambda m: m["position"],
        )
        assert [emu.media_files[m["mediaId"]].sha256 for m in media] == [
            images[ref.key] for ref in article.media
        ], article.number
        assert row["coverId"] == media[0]["id"]
    # the picture share was uploaded once
    assert len(emu.media_files) == len(set(images.values()))


async def _check_orders_in_tryton(w: _World) -> None:
    async with w.admin.session() as session:
        rpc = session.rpc
        sales = await _sales(rpc)
        assert set(sales) == set(ORDERS)
        identifiers = {
            row["code"]: row["party"]
            for row in await rpc.search_read(
                "party.identifier",
                [["code", "in", sorted(CUSTOMERS)]],
                ["code", "party"],
            )
        }
        assert set(identifiers) == set(CUSTOMERS)
        parties = {
            row["id"]: row["name"]
            for row in await rpc.read(
                "party.party", sorted(identifiers.values()), ["name"]
            )
        }
        for code, (_, first, last) in CUSTOMERS.items():
            assert parties[identifiers[code]] == f"{first} {last}"
        for number, (customer, lines) in ORDERS.items():
            sale = sales[number]
            assert sale["party"] == identifiers[customer]
            assert sale["state"] in ("confirmed", "processing")
            rows = await rpc.read(
                "sale.line", sale["lines"], ["product.code", "quantity"]
            )
            assert sorted(
                (r["product."]["code"], int(r["quantity"])) for r in rows
            ) == sorted(lines)


@pytest.fixture(name="seeded")
async def _seeded(tryton_admin: TrytonErp) -> TrytonErp:
    async with tryton_admin.session() as session:
        await seed_tryton(session.rpc, SEED)
    return tryton_admin


@pytest.fixture(name="world")
def _world(
    tryton_server: dict[str, Any], seeded: TrytonErp, tmp_path: Path
) -> tuple[ShopwareEmulator, Maker]:
    """
    The emulator with the storefront orders, and a maker of the rest
    once the shop's URL and transport are known.
    """
    emu = ShopwareEmulator(client_id="SWIAE2E", client_secret=SECRET)
    _place_orders(emu)

    def make(url: str, transport: httpx.AsyncBaseTransport | None) -> _World:
        sessions = _CountingTransport()
        erp = make_erp(tryton_server, transport=sessions)
        shop = Shopware6(url, emu.client_id, SECRET, transport=transport)
        licenses = LocalLicensePool(1)
        store = SqliteStore(tmp_path / "state.db")
        sync = Synchronizer(
            erp=erp,
            platforms={PLATFORM: shop},
            store=store,
            licenses=licenses,
            staging=MediaStaging(tmp_path / "staging"),
            license_timeout=120.0,
        )
        return _World(
            emu=emu,
            shop=shop,
            admin=seeded,
            erp=erp,
            sessions=sessions,
            licenses=licenses,
            store=store,
            sync=sync,
        )

    return emu, make


async def _play(w: _World) -> None:
    try:
        await _scenario(w)
    finally:
        await w.shop.aclose()
        await w.store.aclose()
        await w.sessions.aclose()
    assert w.sessions.logins > 0


class TestTrytonToShopware6:
    async def test_all_five_types_in_process(
        self, world: tuple[ShopwareEmulator, Maker]
    ) -> None:
        """All five types in process; only scheduled runs move marks."""
        emu, make = world

        await _play(
            make("http://shopware.test", httpx.ASGITransport(app=emu.app))
        )

    async def test_all_five_types_on_loopback(
        self, world: tuple[ShopwareEmulator, Maker]
    ) -> None:
        """The same scenario passes with the emulator on loopback."""
        emu, make = world

        with serve(emu) as url:
            await _play(make(url, None))

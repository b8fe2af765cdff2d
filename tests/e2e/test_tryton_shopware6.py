"""
Tryton to Shopware 6, end to end: a live Tryton seeded with a small
catalogue, the Shopware emulator with orders placed in its storefront,
and the engine moving all five data types between them, once with the
emulator in process (``httpx.ASGITransport``) and once served on loopback
(real HTTP).
"""

from __future__ import annotations

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
    DataType,
    LocalLicensePool,
    MediaStaging,
    RunRecord,
    SqliteStore,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync.erp.tryton import TrytonErp
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._mapping import category_id, product_id
from ecomsync.testing._tryton_seed import seed_tryton
from ecomsync.testing.shopware6 import ShopwareEmulator, serve

from ._scenario import (
    ALL_TYPES,
    AVAILABLE,
    CUSTOMERS,
    ORDERS,
    PLATFORM,
    SEED,
    SHIPPED,
    TRACKING,
    CountingTransport,
    World,
    check_orders_in_tryton,
    first_run,
    quiet_rerun,
    sales,
    scheduled_delta,
    ship_one,
    succeeded,
    tryton_images,
    watermarks,
)
from .conftest import make_erp


pytestmark = [pytest.mark.anyio, pytest.mark.tryton, pytest.mark.slow]

SECRET = "e2e-s3cr3t-NEVER-SHOWN"
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


# -- the scenario ---------------------------------------------------------


@attrs.define
class _World(World):
    emu: ShopwareEmulator
    erp: TrytonErp

    def mark(self) -> int:
        return len(self.emu.requests)

    def writes(self, since: int) -> list[str]:
        return _writes(self.emu, since)


async def _scenario(w: _World) -> None:
    emu = w.emu

    # 1. one manual run of all five types
    await first_run(w)
    await _check_catalogue(w)
    await _check_orders_in_tryton(w)
    for number in ORDERS:
        assert _state(emu, _order(emu, number)) == "in_progress"
        assert _state(emu, _delivery(emu, number)) == "open"

    # 2. importing the same orders again creates no sale
    async with w.admin.session() as session:
        before = await sales(session.rpc)
    again = await w.run(
        SyncSpec(types={DataType.ADDRESSES_AND_ORDERS: All()}, force=True)
    )
    assert again.counts[DataType.ADDRESSES_AND_ORDERS].updated == len(ORDERS)
    async with w.admin.session() as session:
        after = await sales(session.rpc)
        for number in ORDERS:
            count = await session.rpc.model(
                "sale.sale", "search_count", [["reference", "=", number]]
            )
            assert count == 1, number
    assert {n: r["id"] for n, r in before.items()} == {
        n: r["id"] for n, r in after.items()
    }

    # 3. Tryton ships one order: status and tracking go to the shop
    await ship_one(w)
    delivery = _delivery(emu, SHIPPED)
    assert delivery["trackingCodes"] == [TRACKING]
    assert _state(emu, delivery) == "shipped"
    for number in set(ORDERS) - {SHIPPED}:
        assert _state(emu, _delivery(emu, number)) == "open"
        assert _delivery(emu, number)["trackingCodes"] == []

    # 4. a scheduled run moves every watermark to when it started, and
    # picks up the stock Tryton shipped
    scheduled, article, left = await scheduled_delta(w)
    assert _product(emu, article)["stock"] == left

    # 5. a manual rerun without changes: no watermark moves, the shop is
    # not written to, and a plan finds nothing to do
    await quiet_rerun(w, scheduled)
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
        succeeded(results[trigger])

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, Trigger.SCHEDULED)
        tg.start_soon(one, Trigger.MANUAL)
    assert w.sessions.most == 1
    assert _writes(emu, mark) == []
    assert await watermarks(w.store) == dict.fromkeys(
        DataType, results[Trigger.SCHEDULED].started_at
    )


async def _check_catalogue(w: _World) -> None:
    emu = w.emu
    categories = emu.entities["category"]
    for category in SEED.categories:
        row = categories[category_id(category.number)]
        assert row["name"] == category.name
        # Top-level categories go below Home, where the storefront shows
        # them.
        parent = (
            category_id(category.parent)
            if category.parent
            else emu.ids.root_category
        )
        assert row["parentId"] == parent, category.number

    images = await tryton_images(w.admin)
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
        assert row["stock"] == AVAILABLE[article.number]
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
    """
    The common check, and each customer is the party its number names
    on this platform (identifier ``platform:number``).
    """
    found = await check_orders_in_tryton(w.admin)
    async with w.admin.session() as session:
        rpc = session.rpc
        identifiers = {
            row["code"].removeprefix(f"{PLATFORM}:"): row["party"]
            for row in await rpc.search_read(
                "party.identifier",
                [["code", "in", [f"{PLATFORM}:{c}" for c in CUSTOMERS]]],
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
        for number, (customer, _) in ORDERS.items():
            assert found[number]["party"] == identifiers[customer]


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
        sessions = CountingTransport()
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

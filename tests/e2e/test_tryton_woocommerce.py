"""
Tryton to WooCommerce, end to end: a live Tryton seeded with the small
catalogue of the Shopware scenario, the WooCommerce emulator with orders
placed in its storefront, and the engine moving all five data types
between them: a first run, a quiet second run, Tryton shipping an order,
and a scheduled delta.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

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
from ecomsync.platforms.woocommerce import WooCommerce, category_slug
from ecomsync.testing._tryton_seed import seed_tryton
from ecomsync.testing.woocommerce import WooCommerceEmulator

from .conftest import make_erp
from .test_tryton_shopware6 import (
    ORDERS,
    SEED,
    SHIPPED,
    STOCK,
    TRACKING,
    _CountingTransport,
    _sales,
    _ship,
    _succeeded,
    _watermarks,
)


pytestmark = [pytest.mark.anyio, pytest.mark.tryton, pytest.mark.slow]

KEY, SECRET = "ck_e2e", "cs_e2e-s3cr3t-NEVER-SHOWN"
APP = "e2e-app-password-NEVER-SHOWN"
ALL_TYPES = SyncSpec(types=dict.fromkeys(DataType, All()))
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Storefront customers by WooCommerce customer id.
CUSTOMER_IDS = {"K-1": 7, "K-2": 8}


def _place_orders(emu: WooCommerceEmulator) -> None:
    prices = {a.number: a.price for a in SEED.articles}
    for number, (customer, lines) in ORDERS.items():
        emu.place_order(
            number=number,
            customer_id=CUSTOMER_IDS[customer],
            billing={
                "first_name": customer,
                "last_name": "Kunde",
                "email": f"{customer.lower()}@example.com",
                "address_1": "Hauptstraße 1",
                "postcode": "10115",
                "city": "Berlin",
                "country": "DE",
            },
            lines=[
                {"sku": sku, "name": sku, "quantity": q, "price": prices[sku]}
                for sku, q in lines
            ],
            total=str(sum(prices[s] * q for s, q in lines)),
        )


def _product(emu: WooCommerceEmulator, sku: str) -> dict[str, Any]:
    (row,) = (p for p in emu.shop.products.values() if p["sku"] == sku)
    return row


def _meta(order: dict[str, Any]) -> dict[str, Any]:
    return {m["key"]: m["value"] for m in order["meta_data"]}


@attrs.define
class _World:
    emu: WooCommerceEmulator
    shop: WooCommerce
    admin: TrytonErp
    sessions: _CountingTransport
    licenses: LocalLicensePool
    store: SqliteStore
    sync: Synchronizer

    async def run(
        self, spec: SyncSpec, trigger: Trigger = Trigger.MANUAL
    ) -> RunRecord:
        with anyio.fail_after(180):
            run = await self.sync.execute(spec, trigger=trigger)
        _succeeded(run)
        assert self.sessions.open == 0
        assert self.sessions.most <= self.licenses.size
        return run

    def writes(self, since: int) -> list[str]:
        return [
            f"{r.method} {r.path}"
            for r in list(self.emu.requests)[since:]
            if r.method in WRITES
        ]


async def _check_catalogue(w: _World) -> None:
    emu = w.emu
    terms = {t["slug"]: t for t in emu.shop.categories.values()}
    for category in SEED.categories:
        row = terms[category_slug(category.number)]
        assert row["name"] == category.name
        parent = (
            terms[category_slug(category.parent)]["id"]
            if category.parent
            else 0
        )
        assert row["parent"] == parent, category.number
    async with w.admin.session() as session:
        images = {
            row["description"]: hashlib.sha256(row["image"]).hexdigest()
            for row in await session.rpc.search_read(
                "product.image", [], ["description", "image"]
            )
        }
    for article in SEED.articles:
        row = _product(emu, article.number)
        assert row["name"] == article.name
        assert Decimal(row["regular_price"]) == article.price
        assert row["manage_stock"] is True
        assert row["stock_quantity"] == STOCK[article.number]
        (home,) = article.categories
        assert [c["slug"] for c in row["categories"]] == [category_slug(home)]
        assert [emu.shop.media[i["id"]].sha256 for i in row["images"]] == [
            images[ref.key] for ref in article.media
        ], article.number
    # the picture share was uploaded once
    assert len(emu.shop.media) == len(set(images.values()))


async def _check_orders_in_tryton(w: _World) -> None:
    async with w.admin.session() as session:
        rpc = session.rpc
        sales = await _sales(rpc)
        assert set(sales) == set(ORDERS)
        for number, (_, lines) in ORDERS.items():
            sale = sales[number]
            assert sale["state"] in ("confirmed", "processing")
            rows = await rpc.read(
                "sale.line", sale["lines"], ["product.code", "quantity"]
            )
            assert sorted(
                (r["product."]["code"], int(r["quantity"])) for r in rows
            ) == sorted(lines)
        parties = {s["party"] for s in sales.values()}
        assert len(parties) == len(CUSTOMER_IDS)


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
        assert emu.shop.orders[int(number)]["status"] == "processing"
    assert await _watermarks(w.store) == dict.fromkeys(DataType)

    # 3. Tryton ships one order: status and tracking go to the shop
    async with w.admin.session() as session:
        await _ship(session.rpc, SHIPPED, TRACKING)
    status = await w.run(SyncSpec(types={DataType.ORDER_STATUS: All()}))
    assert status.counts[DataType.ORDER_STATUS].updated >= 1
    shipped = emu.shop.orders[int(SHIPPED)]
    assert shipped["status"] == "completed"
    assert _meta(shipped)["_ecomsync_tracking"] == [TRACKING]
    notes = [n["note"] for n in emu.shop.notes[int(SHIPPED)]]
    assert f"Tracking number: {TRACKING}" in notes
    for number in set(ORDERS) - {SHIPPED}:
        assert emu.shop.orders[int(number)]["status"] == "processing"

    # 4. a scheduled run moves every watermark to when it started and
    # picks up the stock Tryton shipped
    scheduled = await w.run(ALL_TYPES, Trigger.SCHEDULED)
    assert await _watermarks(w.store) == dict.fromkeys(
        DataType, scheduled.started_at
    )
    (article, quantity) = ORDERS[SHIPPED][1][0]
    assert (
        _product(emu, article)["stock_quantity"] == STOCK[article] - quantity
    )

    # 5. a manual rerun without changes: the shop is not written to, no
    # watermark moves; the next scheduled run is quiet too
    mark = len(emu.requests)
    quiet = await w.run(ALL_TYPES)
    assert w.writes(mark) == []
    for data_type, typed in quiet.counts.items():
        assert (typed.created, typed.updated, typed.failed) == (0, 0, 0), (
            data_type
        )
    assert await _watermarks(w.store) == dict.fromkeys(
        DataType, scheduled.started_at
    )
    mark = len(emu.requests)
    await w.run(ALL_TYPES, Trigger.SCHEDULED)
    assert w.writes(mark) == []


@pytest.fixture(name="seeded")
async def _seeded(tryton_admin: TrytonErp) -> TrytonErp:
    async with tryton_admin.session() as session:
        await seed_tryton(session.rpc, SEED)
    return tryton_admin


class TestTrytonToWooCommerce:
    async def test_all_five_types(
        self,
        tryton_server: dict[str, Any],
        seeded: TrytonErp,
        tmp_path: Path,
    ) -> None:
        """All five types, shipping, a scheduled delta, then quiet reruns."""
        emu = WooCommerceEmulator(
            KEY, SECRET, wp_user="sync", wp_application_password=APP
        )
        _place_orders(emu)
        sessions = _CountingTransport()
        shop = WooCommerce(
            "http://woo.test",
            KEY,
            SECRET,
            wp_user="sync",
            wp_application_password=APP,
            transport=httpx.ASGITransport(app=emu.app),
        )
        licenses = LocalLicensePool(1)
        store = SqliteStore(tmp_path / "state.db")
        world = _World(
            emu=emu,
            shop=shop,
            admin=seeded,
            sessions=sessions,
            licenses=licenses,
            store=store,
            sync=Synchronizer(
                erp=make_erp(tryton_server, transport=sessions),
                platforms={"shop": shop},
                store=store,
                licenses=licenses,
                staging=MediaStaging(tmp_path / "staging"),
                license_timeout=120.0,
            ),
        )
        try:
            await _scenario(world)
        finally:
            await shop.aclose()
            await store.aclose()
            await sessions.aclose()
        assert sessions.logins > 0
        assert SECRET not in (tmp_path / "state.db").read_bytes().decode(
            "latin-1"
        )

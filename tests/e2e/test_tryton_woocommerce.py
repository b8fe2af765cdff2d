"""
Tryton to WooCommerce, end to end: a live Tryton seeded with the small
catalogue of the Shopware scenario, the WooCommerce emulator with orders
placed in its storefront, and the engine moving all five data types
between them: a first run, a quiet second run, Tryton shipping an order,
and a scheduled delta.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from ecomsync import (
    LocalLicensePool,
    MediaStaging,
    SqliteStore,
    Synchronizer,
)
from ecomsync.erp.tryton import TrytonErp
from ecomsync.platforms.woocommerce import WooCommerce, category_slug
from ecomsync.testing._tryton_seed import seed_tryton
from ecomsync.testing.woocommerce import WooCommerceEmulator

from ._scenario import (
    AVAILABLE,
    ORDERS,
    SEED,
    SHIPPED,
    TRACKING,
    CountingTransport,
    World,
    check_orders_in_tryton,
    first_run,
    quiet_rerun,
    quiet_scheduled,
    scheduled_delta,
    ship_one,
    tryton_images,
)
from .conftest import make_erp


pytestmark = [pytest.mark.anyio, pytest.mark.tryton, pytest.mark.slow]

KEY, SECRET = "ck_e2e", "cs_e2e-s3cr3t-NEVER-SHOWN"
APP = "e2e-app-password-NEVER-SHOWN"
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
class _World(World):
    emu: WooCommerceEmulator

    def mark(self) -> int:
        return len(self.emu.requests)

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
    images = await tryton_images(w.admin)
    for article in SEED.articles:
        row = _product(emu, article.number)
        assert row["name"] == article.name
        assert Decimal(row["regular_price"]) == article.price
        assert row["manage_stock"] is True
        assert row["stock_quantity"] == AVAILABLE[article.number]
        (home,) = article.categories
        assert [c["slug"] for c in row["categories"]] == [category_slug(home)]
        assert [emu.shop.media[i["id"]].sha256 for i in row["images"]] == [
            images[ref.key] for ref in article.media
        ], article.number
    # the picture share was uploaded once
    assert len(emu.shop.media) == len(set(images.values()))


async def _scenario(w: _World) -> None:
    emu = w.emu

    # 1. one manual run of all five types
    await first_run(w)
    await _check_catalogue(w)
    await check_orders_in_tryton(w.admin)
    for number in ORDERS:
        assert emu.shop.orders[int(number)]["status"] == "processing"

    # 3. Tryton ships one order: status and tracking go to the shop
    await ship_one(w)
    shipped = emu.shop.orders[int(SHIPPED)]
    assert shipped["status"] == "completed"
    assert _meta(shipped)["_ecomsync_tracking"] == [TRACKING]
    notes = [n["note"] for n in emu.shop.notes[int(SHIPPED)]]
    assert f"Tracking number: {TRACKING}" in notes
    for number in set(ORDERS) - {SHIPPED}:
        assert emu.shop.orders[int(number)]["status"] == "processing"

    # 4. a scheduled run moves every watermark to when it started and
    # picks up the stock Tryton shipped
    scheduled, article, left = await scheduled_delta(w)
    assert _product(emu, article)["stock_quantity"] == left

    # 5. a manual rerun without changes: the shop is not written to, no
    # watermark moves; the next scheduled run is quiet too
    await quiet_rerun(w, scheduled)
    await quiet_scheduled(w)


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
        sessions = CountingTransport()
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

"""
Tryton to Shopify, end to end: a live Tryton seeded with the small
catalogue of the Shopware scenario, the Shopify emulator with orders
placed as its checkout leaves them, and the engine moving all five data
types between them (articles and stock as bulk mutations): a first run,
Tryton shipping an order, a scheduled delta, and quiet reruns.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from graphql import OperationType, parse
from graphql.language import OperationDefinitionNode

from ecomsync import (
    LocalLicensePool,
    MediaStaging,
    SqliteStore,
    Synchronizer,
)
from ecomsync.erp.tryton import TrytonErp
from ecomsync.platforms.shopify import Shopify, collection_handle
from ecomsync.testing._tryton_seed import seed_tryton
from ecomsync.testing.shopify import ShopifyEmulator

from ._scenario import (
    AVAILABLE,
    CUSTOMERS,
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

TOKEN = "shpat_e2e-S3CR3T-NEVER-SHOWN"


def _place_orders(emu: ShopifyEmulator) -> None:
    prices = {a.number: a.price for a in SEED.articles}
    for number, (customer, lines) in ORDERS.items():
        email, first, last = CUSTOMERS[customer]
        emu.place_order(
            [(sku, q, str(prices[sku])) for sku, q in lines],
            email=email,
            first_name=first,
            last_name=last,
            name=f"#{number}",
        )


def _meta(row: dict[str, Any], key: str) -> str | None:
    for m in row.get("_metafields", ()):
        if m["namespace"] == "ecomsync" and m["key"] == key:
            return str(m["value"])
    return None


def _product(emu: ShopifyEmulator, number: str) -> dict[str, Any]:
    (row,) = (
        p for p in emu.shop.products.values() if _meta(p, "number") == number
    )
    return row


def _available(emu: ShopifyEmulator, sku: str) -> int:
    shop = emu.shop
    (variant,) = (v for v in shop.variants.values() if v["sku"] == sku)
    return sum(
        shop.levels[(variant["_item"], loc)]["available"]
        for loc in shop.locations
    )


def _order(emu: ShopifyEmulator, number: str) -> dict[str, Any]:
    (row,) = (o for o in emu.shop.orders.values() if o["name"] == f"#{number}")
    return row


class _Mutations:
    """
    Counts the GraphQL mutations and uploads the emulator answers: the
    requests that change the shop.
    """

    def __init__(self, emu: ShopifyEmulator) -> None:
        self.names: list[str] = []
        answer = emu.graphql

        def spy(token: str, body: Any, **kwargs: Any) -> Any:
            if isinstance(body, dict) and isinstance(body.get("query"), str):
                for op in parse(body["query"]).definitions:
                    if (
                        isinstance(op, OperationDefinitionNode)
                        and op.operation is OperationType.MUTATION
                    ):
                        self.names += [
                            s.name.value  # type: ignore[attr-defined]
                            for s in op.selection_set.selections
                        ]
            return answer(token, body, **kwargs)

        emu.graphql = spy  # type: ignore[method-assign]


@attrs.define
class _World(World):
    emu: ShopifyEmulator
    mutations: _Mutations

    def mark(self) -> int:
        return len(self.mutations.names)

    def writes(self, since: int) -> list[str]:
        return self.mutations.names[since:]


async def _check_catalogue(w: _World) -> None:
    shop = w.emu.shop
    collections = {c["handle"]: c for c in shop.collections.values()}
    for category in SEED.categories:
        row = collections[collection_handle(category.number)]
        assert row["title"] == category.name
        assert _meta(row, "parent") == category.parent
    images = await tryton_images(w.admin)

    def sha(file_number: int) -> str:
        source = shop.files[file_number]["originalSource"]
        data = shop.staged[source.split("/_staged/", 1)[1]]
        assert data is not None
        return hashlib.sha256(data).hexdigest()

    for article in SEED.articles:
        row = _product(w.emu, article.number)
        assert row["title"] == article.name
        (variant,) = (shop.variants[v] for v in row["_variants"])
        assert Decimal(variant["price"]) == article.price
        assert _available(w.emu, article.number) == AVAILABLE[article.number]
        assert [
            shop.collections[c]["handle"] for c in row["_collections"]
        ] == [collection_handle(c) for c in article.categories]
        assert [sha(f) for f in row["_media"]] == [
            images[ref.key] for ref in article.media
        ], article.number
    # the picture share was uploaded once
    assert len(shop.files) == len(set(images.values()))


async def _scenario(w: _World) -> None:
    emu = w.emu

    # 1. one manual run of all five types; articles and stock in bulk
    await first_run(w)
    assert w.shop.bulk_operations >= 2
    await _check_catalogue(w)
    await check_orders_in_tryton(w.admin)
    for number in ORDERS:
        assert _order(emu, number)["displayFulfillmentStatus"] == "UNFULFILLED"

    # 2. Tryton ships one order: a fulfillment with its tracking number
    await ship_one(w)
    shipped = _order(emu, SHIPPED)
    assert shipped["displayFulfillmentStatus"] == "FULFILLED"
    assert [
        t["number"] for t in shipped["fulfillments"][0]["trackingInfo"]
    ] == [TRACKING]
    for number in set(ORDERS) - {SHIPPED}:
        assert _order(emu, number)["fulfillments"] == []

    # 3. a scheduled run moves every watermark to when it started and
    # picks up the stock Tryton shipped
    scheduled, article, left = await scheduled_delta(w)
    assert _available(emu, article) == left

    # 4. a manual rerun without changes: no mutation, no upload, no
    # watermark moves; the next scheduled run is quiet too
    uploads = len(emu.shop.staged)
    await quiet_rerun(w, scheduled)
    assert len(emu.shop.staged) == uploads
    await quiet_scheduled(w)


@pytest.fixture(name="seeded")
async def _seeded(tryton_admin: TrytonErp) -> TrytonErp:
    async with tryton_admin.session() as session:
        await seed_tryton(session.rpc, SEED)
    return tryton_admin


class TestTrytonToShopify:
    async def test_all_five_types(
        self,
        tryton_server: dict[str, Any],
        seeded: TrytonErp,
        tmp_path: Path,
    ) -> None:
        """All five types, shipping, a scheduled delta, then quiet reruns."""
        emu = ShopifyEmulator(TOKEN)
        _place_orders(emu)
        sessions = CountingTransport()
        shop = Shopify(
            "https://e2e.myshopify.test",
            TOKEN,
            transport=httpx.ASGITransport(app=emu.app),
            bulk_threshold=2,
            bulk_poll_interval=0.01,
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
            mutations=_Mutations(emu),
        )
        try:
            await _scenario(world)
        finally:
            await shop.aclose()
            await store.aclose()
            await sessions.aclose()
        assert sessions.logins > 0
        assert TOKEN not in (tmp_path / "state.db").read_bytes().decode(
            "latin-1"
        )

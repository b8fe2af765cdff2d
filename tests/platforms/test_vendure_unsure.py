"""
Writes that may have landed, against a live Vendure: a proxy that lets
each kind of mutation through once and then answers a bare 503 (the
write landed, the answer was lost).  The adapter repeats only what is
safe to repeat and looks for the rest first: the run ends with the
shop as a clean run leaves it, nothing twice.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    MediaRef,
    MediaStaging,
    MemoryErp,
    OrderState,
    OrderStatus,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Variant,
)
from ecomsync.events import RecordFailed

from ._vendure_shop import _png, _shop_order
from .vendure_server import VendureAdmin, VendureServer


pytestmark = [pytest.mark.vendure, pytest.mark.anyio]

_FIELD = re.compile(r"(?:^|[{\s:])(\w+)\s*\(")


class _LostAnswers(httpx.AsyncBaseTransport):
    """
    Passes each kind of mutation on to Vendure, but answers the first
    of each kind with a bare 503 after Vendure applied it.
    """

    def __init__(self, only: set[str] | None = None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.only = only
        self.lost: list[str] = []

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        body = await request.aread()
        response = await self.inner.handle_async_request(request)
        await response.aread()
        field = _mutation(body)
        if (
            field is None
            or field == "login"
            or field in self.lost
            or (self.only is not None and field not in self.only)
        ):
            return response
        self.lost.append(field)
        return httpx.Response(503, text="upstream timed out")

    async def aclose(self) -> None:
        await self.inner.aclose()


def _mutation(body: bytes) -> str | None:
    """
    The first field of a GraphQL mutation in *body*, else ``None``.
    """
    if b'name="operations"' in body:
        # an upload (multipart): the document is the operations part
        part = body.split(b'name="operations"', 1)[1].split(b"\r\n\r\n", 1)
        body = part[1].split(b"\r\n--", 1)[0]
    try:
        query = str(json.loads(body)["query"])
    except (ValueError, KeyError, TypeError):
        return None
    head, _, rest = query.strip().partition("{")
    if not head.startswith("mutation"):
        return None
    found = _FIELD.search(rest)
    return None if found is None else found.group(1)


def _erp() -> MemoryErp:
    return MemoryErp(
        [
            Category(number="100", name="Werkzeug"),
            Category(number="110", name="Bohrer", parent="100"),
            Article(
                number="U-1",
                name="Akkuschrauber",
                price=Decimal("119.00"),
                categories=("110",),
                media=(
                    MediaRef(
                        key="img-1",
                        filename="schrauber.png",
                        mime_type="image/png",
                    ),
                ),
            ),
            Article(
                number="U-2",
                name="Hemd",
                price=Decimal("19.99"),
                categories=("100",),
                variants=(
                    Variant(number="U-2-S", options=(("Size", "S"),)),
                    Variant(number="U-2-M", options=(("Size", "M"),)),
                ),
            ),
            StockLevel(number="U-1", quantity=10),
            StockLevel(number="U-2-S", quantity=3),
            StockLevel(number="U-2-M", quantity=5),
        ],
        media={"img-1": _png((200, 30, 30))},
    )


async def _shop(admin: VendureAdmin) -> dict[str, Any]:
    data = await admin.gql(
        "{ products(options: { take: 100 }) { items { slug variants "
        "{ sku stockOnHand } } } collections(options: { take: 100 }) "
        "{ items { slug } } facets(options: { take: 100 }) { items "
        "{ code values { code } } } assets { totalItems } }"
    )
    return {
        "products": sorted(
            (
                p["slug"],
                sorted((v["sku"], v["stockOnHand"]) for v in p["variants"]),
            )
            for p in data["products"]["items"]
        ),
        "collections": sorted(c["slug"] for c in data["collections"]["items"]),
        "values": sorted(
            (f["code"], v["code"])
            for f in data["facets"]["items"]
            for v in f["values"]
        ),
        "assets": data["assets"]["totalItems"],
    }


class TestLostAnswers:
    """
    Each mutation answered with a bare 503 after it landed.
    """

    async def test_catalogue_and_stock_land_once(
        self, fresh_vendure: VendureServer, tmp_path: Path
    ) -> None:
        """
        Categories, articles with and without variants, an image and
        stock, each kind of write's first answer lost: no record fails,
        the shop holds what a clean run leaves, no product, value,
        collection or asset twice.
        """
        admin = fresh_vendure.admin()
        transport = _LostAnswers()
        vendure = fresh_vendure.platform(transport=transport)
        store = SqliteStore(tmp_path / "state.db")
        sync = Synchronizer(
            erp=_erp(),
            platforms={"vendure": vendure},
            store=store,
            staging=MediaStaging(tmp_path / "staging"),
        )
        try:
            async with sync.run(
                SyncSpec(
                    types={
                        DataType.CATEGORIES: All(),
                        DataType.ARTICLES: All(),
                        DataType.STOCK: All(),
                    }
                )
            ) as events:
                failed = [
                    e async for e in events if isinstance(e, RecordFailed)
                ]
            shop = await _shop(admin)
        finally:
            await vendure.aclose()
            await store.aclose()
            await admin.aclose()

        assert not failed, failed
        assert {
            "createFacet",
            "createFacetValues",
            "createCollection",
            "updateCollection",
            "createProduct",
            "createAssets",
            "updateProduct",
            "createProductOptionGroup",
            "addOptionGroupToProduct",
            "createProductVariants",
            "updateProductVariants",
        } == set(transport.lost)
        assert [
            ("u-1", [("U-1", 10)]),
            ("u-2", [("U-2-M", 5), ("U-2-S", 3)]),
        ] == shop["products"]
        assert len(set(shop["collections"])) == len(shop["collections"])
        assert len(set(shop["values"])) == len(shop["values"]), shop
        assert 1 == shop["assets"]

    async def test_order_status_lands_once(
        self, fresh_vendure: VendureServer, tmp_path: Path
    ) -> None:
        """
        A shipment, a cancellation and a late tracking number, each
        write's first answer lost: no record fails, one fulfilment with
        the tracking code, the order cancelled, one note.
        """
        admin = fresh_vendure.admin()
        transport = _LostAnswers(
            only={
                "addFulfillmentToOrder",
                "transitionFulfillmentToState",
                "cancelOrder",
                "addNoteToOrder",
            }
        )
        erp = _erp()
        vendure = fresh_vendure.platform(transport=transport)
        store = SqliteStore(tmp_path / "state.db")
        sync = Synchronizer(
            erp=erp, platforms={"vendure": vendure}, store=store
        )
        failed: list[RecordFailed] = []

        async def run(*types: DataType) -> None:
            async with sync.run(
                SyncSpec(types=dict.fromkeys(types, All()))
            ) as events:
                failed.extend(
                    [e async for e in events if isinstance(e, RecordFailed)]
                )

        try:
            await run(DataType.CATEGORIES, DataType.ARTICLES, DataType.STOCK)
            data = await admin.gql(
                "{ productVariants(options: { filter: "
                '{ sku: { eq: "U-1" } } })'
                " { items { id } } }"
            )
            variant = data["productVariants"]["items"][0]["id"]
            shipped = await _shop_order(fresh_vendure.url, variant)
            dropped = await _shop_order(fresh_vendure.url, variant)
            await run(DataType.ADDRESSES_AND_ORDERS)
            erp.put(
                OrderStatus(
                    number=shipped,
                    state=OrderState.SHIPPED,
                    tracking_numbers=("JJD1",),
                )
            )
            erp.put(OrderStatus(number=dropped, state=OrderState.CANCELLED))
            await run(DataType.ORDER_STATUS)
            erp.put(
                OrderStatus(
                    number=shipped,
                    state=OrderState.SHIPPED,
                    tracking_numbers=("JJD1", "JJD2"),
                )
            )
            await run(DataType.ORDER_STATUS)
            data = await admin.gql(
                "query ($c: [String!]!) { orders(options: { filter: "
                "{ code: { in: $c } } }) { items { code state fulfillments "
                "{ state trackingCode } history(options: { take: 100 }) "
                "{ items { type data } } } } }",
                {"c": [shipped, dropped]},
            )
        finally:
            await vendure.aclose()
            await store.aclose()
            await admin.aclose()

        orders = {o["code"]: o for o in data["orders"]["items"]}
        assert not failed, failed
        assert {
            "addFulfillmentToOrder",
            "transitionFulfillmentToState",
            "cancelOrder",
            "addNoteToOrder",
        } == set(transport.lost)
        assert "Shipped" == orders[shipped]["state"]
        assert [("Shipped", "JJD1")] == [
            (f["state"], f["trackingCode"])
            for f in orders[shipped]["fulfillments"]
            if f["state"] != "Cancelled"
        ]
        assert ["Tracking number: JJD2"] == [
            h["data"]["note"]
            for h in orders[shipped]["history"]["items"]
            if h["type"] == "ORDER_NOTE"
        ]
        assert "Cancelled" == orders[dropped]["state"]

"""
The Shopify adapter's refusals and errors: a refused token never shown,
top-level GraphQL errors, unknown records failing by name, settings and
request estimates.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest

from ecomsync import DataType, Outgoing, StagedMedia
from ecomsync._contracts import MediaLink, Outcome
from ecomsync._http import HttpClient, RetryPolicy
from ecomsync._model import OrderState, OrderStatus, StockLevel
from ecomsync.exceptions import (
    AuthenticationError,
    ConfigurationError,
    RetryableError,
    SyncError,
)
from ecomsync.platforms.shopify import Shopify
from ecomsync.platforms.shopify._client import (
    UPLINK_BYTES_PER_S,
    ShopifyApiError,
    outside,
)
from ecomsync.testing._platform_contract import CATEGORIES, NOW, article
from ecomsync.testing.shopify import ShopifyEmulator


pytestmark = pytest.mark.anyio

TOKEN = "shpat_NEVER_SHOWN"


def _shop(
    emu: ShopifyEmulator, token: str = TOKEN, **kwargs: object
) -> Shopify:
    return Shopify(
        "https://shop.test",
        token,
        transport=httpx.ASGITransport(app=emu.app),
        **kwargs,  # type: ignore[arg-type]
    )


async def test_refused_token_is_not_shown() -> None:
    """
    A wrong token is an AuthenticationError that does not contain it.
    """
    emu = ShopifyEmulator("shpat_right")
    async with _shop(emu, "shpat_WRONG_SECRET") as shop:
        with pytest.raises(AuthenticationError) as caught:
            await shop.push(
                DataType.CATEGORIES, [Outgoing(record=CATEGORIES[0])]
            )

    assert "shpat_WRONG_SECRET" not in str(caught.value)
    assert "refused the access token" in str(caught.value)
    assert "shpat" not in repr(shop)


async def test_top_level_error_raises() -> None:
    """
    A query Shopify refuses raises ShopifyApiError with its code; a
    query over 1,000 points is never sent.
    """
    emu = ShopifyEmulator(TOKEN)
    async with _shop(emu) as shop:
        with pytest.raises(ShopifyApiError) as caught:
            await shop._api.call("{ nope }")
        with pytest.raises(ValueError, match="1001 points"):
            await shop._api.call(
                "{ locations(first: 1) { nodes { id } } }", cost=1001
            )

    assert "GRAPHQL_VALIDATION_FAILED" == caught.value.code
    assert 1 == len(emu.requests)


async def test_http_error_without_graphql_body() -> None:
    """
    A non-GraphQL HTTP error (a 404 page) is a SyncError naming the status.
    """
    emu = ShopifyEmulator(TOKEN)
    async with Shopify(
        "https://shop.test",
        TOKEN,
        api_version="nope",
        transport=httpx.ASGITransport(app=emu.app),
    ) as shop:
        with pytest.raises(SyncError, match="HTTP 404"):
            await shop.push(
                DataType.CATEGORIES, [Outgoing(record=CATEGORIES[0])]
            )


async def test_unknown_records_fail_by_name() -> None:
    """
    Stock of an unknown SKU, a status of an unknown order and an article
    in an unknown category fail alone, naming the field.
    """
    emu = ShopifyEmulator(TOKEN)
    async with _shop(emu) as shop:
        await shop.push(
            DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
        )
        (bad_article,) = await shop.push(
            DataType.ARTICLES,
            [Outgoing(record=article("A-1", categories=("NO",)))],
        )
        stock = await shop.push(
            DataType.STOCK,
            [Outgoing(record=StockLevel(number="NOPE", quantity=1))],
        )
        (status,) = await shop.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(number="404", state=OrderState.SHIPPED)
                )
            ],
        )
        orders = await shop.push(
            DataType.ADDRESSES_AND_ORDERS,
            [Outgoing(record=StockLevel(number="x", quantity=1))],
        )

    assert ("categories", "category 'NO' is not on Shopify") == (
        bad_article.field,
        bad_article.error,
    )
    assert [("NOPE", "number")] == [(o.number, o.field) for o in stock]
    assert ("404", "number") == (status.number, status.field)
    assert not orders[0].ok
    assert [] == await shop.push(DataType.STOCK, [])


async def test_stock_location_refused() -> None:
    """
    A location the shop does not have fails every level of that call on
    the quantity.
    """
    emu = ShopifyEmulator(TOKEN)
    async with _shop(emu) as shop:
        await shop.push(
            DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
        )
        await shop.push(DataType.ARTICLES, [Outgoing(record=article("A-1"))])
    async with _shop(emu, location="gid://shopify/Location/999") as shop:
        (outcome,) = await shop.push(
            DataType.STOCK,
            [Outgoing(record=StockLevel(number="A-1", quantity=3))],
        )

    assert ("A-1", "quantity") == (outcome.number, outcome.field)
    assert "location" in str(outcome.error)


async def test_new_article_at_an_unknown_location_refused() -> None:
    """
    A new article stocked (by its productSet) at a location the shop
    does not have fails, naming the location, as Shopify refuses it.
    """
    emu = ShopifyEmulator(TOKEN)
    async with _shop(emu, location="gid://shopify/Location/999") as shop:
        await shop.push(
            DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
        )
        (outcome,) = await shop.push(
            DataType.ARTICLES, [Outgoing(record=article("A-1"))]
        )

    assert outcome.platform_id is None
    assert "variants.0.inventoryQuantities.0.locationId" == outcome.field
    assert "location could not be found" in str(outcome.error)


async def test_media_refusals() -> None:
    """
    Media attach only to written products.
    """
    emu = ShopifyEmulator(TOKEN)
    async with _shop(emu) as shop:
        with pytest.raises(SyncError, match="products only"):
            await shop.attach_media(
                DataType.CATEGORIES, Outcome(number="K-1"), []
            )
        with pytest.raises(SyncError, match="no Shopify product"):
            await shop.attach_media(
                DataType.ARTICLES,
                Outcome(number="A-1"),
                [
                    MediaLink(
                        media_id="gid://shopify/MediaImage/1",
                        sha256="x",
                        position=0,
                    )
                ],
            )


def test_settings_and_estimates() -> None:
    """
    batch_size outside 1..10000 and a bulk_threshold below 1 are a
    ConfigurationError; estimates cover one write per record plus the
    listings, and for stock a bulk operation per push that may go in bulk.
    """
    emu = ShopifyEmulator(TOKEN)
    with pytest.raises(ConfigurationError, match=r"1\.\.10000"):
        _shop(emu, batch_size=10_001)
    with pytest.raises(ConfigurationError, match="bulk_threshold"):
        _shop(emu, bulk_threshold=0)
    shop = _shop(emu, bulk_threshold=None)
    bulk = _shop(emu, batch_size=200)

    assert 1 + 10 + 3 * 2 + 1 == shop.estimate_requests(
        DataType.CATEGORIES, writes=10, uploads=2, with_media=1
    )
    # collections, one SKU lookup, ten productSets
    assert 1 + 1 + 10 == shop.estimate_requests(
        DataType.ARTICLES, writes=10, uploads=0, with_media=0
    )
    # two writes, each of which may be sent again without what Shopify
    # refused (a 0 at a location deleted since)
    assert 1 + 6 + 2 * 2 == shop.estimate_requests(
        DataType.STOCK, writes=300, uploads=0, with_media=0
    )
    assert 1 + 6 + 2 * 2 + 2 * 8 == bulk.estimate_requests(
        DataType.STOCK, writes=300, uploads=0, with_media=0
    )
    assert 40 == shop.estimate_requests(
        DataType.ORDER_STATUS, writes=10, uploads=0, with_media=0
    )
    # orders: nothing beyond the pages a page count could tell (a plan
    # counts what its read sent: `requests_sent`)
    assert 0 == shop.estimate_requests(
        DataType.ADDRESSES_AND_ORDERS, writes=3, uploads=0, with_media=0
    )
    assert NOW


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (
            {
                "stagedTargets": [],
                "userErrors": [
                    {"field": ["input", "0"], "message": "File too large"}
                ],
            },
            "without a staged target (input.0: File too large)",
        ),
        (None, "without a staged target"),
        (
            {"stagedTargets": [{"url": "https://up", "parameters": []}]},
            "stagedTargets.0.resourceUrl is missing",
        ),
        (
            {
                "stagedTargets": [
                    {
                        "url": "https://up",
                        "resourceUrl": "r",
                        "parameters": [1],
                    }
                ]
            },
            "stagedTargets.0.parameters.0 is a number",
        ),
    ],
)
async def test_odd_staged_upload_answer_names_it(
    payload: object, problem: str
) -> None:
    """
    A stagedUploadsCreate answer without a usable target (refused with
    userErrors, null, a target missing a field) is a SyncError naming the
    upload and what was missing, not a bare IndexError, KeyError or
    TypeError; nothing is uploaded.
    """
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return httpx.Response(
            200, json={"data": {"stagedUploadsCreate": payload}}
        )

    staged = StagedMedia(
        sha256="d" * 64, path=Path("unused"), size=1, filename="a.jpg",
        mime_type="image/jpeg", content=b"a",
    )  # fmt: skip
    async with Shopify(
        "https://shop.test", TOKEN, transport=httpx.MockTransport(answer)
    ) as shop:
        with pytest.raises(SyncError) as caught:
            await shop.upload_media(staged)

    assert "upload of 'a.jpg'" in str(caught.value)
    assert problem in str(caught.value)
    assert ["shop.test"] == seen


async def test_status_never_goes_to_an_order_of_another_name() -> None:
    """
    An order search that answers an order of another name (Shopify's
    search is a text search) fails the status on ``number``, as does a
    name two orders hold; nothing is fulfilled or cancelled on the
    orders found.
    """
    writes: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = request.read().decode()
        if "mutation" in body:
            writes.append(body)
            return httpx.Response(500)
        nodes = [
            {
                "id": f"gid://shopify/Order/{i}",
                "name": name,
                "cancelledAt": None,
                "fulfillmentOrders": {
                    "nodes": [{"id": f"gid://shopify/FulfillmentOrder/{i}",
                               "status": "OPEN"}]
                },
            }
            for i, name in enumerate(names.pop(0))
        ]  # fmt: skip
        return httpx.Response(200, json={"data": {"orders": {"nodes": nodes}}})

    # another name for each state; then the name twice
    names = [["#10010"], ["#10010"], ["#1001", "#1001"]]

    async with Shopify(
        "https://shop.test", TOKEN, transport=httpx.MockTransport(answer)
    ) as shop:
        outcomes = await shop.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(record=OrderStatus(number="1001", state=state))
                for state in (
                    OrderState.SHIPPED,
                    OrderState.CANCELLED,
                    OrderState.SHIPPED,
                )
            ],
        )

    assert [("1001", "number")] * 3 == [(o.number, o.field) for o in outcomes]
    assert all("not on Shopify" in str(o.error) for o in outcomes[:2])
    assert "on Shopify 2 times" in str(outcomes[2].error)
    assert [] == writes


class _SlowUplink(httpx.AsyncBaseTransport):
    """
    Takes *seconds* to receive a request, then answers 204.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.sizes: list[int] = []

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        self.sizes.append(len(await request.aread()))
        await anyio.sleep(self.seconds)
        return httpx.Response(204)


async def test_large_upload_gets_time_for_its_bytes() -> None:
    """
    A staged upload's deadline grows with its size (a 20 MiB bulk file on
    a slow uplink is not cut at the per-request deadline); a small one
    keeps the deadline.
    """
    uplink = _SlowUplink(0.4)
    big = b"x" * (UPLINK_BYTES_PER_S // 2)  # half a second more
    async with HttpClient(
        "https://x.test",
        transport=uplink,
        deadline=0.2,
        policy=RetryPolicy(attempts=1),
    ) as http:
        sent = await outside(
            http, "upload", "POST", "https://t.test/up",
            files={"file": ("v.jsonl", big, "text/jsonl")},
        )  # fmt: skip
        with pytest.raises(
            RetryableError, match=r"no complete answer within 0\.2"
        ):
            await outside(
                http, "upload", "POST", "https://t.test/up",
                files={"file": ("v.jsonl", b"x", "text/jsonl")},
            )  # fmt: skip

    assert 204 == sent.status_code
    assert len(big) < uplink.sizes[0]

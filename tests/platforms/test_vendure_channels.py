"""
Stock in a Vendure shop with several channels, against a live Vendure
server: Vendure puts every stock location in the default channel too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ecomsync import (
    Article,
    Category,
    ConfigurationError,
    DataType,
    Outgoing,
    StockLevel,
    Variant,
)
from ecomsync.platforms.vendure import Vendure

from .test_vendure_merchant import _article, _by_hand, _stock
from .vendure_server import SUPERADMIN, VendureAdmin, VendureServer


pytestmark = [pytest.mark.vendure, pytest.mark.anyio]

AT = "at-token"
_LOGIN: dict[str, Any] = {"username": SUPERADMIN[0], "password": SUPERADMIN[1]}


@pytest.fixture(name="channels_vendure")
def _channels_vendure(
    fresh_vendure: VendureServer,
) -> Iterator[VendureServer]:
    """
    The fresh server, started again from its snapshot afterwards: Vendure
    keeps channels and what it knows of their locations in memory, which
    resetting its tables behind its back leaves in place.
    """
    yield fresh_vendure
    fresh_vendure.restart_from_snapshot()


async def _channel(admin: VendureAdmin, *locations: str) -> list[str]:
    """
    A channel "at" (token `AT`) and *locations* made in it; their ids.
    """
    zones = await admin.gql("{ zones { items { id } } }")
    zone = zones["zones"]["items"][0]["id"]
    await admin.gql(
        "mutation ($i: CreateChannelInput!) { createChannel(input: $i) "
        "{ __typename } }",
        {
            "i": {
                "code": "at",
                "token": AT,
                "defaultLanguageCode": "en",
                "pricesIncludeTax": True,
                "defaultCurrencyCode": "EUR",
                "defaultTaxZoneId": zone,
                "defaultShippingZoneId": zone,
            }
        },
    )
    ids = []
    for name in locations:
        data = await _as(
            admin,
            "mutation ($n: String!) { createStockLocation("
            'input: { name: $n, description: "" }) { id } }',
            AT,
            {"n": name},
        )
        ids.append(data["createStockLocation"]["id"])
    return ids


def _level(quantity: int) -> list[Outgoing]:
    return [Outgoing(record=StockLevel(number="C-1", quantity=quantity))]


class TestChannels:
    """
    A sync of one channel leaves the stock other channels sell alone.
    """

    async def test_the_default_channel_leaves_another_channels_stock(
        self, channels_vendure: VendureServer
    ) -> None:
        """
        Channel "at" sells from Wien (and Graz, which its sync sets to
        sell nothing); the default channel lists Wien and Graz too, and
        its sync set Wien to sell nothing, so "at" sold nothing until
        the ERP's stock of the article changed again.
        """
        login: dict[str, Any] = {
            "username": SUPERADMIN[0],
            "password": SUPERADMIN[1],
        }
        admin = channels_vendure.admin()
        try:
            await admin.gql("{ activeChannel { id } }")  # logs in
            _, graz = await _channel(admin, "Wien", "Graz")
            async with Vendure(
                channels_vendure.url,
                channel_token=AT,
                stock_location="Wien",
                **login,
            ) as at:
                (made,) = await at.push(
                    DataType.ARTICLES,
                    [
                        Outgoing(
                            record=Article(number="C-1", name="C", price=1)
                        )
                    ],
                )
                await _by_hand(admin, "C-1", {graz: 2})
                (six,) = await at.push(DataType.STOCK, _level(6))
            in_at = await _stock(admin, "C-1")
            async with Vendure(channels_vendure.url, **login) as default:
                (four,) = await default.push(DataType.STOCK, _level(4))
            both = await _stock(admin, "C-1")
        finally:
            await admin.aclose()

        assert made.ok, made.error
        assert six.ok, six.error
        assert four.ok, four.error
        assert {"Wien": (6, 0), "sells": 6} == in_at
        # The default channel sells every location (Vendure's sum).
        assert {
            "Default Stock Location": (4, 0),
            "Wien": (6, 0),
            "sells": 10,
        } == both

    async def test_a_channel_without_stock_location(
        self, channels_vendure: VendureServer
    ) -> None:
        """
        Channel "at" has no stock location: its articles land all the
        same (Vendure makes variants there), its stock push stops with
        a ConfigurationError naming the channel, and `check` says so.
        """
        admin = channels_vendure.admin()
        try:
            await admin.gql("{ activeChannel { id } }")  # logs in
            await _channel(admin)
            async with Vendure(
                channels_vendure.url, channel_token=AT, **_LOGIN
            ) as at:
                made = await _article(at, "C-1")
                problems = await at.check()
                with pytest.raises(ConfigurationError) as refused:
                    await at.push(DataType.STOCK, _level(4))
        finally:
            await admin.aclose()

        assert made.ok, made.error
        assert "channel 'at' has no stock location" in str(refused.value)
        assert [p for p in problems if str(refused.value) in p], problems

    async def test_a_role_that_cannot_read_the_other_channel(
        self, channels_vendure: VendureServer
    ) -> None:
        """
        A role of the default channel only cannot tell which locations
        channel "at" sells from: the stock push stops with a
        ConfigurationError naming the channel, before any write; with
        every location named, it needs not know.
        """
        admin = channels_vendure.admin()
        try:
            await admin.gql("{ activeChannel { id } }")  # logs in
            await _channel(admin, "Wien")
            async with channels_vendure.platform() as shop:
                made = await _article(shop, "C-1")
                problems = await shop.check()
                with pytest.raises(ConfigurationError) as refused:
                    await shop.push(DataType.STOCK, _level(4))
                untouched = await _stock(admin, "C-1")
            async with channels_vendure.platform(
                stock_locations={
                    "WH-1": "Default Stock Location",
                    "WH-2": "Wien",
                }
            ) as named:
                (four,) = await named.push(DataType.STOCK, _level(4))
            held = await _stock(admin, "C-1")
        finally:
            await admin.aclose()

        assert made.ok, made.error
        assert "'at'" in str(refused.value)
        assert "ReadStockLocation" in str(refused.value)
        assert [p for p in problems if str(refused.value) in p], problems
        assert {"sells": 0} == untouched
        assert four.ok, four.error
        assert {"Default Stock Location": (4, 0), "sells": 4} == held


async def _in(admin: VendureAdmin, sku: str, token: str | None = None) -> Any:
    """
    The variants with *sku* as channel *token* (default: the default
    channel) sees them: product id, price, priceWithTax each.
    """
    data = await _as(
        admin,
        "query ($s: String!) { productVariants(options: "
        "{ filter: { sku: { eq: $s } } }) { items { product { id } "
        "price priceWithTax } } }",
        token,
        {"s": sku},
    )
    return [
        (v["product"]["id"], v["price"], v["priceWithTax"])
        for v in data["productVariants"]["items"]
    ]


async def _out_of_at(admin: VendureAdmin, sku: str) -> None:
    """
    Take the variant *sku* out of channel "at" by hand.
    """
    data = await admin.gql(
        "{ channels { items { id code } } "
        "productVariants { items { id sku } } }"
    )
    (at,) = [c["id"] for c in data["channels"]["items"] if c["code"] == "at"]
    (variant,) = [
        v["id"] for v in data["productVariants"]["items"] if v["sku"] == sku
    ]
    await admin.gql(
        "mutation ($v: [ID!]!, $c: ID!) { removeProductVariantsFromChannel("
        "input: { productVariantIds: $v, channelId: $c }) { id } }",
        {"v": [variant], "c": at},
    )
    assert not await _in(admin, sku, AT)


def _shirt(*sizes: str) -> list[Outgoing]:
    return [
        Outgoing(
            record=Article(
                number="T",
                name="T-shirt",
                price=Decimal("11.90"),
                variants=tuple(
                    Variant(number=f"T-{s}", options=(("Size", s),))
                    for s in sizes
                ),
            )
        )
    ]


@asynccontextmanager
async def _default_and_at(
    server: VendureServer,
) -> AsyncIterator[tuple[VendureAdmin, Vendure, Vendure]]:
    """
    The admin, logged in, with channel "at" selling from "Wien"; a
    Vendure for the default channel and one for "at".
    """
    admin = server.admin()
    try:
        await admin.gql("{ activeChannel { id } }")  # logs in
        await _channel(admin, "Wien")
        async with (
            Vendure(server.url, **_LOGIN) as default,
            Vendure(server.url, channel_token=AT, **_LOGIN) as at,
        ):
            yield admin, default, at
    finally:
        await admin.aclose()


async def _in_both(admin: VendureAdmin, *skus: str) -> dict[str, Any]:
    """
    Each of *skus*: its variants as the default channel and as "at" see
    them (`_in`).
    """
    return {
        sku: (await _in(admin, sku), await _in(admin, sku, AT)) for sku in skus
    }


def _assert_one_product(product: str | None, seen: dict[str, Any]) -> None:
    """
    Every SKU in *seen* (`_in_both`) is a variant of *product* in both
    channels, at one net and one gross price.
    """
    for sku, (in_default, in_at) in seen.items():
        # Vendure shows net prices; "at" stores the gross one.
        assert [(product, 1000, 1190)] == in_default, sku
        assert [(product, 1000, 1190)] == in_at, sku


class TestProductInTwoChannels:
    """
    An article synced to two channels is one Vendure product in both.
    """

    async def test_the_default_channel_first(
        self, channels_vendure: VendureServer
    ) -> None:
        """
        The default channel's sync made the product; channel "at"'s sync
        saw no SKU in its channel and made a second product with the
        same SKUs, which failed the default channel's sync of the
        article in every later run.  Now "at" takes the product into
        its channel, with its own (gross) prices, and a variant taken
        out of "at" by hand back; a variant the article gains later is
        one variant in both.
        """
        async with _default_and_at(channels_vendure) as (admin, default, at):
            first = await default.push(DataType.ARTICLES, _shirt("S", "M"))
            there = await at.push(DataType.ARTICLES, _shirt("S", "M"))
            again = await default.push(DataType.ARTICLES, _shirt("S", "M"))
            await _out_of_at(admin, "T-M")
            back = await at.push(DataType.ARTICLES, _shirt("S", "M"))
            grown = await default.push(
                DataType.ARTICLES, _shirt("S", "M", "L")
            )
            grown_at = await at.push(DataType.ARTICLES, _shirt("S", "M", "L"))
            last = await default.push(DataType.ARTICLES, _shirt("S", "M", "L"))
            seen = await _in_both(admin, "T-S", "T-M", "T-L")

        pushes = (*first, *there, *again, *back, *grown, *grown_at, *last)
        for outcome in pushes:
            assert outcome.ok, outcome.error
        product = first[0].platform_id
        assert [product] * 7 == [o.platform_id for o in pushes]
        _assert_one_product(product, seen)

    async def test_the_other_channel_first(
        self, channels_vendure: VendureServer
    ) -> None:
        """
        Channel "at" made the product (Vendure puts it in the default
        channel too, priced with "at"'s gross number): the default
        channel's sync keeps it and prices it net.
        """
        async with _default_and_at(channels_vendure) as (admin, default, at):
            there = await at.push(DataType.ARTICLES, _shirt("S", "M"))
            first = await default.push(DataType.ARTICLES, _shirt("S", "M"))
            again = await at.push(DataType.ARTICLES, _shirt("S", "M"))
            seen = await _in_both(admin, "T-S", "T-M")

        for outcome in (*there, *first, *again):
            assert outcome.ok, outcome.error
        product = there[0].platform_id
        assert [product] * 3 == [
            o.platform_id for o in (*there, *first, *again)
        ]
        _assert_one_product(product, seen)


async def _as(
    admin: VendureAdmin,
    query: str,
    token: str | None,
    variables: dict[str, Any] | None = None,
) -> Any:
    """
    *query* as channel *token* sees it (default: the default channel).
    """
    async with httpx.AsyncClient(timeout=60) as client:
        answer = await client.post(
            admin.url,
            json={"query": query, "variables": variables or {}},
            headers={
                "Authorization": f"Bearer {admin.token}",
                **({"vendure-token": token} if token else {}),
            },
        )
    return answer.json()["data"]


_SEEN = (
    "{ facets { items { code values { code } } }"
    " collections { items { name } }"
    " products { items { slug facetValues { code } } } }"
)


def _view(data: Any) -> Any:
    return (
        sorted(
            (f["code"], sorted(v["code"] for v in f["values"]))
            for f in data["facets"]["items"]
        ),
        sorted(c["name"] for c in data["collections"]["items"]),
        sorted(
            (p["slug"], sorted(v["code"] for v in p["facetValues"]))
            for p in data["products"]["items"]
        ),
    )


class TestCategoriesInTwoChannels:
    """
    The ERP's categories are one facet, one value per category and one
    collection per category, whichever channels sync them.
    """

    @pytest.mark.parametrize("first", ["default", "at"])
    async def test_two_channels_each_run_twice(
        self, channels_vendure: VendureServer, first: str
    ) -> None:
        """
        Channel "at" did not see the default channel's facet, made
        "erp-category-2" (Vendure keeps facet codes unique across
        channels), and another one in every later process, whose empty
        values failed every article; the default channel saw them all.
        Now "at" takes the default channel's facet, values and
        collections, in either order, and a category one channel adds
        later is one value and one collection in both.
        """
        admin = channels_vendure.admin()
        cats = [
            Outgoing(record=Category(number="100", name="Tools")),
            Outgoing(
                record=Category(number="110", name="Drills", parent="100")
            ),
        ]
        arts = [
            Outgoing(
                record=Article(
                    number="A-1", name="A", price=1, categories=("110",)
                )
            )
        ]
        later_cats = [
            Outgoing(record=Category(number="120", name="Saws", parent="100"))
        ]
        later_arts = [
            Outgoing(
                record=Article(
                    number="A-2", name="B", price=1, categories=("120",)
                )
            )
        ]
        tokens = {"default": None, "at": AT}
        order = [first, *(t for t in tokens if t != first)]
        outcomes = []
        try:
            await admin.gql("{ activeChannel { id } }")  # logs in
            await _channel(admin, "Wien")
            for _ in range(2):  # two runs, each its own process
                for name in order:
                    async with Vendure(
                        channels_vendure.url,
                        channel_token=tokens[name],
                        **_LOGIN,
                    ) as shop:
                        outcomes += await shop.push(DataType.CATEGORIES, cats)
                        outcomes += await shop.push(DataType.ARTICLES, arts)
            for name in reversed(order):
                async with Vendure(
                    channels_vendure.url, channel_token=tokens[name], **_LOGIN
                ) as shop:
                    outcomes += await shop.push(
                        DataType.CATEGORIES, later_cats
                    )
                    outcomes += await shop.push(DataType.ARTICLES, later_arts)
            default = _view(await _as(admin, _SEEN, None))
            at = _view(await _as(admin, _SEEN, AT))
        finally:
            await admin.aclose()

        assert [] == [o.error for o in outcomes if not o.ok]
        want = (
            [("erp-category", ["100", "110", "120"])],
            ["Drills", "Saws", "Tools"],
            [("a-1", ["110"]), ("a-2", ["120"])],
        )
        assert want == default
        assert want == at

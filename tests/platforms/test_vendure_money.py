"""
Money at the Vendure server's own precision, without a server: Vendure
keeps amounts as whole minor units, ``amount * 10**precision``, where the
precision is its MoneyStrategy's (2 by default, 0 or 3 on shops that sell
in yen or dinars), whatever the currency.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ecomsync import Article, DataType
from ecomsync._contracts import Outgoing
from ecomsync._spec import All
from ecomsync.exceptions import ConfigurationError
from ecomsync.platforms.vendure import Vendure
from ecomsync.platforms.vendure._money import major, minor, precision_of
from ecomsync.platforms.vendure._variants import price_problem

from .vendure_server import VendureServer


pytestmark = pytest.mark.anyio


def _order(total: int) -> dict[str, Any]:
    """A placed order of one line whose amounts add up to *total*."""
    return {
        "id": "1",
        "code": "O-1",
        "state": "PaymentSettled",
        "orderPlacedAt": "2026-12-01T10:00:00.000Z",
        "updatedAt": "2026-12-01T10:00:00.000Z",
        "currencyCode": "KWD",
        "totalWithTax": total,
        "shippingWithTax": 0,
        "subTotalWithTax": total,
        "customer": {"id": "7", "emailAddress": "a@b.test"},
        "shippingAddress": {"streetLine1": "Weg 1", "countryCode": "KW"},
        "billingAddress": {"streetLine1": "Weg 1", "countryCode": "KW"},
        "lines": [
            {
                "id": "1",
                "quantity": 1,
                "unitPriceWithTax": total,
                "discountedLinePriceWithTax": total,
                "proratedLinePriceWithTax": total,
                "productVariant": {"id": "1", "sku": "A-1", "name": "a"},
            }
        ],
        "fulfillments": [],
    }


class Shop:
    """
    Answers what an article push and an order fetch ask, as a Vendure
    whose money has *precision* decimals and whose channel sells in
    *currency*, prices including tax; records the variants created.
    """

    def __init__(self, precision: int, currency: str = "JPY") -> None:
        self.precision = precision
        self.currency = currency
        self.created: list[dict[str, Any]] = []
        self.orders: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        query, variables = body["query"], body.get("variables") or {}
        return httpx.Response(200, json={"data": self._data(query, variables)})

    def _data(self, query: str, variables: dict[str, Any]) -> Any:
        money = {"serverConfig": {"moneyStrategyPrecision": self.precision}}
        if "defaultCurrencyCode" in query:
            return {
                "activeChannel": {
                    "id": "1",
                    "code": "__default_channel__",
                    "defaultCurrencyCode": self.currency,
                    "pricesIncludeTax": True,
                    "defaultTaxZone": {"id": "Z"},
                },
                "taxRates": {
                    "items": [
                        {
                            "value": 10,
                            "enabled": True,
                            "category": {"id": "T"},
                            "zone": {"id": "Z"},
                        }
                    ]
                },
                "stockLocations": {
                    "items": [
                        {
                            "id": "1",
                            "name": "Default",
                            "createdAt": "2026-01-01T00:00:00Z",
                        }
                    ]
                },
                "globalSettings": money,
            }
        if "facets(" in query:
            return {
                "activeChannel": {"id": "1", "code": "__default_channel__"},
                "facets": {"items": [{"id": "F"}]},
            }
        for field in ("facetValues", "productVariants"):
            if f"{field}(" in query:
                return {field: {"totalItems": 0, "items": []}}
        if "createProductVariants" in query:
            self.created += variables["input"]
            return {
                "createProductVariants": [
                    {"id": f"V{i}"} for i, _ in enumerate(variables["input"])
                ]
            }
        if "createProduct" in query:
            made = variables["input0"]["translations"][0]
            return {
                "a0": {
                    "id": "P",
                    "name": made["name"],
                    "slug": made["slug"],
                    "description": made["description"],
                    "enabled": True,
                    "facetValues": [],
                    "featuredAsset": None,
                    "assets": [],
                    "variants": [],
                    "optionGroups": [],
                }
            }
        if "products(" in query:
            return {"products": {"items": []}}
        if "orders(" in query:
            return {
                "orders": {
                    "totalItems": len(self.orders),
                    "items": self.orders,
                }
            }
        if "globalSettings" in query:
            return {"globalSettings": money}
        raise AssertionError(f"unexpected query {query}")


async def _push(shop: Shop, article: Article) -> tuple[str | None, str | None]:
    async with Vendure(
        "http://shop.test",
        api_key="k",
        transport=httpx.MockTransport(shop),
    ) as vendure:
        [outcome] = await vendure.push(
            DataType.ARTICLES, [Outgoing(record=article)]
        )
    return outcome.error, outcome.field


class TestArticlePrices:
    """
    A price lands as the server's minor units, or fails on ``price``.
    """

    async def test_yen_on_a_server_without_decimals(self) -> None:
        """On a server with precision 0, 1000 yen is stored as 1000, not
        as 100000 (a hundred times the price)."""
        shop = Shop(0)

        error, _ = await _push(
            shop,
            Article(
                number="A-1",
                name="a",
                price=Decimal(1000),
                currency="JPY",
                tax_rate=Decimal(10),
            ),
        )

        assert error is None
        assert [1000] == [v["price"] for v in shop.created]

    async def test_dinars_with_three_decimals(self) -> None:
        """On a server with precision 3, 12.345 KWD is stored as 12345;
        it is not refused as finer than a cent."""
        shop = Shop(3, currency="KWD")

        error, _ = await _push(
            shop,
            Article(
                number="A-1",
                name="a",
                price=Decimal("12.345"),
                currency="KWD",
                tax_rate=Decimal(10),
            ),
        )

        assert error is None
        assert [12345] == [v["price"] for v in shop.created]

    async def test_finer_than_the_precision_fails_on_price(self) -> None:
        """1000.5 yen on a server with precision 0 would be rounded: the
        article fails on ``price``, nothing is written."""
        shop = Shop(0)

        error, field = await _push(
            shop,
            Article(
                number="A-1",
                name="a",
                price=Decimal("1000.5"),
                currency="JPY",
                tax_rate=Decimal(10),
            ),
        )

        assert "price" == field
        assert error is not None
        assert "1000.5 has more than 0 decimals" in error
        assert "would show 1001" in error
        assert [] == shop.created


class TestOrderAmounts:
    """
    Order amounts are read at the server's precision.
    """

    async def test_three_decimals_are_kept(self) -> None:
        """An order of 12.345 KWD on a server with precision 3 is read as
        12.345, not as 123.45."""
        shop = Shop(3, currency="KWD")
        shop.orders = [_order(12345)]
        async with Vendure(
            "http://shop.test",
            api_key="k",
            transport=httpx.MockTransport(shop),
        ) as vendure:
            orders = [
                o
                async for batch in vendure.fetch_orders(All(), batch_size=10)
                for o in batch
            ]

        assert [Decimal("12.345")] == [o.total for o in orders]
        assert Decimal("12.345") == orders[0].lines[0].unit_price
        assert datetime(2026, 12, 1, 10, tzinfo=UTC) == orders[0].ordered_at


class TestConversion:
    """
    The conversions themselves.
    """

    @pytest.mark.parametrize(
        ("amount", "precision", "units"),
        [
            (Decimal("9.99"), 2, 999),
            (Decimal(1000), 0, 1000),
            (Decimal("12.345"), 3, 12345),
            (Decimal("0.5"), 0, 1),
        ],
    )
    def test_round_trip(
        self, amount: Decimal, precision: int, units: int
    ) -> None:
        """Amounts become minor units (half up) and back."""
        assert units == minor(amount, precision)
        assert major(units, precision) == minor(amount, precision) / Decimal(
            10**precision
        )

    def test_the_precision_is_named_in_the_message(self) -> None:
        """With the default precision 5.555 fails naming two decimals."""
        problem = price_problem(
            Article(number="A-1", name="a", price=Decimal("5.555")), 2
        )

        assert problem is not None
        assert ("price", True) == (
            problem[1],
            "more than 2 decimals" in problem[0],
        )

    @pytest.mark.parametrize("value", [None, -1, 2.5, "2", 13])
    def test_unusable_precision_is_refused(self, value: object) -> None:
        """A precision that is not a whole number of decimals is a
        configuration error, not a guess."""
        with pytest.raises(ConfigurationError, match="money precision"):
            precision_of(
                {
                    "globalSettings": {
                        "serverConfig": {"moneyStrategyPrecision": value}
                    }
                }
            )


@pytest.mark.vendure
class TestLiveServer:
    """
    The test server, with Vendure's default MoneyStrategy.
    """

    async def test_default_precision(
        self, fresh_vendure: VendureServer
    ) -> None:
        """The API key's role reads the precision (2), and a gross 11.90
        at 19 % lands as Vendure's 1000 net, shown as 1190."""
        async with fresh_vendure.platform() as vendure:
            [outcome] = await vendure.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=Article(
                            number="M-1", name="m", price=Decimal("11.90")
                        )
                    )
                ],
            )
        admin = fresh_vendure.admin()
        try:
            data = await admin.gql(
                "{ productVariants(options: { filter: "
                '{ sku: { eq: "M-1" } } }) { items { price priceWithTax } }'
                " globalSettings { serverConfig { moneyStrategyPrecision } } }"
            )
        finally:
            await admin.aclose()

        assert outcome.error is None
        assert [{"price": 1000, "priceWithTax": 1190}] == data[
            "productVariants"
        ]["items"]
        assert 2 == precision_of(data)

"""
Vendure's out-of-stock threshold against a live server: the storefront
sells ``stockOnHand - stockAllocated - outOfStockThreshold``, so a
negative threshold (Vendure's backorder allowance) must not let the shop
sell more than the ERP has, unless the host allows backorders.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ecomsync import DataType, Outgoing, StockLevel
from ecomsync.platforms.vendure._catalog import Catalog
from ecomsync.platforms.vendure._stock import Stock

from .test_vendure_merchant import _article
from .vendure_server import VendureAdmin, VendureServer


pytestmark = pytest.mark.anyio


async def _sells(url: str, variant: str) -> int:
    """
    What the storefront sells of *variant*: a cart asking for far more
    is told the quantity available.
    """
    async with httpx.AsyncClient(base_url=url, timeout=60) as shop:
        answer = await shop.post(
            "/shop-api",
            json={
                "query": "mutation ($v: ID!) { addItemToOrder("
                "productVariantId: $v, quantity: 100) { __typename "
                "... on InsufficientStockError { quantityAvailable } } }",
                "variables": {"v": variant},
            },
        )
    result = answer.json()["data"]["addItemToOrder"]
    assert "InsufficientStockError" == result["__typename"], result
    return int(result["quantityAvailable"])


async def _global_threshold(admin: VendureAdmin, value: int) -> None:
    await admin.gql(
        "mutation ($t: Int!) { updateGlobalSettings(input: "
        "{ outOfStockThreshold: $t }) { ... on GlobalSettings { id } } }",
        {"t": value},
    )


async def _own_threshold(
    admin: VendureAdmin, variant: str, value: int
) -> None:
    await admin.gql(
        "mutation ($i: [UpdateProductVariantInput!]!) "
        "{ updateProductVariants(input: $i) { id } }",
        {
            "i": [
                {
                    "id": variant,
                    "outOfStockThreshold": value,
                    "useGlobalOutOfStockThreshold": False,
                }
            ]
        },
    )


async def _push(
    server: VendureServer, sku: str, quantity: int, **kw: Any
) -> str:
    """
    Push *quantity* of *sku*; the variant id.
    """
    async with server.platform(**kw) as shop:
        (level,) = await shop.push(
            DataType.STOCK,
            [Outgoing(record=StockLevel(number=sku, quantity=quantity))],
        )
    assert level.ok, level.error
    return str(level.platform_id)


@pytest.mark.vendure
class TestNegativeThreshold:
    """
    The shop sells the ERP's figure, whatever the threshold allows.
    """

    async def test_global_and_own_threshold(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        With the global threshold at -5 the shop sold 3 + 5 = 8 of an
        ERP figure of 3; it now sells 3.  A variant's own threshold of
        -2 likewise.  With allow_backorders the threshold is the
        merchant's backorder allowance: 3 + 5.
        """
        admin = fresh_vendure.admin()
        try:
            async with fresh_vendure.platform() as shop:
                for sku in ("G-1", "O-1", "B-1"):
                    made = await _article(shop, sku)
                    assert made.ok, made.error
            await _global_threshold(admin, -5)
            glob = await _sells(
                fresh_vendure.url, await _push(fresh_vendure, "G-1", 3)
            )
            own_id = await _push(fresh_vendure, "O-1", 0)
            await _own_threshold(admin, own_id, -2)
            await _push(fresh_vendure, "O-1", 3)
            own = await _sells(fresh_vendure.url, own_id)
            allowed = await _sells(
                fresh_vendure.url,
                await _push(fresh_vendure, "B-1", 3, allow_backorders=True),
            )
        finally:
            await _global_threshold(admin, 0)
            await admin.aclose()

        assert (3, 3, 8) == (glob, own, allowed)

    async def test_new_variant_without_stock(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        A variant the article push makes, before the ERP sends it any
        stock, sold 5 with the global threshold at -5 (nothing on hand,
        less -5); it now sells nothing, and the stock push later sells the
        ERP's figure.  With allow_backorders the allowance stays: 5.
        """
        admin = fresh_vendure.admin()
        try:
            await _global_threshold(admin, -5)
            async with fresh_vendure.platform() as shop:
                made = await _article(shop, "N-1")
            async with fresh_vendure.platform(allow_backorders=True) as shop:
                allowed = await _article(shop, "N-2")
            data = await admin.gql(
                "{ productVariants(options: { sort: { sku: ASC }, filter: "
                '{ sku: { in: ["N-1", "N-2"] } } }) { items { id } } }'
            )
            first, second = (v["id"] for v in data["productVariants"]["items"])
            before = await _sells(fresh_vendure.url, first)
            backorder = await _sells(fresh_vendure.url, second)
            await _push(fresh_vendure, "N-1", 3)
            after = await _sells(fresh_vendure.url, first)
        finally:
            await _global_threshold(admin, 0)
            await admin.aclose()

        assert made.ok, made.error
        assert allowed.ok, allowed.error
        assert (0, 5, 3) == (before, backorder, after)


class FakeShop:
    """
    Answers a stock push as Vendure does, for one variant ``S-1`` at
    locations 1 ("Main", the oldest) and 2 ("North"), with *allocated*
    units held at Main; keeps what is written.
    """

    def __init__(self, variant: dict[str, Any], threshold: int) -> None:
        self.threshold = threshold
        self.levels = {"1": [0, 1], "2": [0, 0]}
        self.variant = variant
        self.writes: list[dict[str, int]] = []

    def _variant(self) -> dict[str, Any]:
        return {
            "id": "V1",
            "sku": "S-1",
            "trackInventory": "TRUE",
            "product": {"id": "P1"},
            **self.variant,
            "stockLevels": [
                {"stockLocationId": k, "stockOnHand": h, "stockAllocated": a}
                for k, (h, a) in self.levels.items()
            ],
        }

    async def query(
        self, query: str, variables: Any = None, **_: Any
    ) -> dict[str, Any]:
        if "defaultCurrencyCode" in query:
            return {
                "activeChannel": {
                    "id": "1",
                    "code": "__default_channel__",
                    "defaultCurrencyCode": "EUR",
                    "pricesIncludeTax": True,
                    "defaultTaxZone": {"id": "Z"},
                },
                "taxRates": {"items": []},
                "stockLocations": {
                    "items": [
                        {
                            "id": "1",
                            "name": "Main",
                            "createdAt": "2026-01-01T00:00:00Z",
                        },
                        {
                            "id": "2",
                            "name": "North",
                            "createdAt": "2026-02-01T00:00:00Z",
                        },
                    ]
                },
                "globalSettings": {
                    "serverConfig": {"moneyStrategyPrecision": 2}
                },
            }
        if "productVariants(" in query:
            return {
                "productVariants": {
                    "totalItems": 1,
                    "items": [self._variant()],
                }
            }
        if "globalSettings" in query:
            return {
                "globalSettings": {
                    "trackInventory": True,
                    "outOfStockThreshold": self.threshold,
                }
            }
        raise AssertionError(query)

    async def request(
        self, query: str, variables: Any = None, **_: Any
    ) -> tuple[dict[str, Any], list[Any]]:
        assert "updateProductVariants" in query
        for change in variables["input"]:
            written: dict[str, int] = {}
            for level in change["stockLevels"]:
                location = level["stockLocationId"]
                self.levels[location][0] = level["stockOnHand"]
                written[location] = level["stockOnHand"]
            self.writes.append(written)
        return {"updateProductVariants": [self._variant()]}, []

    def sells(self, threshold: int) -> int:
        """What Vendure sells: the sum less the threshold."""
        return sum(h - a for h, a in self.levels.values()) - threshold


async def _levels(shop: FakeShop, *, backorders: bool = False) -> None:
    catalog = Catalog(
        gql=shop,  # type: ignore[arg-type]
        stock_locations={"WH1": "Main", "WH2": "North"},
    )
    outcomes = await Stock(catalog, backorders=backorders).push(
        [
            Outgoing(
                record=StockLevel(number="S-1", quantity=3, warehouse="WH1")
            ),
            Outgoing(
                record=StockLevel(number="S-1", quantity=4, warehouse="WH2")
            ),
        ]
    )
    assert [None, None] == [o.error for o in outcomes]


class TestThresholdArithmetic:
    """
    Which levels take the threshold, and how much, without a server.
    """

    async def test_global_threshold_taken_once(self) -> None:
        """Two mapped locations, the global threshold -5: only the
        default location is written 5 lower, so the shop sells 3 + 4;
        the same push again writes nothing."""
        shop = FakeShop({"useGlobalOutOfStockThreshold": True}, -5)

        await _levels(shop)
        first = list(shop.writes)
        await _levels(shop)

        assert [{"1": 3 + 1 - 5, "2": 4}] == first
        assert first == shop.writes
        assert 7 == shop.sells(-5)

    async def test_own_threshold(self) -> None:
        """A variant's own threshold -2 counts, the global one not."""
        shop = FakeShop(
            {"useGlobalOutOfStockThreshold": False, "outOfStockThreshold": -2},
            -5,
        )

        await _levels(shop)

        assert 7 == shop.sells(-2)

    @pytest.mark.parametrize(
        ("threshold", "backorders", "sells"),
        [(-5, True, 12), (2, False, 5), (0, False, 7)],
    )
    async def test_left_alone(
        self, threshold: int, backorders: bool, sells: int
    ) -> None:
        """With backorders the negative threshold is the merchant's
        allowance; a positive one is a reserve the shop keeps back:
        both work as Vendure has them."""
        shop = FakeShop({"useGlobalOutOfStockThreshold": True}, threshold)

        await _levels(shop, backorders=backorders)

        assert {"1": 4, "2": 4} == shop.writes[0]
        assert sells == shop.sells(threshold)


class TestBeyondVendure:
    async def test_on_hand_past_an_int_fails_alone(self) -> None:
        """A level Vendure could store alone, but whose stockOnHand (the
        level plus what Main has allocated, 1) passes 2**31 - 1, fails on
        quantity saying so, and is not written (it went out as
        2147483648, which Vendure's GraphQL Int refuses)."""
        shop = FakeShop({"useGlobalOutOfStockThreshold": True}, 0)
        catalog = Catalog(
            gql=shop,  # type: ignore[arg-type]
            stock_locations={"WH1": "Main", "WH2": "North"},
        )
        outcomes = await Stock(catalog).push(
            [
                Outgoing(
                    record=StockLevel(
                        number="S-1", quantity=2**31 - 1, warehouse="WH1"
                    )
                ),
                Outgoing(
                    record=StockLevel(
                        number="S-1", quantity=4, warehouse="WH2"
                    )
                ),
            ]
        )

        assert ("quantity", None) == (outcomes[0].field, outcomes[1].error)
        assert "2147483648" in (outcomes[0].error or "")
        assert "more than Vendure can store" in (outcomes[0].error or "")
        assert all(max(w.values()) <= 2**31 - 1 for w in shop.writes)
        assert [0, 1] == shop.levels["1"]

"""
The Vendure adapter against a live Vendure server (started by the
fixtures in `tests.platforms.vendure_server`).
"""

from __future__ import annotations

import json

from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from ecomsync import DataType, Order, OrderState
from ecomsync.platforms._vendure_catalog import cents, slugify
from ecomsync.platforms._vendure_orders import state_of
from ecomsync.platforms.vendure import Vendure
from ecomsync.testing._platform_contract import PlatformContract

from .vendure_server import (
    VendureAdmin,
    VendureServer,
    _fresh_vendure,
    _vendure_server,
    sql_time,
)


pytestmark = [pytest.mark.vendure, pytest.mark.anyio]
__all__ = ["_fresh_vendure", "_vendure_server"]

_VALUES = """{ facets(options: { filter: { code: { eq: "erp-category" } } })
  { items { values { id code name } } } }"""


class VendureHooks:
    """
    The contract's look at the shop from outside: the superadmin's
    Admin API and, to place orders with given numbers, the SQLite file.
    """

    server: VendureServer
    admin: VendureAdmin

    @pytest.fixture(name="platform")
    async def _platform(
        self, fresh_vendure: VendureServer
    ) -> AsyncIterator[Vendure]:
        self.server = fresh_vendure
        self.admin = fresh_vendure.admin()
        platform = Vendure(fresh_vendure.url, api_key=fresh_vendure.api_key)
        yield platform
        await platform.aclose()
        await self.admin.aclose()

    async def _values(self) -> dict[str, dict[str, Any]]:
        data = await self.admin.gql(_VALUES)
        facets = data["facets"]["items"]
        return {v["code"]: v for f in facets for v in f["values"]}

    async def _variant(self, sku: str, price: Decimal) -> str:
        data = await self.admin.gql(
            "query ($s: String!) { productVariants(options: "
            "{ filter: { sku: { eq: $s } } }) { items { id } } }",
            {"s": sku},
        )
        if data["productVariants"]["items"]:
            return str(data["productVariants"]["items"][0]["id"])
        taxes = await self.admin.gql("{ taxCategories { items { id name } } }")
        zero = next(
            t["id"]
            for t in taxes["taxCategories"]["items"]
            if t["name"].startswith("Zero")
        )
        product = await self.admin.gql(
            "mutation ($i: CreateProductInput!) { createProduct(input: $i)"
            " { id } }",
            {
                "i": {
                    "translations": [
                        {
                            "languageCode": "en",
                            "name": f"Test {sku}",
                            "slug": f"test-{slugify(sku)}",
                            "description": "",
                        }
                    ]
                }
            },
        )
        made = await self.admin.gql(
            "mutation ($i: [CreateProductVariantInput!]!) "
            "{ createProductVariants(input: $i) { id } }",
            {
                "i": [
                    {
                        "productId": product["createProduct"]["id"],
                        "sku": sku,
                        "price": cents(price),
                        "taxCategoryId": zero,
                        "stockOnHand": 1000,
                        "translations": [
                            {"languageCode": "en", "name": f"Test {sku}"}
                        ],
                    }
                ]
            },
        )
        return str(made["createProductVariants"][0]["id"])

    async def place_order(
        self, platform: Any, order: Order, *, changed_at: datetime
    ) -> None:
        gql = self.admin.gql
        draft = (await gql("mutation { createDraftOrder { id } }"))[
            "createDraftOrder"
        ]["id"]
        for line in order.lines:
            variant = await self._variant(line.article_number, line.unit_price)
            await gql(
                "mutation ($o: ID!, $i: AddItemToDraftOrderInput!) { "
                "addItemToDraftOrder(orderId: $o, input: $i) "
                "{ __typename } }",
                {
                    "o": draft,
                    "i": {
                        "productVariantId": variant,
                        "quantity": line.quantity,
                    },
                },
            )
        await gql(
            "mutation ($o: ID!, $i: CreateCustomerInput) { "
            "setCustomerForDraftOrder(orderId: $o, input: $i) "
            "{ __typename } }",
            {
                "o": draft,
                "i": {
                    "emailAddress": order.customer.email,
                    "firstName": order.customer.first_name,
                    "lastName": order.customer.last_name,
                },
            },
        )
        for field, address in (
            ("setDraftOrderShippingAddress", order.shipping),
            ("setDraftOrderBillingAddress", order.billing),
        ):
            await gql(
                f"mutation ($o: ID!, $i: CreateAddressInput!) {{ {field}("
                "orderId: $o, input: $i) { id } }",
                {
                    "o": draft,
                    "i": {
                        "fullName": f"{address.first_name} "
                        f"{address.last_name}",
                        "company": address.company,
                        "streetLine1": address.street,
                        "postalCode": address.zip_code,
                        "city": address.city,
                        "countryCode": address.country,
                    },
                },
            )
        methods = await gql(
            "query ($o: ID!) { eligibleShippingMethodsForDraftOrder("
            "orderId: $o) { id code } }",
            {"o": draft},
        )
        free = next(
            m["id"]
            for m in methods["eligibleShippingMethodsForDraftOrder"]
            if m["code"] == "free-shipping"
        )
        await gql(
            "mutation ($o: ID!, $m: ID!) { setDraftOrderShippingMethod("
            "orderId: $o, shippingMethodId: $m) { __typename } }",
            {"o": draft, "m": free},
        )
        await gql(
            "mutation ($o: ID!) { transitionOrderToState(id: $o, "
            'state: "ArrangingPayment") { __typename } }',
            {"o": draft},
        )
        paid = await gql(
            "mutation ($i: ManualPaymentInput!) { addManualPaymentToOrder("
            "input: $i) { __typename ... on Order { state } } }",
            {
                "i": {
                    "orderId": draft,
                    "method": "invoice",
                    "transactionId": f"T-{order.number}",
                    "metadata": {},
                }
            },
        )
        assert paid["addManualPaymentToOrder"]["state"] == "PaymentSettled"
        moment = sql_time(changed_at)
        self.server.sql(
            'UPDATE "order" SET code = ?, "updatedAt" = ?, '
            '"orderPlacedAt" = ? WHERE id = ?',
            order.number,
            moment,
            sql_time(order.ordered_at),
            int(draft),
        )

    async def read_back(
        self, platform: Any, data_type: DataType, number: str
    ) -> dict[str, Any] | None:
        if data_type is DataType.CATEGORIES:
            return await self._read_category(number)
        if data_type is DataType.ARTICLES:
            return await self._read_article(number)
        if data_type is DataType.STOCK:
            data = await self.admin.gql(
                "query ($s: String!) { productVariants(options: "
                "{ filter: { sku: { eq: $s } } }) { items { stockLevels "
                "{ stockOnHand stockAllocated } } } }",
                {"s": number},
            )
            items = data["productVariants"]["items"]
            if not items:
                return None
            level = items[0]["stockLevels"][0]
            return {"quantity": level["stockOnHand"] - level["stockAllocated"]}
        data = await self.admin.gql(
            "query ($c: String!) { orders(options: { filter: "
            "{ code: { eq: $c } } }) { items { state fulfillments "
            "{ state trackingCode } } } }",
            {"c": number},
        )
        orders = data["orders"]["items"]
        if not orders:
            return None
        tracking = {
            code.strip()
            for f in orders[0]["fulfillments"]
            if f["state"] != "Cancelled"
            for code in (f["trackingCode"] or "").split(",")
            if code.strip()
        }
        return {"state": state_of(orders[0]), "tracking_numbers": tracking}

    async def _read_category(self, number: str) -> dict[str, Any] | None:
        values = await self._values()
        if number not in values:
            return None
        code_of = {v["id"]: c for c, v in values.items()}
        data = await self.admin.gql(
            "{ collections(options: { take: 1000 }) { items { id parentId "
            "name filters { args { name value } } } } }"
        )
        own: dict[str, str] = {}
        parent_of: dict[str, str | None] = {}
        for item in data["collections"]["items"]:
            for flt in item["filters"]:
                for arg in flt["args"]:
                    if arg["name"] == "facetValueIds":
                        ids = json.loads(arg["value"])
                        if ids:
                            own[item["id"]] = str(ids[0])
            parent_of[item["id"]] = item["parentId"]
        mine = next(
            (c for c, v in own.items() if v == values[number]["id"]), None
        )
        if mine is None:
            return None
        parent = parent_of.get(mine)
        parent_value = own.get(parent) if parent else None
        return {
            "name": values[number]["name"],
            "parent": code_of.get(parent_value) if parent_value else None,
        }

    async def _read_article(self, number: str) -> dict[str, Any] | None:
        data = await self.admin.gql(
            "query ($s: String!) { products(options: "
            "{ filter: { slug: { eq: $s } } }) { items { id name "
            "facetValues { code facet { code } } featuredAsset { id } "
            "assets { id } variants { sku priceWithTax } } } }",
            {"s": slugify(number)},
        )
        items = data["products"]["items"]
        if not items:
            return None
        product = items[0]
        return {
            "name": product["name"],
            "price": Decimal(
                min(v["priceWithTax"] for v in product["variants"])
            )
            / 100,
            "categories": {
                fv["code"]
                for fv in product["facetValues"]
                if fv["facet"]["code"] == "erp-category"
            },
            "variants": {v["sku"] for v in product["variants"]},
            "media": [a["id"] for a in product["assets"]],
            "cover": (product["featuredAsset"] or {}).get("id"),
        }

    async def count(self, platform: Any, data_type: DataType) -> int:
        if data_type is DataType.CATEGORIES:
            return len(await self._values())
        data = await self.admin.gql(
            "{ products(options: { take: 1 }) { totalItems } }"
        )
        return int(data["products"]["totalItems"])

    async def media_count(self, platform: Any) -> int:
        data = await self.admin.gql(
            "{ assets(options: { take: 1 }) { totalItems } }"
        )
        return int(data["assets"]["totalItems"])


class TestVendureContract(VendureHooks, PlatformContract):
    """
    `Vendure` honours every clause of the platform contract.
    """

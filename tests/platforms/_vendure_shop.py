"""
What the Vendure tests share: the contract's look at the shop
(`VendureHooks`), a storefront customer's order, a draft order paid, a
mutation-counting transport, a small PNG, variants made behind the
adapter's back and read back, the channel's prices gross or net.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ecomsync import (
    DataType,
    Order,
)
from ecomsync.platforms.vendure import Vendure
from ecomsync.platforms.vendure._catalog import slugify
from ecomsync.platforms.vendure._money import minor
from ecomsync.platforms.vendure._orders import state_of

from .vendure_server import VendureAdmin, VendureServer, sql_time


_VALUES = """{ facets(options: { filter: { code: { eq: "erp-category" } } })
  { items { values { id code name } } } }"""


async def pay_draft(
    admin: VendureAdmin, draft: str, *, shipping: str, transaction: str
) -> str:
    """
    Ship draft order *draft* by the method coded *shipping*, move it to
    ArrangingPayment and pay it by invoice (*transaction*); the state the
    payment leaves it in.
    """
    methods = await admin.gql(
        "query ($o: ID!) { eligibleShippingMethodsForDraftOrder("
        "orderId: $o) { id code } }",
        {"o": draft},
    )
    method = next(
        m["id"]
        for m in methods["eligibleShippingMethodsForDraftOrder"]
        if m["code"] == shipping
    )
    await admin.gql(
        "mutation ($o: ID!, $m: ID!) { setDraftOrderShippingMethod("
        "orderId: $o, shippingMethodId: $m) { __typename } }",
        {"o": draft, "m": method},
    )
    await admin.gql(
        "mutation ($o: ID!) { transitionOrderToState(id: $o, "
        'state: "ArrangingPayment") { __typename } }',
        {"o": draft},
    )
    paid = await admin.gql(
        "mutation ($i: ManualPaymentInput!) { addManualPaymentToOrder("
        "input: $i) { __typename ... on Order { state } } }",
        {
            "i": {
                "orderId": draft,
                "method": "invoice",
                "transactionId": transaction,
                "metadata": {},
            }
        },
    )
    return str(paid["addManualPaymentToOrder"]["state"])


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
        platform = fresh_vendure.platform()
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
                        "price": minor(price, 2),
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
        paid = await pay_draft(
            self.admin,
            draft,
            shipping="free-shipping",
            transaction=f"T-{order.number}",
        )
        assert paid == "PaymentSettled"
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


class _CountingTransport(httpx.AsyncBaseTransport):
    """
    Counts the GraphQL mutations the adapter sends.
    """

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.mutations = 0

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        body = await request.aread()
        if b'"mutation' in body or b"mutation" in body[:400]:
            self.mutations += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _png(rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + bytes(rgb) * 4 for _ in range(4))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def _shop_order(url: str, variant_id: str) -> str:
    """
    What a shop customer does in the storefront: returns the order code.
    """
    async with httpx.AsyncClient(base_url=url, timeout=60) as shop:
        token = ""

        async def gql(query: str, variables: dict[str, Any]) -> Any:
            nonlocal token
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await shop.post(
                "/shop-api",
                json={"query": query, "variables": variables},
                headers=headers,
            )
            token = response.headers.get("vendure-auth-token", token)
            shop.cookies.clear()
            body = response.json()
            assert not body.get("errors"), body
            return body["data"]

        result = (
            "__typename ... on Order { code state } "
            "... on ErrorResult { message }"
        )
        await gql(
            f"mutation ($v: ID!) {{ addItemToOrder(productVariantId: $v, "
            f"quantity: 2) {{ {result} }} }}",
            {"v": variant_id},
        )
        await gql(
            f"mutation ($i: CreateCustomerInput!) {{ setCustomerForOrder("
            f"input: $i) {{ {result} }} }}",
            {
                "i": {
                    "emailAddress": "max@example.com",
                    "firstName": "Max",
                    "lastName": "Muster",
                }
            },
        )
        await gql(
            f"mutation ($i: CreateAddressInput!) {{ setOrderShippingAddress("
            f"input: $i) {{ {result} }} }}",
            {
                "i": {
                    "fullName": "Max Muster",
                    "streetLine1": "Heidestr. 17",
                    "postalCode": "51147",
                    "city": "Köln",
                    "countryCode": "DE",
                }
            },
        )
        methods = await gql("{ eligibleShippingMethods { id } }", {})
        await gql(
            f"mutation ($m: [ID!]!) {{ setOrderShippingMethod("
            f"shippingMethodId: $m) {{ {result} }} }}",
            {"m": [methods["eligibleShippingMethods"][0]["id"]]},
        )
        await gql(
            'mutation { transitionOrderToState(state: "ArrangingPayment")'
            " { __typename } }",
            {},
        )
        paid = await gql(
            f"mutation ($i: PaymentInput!) {{ addPaymentToOrder(input: $i)"
            f" {{ {result} }} }}",
            {"i": {"method": "invoice", "metadata": {}}},
        )
        order = paid["addPaymentToOrder"]
        assert order["state"] == "PaymentSettled", order
        return str(order["code"])


async def _raw_variant(admin: VendureAdmin, sku: str, name: str) -> str:
    """
    A product with one variant of *sku* made behind the adapter's back
    (Vendure lets a SKU exist twice); returns the product id.
    """
    taxes = await admin.gql("{ taxCategories { items { id } } }")
    product = await admin.gql(
        "mutation ($i: CreateProductInput!) { createProduct(input: $i)"
        " { id } }",
        {
            "i": {
                "translations": [
                    {
                        "languageCode": "en",
                        "name": name,
                        "slug": slugify(name),
                        "description": "",
                    }
                ]
            }
        },
    )
    pid = str(product["createProduct"]["id"])
    await admin.gql(
        "mutation ($i: [CreateProductVariantInput!]!) "
        "{ createProductVariants(input: $i) { id } }",
        {
            "i": [
                {
                    "productId": pid,
                    "sku": sku,
                    "price": 100,
                    "taxCategoryId": taxes["taxCategories"]["items"][0]["id"],
                    "translations": [{"languageCode": "en", "name": name}],
                }
            ]
        },
    )
    return pid


async def _variants(admin: VendureAdmin, *skus: str) -> list[dict[str, Any]]:
    data = await admin.gql(
        "query ($s: [String!]!) { productVariants(options: { filter: "
        "{ sku: { in: $s } }, sort: { id: ASC } }) { items { id sku enabled"
        " priceWithTax options { code name group { name } }"
        " product { id enabled name }"
        " stockLevels { stockLocation { name } stockOnHand } } } }",
        {"s": list(skus)},
    )
    items: list[dict[str, Any]] = data["productVariants"]["items"]
    return items


async def _gross(admin: VendureAdmin, *, include: bool) -> None:
    """
    Let the default channel's prices include tax, or not (through the
    API, so Vendure's channel cache follows).
    """
    await admin.gql(
        "mutation ($i: UpdateChannelInput!) { updateChannel(input: $i) "
        "{ __typename } }",
        {"i": {"id": "1", "pricesIncludeTax": include}},
    )

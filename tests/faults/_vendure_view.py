"""
The live Vendure shop for the messy-data state machine: what it holds,
read through the Admin API as the superadmin (outside the adapter), the
merchant's hand edits, and the faults the emulators have, injected in
front of the real server by the transport.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import httpx

from ecomsync import Article, Category, StockLevel
from ecomsync.testing._faults import FaultSwitch
from ecomsync.testing.shopify import Faults

from ..platforms.vendure_server import SUPERADMIN, VendureServer
from ._shop_views import ABSENT


#: What the view reads of the whole shop in one request.
_SHOP = (
    "{ productVariants(options: { take: 1000 }) { items { id sku "
    "priceWithTax enabled product { id } options { name } "
    "stockLevels { stockOnHand stockAllocated } } }"
    " products(options: { take: 1000 }) { items { id slug name enabled "
    "facetValues { code facet { code } } assets { id } } }"
    ' facets(options: { filter: { code: { eq: "erp-category" } } })'
    " { items { values { id code name } } }"
    " collections(options: { take: 1000 }) { items { id parentId "
    "name filters { args { name value } } } } }"
)

#: Numbers the merchant gave products by hand (`VendureView.renumber`):
#: no ERP record claims them, so they are not the sync's.
HAND = "X"


class VendureView:
    """The live Vendure shop's products, variants and collections."""

    def __init__(self, server: VendureServer) -> None:
        self.url = f"{server.url}/admin-api"
        self.client = httpx.Client(timeout=60)
        self.token = ""

    def close(self) -> None:
        self.client.close()

    def gql(
        self, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        if not self.token:
            login = self.client.post(
                self.url,
                json={
                    "query": "mutation ($u: String!, $p: String!) { "
                    "login(username: $u, password: $p) { __typename } }",
                    "variables": {"u": SUPERADMIN[0], "p": SUPERADMIN[1]},
                },
            )
            self.token = login.headers["vendure-auth-token"]
        body = self.client.post(
            self.url,
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.token}"},
        ).json()
        self.client.cookies.clear()
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def _shop(self) -> dict[str, Any]:
        return self.gql(_SHOP)

    # -- what the shop holds ------------------------------------------------

    def numbers(self) -> list[str]:
        # Vendure takes duplicate SKUs; every SKU the sync gave a variant
        # is held by one variant only (I2).
        return [
            v["sku"]
            for v in self._shop()["productVariants"]["items"]
            if not v["sku"].startswith(HAND)
        ]

    def article_right(self, article: Article) -> str | None:
        shop = self._shop()
        variants = shop["productVariants"]["items"]
        products = {p["id"]: p for p in shop["products"]["items"]}
        skus = [v.number for v in article.variants] or [article.number]
        held = [v for v in variants if v["sku"] in skus]
        if not held:
            return "not in the shop"
        owners = {v["product"]["id"] for v in held}
        if len(owners) != 1 or len(held) != len(skus):
            return f"{len(held)} variants on {len(owners)} products"
        product = products[owners.pop()]
        if product["name"] != article.name:
            return f"name {product['name']!r}"
        if product["enabled"] != article.active:
            return "enabled"
        categories = {
            fv["code"]
            for fv in product["facetValues"]
            if fv["facet"]["code"] == "erp-category"
        }
        if categories != set(article.categories):
            return f"categories {categories}"
        if len(product["assets"]) != len(article.media):
            return f"{len(product['assets'])} assets"
        siblings = sorted(
            v["sku"] for v in variants if v["product"]["id"] == product["id"]
        )
        if siblings != sorted(skus):
            return f"variants {siblings}"
        rows = {v["sku"]: v for v in held}
        for variant in article.variants:
            row = rows[variant.number]
            price = article.price if variant.price is None else variant.price
            if Decimal(row["priceWithTax"]) / 100 != price:
                return f"{variant.number} price {row['priceWithTax']}"
            values = {o["name"] for o in row["options"]}
            if {value for _, value in variant.options} != values:
                return f"{variant.number} options {sorted(values)}"
        if not article.variants:
            gross = Decimal(rows[article.number]["priceWithTax"]) / 100
            if gross != article.price:
                return f"price {gross}"
        return None

    def category_right(self, category: Category) -> str | None:
        shop = self._shop()
        values = {
            v["id"]: v for f in shop["facets"]["items"] for v in f["values"]
        }
        own: dict[str, str] = {}  # collection id -> category number
        for item in shop["collections"]["items"]:
            for flt in item["filters"]:
                for arg in flt["args"]:
                    if arg["name"] == "facetValueIds":
                        ids = json.loads(arg["value"])
                        if ids and str(ids[0]) in values:
                            own[item["id"]] = values[str(ids[0])]["code"]
        held = [
            item
            for item in shop["collections"]["items"]
            if own.get(item["id"]) == category.number
        ]
        if len(held) != 1:
            return f"{len(held)} collections"
        if held[0]["name"] != category.name:
            return f"name {held[0]['name']!r}"
        parent = own.get(held[0]["parentId"])
        return None if parent == category.parent else f"parent {parent!r}"

    def stock_right(self, levels: Sequence[StockLevel]) -> str | None:
        number = levels[0].number
        held = [
            v
            for v in self._shop()["productVariants"]["items"]
            if v["sku"] == number
        ]
        if not held:
            return ABSENT
        if len(held) != 1:
            return f"{len(held)} variants hold the SKU"
        # What Vendure sells: on hand less allocated, over the locations.
        sells = sum(
            s["stockOnHand"] - s["stockAllocated"]
            for s in held[0]["stockLevels"]
        )
        want = sum(level.quantity for level in levels)
        return None if sells == want else f"sells {sells}"

    # -- the merchant's hand edits -----------------------------------------

    def _product(self, number: str) -> str | None:
        """The id of the product of article *number*: its variant's SKU,
        or (an article with variants) its slug."""
        shop = self._shop()
        for v in shop["productVariants"]["items"]:
            if v["sku"] == number:
                return str(v["product"]["id"])
        for p in shop["products"]["items"]:
            if p["slug"] == number.lower():
                return str(p["id"])
        return None

    def delete(self, number: str) -> bool:
        product = self._product(number)
        if product is None:
            return False
        self.gql(
            "mutation ($id: ID!) { deleteProduct(id: $id) { result } }",
            {"id": product},
        )
        return True

    def _variants(self, sku: str) -> list[str]:
        return [
            v["id"]
            for v in self._shop()["productVariants"]["items"]
            if v["sku"] == sku
        ]

    def set_stock(self, number: str, quantity: int) -> bool:
        ids = self._variants(number)
        if ids:
            self.gql(
                "mutation ($i: [UpdateProductVariantInput!]!) { "
                "updateProductVariants(input: $i) { id } }",
                {"i": [{"id": i, "stockOnHand": quantity} for i in ids]},
            )
        return bool(ids)

    def renumber(self, number: str, new: str) -> bool:
        # The SKU is what a merchant sees as the number in Vendure.
        ids = self._variants(number)
        if ids:
            self.gql(
                "mutation ($i: [UpdateProductVariantInput!]!) { "
                "updateProductVariants(input: $i) { id } }",
                {"i": [{"id": i, "sku": new} for i in ids]},
            )
        return bool(ids)


class Switchboard(FaultSwitch):
    """The faults the machine turns on, shared by every transport it
    makes (a restart keeps them, as an emulator does)."""

    def __init__(self) -> None:
        self._switch_faults(Faults())


class FaultyTransport(httpx.AsyncBaseTransport):
    """
    The emulators' faults in front of the real server: 429/503 storms
    (nothing reaches Vendure), connections reset before the request is
    sent, and writes Vendure commits whose answer comes too late (the
    client's deadline is raised at once rather than waited for).
    """

    def __init__(self, switch: Switchboard) -> None:
        self.switch = switch
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        runtime = self.switch.fault_runtime
        faults = runtime.faults
        if runtime.take_storm(auth=False):
            headers = (
                {} if faults.retry_after is None
                else {"Retry-After": faults.retry_after}
            )  # fmt: skip
            return httpx.Response(
                faults.storm_status, headers=headers, request=request
            )
        if runtime.take_reset():
            raise httpx.ReadError("connection reset", request=request)
        body = await request.aread()
        response = await self.inner.handle_async_request(request)
        if b"mutation" in body and runtime.take_hang():
            await response.aread()
            await response.aclose()
            raise httpx.ReadTimeout("answer too late", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

"""
The Vendure adapter against a live Vendure server (started by the
fixtures in `tests.platforms.vendure_server`).
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
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
    Only,
    Order,
    OrderLine,
    OrderState,
    OrderStatus,
    Outgoing,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
)
from ecomsync._record_checks import problems
from ecomsync.events import RecordFailed
from ecomsync.exceptions import AuthenticationError
from ecomsync.platforms.vendure import Vendure
from ecomsync.platforms.vendure._catalog import slugify
from ecomsync.platforms.vendure._money import minor
from ecomsync.platforms.vendure._orders import state_of
from ecomsync.testing._platform_contract import PlatformContract
from ecomsync.testing._platform_contract._records import make_order

from .vendure_server import VendureAdmin, VendureServer, sql_time


pytestmark = [pytest.mark.vendure, pytest.mark.anyio]

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


class TestVendureContract(VendureHooks, PlatformContract):
    """
    `Vendure` honours every clause of the platform contract.
    """


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


class TestEndToEnd:
    """
    MemoryErp -> Synchronizer -> Vendure, and orders back.
    """

    async def test_all_five_types_and_a_quiet_second_run(
        self, fresh_vendure: VendureServer, tmp_path: Path
    ) -> None:
        """
        Catalogue, stock, a shop order and its shipment round-trip; a second
        run with no changes sends no write to Vendure.
        """
        erp = MemoryErp(
            [
                Category(number="100", name="Werkzeug"),
                Category(number="110", name="Bohrer", parent="100"),
                Article(
                    number="A-1",
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
                    number="A-2",
                    name="Hammer",
                    price=Decimal("11.90"),
                    categories=("100",),
                ),
                StockLevel(number="A-1", quantity=10),
                StockLevel(number="A-2", quantity=4),
            ],
            media={"img-1": _png((200, 30, 30))},
        )
        transport = _CountingTransport()
        vendure = fresh_vendure.platform(transport=transport)
        store = SqliteStore(tmp_path / "state.db")
        sync = Synchronizer(
            erp=erp,
            platforms={"vendure": vendure},
            store=store,
            staging=MediaStaging(tmp_path / "staging"),
        )
        catalogue = {
            DataType.CATEGORIES: All(),
            DataType.ARTICLES: All(),
            DataType.STOCK: All(),
        }

        async def run(types: dict[DataType, Any]) -> list[Any]:
            async with sync.run(SyncSpec(types=types)) as events:
                seen = [event async for event in events]
            failed = [e for e in seen if isinstance(e, RecordFailed)]
            assert not failed, failed
            return seen

        admin = fresh_vendure.admin()
        try:
            await run(catalogue)
            data = await admin.gql(
                "{ productVariants(options: { filter: "
                '{ sku: { eq: "A-1" } } })'
                " { items { id priceWithTax stockOnHand product "
                "{ featuredAsset { id } } } } }"
            )
            (variant,) = data["productVariants"]["items"]
            assert 11900 == variant["priceWithTax"]
            assert 10 == variant["stockOnHand"]
            assert variant["product"]["featuredAsset"] is not None

            code = await _shop_order(fresh_vendure.url, variant["id"])
            await run({DataType.ADDRESSES_AND_ORDERS: All()})
            assert code in erp.orders
            assert "max@example.com" == erp.orders[code].customer.email

            erp.put(
                OrderStatus(
                    number=code,
                    state=OrderState.SHIPPED,
                    tracking_numbers=("JJD0001",),
                )
            )
            await run({DataType.ORDER_STATUS: All()})
            data = await admin.gql(
                "query ($c: String!) { orders(options: { filter: "
                "{ code: { eq: $c } } }) { items { state fulfillments "
                "{ trackingCode } } } }",
                {"c": code},
            )
            (order,) = data["orders"]["items"]
            assert "Shipped" == order["state"]
            assert "JJD0001" == order["fulfillments"][0]["trackingCode"]

            before = transport.mutations
            await run(catalogue)
            assert before == transport.mutations
        finally:
            await admin.aclose()
            await vendure.aclose()
            await store.aclose()


class TestCredentials:
    """
    Credentials: both auth methods, never shown.
    """

    def test_repr_hides_credentials(self) -> None:
        """
        Neither the API key nor the password appears in a repr.
        """
        with_key = Vendure("http://127.0.0.1:1", api_key="sekrit-key")
        with_login = Vendure(
            "http://127.0.0.1:1", username="admin", password="sekrit-pw"
        )

        assert "sekrit" not in repr(with_key)
        assert "sekrit" not in repr(with_login)

    async def test_bearer_login_works(
        self, vendure_server: VendureServer
    ) -> None:
        """
        An administrator's username and password work instead of a key.
        """
        async with Vendure(
            vendure_server.url, username="superadmin", password="superadmin"
        ) as shop:
            batches = [
                b
                async for b in shop.fetch_orders(
                    Only({"NO-SUCH-ORDER"}), batch_size=10
                )
            ]

        assert [] == batches

    async def test_refused_key_stops_without_showing_it(
        self, vendure_server: VendureServer
    ) -> None:
        """
        A wrong API key raises AuthenticationError that does not name it.
        """
        async with Vendure(
            vendure_server.url, api_key="wrong-key-123"
        ) as shop:
            with pytest.raises(AuthenticationError) as caught:
                await shop.push(
                    DataType.STOCK,
                    [Outgoing(record=StockLevel(number="X", quantity=1))],
                )

        assert "wrong-key-123" not in str(caught.value)


class TestStock:
    """
    Stock on hand allows for what open orders hold.
    """

    async def test_allocation_of_open_orders_is_added(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        With 2 units allocated to a paid order, ERP stock 8 becomes 10 on
        hand, so the shop still sells exactly 8.
        """
        async with fresh_vendure.platform() as shop:
            (made,) = await shop.push(
                DataType.ARTICLES,
                [Outgoing(record=Article(number="S-1", name="S", price=10))],
            )
            (first,) = await shop.push(
                DataType.STOCK,
                [Outgoing(record=StockLevel(number="S-1", quantity=10))],
            )
            await _shop_order(fresh_vendure.url, str(first.platform_id))
            (second,) = await shop.push(
                DataType.STOCK,
                [Outgoing(record=StockLevel(number="S-1", quantity=8))],
            )
        admin = fresh_vendure.admin()
        try:
            data = await admin.gql(
                '{ productVariants(options: { filter: { sku: { eq: "S-1" } }'
                " }) { items { stockOnHand stockAllocated } } }"
            )
        finally:
            await admin.aclose()

        assert [True, True, True] == [made.ok, first.ok, second.ok]
        assert [{"stockOnHand": 10, "stockAllocated": 2}] == data[
            "productVariants"
        ]["items"]


class TestOrderStatus:
    async def test_tracking_known_after_shipping_reaches_the_order(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        Tracking numbers the ERP learns after the order shipped (the
        reference typed in once the shipment was done), which Vendure
        cannot add to a shipped fulfilment, reach the order as public
        notes, once each; the order stays shipped.
        """
        async with fresh_vendure.platform() as shop:
            await shop.push(
                DataType.ARTICLES,
                [Outgoing(record=Article(number="T-S", name="T", price=10))],
            )
            (stock,) = await shop.push(
                DataType.STOCK,
                [Outgoing(record=StockLevel(number="T-S", quantity=10))],
            )
            code = await _shop_order(fresh_vendure.url, str(stock.platform_id))
            outcomes = []
            for tracking in (
                (),
                ("JJD1",),
                ("JJD1", "JJD2"),
                ("JJD1", "JJD2"),
            ):
                status = OrderStatus(
                    number=code,
                    state=OrderState.SHIPPED,
                    tracking_numbers=tracking,
                )
                outcomes += await shop.push(
                    DataType.ORDER_STATUS, [Outgoing(record=status)]
                )
        admin = fresh_vendure.admin()
        try:
            data = await admin.gql(
                "query ($c: String!) { orders(options: { filter: "
                "{ code: { eq: $c } } }) { items { state history(options: "
                "{ take: 100 }) { items { type isPublic data } } } } }",
                {"c": code},
            )
        finally:
            await admin.aclose()

        assert all(o.ok for o in outcomes), outcomes
        (order,) = data["orders"]["items"]
        assert "Shipped" == order["state"]
        notes = [
            (h["data"]["note"], h["isPublic"])
            for h in order["history"]["items"]
            if h["type"] == "ORDER_NOTE"
        ]
        assert [
            ("Tracking number: JJD1", True),
            ("Tracking number: JJD2", True),
        ] == notes


class TestOrderMoney:
    async def test_shipping_and_coupon_add_up(
        self, fresh_vendure: VendureServer
    ) -> None:
        """An order with a taxed article, paid shipping and an order-level
        coupon is read with gross lines (after their own promotions),
        its shipping and its discount, and its money adds up."""
        admin = fresh_vendure.admin()
        gql = admin.gql
        try:
            taxes = await gql("{ taxCategories { items { id name } } }")
            standard = next(
                t["id"]
                for t in taxes["taxCategories"]["items"]
                if t["name"].startswith("Standard")
            )
            product = await gql(
                "mutation ($i: CreateProductInput!) { createProduct(input: $i)"
                " { id } }",
                {
                    "i": {
                        "translations": [
                            {
                                "languageCode": "en",
                                "name": "Taxed",
                                "slug": "taxed",
                                "description": "",
                            }
                        ]
                    }
                },
            )
            (variant,) = (
                await gql(
                    "mutation ($i: [CreateProductVariantInput!]!) "
                    "{ createProductVariants(input: $i) { id } }",
                    {
                        "i": [
                            {
                                "productId": product["createProduct"]["id"],
                                "sku": "TAX-1",
                                "price": 1000,
                                "taxCategoryId": standard,
                                "stockOnHand": 100,
                                "translations": [
                                    {"languageCode": "en", "name": "Taxed"}
                                ],
                            }
                        ]
                    },
                )
            )["createProductVariants"]
            promotion = await gql(
                "mutation ($i: CreatePromotionInput!) { createPromotion("
                "input: $i) { __typename } }",
                {
                    "i": {
                        "enabled": True,
                        "couponCode": "TEN",
                        "conditions": [],
                        "actions": [
                            {
                                "code": "order_percentage_discount",
                                "arguments": [
                                    {"name": "discount", "value": "10"}
                                ],
                            }
                        ],
                        "translations": [
                            {"languageCode": "en", "name": "Ten percent"}
                        ],
                    }
                },
            )
            assert "Promotion" == promotion["createPromotion"]["__typename"]
            draft = (await gql("mutation { createDraftOrder { id code } }"))[
                "createDraftOrder"
            ]
            o = draft["id"]
            await gql(
                "mutation ($o: ID!, $i: AddItemToDraftOrderInput!) { "
                "addItemToDraftOrder(orderId: $o, input: $i) "
                "{ __typename } }",
                {
                    "o": o,
                    "i": {"productVariantId": variant["id"], "quantity": 3},
                },
            )
            await gql(
                "mutation ($o: ID!, $i: CreateCustomerInput) { "
                "setCustomerForDraftOrder(orderId: $o, input: $i) "
                "{ __typename } }",
                {
                    "o": o,
                    "i": {
                        "emailAddress": "money@example.com",
                        "firstName": "Erika",
                        "lastName": "Muster",
                    },
                },
            )
            for field in (
                "setDraftOrderShippingAddress",
                "setDraftOrderBillingAddress",
            ):
                await gql(
                    f"mutation ($o: ID!, $i: CreateAddressInput!) {{ {field}("
                    "orderId: $o, input: $i) { id } }",
                    {
                        "o": o,
                        "i": {
                            "fullName": "Erika Muster",
                            "streetLine1": "Weg 1",
                            "postalCode": "10115",
                            "city": "Berlin",
                            "countryCode": "DE",
                        },
                    },
                )
            coupon = await gql(
                "mutation ($o: ID!) { applyCouponCodeToDraftOrder(orderId: $o,"
                ' couponCode: "TEN") { __typename } }',
                {"o": o},
            )
            assert (
                "Order" == coupon["applyCouponCodeToDraftOrder"]["__typename"]
            )
            paid = await pay_draft(
                admin, o, shipping="standard-shipping", transaction="T-money"
            )
            assert "PaymentSettled" == paid
        finally:
            await admin.aclose()

        shop = fresh_vendure.platform()
        try:
            (order,) = [
                o
                async for batch in shop.fetch_orders(
                    Only({draft["code"]}), batch_size=5
                )
                for o in batch
            ]
        finally:
            await shop.aclose()

        assert Decimal("11.90") == order.lines[0].unit_price
        assert Decimal("3.57") == order.discount_total
        assert (Decimal("4.90"), Decimal("37.03")) == (
            order.shipping_total,
            order.total,
        )
        assert [] == problems(order)


class TestCancelledLines:
    """
    A line cancelled in the shop is not an order line any more.
    """

    async def test_a_line_cancelled_whole_is_left_out(
        self, fresh_vendure: VendureServer
    ) -> None:
        """An order with one of its two lines cancelled (cancelOrder with
        lines, which sets the line's quantity to 0) is read with the other
        line only, and its money adds up; it does not fail on the
        cancelled line's quantity."""
        hooks = VendureHooks()
        hooks.server = fresh_vendure
        hooks.admin = fresh_vendure.admin()
        base = make_order("CL-1")
        two = attrs.evolve(
            base,
            lines=(
                *base.lines,
                OrderLine(
                    article_number="K-2",
                    name="Zange",
                    quantity=1,
                    unit_price=Decimal("5.00"),
                ),
            ),
            total=base.total + Decimal("5.00"),
        )
        try:
            await hooks.place_order(None, two, changed_at=datetime.now())
            data = await hooks.admin.gql(
                '{ orders(options: { filter: { code: { eq: "CL-1" } } }) '
                "{ items { id lines { id productVariant { sku } } } } }"
            )
            (raw,) = data["orders"]["items"]
            line = next(
                x["id"]
                for x in raw["lines"]
                if x["productVariant"]["sku"] == "K-2"
            )
            cancelled = await hooks.admin.gql(
                "mutation ($i: CancelOrderInput!) { cancelOrder(input: $i) "
                "{ __typename ... on Order { state } } }",
                {
                    "i": {
                        "orderId": raw["id"],
                        "lines": [{"orderLineId": line, "quantity": 1}],
                        "reason": "out of stock",
                    }
                },
            )
        finally:
            await hooks.admin.aclose()
        assert "Order" == cancelled["cancelOrder"]["__typename"]

        shop = fresh_vendure.platform()
        try:
            (order,) = [
                o
                async for batch in shop.fetch_orders(
                    Only({"CL-1"}), batch_size=5
                )
                for o in batch
            ]
        finally:
            await shop.aclose()

        assert [("K-1", 2)] == [
            (x.article_number, x.quantity) for x in order.lines
        ]
        assert [] == problems(order)

    async def test_an_order_cancelled_whole_reads_cancelled(
        self, fresh_vendure: VendureServer
    ) -> None:
        """An order cancelled whole in the shop (every line at quantity 0)
        reads CANCELLED with no lines, and nothing of it is invalid, so
        the ERP order can be cancelled."""
        hooks = VendureHooks()
        hooks.server = fresh_vendure
        hooks.admin = fresh_vendure.admin()
        try:
            await hooks.place_order(
                None, make_order("CL-2"), changed_at=datetime.now()
            )
            data = await hooks.admin.gql(
                '{ orders(options: { filter: { code: { eq: "CL-2" } } }) '
                "{ items { id } } }"
            )
            (raw,) = data["orders"]["items"]
            cancelled = await hooks.admin.gql(
                "mutation ($i: CancelOrderInput!) { cancelOrder(input: $i) "
                "{ __typename ... on Order { state } } }",
                {"i": {"orderId": raw["id"], "cancelShipping": True}},
            )
        finally:
            await hooks.admin.aclose()
        assert "Cancelled" == cancelled["cancelOrder"]["state"]

        shop = fresh_vendure.platform()
        try:
            (order,) = [
                o
                async for batch in shop.fetch_orders(
                    Only({"CL-2"}), batch_size=5
                )
                for o in batch
            ]
        finally:
            await shop.aclose()

        assert (OrderState.CANCELLED, ()) == (order.state, order.lines)
        assert [] == problems(order)

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
    OrderState,
    OrderStatus,
    Outgoing,
    SqliteStore,
    StockLevel,
    Synchronizer,
    SyncSpec,
    Variant,
)
from ecomsync.events import RecordFailed
from ecomsync.exceptions import AuthenticationError, ConfigurationError
from ecomsync.platforms.vendure import Vendure
from ecomsync.platforms.vendure._catalog import cents, slugify
from ecomsync.platforms.vendure._orders import state_of
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
        vendure = Vendure(
            fresh_vendure.url,
            api_key=fresh_vendure.api_key,
            transport=transport,
        )
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
        async with Vendure(
            fresh_vendure.url, api_key=fresh_vendure.api_key
        ) as shop:
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


class TestVariants:
    """
    An article with variants is one product with variants and options.
    """

    async def test_two_variants_round_trip(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        Two ERP variants become one product with two variants, options
        from the ERP options and their own prices; pushing it again sends
        no write, and a changed price updates only that.
        """
        shirt = Article(
            number="SHIRT",
            name="Shirt",
            price=Decimal("19.99"),
            tax_rate=Decimal(0),
            variants=(
                Variant(number="SHIRT-S", options=(("Size", "S"),)),
                Variant(
                    number="SHIRT-M",
                    options=(("Size", "M"),),
                    price=Decimal("21.00"),
                ),
            ),
        )
        transport = _CountingTransport()
        admin = fresh_vendure.admin()
        async with Vendure(
            fresh_vendure.url,
            api_key=fresh_vendure.api_key,
            transport=transport,
        ) as shop:
            (first,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=shirt)]
            )
            before = transport.mutations
            (again,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=shirt)]
            )
            quiet = transport.mutations - before
            dearer = attrs.evolve(
                shirt,
                variants=(
                    shirt.variants[0],
                    attrs.evolve(shirt.variants[1], price=Decimal("22.00")),
                ),
            )
            (third,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=dearer)]
            )
        try:
            variants = await _variants(admin, "SHIRT-S", "SHIRT-M")
        finally:
            await admin.aclose()

        assert first.ok, first
        assert 0 == quiet
        assert first.platform_id == again.platform_id == third.platform_id
        assert [
            ("SHIRT-S", 1999, [("Size", "S")]),
            ("SHIRT-M", 2200, [("Size", "M")]),
        ] == [
            (
                v["sku"],
                v["priceWithTax"],
                [(o["group"]["name"], o["name"]) for o in v["options"]],
            )
            for v in variants
        ]
        assert {first.platform_id} == {v["product"]["id"] for v in variants}

    async def test_inactive_disables_and_never_overwrites_active(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        An article deactivated in the ERP disables its product and
        variants (kept for old orders, hidden from the shop); an inactive
        and an active article with one number in a batch both fail and
        leave the shop as it was.
        """
        active = Article(number="Z-1", name="New Z", price=5, tax_rate=0)
        old = Article(
            number="Z-1", name="Old Z", price=4, tax_rate=0, active=False
        )
        admin = fresh_vendure.admin()
        async with Vendure(
            fresh_vendure.url, api_key=fresh_vendure.api_key
        ) as shop:
            (made,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=active)]
            )
            both = await shop.push(
                DataType.ARTICLES,
                [Outgoing(record=old), Outgoing(record=active)],
            )
            (kept,) = await _variants(admin, "Z-1")
            (gone,) = await shop.push(
                DataType.ARTICLES,
                [Outgoing(record=attrs.evolve(active, active=False))],
            )
        try:
            (disabled,) = await _variants(admin, "Z-1")
        finally:
            await admin.aclose()

        assert made.ok
        assert [False, False] == [o.ok for o in both]
        assert all("Z-1" in str(o.error) for o in both)
        assert (True, True, "New Z") == (
            kept["enabled"],
            kept["product"]["enabled"],
            kept["product"]["name"],
        )
        assert gone.ok
        assert (False, False) == (
            disabled["enabled"],
            disabled["product"]["enabled"],
        )


class TestDuplicateSkus:
    """
    Vendure does not keep SKUs unique: every ambiguity fails by name.
    """

    async def test_sku_on_two_variants_fails_and_adds_nothing(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        An SKU held by two Vendure variants fails the article and its
        stock naming both variants and products, run after run, without
        creating anything.
        """
        admin = fresh_vendure.admin()
        try:
            one = await _raw_variant(admin, "D-1", "Dup One")
            two = await _raw_variant(admin, "D-1", "Dup Two")
            async with Vendure(
                fresh_vendure.url, api_key=fresh_vendure.api_key
            ) as shop:
                runs = [
                    await shop.push(
                        DataType.ARTICLES,
                        [
                            Outgoing(
                                record=Article(number="D-1", name="D", price=1)
                            ),
                            Outgoing(
                                record=Article(
                                    number="OK-1", name="Fine", price=1
                                )
                            ),
                        ],
                    )
                    for _ in range(2)
                ]
                (stock,) = await shop.push(
                    DataType.STOCK,
                    [Outgoing(record=StockLevel(number="D-1", quantity=3))],
                )
            after = await _variants(admin, "D-1")
        finally:
            await admin.aclose()

        for dup, fine in runs:
            assert fine.ok
            assert "number" == dup.field
            assert f"product {one}" in str(dup.error)
            assert f"product {two}" in str(dup.error)
        assert not stock.ok
        assert f"product {two}" in str(stock.error)
        assert 2 == len(after)

    async def test_variant_sku_on_another_product_is_not_repeated(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        Once a variant's SKU also sits on another product, the
        multi-variant article fails naming that product, and runs after
        that add no variant.
        """
        admin = fresh_vendure.admin()
        cap = Article(
            number="CAP",
            name="Cap",
            price=9,
            variants=(
                Variant(number="CAP-S", options=(("Size", "S"),)),
                Variant(number="CAP-M", options=(("Size", "M"),)),
            ),
        )
        try:
            async with Vendure(
                fresh_vendure.url, api_key=fresh_vendure.api_key
            ) as shop:
                (made,) = await shop.push(
                    DataType.ARTICLES, [Outgoing(record=cap)]
                )
                other = await _raw_variant(admin, "CAP-M", "Someone else")
                first = await shop.push(
                    DataType.ARTICLES, [Outgoing(record=cap)]
                )
                second = await shop.push(
                    DataType.ARTICLES, [Outgoing(record=cap)]
                )
            after = await _variants(admin, "CAP-S", "CAP-M")
        finally:
            await admin.aclose()

        assert made.ok
        assert not first[0].ok
        assert first == second
        assert f"product {other}" in str(first[0].error)
        assert f"product {made.platform_id}" in str(first[0].error)
        assert [
            ("CAP-S", made.platform_id),
            ("CAP-M", made.platform_id),
            ("CAP-M", other),
        ] == [(v["sku"], v["product"]["id"]) for v in after]

    async def test_same_sku_twice_in_a_batch_fails_both(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        A variant numbered like another article of the batch fails both,
        each naming the other, and neither reaches the shop.
        """
        async with Vendure(
            fresh_vendure.url, api_key=fresh_vendure.api_key
        ) as shop:
            outcomes = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(record=Article(number="K-1", name="K", price=1)),
                    Outgoing(
                        record=Article(
                            number="K",
                            name="Kit",
                            price=1,
                            variants=(
                                Variant(number="K-1"),
                                Variant(number="K-2"),
                            ),
                        )
                    ),
                ],
            )
        admin = fresh_vendure.admin()
        try:
            after = await _variants(admin, "K-1", "K-2")
        finally:
            await admin.aclose()

        assert [("number", "K"), ("variants.0.number", "K-1")] == [
            (o.field, str(o.error).split("article ")[1].split(" ")[0])
            for o in outcomes
        ]
        assert [] == after


class TestBadValues:
    """
    Values Vendure cannot hold fail their record, naming the field.
    """

    async def test_nan_infinity_and_negative(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        NaN and infinite prices, a gross price the net-price channel
        cannot show exactly, NaN, fractional and negative stock fail alone
        with the field; the good records of the batch go through.  With
        allow_backorders, negative stock is written as it is.
        """
        async with Vendure(
            fresh_vendure.url, api_key=fresh_vendure.api_key
        ) as shop:
            articles = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=Article(
                            number="N-1", name="N", price=Decimal("NaN")
                        )
                    ),
                    Outgoing(
                        record=Article(
                            number="N-2",
                            name="N",
                            price=1,
                            variants=(
                                Variant(number="N-2a"),
                                Variant(
                                    number="N-2b", price=Decimal("Infinity")
                                ),
                            ),
                        )
                    ),
                    Outgoing(record=Article(number="N-3", name="N", price=1)),
                    Outgoing(
                        record=Article(
                            number="N-4", name="N", price=Decimal("9.99")
                        )
                    ),
                ],
            )
            stock = await shop.push(
                DataType.STOCK,
                [
                    Outgoing(record=StockLevel(number="N-3", quantity=q))
                    for q in (float("nan"), 1.5, -2, 7)  # type: ignore[arg-type]
                ],
            )
        async with Vendure(
            fresh_vendure.url,
            api_key=fresh_vendure.api_key,
            allow_backorders=True,
        ) as backorders:
            (oversold,) = await backorders.push(
                DataType.STOCK,
                [Outgoing(record=StockLevel(number="N-3", quantity=-2))],
            )
        admin = fresh_vendure.admin()
        try:
            (n3,) = await _variants(admin, "N-3")
        finally:
            await admin.aclose()

        assert [("price", False), ("variants.1.price", False)] == [
            (o.field, o.ok) for o in articles[:2]
        ]
        assert articles[2].ok
        # a net-price channel cannot show 9.99 with 19 % tax: 8.39 gives
        # 9.98, 8.40 gives 10.00, so the article fails instead of landing
        # a cent off
        assert "price" == articles[3].field
        assert ["quantity"] * 3 == [o.field for o in stock[:3]]
        assert "negative" in str(stock[2].error)
        assert stock[3].ok
        assert oversold.ok
        assert [-2] == [s["stockOnHand"] for s in n3["stockLevels"]]


class TestStockLocations:
    """
    ERP warehouses map to Vendure stock locations, or are summed.
    """

    async def test_mapping_summing_and_missing_locations(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        Without a mapping two warehouses are summed at the default
        location; with one each goes to its location and an unmapped one
        fails on ``warehouse``; a mapping to a location Vendure lacks is
        a ConfigurationError before anything is written.
        """
        admin = fresh_vendure.admin()
        await admin.gql(
            "mutation { createStockLocation(input: "
            '{ name: "North", description: "" }) { id } }'
        )
        levels = [
            Outgoing(record=StockLevel(number="W-1", quantity=3, warehouse=w))
            for w in ("WH1", "WH2")
        ]
        try:
            async with Vendure(
                fresh_vendure.url, api_key=fresh_vendure.api_key
            ) as shop:
                (made,) = await shop.push(
                    DataType.ARTICLES,
                    [
                        Outgoing(
                            record=Article(number="W-1", name="W", price=1)
                        )
                    ],
                )
                summed = await shop.push(DataType.STOCK, levels)
                (one,) = await _variants(admin, "W-1")
            async with Vendure(
                fresh_vendure.url,
                api_key=fresh_vendure.api_key,
                stock_locations={
                    "WH1": "Default Stock Location",
                    "WH2": "North",
                },
            ) as mapped:
                split = await mapped.push(
                    DataType.STOCK,
                    [
                        levels[0],
                        Outgoing(
                            record=StockLevel(
                                number="W-1", quantity=5, warehouse="WH2"
                            )
                        ),
                        Outgoing(
                            record=StockLevel(
                                number="W-1", quantity=1, warehouse="WH9"
                            )
                        ),
                    ],
                )
                (two,) = await _variants(admin, "W-1")
            async with Vendure(
                fresh_vendure.url,
                api_key=fresh_vendure.api_key,
                stock_locations={"WH1": "Nowhere"},
            ) as wrong:
                with pytest.raises(ConfigurationError) as caught:
                    await wrong.push(DataType.STOCK, levels)
        finally:
            await admin.aclose()

        def where(variant: dict[str, Any]) -> dict[str, int]:
            return {
                s["stockLocation"]["name"]: s["stockOnHand"]
                for s in variant["stockLevels"]
            }

        assert made.ok
        assert [True, True] == [o.ok for o in summed]
        assert 6 == where(one)["Default Stock Location"]
        assert [True, True, False] == [o.ok for o in split]
        assert "warehouse" == split[2].field
        assert {"Default Stock Location": 3, "North": 5} == where(two)
        assert "'Nowhere'" in str(caught.value)


class TestCategories:
    """
    Categories go parents first; what cannot be ordered fails by name.
    """

    async def test_cycle_fails_by_name_and_writes_nothing(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        Two categories that are each other's parent fail on ``parent``
        naming the cycle and get no facet value; the rest of the batch is
        written.
        """
        async with Vendure(
            fresh_vendure.url, api_key=fresh_vendure.api_key
        ) as shop:
            outcomes = await shop.push(
                DataType.CATEGORIES,
                [
                    Outgoing(
                        record=Category(number="C1", name="A", parent="C2")
                    ),
                    Outgoing(
                        record=Category(number="C2", name="B", parent="C1")
                    ),
                    Outgoing(record=Category(number="C3", name="C")),
                    Outgoing(
                        record=Category(number="C4", name="D", parent="C3")
                    ),
                ],
            )
        admin = fresh_vendure.admin()
        try:
            data = await admin.gql(_VALUES)
        finally:
            await admin.aclose()
        codes = {
            v["code"] for f in data["facets"]["items"] for v in f["values"]
        }

        assert [False, False, True, True] == [o.ok for o in outcomes]
        assert ["parent", "parent"] == [o.field for o in outcomes[:2]]
        assert all(
            "C1" in str(o.error) and "C2" in str(o.error) for o in outcomes[:2]
        )
        assert {"C3", "C4"} == codes

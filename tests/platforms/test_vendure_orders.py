"""
The Vendure adapter's orders against a live Vendure server: statuses
and tracking written back, the money of an order read, lines cancelled
in the shop.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs
import pytest

from ecomsync import (
    All,
    Article,
    ChangedSince,
    DataType,
    Only,
    OrderLine,
    OrderState,
    OrderStatus,
    Outgoing,
    StockLevel,
)
from ecomsync._record_checks import problems
from ecomsync.testing._platform_contract._records import make_order

from ._vendure_shop import (
    VendureHooks,
    _shop_order,
    pay_draft,
)
from .vendure_server import VendureServer


pytestmark = [pytest.mark.vendure, pytest.mark.anyio]


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


class TestOrderPages:
    """
    Order reads page by the last order read (Admin API's own filter and
    sort), so each placed order is read once however small the pages.
    """

    async def test_pages_of_one_read_each_order_once(
        self, fresh_vendure: VendureServer
    ) -> None:
        """Three orders read one a page (All, Only, ChangedSince) come
        once each, in the order they were placed, and the read ends."""
        hooks = VendureHooks()
        hooks.server = fresh_vendure
        hooks.admin = fresh_vendure.admin()
        codes = ["PG-1", "PG-2", "PG-3"]
        try:
            before = datetime.now().astimezone()
            for code in codes:
                await hooks.place_order(
                    None, make_order(code), changed_at=datetime.now()
                )
        finally:
            await hooks.admin.aclose()

        shop = fresh_vendure.platform()
        try:
            read = {
                name: [
                    o.number
                    async for batch in shop.fetch_orders(
                        selection, batch_size=1
                    )
                    for o in batch
                    if o.number in codes
                ]
                for name, selection in (
                    ("all", All()),
                    ("only", Only(set(codes))),
                    ("since", ChangedSince(before)),
                )
            }
        finally:
            await shop.aclose()

        assert {"all": codes, "only": codes, "since": codes} == read

"""
Orders as a checkout leaves them, refunds and removals of their lines,
their fulfillment orders and ``fulfillmentCreate`` with tracking
(cancelling them is in ``_cancel``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from ._shop import Shop
from ._views import (
    Row,
    check_input,
    connection,
    gid,
    money,
    parse_gid,
    refused,
)


class Orders:
    """
    The emulator's order side (mixed into `ShopifyEmulator`).
    """

    shop: Shop

    def place_order(
        self,
        lines: Sequence[tuple[str, int, str] | tuple[str, int, str, str]],
        *,
        email: str = "buyer@example.com",
        first_name: str = "Erika",
        last_name: str = "Muster",
        currency: str = "EUR",
        address: Row | None = None,
        updated_at: datetime | None = None,
        name: str | None = None,
        taxes_included: bool = True,
        tax_rate: str = "0",
        shipping: str = "0.00",
        discount: str = "0.00",
        shipping_discount: str = "0.00",
        presentment: tuple[str, str] | None = None,
    ) -> str:
        """
        Put an order into the shop as a checkout would: *lines* are
        (sku, quantity, unit price) or (sku, quantity, unit price, the
        line's own discount); one open fulfillment order holds them.

        Money as Shopify reckons it: prices, *shipping* and the
        order-level *discount* include tax when *taxes_included* (the
        shop setting), else tax at *tax_rate* (``"0.19"``) comes on top,
        computed per line after every discount (the order-level one
        spread over the lines by their amounts) and rounded to the cent.
        *shipping_discount* (a shipping discount code) comes off the
        shipping: ``totalShippingPriceSet`` is before it,
        ``currentShippingPriceSet`` after it, and the order's discounts
        (``totalDiscountsSet``, ``currentTotalDiscountsSet``) count it.
        *presentment* (``("CHF", "1.05")``) is the customer's currency
        and its rate: every price, shipping and discount is converted
        and rounded to the cent and the order reckoned again in it
        (``presentmentMoney``, ``presentmentCurrencyCode``); without it
        the customer pays in the shop's *currency*.
        The customer is the shop's one with that *email* (Shopify keeps
        emails unique), or a new one.  Returns the order's GID.
        """
        shop = self.shop
        when = (
            (updated_at or datetime.now(UTC))
            .astimezone(UTC)
            .strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        cn = next(
            (n for n, c in shop.customers.items() if c["email"] == email),
            None,
        )
        if cn is None:
            cn = shop.next_id()
            shop.customers[cn] = {
                "id": gid("Customer", cn),
                "email": email,
                "firstName": first_name,
                "lastName": last_name,
                "createdAt": when,
            }
        shop.customers[cn]["updatedAt"] = when
        on, fo = shop.next_id(), shop.next_id()
        addr = address or {
            "firstName": first_name,
            "lastName": last_name,
            "company": None,
            "address1": "Hauptstr. 1",
            "address2": None,
            "zip": "10115",
            "city": "Berlin",
            "countryCodeV2": "DE",
            "phone": None,
        }
        # Shopify reckons an order in the customer's (presentment)
        # currency and, apart, in the shop's: each from prices converted
        # and rounded to the cent, so each set of figures adds up.
        shop_figures = _reckon(
            lines,
            Decimal(1),
            tax_rate,
            taxes_included,
            shipping,
            discount,
            shipping_discount,
        )
        paid_in, factor = presentment or (currency, "1")
        paid = _reckon(
            lines,
            Decimal(factor),
            tax_rate,
            taxes_included,
            shipping,
            discount,
            shipping_discount,
        )

        def bag(key: str, k: int | None = None) -> Row:
            here = shop_figures if k is None else shop_figures["lines"][k]
            there = paid if k is None else paid["lines"][k]
            return money(here[key], currency, there[key], paid_in)

        items = []
        for k, line in enumerate(lines):
            sku, qty = line[0], line[1]
            ln = shop.next_id()
            items.append(
                {
                    "id": gid("LineItem", ln),
                    "sku": sku,
                    "name": sku,
                    "quantity": qty,
                    "originalUnitPriceSet": bag("price", k),
                    "originalTotalSet": bag("original", k),
                    "discountedTotalSet": bag("discounted", k),
                    "taxLines": [
                        {
                            "priceSet": bag("tax", k),
                            "rate": float(Decimal(tax_rate)),
                            "title": "VAT",
                        }
                    ]
                    if Decimal(tax_rate)
                    else [],
                    "variant": None,
                    "currentQuantity": qty,
                    "_fo_line": gid("FulfillmentOrderLineItem", ln),
                    "_remaining": qty,
                }
            )
        shop.fulfillment_orders[fo] = {
            "id": gid("FulfillmentOrder", fo),
            "status": "OPEN",
            "_order": on,
        }
        shop.orders[on] = {
            "id": gid("Order", on),
            "name": name or f"#{1000 + len(shop.orders) + 1}",
            "createdAt": when,
            "updatedAt": when,
            "cancelledAt": None,
            "cancelReason": None,
            "email": email,
            "currencyCode": currency,
            "presentmentCurrencyCode": paid_in,
            "displayFinancialStatus": "PAID",
            "displayFulfillmentStatus": "UNFULFILLED",
            "taxesIncluded": taxes_included,
            "totalPriceSet": bag("total"),
            "subtotalPriceSet": bag("subtotal"),
            "totalShippingPriceSet": bag("shipping"),
            "totalDiscountsSet": bag("discounts"),
            "totalTaxSet": bag("tax"),
            "_customer": cn,
            "billingAddress": addr,
            "shippingAddress": addr,
            "_lines": items,
            "_fos": [fo],
            "fulfillments": [],
            "_figures": (shop_figures, paid),
            "_shipping_refunded": False,
        }
        _set_current(shop.orders[on])
        return gid("Order", on)

    def refund(
        self,
        order_id: str,
        lines: Mapping[str, int] | None = None,
        *,
        shipping: bool = False,
    ) -> None:
        """
        Refund (or remove in an order edit: Shopify reckons both alike)
        *lines*, units per SKU, and with *shipping* the order's shipping.

        As Shopify does: a line keeps its ``quantity`` and its money
        (``discountedTotalSet``, ``taxLines``: they include refunded and
        removed units); its ``currentQuantity`` drops, and so do the
        order's ``current…Set`` figures (its total, subtotal, shipping,
        discounts and tax after refunds and removals; a refunded shipping
        is what the customer paid for it, in ``totalRefundedShippingSet``,
        its discount stays counted), each line's share
        of them in proportion to the units it keeps, rounded to the cent.
        A line's units left to fulfil are at most its current quantity;
        the order's ``updatedAt`` moves.  More units than a line holds,
        or a SKU the order lacks, raise `ValueError`.
        """
        shop = self.shop
        order = shop.orders.get(parse_gid(order_id, "Order") or 0)
        if order is None:
            raise ValueError(f"no order {order_id}")
        wanted = dict(lines or {})
        for sku, units in wanted.items():
            held = sum(
                li["currentQuantity"]
                for li in order["_lines"]
                if li["sku"] == sku
            )
            if units > held or not held:
                raise ValueError(
                    f"order {order['name']} holds no {units} of {sku}"
                )
        for li in order["_lines"]:
            taken = min(wanted.get(li["sku"], 0), li["currentQuantity"])
            wanted[li["sku"]] = wanted.get(li["sku"], 0) - taken
            li["currentQuantity"] -= taken
            li["_remaining"] = min(li["_remaining"], li["currentQuantity"])
        if shipping:
            order["_shipping_refunded"] = True
        _set_current(order)
        left = sum(li["currentQuantity"] for li in order["_lines"])
        order["displayFinancialStatus"] = (
            "REFUNDED" if not left else "PARTIALLY_REFUNDED"
        )
        order["updatedAt"] = shop.now()

    def order_view(self, n: int) -> Row:
        o = self.shop.orders[n]
        view = {k: v for k, v in o.items() if not k.startswith("_")}
        view["customer"] = self.shop.customers.get(o["_customer"])
        view["lineItems"] = connection(
            lambda: [
                {k: v for k, v in li.items() if not k.startswith("_")}
                for li in o["_lines"]
            ]
        )

        def fos() -> list[Row]:
            out = []
            for f in o["_fos"]:
                row = self.shop.fulfillment_orders[f]
                lines = [
                    {
                        "id": li["_fo_line"],
                        "sku": li["sku"],
                        "remainingQuantity": li["_remaining"],
                        "totalQuantity": li["quantity"],
                    }
                    for li in o["_lines"]
                ]
                out.append(
                    {
                        "id": row["id"],
                        "status": row["status"],
                        "lineItems": connection(_const(lines)),
                    }
                )
            return out

        view["fulfillmentOrders"] = connection(fos)
        return view

    def fulfil(self, data: Row) -> Row:
        groups = data["lineItemsByFulfillmentOrder"]
        check_input("fulfillment.lineItemsByFulfillmentOrder", groups)
        tracking = data.get("trackingInfo") or {}
        if tracking.get("url") and not (
            tracking.get("number") or tracking.get("numbers")
        ):
            return refused(
                "fulfillment",
                ["fulfillment", "trackingInfo", "url"],
                "A tracking URL requires a tracking number.",
                "INVALID",
            )
        plan = []
        for i, g in enumerate(groups):
            fo = self.shop.fulfillment_orders.get(
                parse_gid(g["fulfillmentOrderId"], "FulfillmentOrder") or 0
            )
            if fo is None:
                return refused(
                    "fulfillment",
                    [
                        "fulfillment",
                        "lineItemsByFulfillmentOrder",
                        i,
                        "fulfillmentOrderId",
                    ],
                    "Fulfillment order does not exist.",
                    "NOT_FOUND",
                )
            if fo["status"] != "OPEN" and fo["status"] != "IN_PROGRESS":
                return refused(
                    "fulfillment",
                    ["fulfillment"],
                    f"Fulfillment order {fo['id']} has an "
                    f"unfulfillable status= {fo['status'].lower()}.",
                    "INVALID",
                )
            order = self.shop.orders[fo["_order"]]
            wanted = {
                li["_fo_line"]: li["_remaining"] for li in order["_lines"]
            }
            for j, item in enumerate(g.get("fulfillmentOrderLineItems") or ()):
                if (
                    item["id"] not in wanted
                    or item["quantity"] > wanted[item["id"]]
                    or item["quantity"] < 1
                ):
                    return refused(
                        "fulfillment",
                        [
                            "fulfillment",
                            "lineItemsByFulfillmentOrder",
                            i,
                            "fulfillmentOrderLineItems",
                            j,
                            "quantity",
                        ],
                        "Invalid fulfillment order line item "
                        "quantity requested.",
                        "INVALID",
                    )
                wanted[item["id"]] = item["quantity"]
            if g.get("fulfillmentOrderLineItems"):
                wanted = {
                    k: v
                    for k, v in wanted.items()
                    if k in {x["id"] for x in g["fulfillmentOrderLineItems"]}
                }
            plan.append((fo, order, wanted))
        fn = self.shop.next_id()
        info = [
            {
                "company": tracking.get("company"),
                "number": n,
                "url": tracking.get("url"),
            }
            for n in (
                [tracking["number"]]
                if tracking.get("number")
                else tracking.get("numbers") or []
            )
        ]
        fulfillment = {
            "id": gid("Fulfillment", fn),
            "status": "SUCCESS",
            "trackingInfo": info,
            "createdAt": self.shop.now(),
        }
        for fo, order, wanted in plan:
            for li in order["_lines"]:
                li["_remaining"] -= wanted.get(li["_fo_line"], 0)
            done = all(li["_remaining"] == 0 for li in order["_lines"])
            fo["status"] = "CLOSED" if done else "IN_PROGRESS"
            order["displayFulfillmentStatus"] = (
                "FULFILLED" if done else "PARTIALLY_FULFILLED"
            )
            order["fulfillments"].append(fulfillment)
            order["updatedAt"] = self.shop.now()
        return {"fulfillment": fulfillment, "userErrors": []}


def _const(rows: list[Row]) -> Callable[[], list[Row]]:
    return lambda: rows


def _set_current(order: Row) -> None:
    """
    The order's ``current…Set`` figures from its lines' current
    quantities, in both currencies.
    """
    shop_figures, paid = (
        _current(
            figures,
            [li["quantity"] for li in order["_lines"]],
            [li["currentQuantity"] for li in order["_lines"]],
            taxes_included=order["taxesIncluded"],
            shipping_refunded=order["_shipping_refunded"],
        )
        for figures in order["_figures"]
    )
    for key, field in (
        ("total", "currentTotalPriceSet"),
        ("subtotal", "currentSubtotalPriceSet"),
        ("shipping", "currentShippingPriceSet"),
        ("discounts", "currentTotalDiscountsSet"),
        ("tax", "currentTotalTaxSet"),
        ("refunded_shipping", "totalRefundedShippingSet"),
    ):
        order[field] = money(
            shop_figures[key],
            order["currencyCode"],
            paid[key],
            order["presentmentCurrencyCode"],
        )


def _current(
    figures: Row,
    quantities: Sequence[int],
    currents: Sequence[int],
    *,
    taxes_included: bool,
    shipping_refunded: bool,
) -> dict[str, str]:
    """
    An order's figures (`_reckon`) after refunds and removals: each
    line's discounted amount, tax and share of the order-level discount
    in proportion to the units it keeps, rounded to the cent; the
    shipping and its tax gone if refunded.
    """
    cent = Decimal("0.01")
    subtotal = tax = discounts = Decimal(0)
    for row, quantity, current in zip(
        figures["lines"], quantities, currents, strict=True
    ):
        part = Decimal(current) / quantity if quantity else Decimal(0)
        discounted = (Decimal(row["discounted"]) * part).quantize(cent)
        share = (Decimal(row["share"]) * part).quantize(cent)
        subtotal += discounted - share
        tax += (Decimal(row["tax"]) * part).quantize(cent)
        discounts += Decimal(row["price"]) * current - discounted + share
    # a shipping discount stays given when the shipping is refunded:
    # what is refunded is the shipping the customer paid
    off = Decimal(figures["ship_discount"])
    paid = Decimal(figures["shipping"]) - off
    ship = Decimal(0) if shipping_refunded else paid
    tax += Decimal(0 if shipping_refunded else figures["ship_tax"])
    discounts += off
    total = subtotal + ship + (Decimal(0) if taxes_included else tax)
    return {
        "total": f"{total:.2f}",
        "subtotal": f"{subtotal:.2f}",
        "shipping": f"{ship:.2f}",
        "discounts": f"{discounts:.2f}",
        "tax": f"{tax:.2f}",
        "refunded_shipping": f"{paid - ship:.2f}",
    }


def _spread(amount: Decimal, over: Sequence[Decimal]) -> list[Decimal]:
    """
    *amount* split over lines in proportion to their amounts *over*, to
    the cent, the last taking what rounding left.
    """
    base = sum(over, Decimal(0))
    if not over or not amount or not base:
        return [Decimal(0)] * len(over)
    shares = [(amount * x / base).quantize(Decimal("0.01")) for x in over]
    shares[-1] += amount - sum(shares, Decimal(0))
    return shares


def _reckon(
    lines: Sequence[tuple[str, int, str] | tuple[str, int, str, str]],
    factor: Decimal,
    tax_rate: str,
    taxes_included: bool,
    shipping: str,
    discount: str,
    shipping_discount: str = "0.00",
) -> Row:
    """
    An order's figures (as strings to the cent) from its prices,
    shipping and discount converted by *factor* and rounded to the cent:
    per line ``price``, ``original``, ``discounted``, ``tax`` and
    ``share`` (of the order-level discount); for the order ``total``,
    ``subtotal``, ``shipping``, ``discounts``, ``tax`` and ``ship_tax``
    (the shipping's part of it).
    """
    cent = Decimal("0.01")

    def conv(value: str) -> Decimal:
        return (Decimal(value) * factor).quantize(cent)

    rate = Decimal(tax_rate)
    order_discount = conv(discount)
    prices = [conv(line[2]) for line in lines]
    amounts = [
        price * line[1] - (conv(line[3]) if len(line) > 3 else Decimal(0))
        for line, price in zip(lines, prices, strict=True)
    ]
    allocated = _spread(order_discount, amounts)
    line_tax = Decimal(0)
    line_discounts = Decimal(0)
    rows = []
    for line, price, amount, share in zip(
        lines, prices, amounts, allocated, strict=True
    ):
        taxed = amount - share
        tax = (
            taxed * rate / (1 + rate) if taxes_included else taxed * rate
        ).quantize(cent)
        line_tax += tax
        line_discounts += price * line[1] - amount
        rows.append(
            {
                "price": f"{price:.2f}",
                "original": f"{price * line[1]:.2f}",
                "discounted": f"{amount:.2f}",
                "tax": f"{tax:.2f}",
                "share": f"{share:.2f}",
            }
        )
    ship, ship_off = conv(shipping), conv(shipping_discount)
    ship_tax = (
        (ship - ship_off) * rate / (1 + rate)
        if taxes_included
        else (ship - ship_off) * rate
    ).quantize(cent)
    subtotal = sum(amounts, Decimal(0)) - order_discount
    total = subtotal + ship - ship_off
    if not taxes_included:
        total += line_tax + ship_tax
    return {
        "lines": rows,
        "total": f"{total:.2f}",
        "subtotal": f"{subtotal:.2f}",
        "shipping": f"{ship:.2f}",
        "discounts": f"{line_discounts + order_discount + ship_off:.2f}",
        "tax": f"{line_tax + ship_tax:.2f}",
        "ship_tax": f"{ship_tax:.2f}",
        "ship_discount": f"{ship_off:.2f}",
    }

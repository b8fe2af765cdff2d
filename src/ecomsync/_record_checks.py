"""
Judging a whole record (`problems`): what must hold before it may be
sent, field by field (`_field_checks`), and for an order its lines, its
money and its addresses.

The money check is what keeps an order from reaching the ERP with a total
the customer did not pay: the lines plus shipping minus discounts must
come to the order's total within the platform's rounding, so whatever an
adapter does not model (a gift card, a fee, a surcharge, lines a page did
not hold) fails the order by name instead of vanishing.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from ._field_checks import (
    Problem,
    amount_problems,
    quantity_problems,
    text_problems,
)
from ._model import (
    ADDRESS_TEXTS,
    Article,
    Category,
    Order,
    Record,
    StockLevel,
)


_COUNTRY = re.compile(r"^[A-Z]{2}$")

#: Currencies whose minor unit is not the hundredth (ISO 4217): the
#: smallest amount a platform rounds to is 10 ** -places.
_MINOR_PLACES = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF"), 0),
    **dict.fromkeys(("KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF"), 0),
    **dict.fromkeys(("XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}

#: How far an order's lines, shipping and discounts may miss its total, in
#: the currency's minor units, per amount the platform rounded on its own
#: (each line, the shipping, the discount).  Platforms round every line's
#: amount and tax separately and sum the rounded figures (Shopware's
#: per-line tax, WooCommerce's coupon tax beside the lines' taxes,
#: Shopify's "approximate" discounted prices), and each of our lines is
#: the platform's line amount over its quantity: per rounded amount that
#: is at most half a unit off, twice (amount and tax), so one unit each.
#: Anything beyond is money the order does not explain.
SLACK_PER_AMOUNT = 1


def minor_unit(currency: str) -> Decimal:
    """
    The smallest amount of *currency* (0.01 unless ISO 4217 says else).
    """
    return Decimal(1).scaleb(-_MINOR_PLACES.get(currency, 2))


def order_problems(order: Order) -> list[Problem]:
    """
    What is wrong with *order*: its lines and amounts, when it was placed,
    whether its money adds up (when the amounts are numbers), its texts
    and addresses.
    """
    found: list[Problem] = []
    for name in ("number", "email", "first_name", "last_name"):
        found += text_problems(
            f"customer.{name}", getattr(order.customer, name, "")
        )
    for i, line in enumerate(order.lines):
        found += text_problems(f"lines.{i}.name", line.name)
        found += quantity_problems(f"lines.{i}.quantity", line.quantity, low=1)
        found += amount_problems(f"lines.{i}.unit_price", line.unit_price)
    at = order.ordered_at
    if not isinstance(at, datetime):
        found.append(Problem("ordered_at", "is not a date and time"))
    elif at.utcoffset() is None:
        # The ERPs weigh it against the customer's other orders (the
        # newest sets the party's name), all timezone-aware.
        found.append(Problem("ordered_at", "must be timezone-aware"))
    found += amount_problems("total", order.total)
    found += amount_problems(
        "shipping_total", order.shipping_total, low=Decimal(0)
    )
    found += amount_problems(
        "discount_total", order.discount_total, low=Decimal(0)
    )
    if not found:  # the amounts are numbers: do they add up?
        found += money_problems(order)
    for name, address in (
        ("billing", order.billing),
        ("shipping", order.shipping),
    ):
        for text in ADDRESS_TEXTS:
            found += text_problems(
                f"{name}.{text}", getattr(address, text, "")
            )
        if address.country == "":
            found.append(Problem(f"{name}.country", "is missing"))
        elif not isinstance(address.country, str) or not _COUNTRY.match(
            address.country
        ):
            found.append(
                Problem(f"{name}.country", "is not an ISO country code")
            )
    return found


def money_problems(order: Order) -> list[Problem]:
    """
    Whether *order*'s lines, shipping and discounts come to its total,
    within `SLACK_PER_AMOUNT`; the problem names ``total`` and every
    figure.  Only for orders whose amounts are numbers.
    """
    lines = sum(
        (line.unit_price * line.quantity for line in order.lines),
        Decimal(0),
    )
    expected = lines + order.shipping_total - order.discount_total
    rounded = len(order.lines) + sum(
        1 for amount in (order.shipping_total, order.discount_total) if amount
    )
    unit = minor_unit(order.currency)
    if abs(expected - order.total) <= unit * SLACK_PER_AMOUNT * max(
        1, rounded
    ):
        return []
    return [
        Problem(
            "total",
            f"is {order.total} {order.currency}, but the lines "
            f"({lines.quantize(unit)}) plus shipping "
            f"({order.shipping_total}) minus discounts "
            f"({order.discount_total}) come to {expected.quantize(unit)}: "
            "the order holds a charge or discount that is not modelled "
            "(a gift card, a fee), so it is not imported with a total the "
            "customer did not pay",
        )
    ]


def problems(record: Record) -> list[Problem]:
    """
    Everything wrong with *record*, empty if it may be sent.

    Never raises, whatever the values: NaN, infinite and out-of-range
    numbers are problems like any other (see ``MAX_AMOUNT``,
    ``MAX_QUANTITY``).  Negative stock is *not* a problem here: whether a
    shop takes it is the platform's policy.
    """
    found: list[Problem] = []
    number = getattr(record, "number", None)
    if not isinstance(number, str) or not number.strip():
        found.append(Problem("number", "is missing"))
    else:
        found += text_problems("number", number)
    for name in ("name", "description", "email"):
        if hasattr(record, name):
            found += text_problems(
                name, getattr(record, name), required=name == "name"
            )
    # "false" or 0 from a CSV or a database is truthy: the shop would
    # publish what the ERP took off sale.
    active = getattr(record, "active", True)
    if isinstance(record, Article | Category) and not isinstance(active, bool):
        found.append(
            Problem("active", f"must be True or False, got {active!r}")
        )
    if isinstance(record, Category):
        found += quantity_problems("position", record.position)
    if isinstance(record, Article):
        found += amount_problems("price", record.price, low=Decimal(0))
        found += amount_problems(
            "tax_rate", record.tax_rate, low=Decimal(0), high=Decimal(100)
        )
        for i, variant in enumerate(record.variants):
            path = f"variants.{i}"
            if (
                not isinstance(variant.number, str)
                or not variant.number.strip()
            ):
                found.append(Problem(f"{path}.number", "is missing"))
            else:
                found += text_problems(f"{path}.number", variant.number)
            for j, option in enumerate(variant.options):
                if not isinstance(option, tuple | list) or len(option) != 2:
                    # An adapter unpacks it: ("size=S",) crashed the push.
                    found.append(
                        Problem(
                            f"{path}.options.{j}",
                            f"must be a (name, value) pair, got {option!r}",
                        )
                    )
                    continue
                for k, text in zip(("name", "value"), option, strict=True):
                    found += text_problems(f"{path}.options.{j}.{k}", text)
            if variant.price is not None:
                found += amount_problems(
                    f"{path}.price", variant.price, low=Decimal(0)
                )
    elif isinstance(record, StockLevel):
        found += quantity_problems("quantity", record.quantity)
    elif isinstance(record, Order):
        found += order_problems(record)
    return found

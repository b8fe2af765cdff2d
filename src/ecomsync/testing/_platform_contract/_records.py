"""
The records the platform contract pushes and the orders its hooks place:
the category tree, a plain article, a small order, and the moment
(`NOW`) the suite's order times count from.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ..._contracts import Outgoing
from ..._model import (
    Address,
    Article,
    Category,
    Customer,
    Order,
    OrderLine,
    Record,
)


NOW = datetime.now(UTC).replace(microsecond=0)


def outgoing(*records: Record) -> list[Outgoing]:
    return [Outgoing(record=r) for r in records]


def make_order(number: str, *, article: str = "K-1") -> Order:
    """
    A small order as a shop customer places it.
    """
    address = Address(
        first_name="Erika",
        last_name="Mustermann",
        street="Hauptstraße 1",
        zip_code="10115",
        city="Berlin",
        country="DE",
    )
    return Order(
        number=number,
        customer=Customer(
            number=f"C{number}",
            email=f"kunde{number}@example.com",
            first_name="Erika",
            last_name="Mustermann",
            addresses=(address,),
        ),
        billing=address,
        shipping=address,
        lines=(
            OrderLine(
                article_number=article,
                name="Hammer",
                quantity=2,
                unit_price=Decimal("9.99"),
            ),
        ),
        total=Decimal("19.98"),
        ordered_at=NOW - timedelta(days=5),
    )


CATEGORIES = (
    Category(number="K-1", name="Werkzeug"),
    Category(number="K-2", name="Hämmer", parent="K-1"),
    Category(number="K-3", name="Farben"),
)


def article(number: str = "A-1", **changes: Any) -> Article:
    values: dict[str, Any] = {
        "number": number,
        "name": f"Hammer {number}",
        "price": Decimal("19.99"),
        "tax_rate": Decimal(19),
        "categories": ("K-2",),
    }
    values.update(changes)
    return Article(**values)

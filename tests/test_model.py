"""
Records: judged by `problems()`, fingerprinted by `checksum()`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import attrs

from ecomsync import (
    Address,
    Article,
    Customer,
    Order,
    OrderLine,
    StockLevel,
    Variant,
)
from ecomsync._model import checksum, problems


def article(**kw: object) -> Article:
    fields: dict[str, object] = {
        "number": "A-1",
        "name": "Hammer",
        "price": "9.99",
    }
    fields.update(kw)
    return Article(**fields)  # type: ignore[arg-type]


class TestProblems:
    def test_valid(self) -> None:
        """A sound article has no problems."""
        assert [] == problems(article())

    def test_missing_number(self) -> None:
        """A blank number is named."""
        assert ["number"] == [p.field for p in problems(article(number=" "))]

    def test_negative_price(self) -> None:
        """A negative price is named with its value."""
        (problem,) = problems(article(price="-1"))

        assert "price" == problem.field
        assert "-1" in problem.reason

    def test_invalid_utf8(self) -> None:
        """Text that cannot be UTF-8 (lone surrogates) is refused."""
        bad = b"caf\xe9".decode("utf-8", "surrogateescape")
        (problem,) = problems(article(description=bad))

        assert ("description", "is not valid UTF-8 text") == (
            problem.field,
            problem.reason,
        )

    def test_huge_text(self) -> None:
        """A 10 MB description is refused, naming its size."""
        (problem,) = problems(article(description="x" * 10_000_000))

        assert "description" == problem.field
        assert "10,000,000 bytes" in problem.reason

    def test_not_text(self) -> None:
        """A name that is not text is refused."""
        assert ["name"] == [p.field for p in problems(article(name=42))]

    def test_tax_and_variants(self) -> None:
        """Bad tax rates and variant fields are named with their path."""
        found = problems(
            article(
                tax_rate="150",
                variants=[Variant(number="", price=Decimal(-2))],
            )
        )

        assert {"tax_rate", "variants.0.number", "variants.0.price"} == {
            p.field for p in found
        }

    def test_stock_quantity(self) -> None:
        """Stock must be a whole number."""
        found = problems(StockLevel(number="A-1", quantity=1.5))  # type: ignore[arg-type]

        assert ["quantity"] == [p.field for p in found]

    def test_order(self) -> None:
        """Order lines need a positive quantity, addresses a country code."""
        address = Address(
            first_name="E",
            last_name="M",
            street="S",
            zip_code="1",
            city="B",
            country="Germany",
        )
        order = Order(
            number="1",
            customer=Customer(
                number="K", email="e@x", first_name="E", last_name="M"
            ),
            billing=address,
            shipping=address,
            lines=[
                OrderLine(
                    article_number="A", name="A", quantity=0, unit_price=1
                )
            ],
            total=1,
            ordered_at=datetime(2026, 1, 1, tzinfo=UTC),
        )

        assert {"lines.0.quantity", "billing.country", "shipping.country"} == {
            p.field for p in problems(order)
        }


class TestChecksum:
    def test_stable(self) -> None:
        """Equal records have equal checksums, whatever the price's form."""
        assert checksum(article(price="9.90")) == checksum(
            article(price=Decimal("9.9"))
        )

    def test_changes(self) -> None:
        """Any visible change changes the checksum."""
        assert checksum(article()) != checksum(article(name="Zange"))
        assert checksum(article()) != checksum(
            StockLevel(number="A-1", quantity=1)
        )


class TestOrderChecksum:
    def test_state_ignored(self) -> None:
        """An order's state (pushed by us) does not change its checksum;
        its lines do."""
        from ecomsync import OrderState
        from ecomsync.testing import shop_orders

        order = next(iter(shop_orders(1)))
        shipped = attrs.evolve(order, state=OrderState.SHIPPED)
        more = attrs.evolve(order, total=order.total + 1)

        assert checksum(order) == checksum(shipped)
        assert checksum(order) != checksum(more)

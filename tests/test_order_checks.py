"""
The order money check (`problems` for `Order`): lines plus shipping minus
discounts come to the total within the platform's rounding, or the order
fails on ``total``.
"""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from ecomsync import Order, OrderLine
from ecomsync._record_checks import problems
from ecomsync.testing._erp_contract import make_order


def _order(**changes: object) -> Order:
    return make_order("W-1", **changes)


class TestMoney:
    def test_lines_alone_add_up(self) -> None:
        """An order of lines only (89.90 + 2 x 39.99) is its total."""
        assert [] == problems(_order())

    def test_shipping_and_discount_add_up(self) -> None:
        """Shipping adds to the lines, discounts come off."""
        order = _order(
            shipping_total="4.90", discount_total="10", total="164.78"
        )

        assert [] == problems(order)

    def test_a_charge_not_modelled_fails_on_total(self) -> None:
        """A total the lines, shipping and discounts do not explain (a
        fee, a gift card) fails on ``total`` with every figure."""
        order = _order(shipping_total="4.90", total="179.78")

        (problem,) = problems(order)

        assert "total" == problem.field
        assert "179.78 EUR" in problem.reason
        assert "(169.88)" in problem.reason
        assert "come to 174.78" in problem.reason

    def test_missing_shipping_fails(self) -> None:
        """Shipping the adapter left out (the old importers) fails."""
        assert ["total"] == [p.field for p in problems(_order(total="174.78"))]

    @pytest.mark.parametrize(
        ("total", "ok"),
        [("169.90", True), ("169.86", True), ("169.91", False)],
    )
    def test_one_cent_per_rounded_line(self, total: str, ok: bool) -> None:
        """Two lines may miss the total by two cents, not three."""
        assert ok is not any(
            p.field == "total" for p in problems(_order(total=total))
        )

    def test_shipping_and_discount_widen_the_slack(self) -> None:
        """Shipping and a discount are rounded on their own: a cent each."""
        order = _order(
            shipping_total="4.90", discount_total="10", total="164.82"
        )

        assert [] == problems(order)
        assert ["total"] == [
            p.field for p in problems(attrs.evolve(order, total="164.83"))
        ]

    def test_endless_unit_price_adds_up(self) -> None:
        """10.00 for 3 (3.333...) is 10.00 to the cent."""
        line = OrderLine(
            article_number="A-1",
            name="A",
            quantity=3,
            unit_price=Decimal(10) / 3,
        )

        assert [] == problems(_order(lines=[line], total="10.00"))

    def test_currency_without_cents(self) -> None:
        """In yen the unit is 1: 1 yen per line is rounding, 3 are not."""
        line = OrderLine(
            article_number="A-1", name="A", quantity=1, unit_price=1000
        )
        order = _order(lines=[line], currency="JPY", total=1001)

        assert [] == problems(order)
        assert ["total"] == [
            p.field for p in problems(attrs.evolve(order, total=1003))
        ]

    @pytest.mark.parametrize("field", ["shipping_total", "discount_total"])
    @pytest.mark.parametrize("value", ["-1", "NaN", "Infinity"])
    def test_bad_charges_are_named(self, field: str, value: str) -> None:
        """A negative, NaN or infinite shipping or discount fails on its
        own field, without crashing the sum."""
        found = problems(_order(**{field: value}))

        assert [field] == [p.field for p in found]

    def test_nan_line_is_not_summed(self) -> None:
        """A NaN line price fails on the line, not also on the total."""
        line = OrderLine(
            article_number="A-1", name="A", quantity=1, unit_price="NaN"
        )

        assert ["lines.0.unit_price"] == [
            p.field for p in problems(_order(lines=[line]))
        ]

    def test_defaults_are_zero(self) -> None:
        """Orders built without them have no shipping and no discount."""
        order = _order()

        assert (Decimal(0), Decimal(0)) == (
            order.shipping_total,
            order.discount_total,
        )


class TestOrderedAt:
    def test_naive_time_fails(self) -> None:
        """An order placed at a naive time (no UTC offset) fails on
        ``ordered_at``: it cannot be weighed against the customer's other
        orders."""
        order = _order()
        naive = attrs.evolve(
            order, ordered_at=order.ordered_at.replace(tzinfo=None)
        )

        assert [("ordered_at", "must be timezone-aware")] == [
            (p.field, p.reason) for p in problems(naive)
        ]

    def test_not_a_time_fails(self) -> None:
        """An ``ordered_at`` that is no datetime fails, never raises."""
        order = attrs.evolve(_order(), ordered_at="2026-11-02")

        assert ["ordered_at"] == [p.field for p in problems(order)]


class TestTexts:
    @pytest.mark.parametrize(
        "field", ["street", "city", "first_name", "company", "zip_code"]
    )
    @pytest.mark.parametrize("where", ["billing", "shipping"])
    def test_control_character_in_an_address_fails(
        self, where: str, field: str
    ) -> None:
        """NUL or BEL in an address fails the order on the field, naming
        the character but never quoting the customer's value."""
        order = _order()
        address = attrs.evolve(
            getattr(order, where), **{field: "Erika\x00Weg\x07"}
        )

        (problem,) = problems(attrs.evolve(order, **{where: address}))

        assert f"{where}.{field}" == problem.field
        assert "U+0000 at position 5" in problem.reason
        assert "Erika" not in problem.reason

    def test_lone_surrogate_in_customer_fails(self) -> None:
        """A lone surrogate in the customer's e-mail or name (no database
        stores it) fails the order on that field."""
        order = _order()
        customer = attrs.evolve(
            order.customer, email="erika\udc80@example.com", last_name="\ud800"
        )

        found = problems(attrs.evolve(order, customer=customer))

        assert [
            ("customer.email", "is not valid UTF-8 text"),
            ("customer.last_name", "is not valid UTF-8 text"),
        ] == [(p.field, p.reason) for p in found]

    def test_control_character_in_a_line_name_fails(self) -> None:
        """A line's name goes to the ERP too: NUL in it fails the order."""
        order = _order()
        line = attrs.evolve(order.lines[1], name="Shirt\x00")

        (problem,) = problems(
            attrs.evolve(order, lines=[order.lines[0], line])
        )

        assert "lines.1.name" == problem.field

    def test_line_breaks_in_a_street_are_text(self) -> None:
        """A street of two lines (tab, CR, LF) is an ordinary address."""
        order = _order()
        shipping = attrs.evolve(order.shipping, street="Hof 2\r\n\tHaus B")

        assert [] == problems(attrs.evolve(order, shipping=shipping))

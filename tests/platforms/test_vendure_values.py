"""
Values the Vendure adapter refuses before writing: quantities out of
Vendure's range, stock locations that do not resolve, and prices that
would not land exactly as the ERP's gross price.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ecomsync import Article, Variant
from ecomsync.exceptions import ConfigurationError
from ecomsync.platforms.vendure._catalog import Reference
from ecomsync.platforms.vendure._locations import resolve_locations
from ecomsync.platforms.vendure._stock import quantity_problem
from ecomsync.platforms.vendure._variants import (
    gross_of,
    price_of,
    price_problem,
)


class TestStockValues:
    """
    Quantities Vendure must not be sent, and the location mapping.
    """

    @pytest.mark.parametrize(
        ("quantity", "words"),
        [
            (float("nan"), "whole number, got nan"),
            (float("inf"), "whole number, got inf"),
            (Decimal("sNaN"), "whole number"),
            (Decimal("1.5"), "whole number, got 1.5"),
            (True, "got bool"),
            ("3", "got str"),
            (2**31, "more than Vendure can store"),
        ],
    )
    def test_refused(self, quantity: Any, words: str) -> None:
        """Each bad quantity gets a reason."""
        problem = quantity_problem(quantity)

        assert problem is not None
        assert words in problem

    @pytest.mark.parametrize("quantity", [0, 7, 2.0, Decimal(4), -2])
    def test_accepted(self, quantity: Any) -> None:
        """Whole, finite quantities pass; a negative one is left to the
        shared backorders policy."""
        assert quantity_problem(quantity) is None

    def test_negative_within_range(self) -> None:
        """A negative quantity is still checked against Vendure's range."""
        assert "more than" in str(quantity_problem(-(2**31)))

    def test_locations(self) -> None:
        """The default is the oldest location (then the lowest id), as
        Vendure's own, unless named; the mapping resolves names to ids;
        missing names are listed together."""
        locations = [
            {"id": "10", "name": "Main", "createdAt": "2026-01-02T00:00:00Z"},
            {"id": "9", "name": "North", "createdAt": "2026-01-02T00:00:00Z"},
            {"id": "3", "name": "Late", "createdAt": "2026-03-01T00:00:00Z"},
        ]

        assert ("9", {}) == resolve_locations(
            locations, None, None, channel="c"
        )
        assert ("9", {"W": "10"}) == resolve_locations(
            locations, "North", {"W": "Main"}, channel="c"
        )
        with pytest.raises(ConfigurationError, match="'A', 'B'"):
            resolve_locations(locations, "A", {"W": "B"}, channel="c")
        with pytest.raises(
            ConfigurationError, match="channel 'c' has no stock location"
        ):
            resolve_locations([], None, None, channel="c")

    def test_a_name_several_locations_have(self) -> None:
        """A configured name that two locations have is refused, naming
        their ids; unconfigured, it is no problem."""
        locations = [
            {"id": "1", "name": "Main", "createdAt": "2026-01-01T00:00:00Z"},
            {"id": "2", "name": "North", "createdAt": "2026-01-02T00:00:00Z"},
            {"id": "3", "name": "North", "createdAt": "2026-01-03T00:00:00Z"},
        ]

        assert ("1", {}) == resolve_locations(
            locations, None, None, channel="c"
        )
        with pytest.raises(
            ConfigurationError, match=r"named 'North' \(ids 2, 3\)"
        ):
            resolve_locations(locations, None, {"W": "North"}, channel="c")


def _ref(*, gross: bool) -> Reference:
    return Reference(
        currency="EUR",
        prices_include_tax=gross,
        tax_categories={},
        default_location="1",
        locations={},
    )


class TestPrices:
    """
    Prices land exactly as the ERP's gross price, or not at all.
    """

    def test_gross_channel_takes_the_gross_price(self) -> None:
        """A channel whose prices include tax stores the cents as they
        are."""
        assert 999 == price_of(_ref(gross=True), Decimal("9.99"), Decimal(19))

    def test_net_channel_shows_the_gross_price(self) -> None:
        """In a net channel the net price is chosen so that Vendure's
        rounding shows exactly the ERP's gross price."""
        net = price_of(_ref(gross=False), Decimal("119.00"), Decimal(19))

        assert 10000 == net

    def test_net_channel_cannot_show_every_price(self) -> None:
        """9.99 at 19 % lies between two net prices: None, not 9.98."""
        assert (
            price_of(_ref(gross=False), Decimal("9.99"), Decimal(19)) is None
        )

    def test_a_price_finer_than_a_cent_fails(self) -> None:
        """5.555 (Tryton keeps four decimals) would land as 5.56: the
        article fails on the field instead; 5.550 is 5.55 and passes."""
        fine = Article(number="A-1", name="a", price=Decimal("5.550"))
        odd = Article(
            number="A-2",
            name="b",
            price=Decimal("5.55"),
            variants=(Variant(number="V-1", price=Decimal("5.555")),),
        )

        assert price_problem(fine, 2) is None
        problem = price_problem(odd, 2)
        assert problem is not None
        assert "variants.0.price" == problem[1]
        assert "5.555 has more than 2 decimals" in problem[0]
        assert "would show 5.56" in problem[0]

    @pytest.mark.parametrize("rate", [Decimal(19), Decimal(7), Decimal("5.5")])
    def test_every_reachable_gross_price_round_trips(
        self, rate: Decimal
    ) -> None:
        """Whatever gross price some net price gives, price_of finds a net
        price that gives it."""
        ref = _ref(gross=False)
        for net in range(5000):
            gross = gross_of(net, float(rate))
            found = price_of(ref, Decimal(gross) / 100, rate)

            assert found is not None
            assert gross == gross_of(found, float(rate))

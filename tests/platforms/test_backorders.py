"""
The negative-stock policy the adapters share.
"""

from __future__ import annotations

import pytest

from ecomsync._contracts import Outcome
from ecomsync.platforms._backorders import negative_stock, reported


class TestNegativeStock:
    def test_reported(self) -> None:
        """A negative quantity is reported on 'quantity', naming the
        record, the 0 the shop got and the option that writes it."""
        assert (
            "quantity -3 of 'A-1' is negative: its stock in Shopware 6 was "
            "set to 0, so the shop does not sell it; "
            "Shopware6(allow_backorders=True) writes negative stock",
            "quantity",
        ) == negative_stock(
            "A-1", -3, platform="Shopware 6", option="Shopware6", allowed=False
        )

    def test_where(self) -> None:
        """What is known about the quantity's origin follows the record."""
        refused = negative_stock(
            "A-1",
            -2,
            platform="Shopify",
            option="Shopify",
            allowed=False,
            where=" at location 'L'",
        )

        assert refused is not None
        assert refused[0].startswith("quantity -2 of 'A-1' at location 'L' is")

    @pytest.mark.parametrize(
        ("quantity", "allowed"), [(0, False), (5, False), (-3, True)]
    )
    def test_passes(self, quantity: int, allowed: bool) -> None:
        """Zero and positive levels pass; negative ones with backorders."""
        assert None is negative_stock(
            "A-1", quantity, platform="P", option="P", allowed=allowed
        )


class TestReported:
    def test_a_landed_zero_fails(self) -> None:
        """The 0 written for a negative level landed: the record fails with
        the report, keeping its platform id."""
        found = reported(
            Outcome(number="A-1", platform_id="p1"), ("negative", "quantity")
        )

        assert not found.ok
        assert ("A-1", "p1", "negative", "quantity") == (
            found.number,
            found.platform_id,
            found.error,
            found.field,
        )

    def test_own_failure_and_no_report_kept(self) -> None:
        """A write that failed keeps its own reason; a level that was not
        negative keeps its outcome."""
        failed = Outcome(number="A-1", error="not on the shop", field="number")
        landed = Outcome(number="A-1", platform_id="p1")

        assert failed is reported(failed, ("negative", "quantity"))
        assert landed is reported(landed, None)

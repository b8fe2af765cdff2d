"""
The negative-stock policy the adapters share.
"""

from __future__ import annotations

import pytest

from ecomsync.platforms._backorders import negative_stock


class TestNegativeStock:
    def test_refused(self) -> None:
        """A negative quantity fails on 'quantity', naming the record, the
        platform and the option that lets it through."""
        assert (
            "quantity -3 of 'A-1' is negative: Shopware 6 takes negative "
            "stock only with Shopware6(allow_backorders=True)",
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

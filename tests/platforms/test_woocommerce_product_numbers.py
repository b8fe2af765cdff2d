"""
SKUs and EANs through the WooCommerce adapter as WooCommerce keeps them: a
value it would change fails naming the record, one it keeps lands and is
found again.
"""

from __future__ import annotations

import attrs
import pytest

from ecomsync import (
    DataType,
    Outgoing,
    StockLevel,
    Variant,
)
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing._platform_contract import (
    article,
)
from ecomsync.testing.woocommerce import WooCommerceEmulator

from .._retries import fast_retries
from ._woocommerce import WooFixtures


pytestmark = pytest.mark.anyio


_fast_retries = fast_retries(3)


class TestProductNumbers(WooFixtures):
    """
    SKUs and EANs as WooCommerce keeps them: a value it would change fails,
    one it keeps lands and is found again.
    """

    @pytest.mark.parametrize(
        ("number", "variant", "field"),
        [
            (" B-1", None, "number"),
            ("B  1", None, "number"),
            ("B<b>1", None, "number"),
            ("B%411", None, "number"),
            ("B,1", None, "number"),
            ("SHIRT", " S-1", "variants.0.number"),
        ],
    )
    async def test_number_woocommerce_would_change_fails(
        self,
        woo: WooCommerce,
        emu: WooCommerceEmulator,
        number: str,
        variant: str | None,
        field: str,
    ) -> None:
        """
        A number WooCommerce would not keep as it is (wc_clean trims and
        collapses white space, strips tags and %-escapes) or could not
        look up (a comma) fails by name, unsent, instead of landing under
        another SKU whose stock then never finds it.
        """
        variants = (
            ()
            if variant is None
            else (Variant(number=variant, options=(("Size", "S"),)),)
        )
        record = article(number, variants=variants)

        (outcome,) = await woo.push(
            DataType.ARTICLES, [Outgoing(record=record)]
        )

        assert not outcome.ok
        assert field == outcome.field
        assert repr(variant or number) in (outcome.error or "")
        assert not [p for p in emu.shop.products.values() if p["sku"]]

    @pytest.mark.parametrize("number", ["B-1\u00a0", "\u3000B-1"])
    async def test_number_php_trim_keeps_lands(
        self, woo: WooCommerce, emu: WooCommerceEmulator, number: str
    ) -> None:
        """
        A number with a no-break or ideographic space at an end lands as
        it is: wc_clean trims with PHP's trim, which keeps them.
        """
        (outcome,) = await woo.push(
            DataType.ARTICLES, [Outgoing(record=article(number))]
        )

        assert outcome.ok, outcome
        assert [number] == [p["sku"] for p in emu.shop.products.values()]

    @pytest.mark.parametrize(
        ("ean", "variant_ean", "field"),
        [
            ("4006381 333931", None, "ean"),
            ("EAN4006381333931", None, "ean"),
            ("ABC", None, "ean"),
            ("X123", None, "ean"),
            (None, "4006381.333931", "variants.0.ean"),
        ],
    )
    async def test_ean_woocommerce_would_change_fails(
        self,
        woo: WooCommerce,
        emu: WooCommerceEmulator,
        ean: str | None,
        variant_ean: str | None,
        field: str,
    ) -> None:
        """
        An EAN WooCommerce would not keep as it is (it drops every
        character but digits, hyphens and a final X without a word: "ABC"
        becomes no EAN at all) fails by name, unsent.
        """
        variants = (
            ()
            if variant_ean is None
            else (
                Variant(
                    number="A-1-S", options=(("Size", "S"),), ean=variant_ean
                ),
            )
        )
        record = article("A-1", ean=ean, variants=variants)

        (outcome,) = await woo.push(
            DataType.ARTICLES, [Outgoing(record=record)]
        )

        assert not outcome.ok
        assert field == outcome.field
        assert repr(variant_ean or ean) in (outcome.error or "")
        assert not [p for p in emu.shop.products.values() if p["sku"]]

    async def test_ean_lands_as_written_and_leaves_with_the_erp(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        Valid EANs (with hyphens, an ISBN-10's final X) land as written;
        an EAN the ERP no longer has leaves the shop's product too.
        """
        record = article(
            "A-1",
            ean="978-3-16-148410-X",
            variants=(
                Variant(
                    number="A-1-S",
                    options=(("Size", "S"),),
                    ean="4006381333931",
                ),
            ),
        )
        await woo.push(DataType.ARTICLES, [Outgoing(record=record)])
        rows = {p["sku"]: p for p in emu.shop.products.values()}
        assert "978-3-16-148410-X" == rows["A-1"]["global_unique_id"]
        assert "4006381333931" == rows["A-1-S"]["global_unique_id"]

        cleared = attrs.evolve(
            record,
            ean=None,
            variants=(attrs.evolve(record.variants[0], ean=None),),
        )
        (outcome,) = await woo.push(
            DataType.ARTICLES, [Outgoing(record=cleared)]
        )

        assert outcome.ok
        rows = {p["sku"]: p for p in emu.shop.products.values()}
        assert "" == rows["A-1"]["global_unique_id"]
        assert "" == rows["A-1-S"]["global_unique_id"]

    async def test_trailing_space_is_found_again(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        A trailing space, which WooCommerce trims but its lookups ignore,
        lands, and the article's stock finds it.
        """
        await woo.push(DataType.ARTICLES, [Outgoing(record=article("B-1 "))])

        (stock,) = await woo.push(
            DataType.STOCK,
            [Outgoing(record=StockLevel(number="B-1 ", quantity=3))],
        )

        assert stock.ok
        (row,) = [p for p in emu.shop.products.values() if p["sku"]]
        assert ("B-1", 3) == (row["sku"], row["stock_quantity"])

    async def test_sku_of_a_variation_is_refused_for_an_article(
        self, woo: WooCommerce
    ) -> None:
        """
        An article numbered like another product's variation fails.
        """
        shirt = article("A-8", variants=(Variant(number="A-8-S"),))
        await woo.push(DataType.ARTICLES, [Outgoing(record=shirt)])
        (outcome,) = await woo.push(
            DataType.ARTICLES, [Outgoing(record=article("A-8-S"))]
        )

        assert not outcome.ok
        assert "variation" in (outcome.error or "")

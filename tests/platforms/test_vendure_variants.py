"""
The Vendure adapter's variants against a live Vendure server: variant
articles round trip, inactive articles, gross channels, variants added,
dropped, lost and regained, options renamed (issue 12).
"""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from ecomsync import (
    Article,
    DataType,
    Outgoing,
    Variant,
)

from ._vendure_shop import (
    _CountingTransport,
    _gross,
    _variants,
)
from .vendure_server import VendureServer


pytestmark = [pytest.mark.vendure, pytest.mark.anyio]


class TestVariants:
    """
    An article with variants is one product with variants and options.
    """

    async def test_two_variants_round_trip(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        Two ERP variants become one product with two variants, options
        from the ERP options and their own prices; pushing it again sends
        no write, and a changed price updates only that.
        """
        shirt = Article(
            number="SHIRT",
            name="Shirt",
            price=Decimal("19.99"),
            tax_rate=Decimal(0),
            variants=(
                Variant(number="SHIRT-S", options=(("Size", "S"),)),
                Variant(
                    number="SHIRT-M",
                    options=(("Size", "M"),),
                    price=Decimal("21.00"),
                ),
            ),
        )
        transport = _CountingTransport()
        admin = fresh_vendure.admin()
        async with fresh_vendure.platform(transport=transport) as shop:
            (first,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=shirt)]
            )
            before = transport.mutations
            (again,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=shirt)]
            )
            quiet = transport.mutations - before
            dearer = attrs.evolve(
                shirt,
                variants=(
                    shirt.variants[0],
                    attrs.evolve(shirt.variants[1], price=Decimal("22.00")),
                ),
            )
            (third,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=dearer)]
            )
        try:
            variants = await _variants(admin, "SHIRT-S", "SHIRT-M")
        finally:
            await admin.aclose()

        assert first.ok, first
        assert 0 == quiet
        assert first.platform_id == again.platform_id == third.platform_id
        assert [
            ("SHIRT-S", 1999, [("Size", "S")]),
            ("SHIRT-M", 2200, [("Size", "M")]),
        ] == [
            (
                v["sku"],
                v["priceWithTax"],
                [(o["group"]["name"], o["name"]) for o in v["options"]],
            )
            for v in variants
        ]
        assert {first.platform_id} == {v["product"]["id"] for v in variants}

    async def test_a_gross_channel_sends_no_write_again(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        In a channel whose prices include tax Vendure shows a variant's
        ``price`` net (11.90 at 19 % as 1000), which the adapter compared
        with the gross 1190 it writes: every push of the article wrote
        every variant's price again.  Now nothing is written.
        """
        shirt = Article(
            number="G",
            name="Shirt",
            price=Decimal("11.90"),
            variants=(
                Variant(number="G-S", options=(("Size", "S"),)),
                Variant(number="G-M", options=(("Size", "M"),)),
            ),
        )
        transport = _CountingTransport()
        admin = fresh_vendure.admin()
        try:
            await _gross(admin, include=True)
            async with fresh_vendure.platform(transport=transport) as shop:
                (first,) = await shop.push(
                    DataType.ARTICLES, [Outgoing(record=shirt)]
                )
                before = transport.mutations
                (again,) = await shop.push(
                    DataType.ARTICLES, [Outgoing(record=shirt)]
                )
                quiet = transport.mutations - before
            variants = await _variants(admin, "G-S", "G-M")
        finally:
            await _gross(admin, include=False)
            await admin.aclose()

        assert first.ok, first.error
        assert again.ok, again.error
        assert 0 == quiet
        assert [1190, 1190] == [v["priceWithTax"] for v in variants]

    async def test_inactive_disables_and_never_overwrites_active(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        An article deactivated in the ERP disables its product and
        variants (kept for old orders, hidden from the shop); an inactive
        and an active article with one number in a batch both fail and
        leave the shop as it was.
        """
        active = Article(number="Z-1", name="New Z", price=5, tax_rate=0)
        old = Article(
            number="Z-1", name="Old Z", price=4, tax_rate=0, active=False
        )
        admin = fresh_vendure.admin()
        async with fresh_vendure.platform() as shop:
            (made,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=active)]
            )
            both = await shop.push(
                DataType.ARTICLES,
                [Outgoing(record=old), Outgoing(record=active)],
            )
            (kept,) = await _variants(admin, "Z-1")
            (gone,) = await shop.push(
                DataType.ARTICLES,
                [Outgoing(record=attrs.evolve(active, active=False))],
            )
        try:
            (disabled,) = await _variants(admin, "Z-1")
        finally:
            await admin.aclose()

        assert made.ok
        assert [False, False] == [o.ok for o in both]
        assert all("Z-1" in str(o.error) for o in both)
        assert (True, True, "New Z") == (
            kept["enabled"],
            kept["product"]["enabled"],
            kept["product"]["name"],
        )
        assert gone.ok
        assert (False, False) == (
            disabled["enabled"],
            disabled["product"]["enabled"],
        )


class TestVariantChanges:
    """
    Variants follow the ERP: added, removed, options extended.
    """

    async def test_add_and_drop_a_variant(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        A third size adds a variant with a new option of the existing
        group; a size the ERP dropped is removed from the product.
        """
        sizes = {
            size: Variant(number=f"T-{size}", options=(("Size", size),))
            for size in ("S", "M", "L")
        }
        shirt = Article(
            number="T",
            name="Tee",
            price=Decimal("11.90"),
            variants=(sizes["S"], sizes["M"]),
        )
        async with fresh_vendure.platform() as shop:
            (made,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=shirt)]
            )
            (changed,) = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=attrs.evolve(
                            shirt, variants=(sizes["S"], sizes["L"])
                        )
                    )
                ],
            )
        admin = fresh_vendure.admin()
        try:
            variants = await _variants(admin, "T-S", "T-M", "T-L")
        finally:
            await admin.aclose()

        assert made.ok
        assert changed.ok
        assert [("T-S", ["S"]), ("T-L", ["L"])] == [
            (v["sku"], [o["name"] for o in v["options"]]) for v in variants
        ]
        assert {made.platform_id} == {v["product"]["id"] for v in variants}

    async def test_one_variant_keeps_its_options(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        An article left with one variant (the other dropped or moved to
        another article in the ERP) keeps that variant's option, and an
        article made with one variant has its option: the storefront
        shows the size the ERP has.
        """
        tee = Article(
            number="T",
            name="Tee",
            price=Decimal("11.90"),
            variants=(
                Variant(number="T-S", options=(("Size", "S"),)),
                Variant(number="T-M", options=(("Size", "M"),)),
            ),
        )
        polo = Article(
            number="P",
            name="Polo",
            price=Decimal("11.90"),
            variants=(Variant(number="P-XL", options=(("Size", "XL"),)),),
        )
        async with fresh_vendure.platform() as shop:
            (made,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=tee)]
            )
            outcomes = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=attrs.evolve(tee, variants=tee.variants[:1])
                    ),
                    Outgoing(record=polo),
                ],
            )
        admin = fresh_vendure.admin()
        try:
            variants = await _variants(admin, "T-S", "T-M", "P-XL")
        finally:
            await admin.aclose()

        assert made.ok
        assert [True, True] == [o.ok for o in outcomes]
        assert [("T-S", ["S"]), ("P-XL", ["XL"])] == [
            (v["sku"], [o["name"] for o in v["options"]]) for v in variants
        ]

    async def test_renamed_added_and_dropped_options(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        A size renamed in the ERP (S -> Small) and a colour added reach
        the existing variants, and the product offers no option the ERP
        dropped: the old value and a group the article no longer has
        leave it.
        """

        def shirt(
            *variants: tuple[str, tuple[tuple[str, str], ...]],
        ) -> Article:
            return Article(
                number="O",
                name="Tee",
                price=Decimal("11.90"),
                variants=tuple(
                    Variant(number=n, options=o) for n, o in variants
                ),
            )

        steps = [
            shirt(("O-1", (("Size", "S"),)), ("O-2", (("Size", "M"),))),
            shirt(
                ("O-1", (("Size", "Small"), ("Colour", "Red"))),
                ("O-2", (("Size", "M"), ("Colour", "Red"))),
            ),
            shirt(
                ("O-1", (("Colour", "Red"),)), ("O-2", (("Colour", "Blue"),))
            ),
        ]
        seen = []
        async with fresh_vendure.platform() as shop:
            for step in steps:
                (outcome,) = await shop.push(
                    DataType.ARTICLES, [Outgoing(record=step)]
                )
                assert outcome.ok, outcome.error
                admin = fresh_vendure.admin()
                try:
                    variants = await _variants(admin, "O-1", "O-2")
                    data = await admin.gql(
                        "query ($id: ID!) { product(id: $id) { optionGroups"
                        " { name options { name } } } }",
                        {"id": outcome.platform_id},
                    )
                finally:
                    await admin.aclose()
                seen.append(
                    (
                        {
                            v["sku"]: sorted(o["name"] for o in v["options"])
                            for v in variants
                        },
                        {
                            g["name"]: sorted(o["name"] for o in g["options"])
                            for g in data["product"]["optionGroups"]
                        },
                    )
                )

        assert [
            (
                {"O-1": ["S"], "O-2": ["M"]},
                {"Size": ["M", "S"]},
            ),
            (
                {"O-1": ["Red", "Small"], "O-2": ["M", "Red"]},
                {"Size": ["M", "Small"], "Colour": ["Red"]},
            ),
            (
                {"O-1": ["Red"], "O-2": ["Blue"]},
                {"Colour": ["Blue", "Red"]},
            ),
        ] == seen

    @pytest.mark.parametrize("store", ["kept", "lost"])
    async def test_losing_and_regaining_variants(
        self, fresh_vendure: VendureServer, store: str
    ) -> None:
        """
        An article that loses its variants stays its product, now with
        one variant with the article number as SKU and no option groups
        (Vendure refuses a variant without options on a product that has
        groups); with variants again it gets them back; no second
        product holds the old variants, also when the state store was
        lost between the pushes (found by its slug).
        """
        shirt = Article(
            number="L",
            name="Longsleeve",
            price=Decimal("21.00"),
            variants=(
                Variant(number="L-S", options=(("Size", "S"),)),
                Variant(number="L-M", options=(("Size", "M"),)),
            ),
        )
        plain = attrs.evolve(shirt, variants=())
        seen = []
        products = set()
        linked = None
        async with fresh_vendure.platform() as shop:
            for step in (shirt, plain, shirt):
                # with the product id the store links the article to, as
                # the engine sends it
                (outcome,) = await shop.push(
                    DataType.ARTICLES,
                    [Outgoing(record=step, platform_id=linked)],
                )
                assert outcome.ok, outcome.error
                linked = outcome.platform_id if store == "kept" else None
                products.add(outcome.platform_id)
                admin = fresh_vendure.admin()
                try:
                    variants = await _variants(admin, "L", "L-S", "L-M")
                    data = await admin.gql(
                        "query ($id: ID!) { product(id: $id) { optionGroups"
                        " { name } } }",
                        {"id": outcome.platform_id},
                    )
                finally:
                    await admin.aclose()
                seen.append(
                    (
                        sorted(v["sku"] for v in variants),
                        [g["name"] for g in data["product"]["optionGroups"]],
                    )
                )

        assert [
            (["L-M", "L-S"], ["Size"]),
            (["L"], []),
            (["L-M", "L-S"], ["Size"]),
        ] == seen
        assert 1 == len(products)

    async def test_lost_variants_and_new_name_after_a_lost_store(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        After the state store was lost, an article that lost its variants
        and was renamed in the same change keeps its product, found by its
        slug with variants whose SKUs extend its number ("R-1-S" of
        "R-1"): one product, the old variants gone (a second product was
        made and the old one stayed in the shop with them).
        """
        shirt = Article(
            number="R-1",
            name="Rugby shirt",
            price=Decimal("30.00"),
            variants=(
                Variant(number="R-1-S", options=(("Size", "S"),)),
                Variant(number="R-1-M", options=(("Size", "M"),)),
            ),
        )
        renamed = attrs.evolve(shirt, name="Rugby shirt, plain", variants=())
        async with fresh_vendure.platform() as shop:
            (one,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=shirt)]
            )
            # the store was lost: no product id comes with the article
            (two,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=renamed)]
            )
        admin = fresh_vendure.admin()
        try:
            variants = await _variants(admin, "R-1", "R-1-S", "R-1-M")
        finally:
            await admin.aclose()

        assert one.ok, one.error
        assert two.ok, two.error
        assert one.platform_id == two.platform_id
        assert [("R-1", one.platform_id, "Rugby shirt, plain")] == [
            (v["sku"], v["product"]["id"], v["product"]["name"])
            for v in variants
        ]

    async def test_a_number_slugified_alike_later_takes_no_product(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        An article whose number slugifies like another's ("T 1" after
        "T-1"), pushed later with none of its SKUs in the shop, does not
        take the other's product by its slug: the other keeps its
        variants.
        """
        first = Article(
            number="T-1",
            name="Tasse",
            price=Decimal("8.00"),
            variants=(
                Variant(number="T-1-R", options=(("Colour", "Red"),)),
                Variant(number="T-1-B", options=(("Colour", "Blue"),)),
            ),
        )
        later = Article(number="T 1", name="Teller", price=Decimal("5.00"))
        async with fresh_vendure.platform() as shop:
            (one,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=first)]
            )
            (two,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=later)]
            )
        admin = fresh_vendure.admin()
        try:
            variants = await _variants(admin, "T-1-R", "T-1-B")
        finally:
            await admin.aclose()

        assert one.ok, one.error
        assert two.platform_id != one.platform_id
        assert ["T-1-B", "T-1-R"] == sorted(v["sku"] for v in variants)
        assert {one.platform_id} == {v["product"]["id"] for v in variants}

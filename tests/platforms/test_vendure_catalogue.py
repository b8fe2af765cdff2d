"""
The Vendure adapter on merchant data, against a live Vendure server:
variants, inactive articles, duplicate SKUs, invalid values, stock
locations and category cycles (issue 12).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest

from ecomsync import (
    Article,
    Category,
    DataType,
    Outgoing,
    StockLevel,
    Variant,
)
from ecomsync.exceptions import ConfigurationError
from ecomsync.platforms.vendure._catalog import slugify

from ._vendure_shop import _VALUES, _CountingTransport
from .vendure_server import VendureAdmin, VendureServer


pytestmark = [pytest.mark.vendure, pytest.mark.anyio]


async def _raw_variant(admin: VendureAdmin, sku: str, name: str) -> str:
    """
    A product with one variant of *sku* made behind the adapter's back
    (Vendure lets a SKU exist twice); returns the product id.
    """
    taxes = await admin.gql("{ taxCategories { items { id } } }")
    product = await admin.gql(
        "mutation ($i: CreateProductInput!) { createProduct(input: $i)"
        " { id } }",
        {
            "i": {
                "translations": [
                    {
                        "languageCode": "en",
                        "name": name,
                        "slug": slugify(name),
                        "description": "",
                    }
                ]
            }
        },
    )
    pid = str(product["createProduct"]["id"])
    await admin.gql(
        "mutation ($i: [CreateProductVariantInput!]!) "
        "{ createProductVariants(input: $i) { id } }",
        {
            "i": [
                {
                    "productId": pid,
                    "sku": sku,
                    "price": 100,
                    "taxCategoryId": taxes["taxCategories"]["items"][0]["id"],
                    "translations": [{"languageCode": "en", "name": name}],
                }
            ]
        },
    )
    return pid


async def _variants(admin: VendureAdmin, *skus: str) -> list[dict[str, Any]]:
    data = await admin.gql(
        "query ($s: [String!]!) { productVariants(options: { filter: "
        "{ sku: { in: $s } }, sort: { id: ASC } }) { items { id sku enabled"
        " priceWithTax options { code name group { name } }"
        " product { id enabled name }"
        " stockLevels { stockLocation { name } stockOnHand } } } }",
        {"s": list(skus)},
    )
    items: list[dict[str, Any]] = data["productVariants"]["items"]
    return items


async def _gross(admin: VendureAdmin, *, include: bool) -> None:
    """
    Let the default channel's prices include tax, or not (through the
    API, so Vendure's channel cache follows).
    """
    await admin.gql(
        "mutation ($i: UpdateChannelInput!) { updateChannel(input: $i) "
        "{ __typename } }",
        {"i": {"id": "1", "pricesIncludeTax": include}},
    )


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


class TestDuplicateSkus:
    """
    Vendure does not keep SKUs unique: every ambiguity fails by name.
    """

    async def test_sku_on_two_variants_fails_and_adds_nothing(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        An SKU held by two Vendure variants fails the article and its
        stock naming both variants and products, run after run, without
        creating anything.
        """
        admin = fresh_vendure.admin()
        try:
            one = await _raw_variant(admin, "D-1", "Dup One")
            two = await _raw_variant(admin, "D-1", "Dup Two")
            async with fresh_vendure.platform() as shop:
                runs = [
                    await shop.push(
                        DataType.ARTICLES,
                        [
                            Outgoing(
                                record=Article(number="D-1", name="D", price=1)
                            ),
                            Outgoing(
                                record=Article(
                                    number="OK-1", name="Fine", price=1
                                )
                            ),
                        ],
                    )
                    for _ in range(2)
                ]
                (stock,) = await shop.push(
                    DataType.STOCK,
                    [Outgoing(record=StockLevel(number="D-1", quantity=3))],
                )
            after = await _variants(admin, "D-1")
        finally:
            await admin.aclose()

        for dup, fine in runs:
            assert fine.ok
            assert "number" == dup.field
            assert f"product {one}" in str(dup.error)
            assert f"product {two}" in str(dup.error)
        assert not stock.ok
        assert f"product {two}" in str(stock.error)
        assert 2 == len(after)

    async def test_variant_sku_on_another_product_is_not_repeated(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        Once a variant's SKU also sits on another product, the
        multi-variant article fails naming that product, and runs after
        that add no variant.
        """
        admin = fresh_vendure.admin()
        cap = Article(
            number="CAP",
            name="Cap",
            price=9,
            variants=(
                Variant(number="CAP-S", options=(("Size", "S"),)),
                Variant(number="CAP-M", options=(("Size", "M"),)),
            ),
        )
        try:
            async with fresh_vendure.platform() as shop:
                (made,) = await shop.push(
                    DataType.ARTICLES, [Outgoing(record=cap)]
                )
                other = await _raw_variant(admin, "CAP-M", "Someone else")
                first = await shop.push(
                    DataType.ARTICLES, [Outgoing(record=cap)]
                )
                second = await shop.push(
                    DataType.ARTICLES, [Outgoing(record=cap)]
                )
            after = await _variants(admin, "CAP-S", "CAP-M")
        finally:
            await admin.aclose()

        assert made.ok
        assert not first[0].ok
        assert first == second
        assert f"product {other}" in str(first[0].error)
        assert f"product {made.platform_id}" in str(first[0].error)
        assert [
            ("CAP-S", made.platform_id),
            ("CAP-M", made.platform_id),
            ("CAP-M", other),
        ] == [(v["sku"], v["product"]["id"]) for v in after]

    async def test_skus_on_two_products_fail_by_name(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        An article whose variants' SKUs sit on two different products
        fails on ``variants`` naming both, and nothing is created.
        """
        admin = fresh_vendure.admin()
        article = Article(
            number="TWO",
            name="Two",
            price=1,
            variants=(Variant(number="TWO-S"), Variant(number="TWO-M")),
        )
        try:
            small = await _raw_variant(admin, "TWO-S", "Small")
            medium = await _raw_variant(admin, "TWO-M", "Medium")
            async with fresh_vendure.platform() as shop:
                (outcome,) = await shop.push(
                    DataType.ARTICLES, [Outgoing(record=article)]
                )
            after = await _variants(admin, "TWO-S", "TWO-M")
        finally:
            await admin.aclose()

        assert "variants" == outcome.field
        assert f"product {small}" in str(outcome.error)
        assert f"product {medium}" in str(outcome.error)
        assert 2 == len(after)

    async def test_same_sku_twice_in_a_batch_fails_both(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        A variant numbered like another article of the batch fails both,
        each naming the other, and neither reaches the shop.
        """
        async with fresh_vendure.platform() as shop:
            outcomes = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(record=Article(number="K-1", name="K", price=1)),
                    Outgoing(
                        record=Article(
                            number="K",
                            name="Kit",
                            price=1,
                            variants=(
                                Variant(number="K-1"),
                                Variant(number="K-2"),
                            ),
                        )
                    ),
                ],
            )
        admin = fresh_vendure.admin()
        try:
            after = await _variants(admin, "K-1", "K-2")
        finally:
            await admin.aclose()

        assert [("number", "K"), ("variants.0.number", "K-1")] == [
            (o.field, str(o.error).split("article ")[1].split(" ")[0])
            for o in outcomes
        ]
        assert [] == after


class TestBadValues:
    """
    Values Vendure cannot hold fail their record, naming the field.
    """

    async def test_nan_infinity_and_negative(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        NaN and infinite prices, a gross price the net-price channel
        cannot show exactly, NaN and fractional stock fail alone with the
        field; the good records of the batch go through.  Negative stock
        is written as 0 and fails on quantity; with allow_backorders it
        is written as it is.
        """
        async with fresh_vendure.platform() as shop:
            articles = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=Article(
                            number="N-1", name="N", price=Decimal("NaN")
                        )
                    ),
                    Outgoing(
                        record=Article(
                            number="N-2",
                            name="N",
                            price=1,
                            variants=(
                                Variant(number="N-2a"),
                                Variant(
                                    number="N-2b", price=Decimal("Infinity")
                                ),
                            ),
                        )
                    ),
                    Outgoing(record=Article(number="N-3", name="N", price=1)),
                    Outgoing(
                        record=Article(
                            number="N-4", name="N", price=Decimal("9.99")
                        )
                    ),
                ],
            )
            stock = await shop.push(
                DataType.STOCK,
                [
                    Outgoing(record=StockLevel(number="N-3", quantity=q))
                    for q in (float("nan"), 1.5, 7)  # type: ignore[arg-type]
                ],
            )
            (negative,) = await shop.push(
                DataType.STOCK,
                [Outgoing(record=StockLevel(number="N-3", quantity=-2))],
            )
        async with fresh_vendure.platform(allow_backorders=True) as backorders:
            (oversold,) = await backorders.push(
                DataType.STOCK,
                [Outgoing(record=StockLevel(number="N-3", quantity=-2))],
            )
        admin = fresh_vendure.admin()
        try:
            (n3,) = await _variants(admin, "N-3")
        finally:
            await admin.aclose()

        assert [("price", False), ("variants.1.price", False)] == [
            (o.field, o.ok) for o in articles[:2]
        ]
        assert articles[2].ok
        # a net-price channel cannot show 9.99 with 19 % tax: 8.39 gives
        # 9.98, 8.40 gives 10.00, so the article fails instead of landing
        # a cent off
        assert "price" == articles[3].field
        assert ["quantity"] * 2 == [o.field for o in stock[:2]]
        assert stock[2].ok
        assert "quantity" == negative.field
        assert (
            "quantity -2 of 'N-3' is negative: its stock in Vendure was set "
            "to 0, so the shop does not sell it; "
            "Vendure(allow_backorders=True) writes negative stock"
        ) == str(negative.error)
        assert oversold.ok
        assert [-2] == [s["stockOnHand"] for s in n3["stockLevels"]]


class TestChannelMismatches:
    """
    What the channel cannot take fails on the field that says why.
    """

    async def test_currency_tax_category_and_record_type(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        Another currency, a tax rate the channel has no category for, an
        unknown category and a record of the wrong type each fail alone.
        """
        async with fresh_vendure.platform() as shop:
            articles = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(
                        record=Article(
                            number="M-1", name="M", price=1, currency="USD"
                        )
                    ),
                    Outgoing(
                        record=Article(
                            number="M-2", name="M", price=1, tax_rate=5
                        )
                    ),
                    Outgoing(
                        record=Article(
                            number="M-3", name="M", price=1, categories=("X",)
                        )
                    ),
                    Outgoing(record=StockLevel(number="M-4", quantity=1)),
                ],
            )
            (stock,) = await shop.push(
                DataType.STOCK,
                [Outgoing(record=Article(number="M-5", name="M", price=1))],
            )

        assert ["currency", "tax_rate", "categories", None] == [
            o.field for o in articles
        ]
        assert not any(o.ok for o in articles)
        assert "not an article" == articles[3].error
        assert "not a stock level" == stock.error


class TestStockLocations:
    """
    ERP warehouses map to Vendure stock locations, or are summed.
    """

    async def test_mapping_summing_and_missing_locations(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        Without a mapping two warehouses are summed at the default
        location; with one each goes to its location and an unmapped one
        fails on ``warehouse``; a mapping to a location Vendure lacks is
        a ConfigurationError before anything is written.
        """
        admin = fresh_vendure.admin()
        await admin.gql(
            "mutation { createStockLocation(input: "
            '{ name: "North", description: "" }) { id } }'
        )
        levels = [
            Outgoing(record=StockLevel(number="W-1", quantity=3, warehouse=w))
            for w in ("WH1", "WH2")
        ]
        try:
            async with fresh_vendure.platform() as shop:
                (made,) = await shop.push(
                    DataType.ARTICLES,
                    [
                        Outgoing(
                            record=Article(number="W-1", name="W", price=1)
                        )
                    ],
                )
                summed = await shop.push(DataType.STOCK, levels)
                (one,) = await _variants(admin, "W-1")
            async with fresh_vendure.platform(
                stock_locations={
                    "WH1": "Default Stock Location",
                    "WH2": "North",
                }
            ) as mapped:
                split = await mapped.push(
                    DataType.STOCK,
                    [
                        levels[0],
                        Outgoing(
                            record=StockLevel(
                                number="W-1", quantity=5, warehouse="WH2"
                            )
                        ),
                        Outgoing(
                            record=StockLevel(
                                number="W-1", quantity=1, warehouse="WH9"
                            )
                        ),
                    ],
                )
                (two,) = await _variants(admin, "W-1")
            async with fresh_vendure.platform(
                stock_locations={"WH1": "Nowhere"}
            ) as wrong:
                with pytest.raises(ConfigurationError) as caught:
                    await wrong.push(DataType.STOCK, levels)
        finally:
            await admin.aclose()

        def where(variant: dict[str, Any]) -> dict[str, int]:
            return {
                s["stockLocation"]["name"]: s["stockOnHand"]
                for s in variant["stockLevels"]
            }

        assert made.ok
        assert [True, True] == [o.ok for o in summed]
        assert 6 == where(one)["Default Stock Location"]
        assert [True, True, False] == [o.ok for o in split]
        assert "warehouse" == split[2].field
        assert {"Default Stock Location": 3, "North": 5} == where(two)
        assert "'Nowhere'" in str(caught.value)


class TestCategories:
    """
    Categories go parents first; what cannot be ordered fails by name.
    """

    async def test_cycle_fails_by_name_and_writes_nothing(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        Two categories that are each other's parent fail on ``parent``
        naming the cycle and get no facet value; the rest of the batch is
        written.
        """
        async with fresh_vendure.platform() as shop:
            outcomes = await shop.push(
                DataType.CATEGORIES,
                [
                    Outgoing(
                        record=Category(number="C1", name="A", parent="C2")
                    ),
                    Outgoing(
                        record=Category(number="C2", name="B", parent="C1")
                    ),
                    Outgoing(record=Category(number="C3", name="C")),
                    Outgoing(
                        record=Category(number="C4", name="D", parent="C3")
                    ),
                ],
            )
        admin = fresh_vendure.admin()
        try:
            data = await admin.gql(_VALUES)
        finally:
            await admin.aclose()
        codes = {
            v["code"] for f in data["facets"]["items"] for v in f["values"]
        }

        assert [False, False, True, True] == [o.ok for o in outcomes]
        assert ["parent", "parent"] == [o.field for o in outcomes[:2]]
        assert all(
            "C1" in str(o.error) and "C2" in str(o.error) for o in outcomes[:2]
        )
        assert {"C3", "C4"} == codes

    async def test_rename_deactivate_and_move(
        self, fresh_vendure: VendureServer
    ) -> None:
        """
        A renamed, deactivated category moved under another parent keeps
        its collection: new name, private, new parent; the old and new
        parents' filters follow.
        """
        tree = [
            Category(number="P1", name="Parent one"),
            Category(number="P2", name="Parent two"),
            Category(number="K", name="Kid", parent="P1"),
        ]
        moved = attrs.evolve(tree[2], name="Kind", parent="P2", active=False)
        async with fresh_vendure.platform() as shop:
            first = await shop.push(
                DataType.CATEGORIES, [Outgoing(record=c) for c in tree]
            )
            (second,) = await shop.push(
                DataType.CATEGORIES, [Outgoing(record=moved)]
            )
        admin = fresh_vendure.admin()
        try:
            data = await admin.gql(
                "{ collections(options: { take: 100 }) { items { id name "
                "isPrivate parent { name } } } }"
            )
        finally:
            await admin.aclose()
        by_name = {c["name"]: c for c in data["collections"]["items"]}

        assert all(o.ok for o in first)
        assert second.ok
        assert "Kid" not in by_name
        assert (True, "Parent two") == (
            by_name["Kind"]["isPrivate"],
            by_name["Kind"]["parent"]["name"],
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

"""
The Vendure adapter on merchant data, against a live Vendure server:
duplicate SKUs, invalid values, channel mismatches, stock locations and
category cycles (issue 12); variants are test_vendure_variants.
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
from ecomsync.platforms.vendure import _pages

from ._vendure_shop import (
    _VALUES,
    _raw_variant,
    _variants,
)
from .vendure_server import VendureServer


pytestmark = [pytest.mark.vendure, pytest.mark.anyio]


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


class TestPagedLookups:
    """
    The look-ups before a push read the whole list one page at a time by
    the last row read (the Admin API's own createdAt filter and sort).
    """

    async def test_pages_of_one_repeat_no_category_and_find_each_sku(
        self, fresh_vendure: VendureServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Read one row a page, a second push of three categories makes no
        facet value or collection again and finds each SKU's variant."""
        cats = [
            Outgoing(record=Category(number=f"K{i}", name=f"K{i}"))
            for i in range(1, 4)
        ]
        arts = [
            Outgoing(record=Article(number=f"PK-{i}", name="P", price=1))
            for i in range(1, 4)
        ]
        async with fresh_vendure.platform() as shop:
            assert all(
                o.ok for o in await shop.push(DataType.CATEGORIES, cats)
            )
            assert all(o.ok for o in await shop.push(DataType.ARTICLES, arts))
        monkeypatch.setattr(_pages, "TAKE", 1)
        async with fresh_vendure.platform() as shop:
            again = await shop.push(DataType.CATEGORIES, cats)
            stock = await shop.push(
                DataType.STOCK,
                [
                    Outgoing(record=StockLevel(number=f"PK-{i}", quantity=i))
                    for i in range(1, 4)
                ],
            )
        admin = fresh_vendure.admin()
        try:
            values = await admin.gql(_VALUES)
            made = await admin.gql(
                "{ collections(options: { take: 1000 }) { items { name } } }"
            )
        finally:
            await admin.aclose()

        assert [None] * 6 == [o.error for o in again + stock]
        codes = [
            v["code"] for f in values["facets"]["items"] for v in f["values"]
        ]
        assert ["K1", "K2", "K3"] == sorted(codes)
        names = [c["name"] for c in made["collections"]["items"]]
        assert ["K1", "K2", "K3"] == sorted(n for n in names if n[0] == "K")

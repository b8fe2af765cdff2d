"""
What reaches a Shopware 6 shop from merchant data as it really is: every
record lands exactly as the ERP has it or fails on its own, naming the
record, the field and the reason.  Never "first wins", never a silent
overwrite (issue 12 on the Shopware adapter).  Product numbers, variant
changes and currencies have their own files (test_shopware6_product_numbers,
test_shopware6_variants_change, test_shopware6_currency).
"""

from __future__ import annotations

import math
from decimal import Decimal

import attrs
import pytest

from ecomsync import (
    Category,
    DataType,
    OrderState,
    OrderStatus,
    StockLevel,
    Variant,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.testing._platform_contract import CATEGORIES, article
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._retries import fast_retries
from ._shopware6_data import (
    _numbers,
    _push,
    _seeded,
    _shop,
    _syncs,
    attrs_evolve,
    data_emu,
    data_shop,
)


pytestmark = pytest.mark.anyio


_fast_retries = fast_retries(3)

_emu = data_emu
_shop_fixture = data_shop


class TestIsolation:
    @pytest.mark.parametrize("bad", [0, 1, 37, 63, 98, 99])
    async def test_one_offender_without_pointer(
        self, emu: ShopwareEmulator, bad: int
    ) -> None:
        """
        A missing foreign key (a database error, no pointer) in a batch of
        100 is isolated within ceil(log2 100) + 1 extra sync requests and
        fails on its parent; the other 99 land.
        """
        shop = _shop(emu)
        records = [
            Category(number=f"K-{i:03d}", name=f"K {i}") for i in range(100)
        ]
        records[bad] = Category(number=f"K-{bad:03d}", name="x", parent="NO")
        before = _syncs(emu)

        outcomes = await _push(shop, DataType.CATEGORIES, *records)
        await shop.aclose()

        assert [i for i, o in enumerate(outcomes) if not o.ok] == [bad]
        assert "parent category 'NO' does not exist in Shopware" == (
            outcomes[bad].error
        )
        assert "parent" == outcomes[bad].field
        assert 99 == len(emu.entities["category"]) - _seeded()
        extra = _syncs(emu) - before - 1
        assert extra <= math.ceil(math.log2(100)) + 1

    async def test_two_offenders_and_their_children(
        self, emu: ShopwareEmulator
    ) -> None:
        """
        Two offenders without pointers both fail, and so does a child of
        one (its parent never landed); everything else lands.
        """
        shop = _shop(emu)
        records = [
            Category(number=f"K-{i:03d}", name=f"K {i}") for i in range(40)
        ]
        for bad in (3, 30):
            records[bad] = Category(
                number=f"K-{bad:03d}", name="x", parent="NO"
            )
        records[35] = Category(number="K-035", name="child", parent="K-030")

        outcomes = await _push(shop, DataType.CATEGORIES, *records)
        await shop.aclose()

        assert [i for i, o in enumerate(outcomes) if not o.ok] == [3, 30, 35]
        assert 37 == len(emu.entities["category"]) - _seeded()


class TestValues:
    @pytest.mark.parametrize(
        ("price", "words"),
        [
            (Decimal("Infinity"), "price is infinite"),
            (Decimal("-Infinity"), "price is infinite"),
            (Decimal("NaN"), "price is not a number"),
            (Decimal("1e400"), "price 1E+400 is above"),
        ],
    )
    async def test_unusable_price_fails_by_name(
        self,
        shop: Shopware6,
        emu: ShopwareEmulator,
        price: Decimal,
        words: str,
    ) -> None:
        """
        A price the shop cannot hold fails its record; no crash, the rest
        lands.
        """
        bad = attrs_evolve(article("A-1"), price=price)

        outcomes = await _push(shop, DataType.ARTICLES, bad, article("A-2"))

        assert [False, True] == [o.ok for o in outcomes]
        assert "price" == outcomes[0].field
        assert words in (outcomes[0].error or "")
        assert "A-1" not in _numbers(emu)

    async def test_infinite_variant_price(self, shop: Shopware6) -> None:
        """
        A variant's price is checked too, named by its path.
        """
        bad = article(
            "S-1",
            variants=(
                attrs_evolve(
                    Variant(number="S-1-A", options=(("C", "r"),)),
                    price=Decimal("Infinity"),
                ),
            ),
        )

        (outcome,) = await _push(shop, DataType.ARTICLES, bad)

        assert "variants.0.price" == outcome.field

    @pytest.mark.parametrize(
        ("variant", "field"),
        [("S-1-A", "number"), ("V" * 65, "variants.0.number")],
    )
    async def test_number_longer_than_shopware_takes(
        self, shop: Shopware6, emu: ShopwareEmulator, variant: str, field: str
    ) -> None:
        """
        A product number over Shopware's 64 characters fails before any
        write, naming the article's or the variant's number (Shopware's
        own error says only ``productNumber``); 64 characters land.
        """
        number = "L" * 64 if field != "number" else "L" * 65
        bad = article(
            number, variants=(Variant(number=variant, options=(("C", "r"),)),)
        )
        syncs = _syncs(emu)

        bad_outcome, good = await _push(
            shop, DataType.ARTICLES, bad, article("A-2")
        )

        assert (False, field) == (bad_outcome.ok, bad_outcome.field)
        assert "at most 64" in (bad_outcome.error or "")
        assert good.ok
        assert number not in _numbers(emu)
        assert 1 == _syncs(emu) - syncs
        fits = article("L" * 64)
        assert all(o.ok for o in await _push(shop, DataType.ARTICLES, fits))

    async def test_translated_field_is_named_as_the_record_has_it(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        A name Shopware refuses (too long) fails on ``name``, not on the
        translation pointer Shopware reports it at; the rest lands.
        """
        outcomes = await _push(
            shop,
            DataType.ARTICLES,
            attrs_evolve(article("A-1"), name="N" * 256),
            article("A-2"),
        )

        assert [False, True] == [o.ok for o in outcomes]
        assert "name" == outcomes[0].field
        assert "255 characters" in (outcomes[0].error or "")
        assert ["A-2"] == list(_numbers(emu))


class TestStock:
    async def test_negative_stock_is_zeroed_and_reported(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Negative stock sets the product to 0 (not its last figure) and
        fails with a message saying how to allow it.
        """
        await _push(shop, DataType.ARTICLES, article("A-1"), article("A-2"))
        await _push(shop, DataType.STOCK, StockLevel(number="A-1", quantity=7))

        outcomes = await _push(
            shop,
            DataType.STOCK,
            StockLevel(number="A-1", quantity=-3),
            StockLevel(number="A-2", quantity=4),
        )

        assert [False, True] == [o.ok for o in outcomes]
        assert "quantity" == outcomes[0].field
        assert (
            "quantity -3 of 'A-1' is negative: its stock in Shopware 6 was "
            "set to 0, so the shop does not sell it; "
            "Shopware6(allow_backorders=True) writes negative stock"
        ) == outcomes[0].error
        assert 0 == _numbers(emu)["A-1"]["stock"]
        assert 4 == _numbers(emu)["A-2"]["stock"]

    async def test_negative_stock_with_backorders(
        self, emu: ShopwareEmulator
    ) -> None:
        """
        A host that sells beyond what is on hand gets negative stock
        written.
        """
        shop = _shop(emu, allow_backorders=True)
        await _push(shop, DataType.CATEGORIES, *CATEGORIES)
        await _push(shop, DataType.ARTICLES, article("A-1"))

        (outcome,) = await _push(
            shop, DataType.STOCK, StockLevel(number="A-1", quantity=-3)
        )
        await shop.aclose()

        assert outcome.ok
        assert -3 == _numbers(emu)["A-1"]["stock"]

    async def test_two_warehouses_fail_both(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Shopware holds one stock per product: two levels for one article
        fail both, never "the last one wins".
        """
        await _push(shop, DataType.ARTICLES, article("A-1"))

        outcomes = await _push(
            shop,
            DataType.STOCK,
            StockLevel(number="A-1", quantity=5, warehouse="WH1"),
            StockLevel(number="A-1", quantity=3, warehouse="WH2"),
        )

        assert [False, False] == [o.ok for o in outcomes]
        assert "'WH1'" in (outcomes[1].error or "")
        assert "'WH2'" in (outcomes[0].error or "")
        assert 0 == _numbers(emu)["A-1"]["stock"]


class TestCategoriesAndStatuses:
    async def test_category_twice_fails_both(
        self, emu: ShopwareEmulator
    ) -> None:
        """
        Two different categories with one number: neither is written.
        """
        shop = _shop(emu)

        outcomes = await _push(
            shop,
            DataType.CATEGORIES,
            Category(number="K-1", name="Tools"),
            Category(number="K-1", name="Garden"),
            Category(number="K-2", name="Other"),
        )
        await shop.aclose()

        assert [False, False, True] == [o.ok for o in outcomes]
        assert 1 == len(emu.entities["category"]) - _seeded()

    async def test_category_cycle(self, emu: ShopwareEmulator) -> None:
        """
        Categories on a cycle fail, naming it; the rest lands.
        """
        shop = _shop(emu)

        outcomes = await _push(
            shop,
            DataType.CATEGORIES,
            Category(number="K-1", name="A", parent="K-2"),
            Category(number="K-2", name="B", parent="K-1"),
            Category(number="K-3", name="C"),
        )
        await shop.aclose()

        assert [False, False, True] == [o.ok for o in outcomes]
        assert "cycle" in (outcomes[0].error or "")
        assert "parent" == outcomes[0].field

    async def test_missing_parent_fails_on_parent(
        self, emu: ShopwareEmulator
    ) -> None:
        """
        A category whose parent Shopware lacks fails on parent, saying so,
        not with the database error Shopware answers; a child of a parent
        the shop holds, and one whose parent is in the push, land.
        """
        shop = _shop(emu)
        await _push(
            shop, DataType.CATEGORIES, Category(number="K-1", name="A")
        )

        outcomes = await _push(
            shop,
            DataType.CATEGORIES,
            Category(number="K-9", name="orphan", parent="K-404"),
            Category(number="K-2", name="B", parent="K-1"),
            Category(number="K-3", name="C"),
            Category(number="K-4", name="D", parent="K-3"),
        )
        await shop.aclose()

        assert [False, True, True, True] == [o.ok for o in outcomes]
        assert "parent" == outcomes[0].field
        assert "parent category 'K-404' does not exist in Shopware" == (
            outcomes[0].error
        )

    async def test_status_twice_fails_both(self, shop: Shopware6) -> None:
        """
        Two different statuses for one order in one push: neither is
        applied.
        """
        outcomes = await _push(
            shop,
            DataType.ORDER_STATUS,
            OrderStatus(number="10001", state=OrderState.SHIPPED),
            OrderStatus(number="10001", state=OrderState.CANCELLED),
        )

        assert [False, False] == [o.ok for o in outcomes]
        assert "one status at a time" in (outcomes[0].error or "")


class TestTaxRates:
    async def test_a_rate_shopware_cannot_hold_fails(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Shopware keeps tax rates to two decimals: an article at 7.125 %
        fails on tax_rate naming the rate (the shop would tax it at
        7.13 %), nothing of it is written; 7, 19.00 and 0 land.
        """
        odd = attrs.evolve(article("A-1"), tax_rate=Decimal("7.125"))
        rates = ("7", "19.00", "0")
        fine = [
            attrs.evolve(article(f"A-{n}"), tax_rate=Decimal(r))
            for n, r in enumerate(rates, 2)
        ]

        bad, *good = await _push(shop, DataType.ARTICLES, odd, *fine)

        assert (False, "tax_rate") == (bad.ok, bad.field)
        assert "7.125" in (bad.error or "")
        assert "two decimals" in (bad.error or "")
        assert all(o.ok for o in good), good
        taxes = emu.entities["tax"]
        held = {
            n: Decimal(str(taxes[p["taxId"]]["taxRate"]))
            for n, p in _numbers(emu).items()
        }
        assert {"A-2": 7, "A-3": 19, "A-4": 0} == held

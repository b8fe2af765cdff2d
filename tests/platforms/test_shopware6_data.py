"""
What reaches a Shopware 6 shop from merchant data as it really is: every
record lands exactly as the ERP has it or fails on its own, naming the
record, the field and the reason.  Never "first wins", never a silent
overwrite (issue 12 on the Shopware adapter).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import attrs
import httpx
import pytest

from ecomsync import (
    Category,
    DataType,
    OrderState,
    OrderStatus,
    Outcome,
    Outgoing,
    StockLevel,
    Variant,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._claims import ShopCurrency, collate
from ecomsync.platforms.shopware6._mapping import product_id
from ecomsync.testing._platform_contract import CATEGORIES, article
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._retries import fast_retries


pytestmark = pytest.mark.anyio

SECRET = "data-secret"


_fast_retries = fast_retries(3)


@pytest.fixture(name="emu")
def _emu() -> ShopwareEmulator:
    return ShopwareEmulator(client_id="SWIADATA", client_secret=SECRET)


def _shop(emu: ShopwareEmulator, **kwargs: Any) -> Shopware6:
    return Shopware6(
        "http://shop.test",
        emu.client_id,
        SECRET,
        transport=httpx.ASGITransport(app=emu.app),
        **kwargs,
    )


@pytest.fixture(name="shop")
async def _shop_fixture(emu: ShopwareEmulator) -> AsyncIterator[Shopware6]:
    shop = _shop(emu)
    outcomes = await shop.push(
        DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
    )
    assert all(o.ok for o in outcomes)
    yield shop
    await shop.aclose()


def _numbers(emu: ShopwareEmulator) -> dict[str, dict[str, Any]]:
    return {p["productNumber"]: p for p in emu.entities["product"].values()}


def _syncs(emu: ShopwareEmulator) -> int:
    return sum(1 for r in emu.requests if r.path == "/api/_action/sync")


async def _push(
    shop: Shopware6, data_type: DataType, *records: Any
) -> list[Outcome]:
    return await shop.push(data_type, [Outgoing(record=r) for r in records])


class TestCollate:
    @pytest.mark.parametrize(
        ("a", "b"),
        [
            ("A-1", "a-1"),
            ("A-1", "A-1 "),
            ("Müller", "MULLER"),
            ("Straße", "STRASSE"),
            ("\uff21-1", "a-1"),
            ("A-1", "A-1\u00a0"),
            ("A 1", "a\u00a01"),
            ("A-1", "A-1\u202f\u3000 "),
            ("A-1", "\ufeffA-1"),
            ("A-1", "A-1\u200b"),
            ("A-1", "\u200eA\u200d-1 \u200b"),
            ("ŒUF-1", "oeuf-1"),
            ("A-\u0661", "A-1"),
            ("ЁЛКА", "елка"),
        ],
    )
    def test_same_to_shopware(self, a: str, b: str) -> None:
        """
        Case, accents, trailing spaces and width do not tell numbers
        apart; nor does a no-break space (a spreadsheet's) from a space
        (every space weighs as one, MySQL bug 83549), nor a byte order
        mark or a zero-width space (they weigh nothing), as MariaDB's
        utf8mb4_unicode_ci says.
        """
        assert collate(a) == collate(b)

    @pytest.mark.parametrize(
        ("a", "b"),
        [
            ("A-1", "A-2"),
            ("A-1", " A-1"),
            ("A-1", "A-1\t"),
            ("A-1", "A-1\r"),
            ("A-1", "A\u00ad-1"),
            ("Æ-1", "AE-1"),
            ("Ø-1", "O-1"),
            ("ЙОД-1", "ИОД-1"),
            ("ЇЖАК", "ІЖАК"),
        ],
    )
    def test_different(self, a: str, b: str) -> None:
        """
        Leading spaces, other whitespace, a soft hyphen, and letters the
        collation weighs as their own (Æ, Ø, Cyrillic Й and Ї) still
        count.
        """
        assert collate(a) != collate(b)


class TestAmbiguousNumbers:
    async def test_same_number_twice_fails_both(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        An inactive and an active article both numbered Z-1: both fail,
        each naming both, and nothing is written.
        """
        old = article("Z-1", name="Old Z", active=False)
        new = article("Z-1", name="New Z")

        outcomes = await _push(
            shop, DataType.ARTICLES, old, new, article("A-9")
        )

        assert [False, False, True] == [o.ok for o in outcomes]
        for outcome in outcomes[:2]:
            assert outcome.field == "number"
            assert '"Old Z" (inactive)' in (outcome.error or "")
            assert '"New Z"' in (outcome.error or "")
        assert "Z-1" not in _numbers(emu)
        assert "A-9" in _numbers(emu)

    async def test_the_same_record_twice_lands_once(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        A record read twice, equal in every field, is one party: written
        once, both reported.
        """
        outcomes = await _push(
            shop, DataType.ARTICLES, article("A-1"), article("A-1")
        )

        assert [True, True] == [o.ok for o in outcomes]
        assert outcomes[0].platform_id == outcomes[1].platform_id
        assert "A-1" in _numbers(emu)

    @pytest.mark.parametrize(
        "numbers",
        [
            ("A-1", "a-1"),
            ("A-1", "A-1 "),
            ("MÜLLER-1", "muller-1"),
            ("A-1", "A-1\u00a0"),
            ("A-1", "\ufeffA-1"),
            ("A-1", "A-1\u200b"),
        ],
    )
    async def test_collation_twins_fail(
        self,
        shop: Shopware6,
        emu: ShopwareEmulator,
        numbers: tuple[str, str],
    ) -> None:
        """
        Numbers Shopware's collation cannot tell apart are one number.
        """
        outcomes = await _push(
            shop, DataType.ARTICLES, *(article(n) for n in numbers)
        )

        assert [False, False] == [o.ok for o in outcomes]
        assert all(repr(n) in (outcomes[0].error or "") for n in numbers)
        assert "ignoring case, accents and trailing spaces" in (
            outcomes[1].error or ""
        )
        assert not emu.entities["product"]

    async def test_variant_numbered_like_an_article(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        A variant numbered like a standalone article in the same push: both
        fail, the variant by its field.
        """
        shirt = article(
            "SHIRT",
            variants=(Variant(number="B-1", options=(("Size", "S"),)),),
        )

        outcomes = await _push(shop, DataType.ARTICLES, article("B-1"), shirt)

        assert [False, False] == [o.ok for o in outcomes]
        assert "number" == outcomes[0].field
        assert "variants.0.number" == outcomes[1].field
        assert "variant 'B-1' of article 'SHIRT'" in (outcomes[0].error or "")
        assert not emu.entities["product"]

    async def test_variant_numbered_like_another_variant(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Two articles' variants sharing a number fail both articles.
        """
        one = article(
            "S-1", variants=(Variant(number="V-1", options=(("C", "r"),)),)
        )
        two = article(
            "S-2", variants=(Variant(number="v-1", options=(("C", "b"),)),)
        )

        outcomes = await _push(shop, DataType.ARTICLES, one, two)

        assert [False, False] == [o.ok for o in outcomes]
        assert {"variants.0.number"} == {o.field for o in outcomes}

    async def test_variant_numbered_like_its_own_article(
        self, shop: Shopware6
    ) -> None:
        """
        An article whose variant repeats its own number fails alone.
        """
        odd = article(
            "S-1", variants=(Variant(number="S-1", options=(("C", "r"),)),)
        )

        outcomes = await _push(shop, DataType.ARTICLES, odd, article("A-1"))

        assert [False, True] == [o.ok for o in outcomes]

    async def test_variant_taking_a_standalone_products_number(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Across pushes: a variant numbered like a product already in the
        shop does not make that product a variant.
        """
        await _push(shop, DataType.ARTICLES, article("B-1"))
        shirt = article(
            "SHIRT",
            variants=(Variant(number="B-1", options=(("Size", "S"),)),),
        )

        (outcome,) = await _push(shop, DataType.ARTICLES, shirt)

        assert not outcome.ok
        assert "variants.0.number" == outcome.field
        assert "standalone product" in (outcome.error or "")
        assert _numbers(emu)["B-1"].get("parentId") is None
        assert "SHIRT" not in _numbers(emu)

    async def test_article_taking_a_variants_number(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Across pushes: an article numbered like a variant in the shop fails
        instead of staying a variant.
        """
        shirt = article(
            "SHIRT",
            variants=(Variant(number="B-1", options=(("Size", "S"),)),),
        )
        await _push(shop, DataType.ARTICLES, shirt)

        (outcome,) = await _push(shop, DataType.ARTICLES, article("B-1"))

        assert not outcome.ok
        assert "number" == outcome.field
        assert "variant of another product" in (outcome.error or "")
        assert _numbers(emu)["B-1"]["parentId"] == product_id("SHIRT")

    async def test_number_held_by_a_foreign_product(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        A number another product already has (created outside ecomsync,
        other case) fails that record by name, found from Shopware's
        pointer-less error in one extra request; the rest lands.
        """
        await shop._api.sync(
            [
                {
                    "key": "foreign",
                    "entity": "product",
                    "action": "upsert",
                    "payload": [
                        {
                            "id": "f" * 32,
                            "productNumber": "X-1",
                            "name": "Foreign",
                            "stock": 0,
                            "taxId": emu.ids.tax_standard,
                            "price": [
                                {
                                    "currencyId": (
                                        "b7d2554b0ce847cd82f3ac9bd1c0dfca"
                                    ),
                                    "gross": 1.0,
                                    "net": 1.0,
                                    "linked": True,
                                }
                            ],
                        }
                    ],
                }
            ]
        )
        records = [article(f"A-{i:03d}") for i in range(100)]
        records[37] = article("x-1")
        before = _syncs(emu)

        outcomes = await _push(shop, DataType.ARTICLES, *records)

        assert [i for i, o in enumerate(outcomes) if not o.ok] == [37]
        assert "number" == outcomes[37].field
        assert "'x-1' is already used by another product" in (
            outcomes[37].error or ""
        )
        assert 2 == _syncs(emu) - before
        assert 100 == len(emu.entities["product"])  # 99 + the foreign one


class TestVariantsChange:
    @staticmethod
    def _names(emu: ShopwareEmulator, entity: str, number: str) -> set[str]:
        """
        The option names *number*'s product has in *entity*
        (``product_option`` or ``product_configurator_setting``).
        """
        names = {
            o["id"]: o["name"]
            for o in emu.entities["property_group_option"].values()
        }
        pid = product_id(number)
        return {
            names[r["optionId"]]
            for r in emu.entities[entity].values()
            if r["productId"] == pid
        }

    def _options(self, emu: ShopwareEmulator, number: str) -> set[str]:
        return self._names(emu, "product_option", number)

    def _settings(self, emu: ShopwareEmulator, number: str) -> set[str]:
        return self._names(emu, "product_configurator_setting", number)

    async def test_a_removed_variant_is_deactivated(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        A variant the ERP no longer lists is deactivated in the shop, not
        left on sale; listed again, it is active again.
        """
        s, m = (Variant(number=f"V-{x}", options=(("Size", x),)) for x in "SM")
        await _push(shop, DataType.ARTICLES, article("SHIRT", variants=(s, m)))

        (gone,) = await _push(
            shop, DataType.ARTICLES, article("SHIRT", variants=(s,))
        )
        after_removal = {n: p.get("active") for n, p in _numbers(emu).items()}
        offered = self._settings(emu, "SHIRT")
        (back,) = await _push(
            shop, DataType.ARTICLES, article("SHIRT", variants=(s, m))
        )

        assert gone.ok
        assert back.ok
        assert after_removal["V-M"] is False
        assert after_removal["V-S"] is not False
        assert {"S"} == offered
        assert _numbers(emu)["V-M"].get("active") is not False
        assert {"S", "M"} == self._settings(emu, "SHIRT")

    async def test_a_changed_option_replaces_the_old_one(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        A variant whose option changed holds only the new option, and the
        parent offers only the options its variants have.
        """
        small = Variant(number="V-1", options=(("Size", "S"),))
        large = Variant(number="V-1", options=(("Size", "L"),))
        await _push(
            shop, DataType.ARTICLES, article("SHIRT", variants=(small,))
        )

        (outcome,) = await _push(
            shop, DataType.ARTICLES, article("SHIRT", variants=(large,))
        )

        assert outcome.ok
        assert {"L"} == self._options(emu, "V-1")
        assert {"L"} == self._settings(emu, "SHIRT")

    async def test_two_variants_with_the_same_options_fail(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Two variants with one option combination (in any order, pairs as
        tuples or lists) fail their article by the second's options: the
        storefront could sell only one of them.  Nothing of it is
        written; the rest lands.
        """
        twins = article(
            "T",
            variants=(
                Variant(number="T-1", options=(("C", "red"), ("S", "M"))),
                Variant(number="T-2", options=[["S", "M"], ["C", "red"]]),
            ),
        )

        bad, good = await _push(shop, DataType.ARTICLES, twins, article("A-2"))

        assert (False, "variants.1.options") == (bad.ok, bad.field)
        assert "'T-2' has the options of variant 'T-1'" in (bad.error or "")
        assert good.ok
        assert ["A-2"] == list(_numbers(emu))

    async def test_two_values_for_one_option_fail(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        A variant with two values for one option name fails its article
        on that variant's options.
        """
        bad = article(
            "T",
            variants=(
                Variant(number="T-1", options=(("S", "M"),)),
                Variant(number="T-2", options=(("S", "M"), ("S", "L"))),
            ),
        )

        (outcome,) = await _push(shop, DataType.ARTICLES, bad)

        assert (False, "variants.1.options") == (outcome.ok, outcome.field)
        assert "has 2 values for 'S'" in (outcome.error or "")
        assert "T" not in _numbers(emu)

    async def test_variants_dropped_altogether(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        An article that loses all its variants (a plain product now) has
        them deactivated and its own fields written, yet fails on
        ``variants`` naming them: Shopware lists no product that has
        variants, inactive ones too.  Once they are deleted in the shop,
        it lands as a plain product.
        """
        s, m = (Variant(number=f"V-{x}", options=(("Size", x),)) for x in "SM")
        await _push(shop, DataType.ARTICLES, article("SHIRT", variants=(s, m)))
        plain = article("SHIRT", name="Plain shirt", price=Decimal("9.99"))

        (outcome,) = await _push(shop, DataType.ARTICLES, plain)
        active = [_numbers(emu)[n].get("active") for n in ("V-S", "V-M")]
        name = _numbers(emu)["SHIRT"]["name"]
        offered = self._settings(emu, "SHIRT")
        (still,) = await _push(shop, DataType.ARTICLES, plain)
        for number in ("V-S", "V-M"):
            emu.store.put("product", product_id(number), None)
        (again,) = await _push(shop, DataType.ARTICLES, plain)

        assert [False, False] == active
        assert (False, "variants") == (outcome.ok, outcome.field)
        assert "('V-M', 'V-S')" in (outcome.error or "")
        assert "deactivated" in (outcome.error or "")
        assert "Plain shirt" == name
        assert set() == offered
        assert (False, "variants") == (still.ok, still.field)
        assert again.ok, again
        assert "SHIRT" == again.number


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


class TestCurrency:
    @pytest.fixture(name="shop")
    async def _new_process(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> AsyncIterator[Shopware6]:
        # Another process on the shop the categories went into: it reads
        # the currency (with the sales channels) at its first article
        # push, after the test has set the currency up.
        fresh = _shop(emu)
        yield fresh
        await fresh.aclose()

    async def test_article_in_another_currency_fails(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Prices go into the shop's default currency: an article priced in
        another fails on ``currency`` (never 10 USD written as 10 EUR);
        the rest lands, and the code's case does not matter.
        """
        outcomes = await _push(
            shop,
            DataType.ARTICLES,
            attrs.evolve(article("A-1"), currency="USD"),
            attrs.evolve(article("A-2"), currency="eur"),
        )

        assert [False, True] == [o.ok for o in outcomes]
        assert "currency" == outcomes[0].field
        assert "USD" in (outcomes[0].error or "")
        assert "EUR" in (outcomes[0].error or "")
        assert ["A-2"] == list(_numbers(emu))
        (blank,) = await _push(
            shop,
            DataType.ARTICLES,
            attrs_evolve(article("A-3"), currency=None),
        )
        assert (False, "currency") == (blank.ok, blank.field)

    async def test_shop_with_another_default_currency(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        The shop's default currency is read from the shop, once: a shop
        set up in CHF takes CHF prices and refuses EUR ones.
        """
        emu.entities["currency"][emu.ids.currency]["isoCode"] = "CHF"
        chf = attrs.evolve(article("A-2"), currency="CHF")

        first = await _push(shop, DataType.ARTICLES, article("A-1"), chf)
        (again,) = await _push(
            shop, DataType.ARTICLES, attrs.evolve(chf, number="A-3")
        )

        assert [False, True, True] == [o.ok for o in (*first, again)]
        assert "in its default currency CHF" in (first[0].error or "")
        # With the sales channels, once per process (the categories', this)
        assert [0, 2] == [
            sum(1 for r in emu.requests if r.path == f"/api/search/{e}")
            for e in ("currency", "sales-channel")
        ]

    @pytest.mark.parametrize(
        ("rounding", "price", "variant", "sold"),
        [
            ({"decimals": 2, "interval": 0.01}, "1.23456789", None, "1.23"),
            ({"decimals": 2, "interval": 0.01}, "9.99", "0.045", "0.05"),
            ({"decimals": 2, "interval": 0.05}, "9.99", None, "10"),
        ],
    )
    async def test_price_the_shop_would_round_fails(
        self,
        shop: Shopware6,
        emu: ShopwareEmulator,
        rounding: dict[str, Any],
        price: str,
        variant: str | None,
        sold: str,
    ) -> None:
        """
        Shopware's cart sells a unit price rounded by the currency's item
        rounding: a price it would change fails on its field, saying what
        the shop would charge, instead of selling at another price.
        """
        emu.entities["currency"][emu.ids.currency]["itemRounding"] = rounding
        variants = (
            ()
            if variant is None
            else (
                Variant(
                    number="P-1", options=(("C", "r"),), price=Decimal(variant)
                ),
            )
        )
        bad = attrs.evolve(
            article("P"), price=Decimal(price), variants=variants
        )

        outcome, good = await _push(
            shop,
            DataType.ARTICLES,
            bad,
            attrs.evolve(article("A-2"), price=Decimal(10)),
        )

        field = "price" if variant is None else "variants.0.price"
        assert (False, field) == (outcome.ok, outcome.field)
        assert f"would be sold at {sold}:" in (outcome.error or "")
        assert good.ok
        assert "P" not in _numbers(emu)

    async def test_prices_the_shop_keeps_land(
        self, shop: Shopware6, emu: ShopwareEmulator
    ) -> None:
        """
        Trailing zeros are no decimals; a shop rounding to four decimals
        takes 0.0450, with its net to four decimals too (net customers
        pay from it), as does one whose currency has no item rounding.
        """
        row = emu.entities["currency"][emu.ids.currency]
        row["itemRounding"] = {"decimals": 4, "interval": 0.01}
        (zeros, fine) = await _push(
            shop,
            DataType.ARTICLES,
            attrs.evolve(article("A-1"), price=Decimal("9.9900")),
            attrs.evolve(article("A-2"), price=Decimal("0.0450")),
        )

        assert zeros.ok
        assert fine.ok
        (price,) = _numbers(emu)["A-2"]["price"]
        assert (0.045, 0.0378) == (price["gross"], price["net"])

    @pytest.mark.parametrize(
        "row",
        [
            None,
            {"isoCode": "EUR"},
            {"isoCode": "EUR", "itemRounding": {"decimals": "2"}},
            {"isoCode": "EUR", "itemRounding": {"interval": "x"}},
            {"isoCode": "EUR", "itemRounding": {"interval": 0}},
        ],
    )
    def test_rounding_not_given_rounds_nothing(
        self, row: dict[str, Any] | None
    ) -> None:
        """
        A currency row without a usable item rounding checks no decimals.
        """
        currency = ShopCurrency.from_row(row)

        assert Decimal("1.23456") == currency.sold_at(Decimal("1.23456"))


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


def _seeded() -> int:
    """
    How many categories a fresh emulator holds (its root).
    """
    return len(ShopwareEmulator().entities["category"])


def attrs_evolve(instance: Any, **changes: Any) -> Any:
    """
    Build a changed copy without the converters' checks (the ERP side may
    hand over values no constructor would accept).
    """
    values = attrs.asdict(instance, recurse=False)
    values.update(changes)
    copy = object.__new__(type(instance))
    for name, value in values.items():
        object.__setattr__(copy, name, value)
    return copy


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

"""
Product numbers on a Shopware 6 shop as Shopware compares them: two records
the shop would take for one (the same number twice, collation twins, a
variant numbered like an article, a foreign product's number) fail, each
naming the record and the number; never "first wins".
"""

from __future__ import annotations

import pytest

from ecomsync import (
    DataType,
    Record,
    Variant,
)
from ecomsync.platforms.shopware6 import Shopware6, _claims
from ecomsync.platforms.shopware6._claims import collate
from ecomsync.platforms.shopware6._mapping import product_id
from ecomsync.testing._platform_contract import article
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._retries import fast_retries
from ._shopware6_data import (
    _numbers,
    _push,
    _syncs,
    data_emu,
    data_shop,
)


pytestmark = pytest.mark.anyio


_fast_retries = fast_retries(3)

_emu = data_emu
_shop_fixture = data_shop


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

    async def test_only_a_repeated_number_is_fingerprinted(
        self,
        shop: Shopware6,
        emu: ShopwareEmulator,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """
        Twins share their number, so the push fingerprints only the
        records whose number comes again (the engine fingerprinted every
        record already): the record read twice still lands once.
        """
        fingerprinted: list[str] = []
        real = _claims.checksum

        def counted(record: Record) -> str:
            fingerprinted.append(record.number)
            return real(record)

        monkeypatch.setattr(_claims, "checksum", counted)

        outcomes = await _push(
            shop,
            DataType.ARTICLES,
            article("A-1"),
            article("B-2"),
            article("A-1"),
        )

        assert [True, True, True] == [o.ok for o in outcomes]
        assert outcomes[0].platform_id == outcomes[2].platform_id
        assert ["A-1", "A-1"] == fingerprinted
        assert {"A-1", "B-2"} <= set(_numbers(emu))

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

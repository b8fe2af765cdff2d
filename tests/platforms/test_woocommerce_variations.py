"""
The WooCommerce adapter removing the variations of variants an article
dropped: a removal the shop refused, or whose answer was lost.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ecomsync import Article, DataType, Outcome, Outgoing, Variant
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.platforms.woocommerce._attributes import attribute_key
from ecomsync.testing._platform_contract import article
from ecomsync.testing.woocommerce import WooCommerceEmulator
from ecomsync.testing.woocommerce._errors import WpError

from .._retries import fast_retries
from ._adapters import woocommerce_on


pytestmark = pytest.mark.anyio

KEY, SECRET = "ck_variations", "cs_variations"

_fast_retries = fast_retries(3)

SHIRT = article(
    "V-1",
    categories=(),
    variants=(
        Variant(number="V-1-S", options=(("Size", "S"),)),
        Variant(number="V-1-M", options=(("Size", "M"),)),
    ),
)
SMALLER = article(
    "V-1",
    categories=(),
    variants=(Variant(number="V-1-S", options=(("Size", "S"),)),),
)


class _LoseVariationsAnswer(httpx.AsyncBaseTransport):
    """
    Hands the first variations batch to the shop, then times out as if
    its answer were lost on the way back.
    """

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.lost = 0

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not self.lost and request.url.path.endswith("/variations/batch"):
            self.lost += 1
            await response.aread()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


async def _push_one(emu: WooCommerceEmulator, record: Article) -> Outcome:
    """*record* pushed alone by a new adapter on *emu*: its outcome."""
    woo = woocommerce_on(emu, SECRET, key=KEY)
    async with woo:
        (outcome,) = await woo.push(
            DataType.ARTICLES, [Outgoing(record=record)]
        )
    return outcome


def _variation_attributes(
    emu: WooCommerceEmulator, outcome: Outcome
) -> list[tuple[str, list[str]]]:
    """The variation attributes of the parent *outcome* made: name, values."""
    parent = emu.shop.products[int(outcome.platform_id or 0)]
    return [
        (a["name"], a["options"])
        for a in parent["attributes"]
        if a["variation"]
    ]


def _variation_skus(emu: WooCommerceEmulator, platform_id: str) -> list[str]:
    parent = emu.shop.products[int(platform_id)]
    return sorted(emu.shop.products[v]["sku"] for v in parent["variations"])


class TestDroppedVariants:
    """
    A variant the article dropped leaves the shop, or the article fails.
    """

    async def test_refused_removal_fails_the_article(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """
        A dropped variant whose variation WooCommerce refuses to delete
        (an item error in the batch answer: ``woocommerce_rest_cannot_
        delete``, a missing capability) stays on sale: the article fails
        on ``variants``, naming the variation, instead of being recorded
        as in sync, which no later run would correct.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        woo = woocommerce_on(emu, SECRET, key=KEY)
        async with woo:
            (first,) = await woo.push(
                DataType.ARTICLES, [Outgoing(record=SHIRT)]
            )

            def refuse(product_id: int, **_: Any) -> Any:
                raise WpError(
                    500,
                    "woocommerce_rest_cannot_delete",
                    "The product_variation cannot be deleted.",
                )

            monkeypatch.setattr(emu.shop, "delete_product", refuse)
            (again,) = await woo.push(
                DataType.ARTICLES, [Outgoing(record=SMALLER)]
            )

        assert first.ok, first
        assert ["V-1-M", "V-1-S"] == _variation_skus(
            emu, first.platform_id or ""
        )
        assert not again.ok
        assert "variants" == again.field
        assert "woocommerce_rest_cannot_delete" in (again.error or "")

    async def test_removal_whose_answer_was_lost(self) -> None:
        """
        A removal that landed but whose answer was lost is sent again and
        answered "invalid ID" for the variation already gone: the
        article is in sync, not failed.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        lossy = _LoseVariationsAnswer(emu.app)
        woo = WooCommerce("https://shop.test", KEY, SECRET, transport=lossy)
        async with woo:
            (first,) = await woo.push(
                DataType.ARTICLES, [Outgoing(record=SHIRT)]
            )
            lossy.lost = 0
            (again,) = await woo.push(
                DataType.ARTICLES, [Outgoing(record=SMALLER)]
            )

        assert first.ok, first
        assert again.ok, again
        assert 1 == lossy.lost
        assert ["V-1-S"] == _variation_skus(emu, again.platform_id or "")


class TestVariantsOneChoice:
    """
    Variants a customer could not choose between are not written.
    """

    @pytest.mark.parametrize(
        ("options", "field"),
        [
            # a template's products without attributes
            (((), ()), "variants.1.options"),
            # equal but for case
            (((("Size", "M"),), (("size", "m"),)), "variants.1.options"),
            # a blank value is "any" too
            (
                (
                    (("Size", "M"), ("Color", "Red")),
                    (("Size", "M"), ("Color", " ")),
                ),
                "variants.1.options",
            ),
            # the second lacks "Color": M in any colour, Red among them
            (
                (
                    (("Size", "M"), ("Color", "Red")),
                    (("Size", "M"),),
                ),
                "variants.1.options",
            ),
        ],
    )
    async def test_variants_one_choice_fail(
        self, options: tuple[tuple[tuple[str, str], ...], ...], field: str
    ) -> None:
        """
        WooCommerce sells the first variation whose attributes agree with
        the customer's choice (ignoring case; a missing attribute is
        "any"): of two variants that agree, the second would be listed
        and never sold.  The article fails on the second's options,
        naming both, and nothing of it is written.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        shirt = article(
            "V-2",
            categories=(),
            variants=tuple(
                Variant(number=f"V-2-{k}", options=o)
                for k, o in enumerate(options)
            ),
        )
        outcome = await _push_one(emu, shirt)

        assert (False, field) == (outcome.ok, outcome.field)
        assert "'V-2-0'" in (outcome.error or "")
        assert "'V-2-1'" in (outcome.error or "")
        assert {} == emu.shop.products

    async def test_variants_told_apart_by_any_option_land(self) -> None:
        """
        Variants apart in one option at least land, also where one lacks
        an option the other has; so does a single variant without any.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        apart = article(
            "V-3",
            categories=(),
            variants=(
                Variant(number="V-3-0", options=(("Size", "S"),)),
                Variant(
                    number="V-3-1",
                    options=(("Size", "M"), ("Color", "Red")),
                ),
            ),
        )
        single = article(
            "V-4", categories=(), variants=(Variant(number="V-4-0"),)
        )
        woo = woocommerce_on(emu, SECRET, key=KEY)
        async with woo:
            outcomes = await woo.push(
                DataType.ARTICLES,
                [Outgoing(record=apart), Outgoing(record=single)],
            )

        assert all(o.ok for o in outcomes), outcomes

    async def test_option_value_with_a_bar_fails(self) -> None:
        """
        WooCommerce stores a custom attribute's values joined by ``|``
        and splits them on it when read: a variant of option ``S|M``
        would match neither ``S`` nor ``M``, and never be sold.  The
        article fails on that variant's options, unsent.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        shirt = article(
            "V-5",
            categories=(),
            variants=(
                Variant(number="V-5-0", options=(("Size", "S|M"),)),
                Variant(number="V-5-1", options=(("Size", "L"),)),
            ),
        )
        outcome = await _push_one(emu, shirt)

        assert (False, "variants.0.options") == (outcome.ok, outcome.field)
        assert "'S|M'" in (outcome.error or "")
        assert {} == emu.shop.products


class TestAttributeNames:
    """
    Option names WooCommerce keys as one are one attribute.
    """

    async def test_names_apart_only_in_case_are_one_attribute(self) -> None:
        """
        ``Size`` and ``size`` (or ``Größe`` and ``Grose``) are one
        custom attribute to WooCommerce (``sanitize_title``): sent as two,
        the shop kept one of them, with half of the values, and the other
        half's variants could not be chosen.  The parent gets one
        attribute with every value.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        shirt = article(
            "V-6",
            categories=(),
            variants=(
                Variant(number="V-6-0", options=(("Size", "S"),)),
                Variant(number="V-6-1", options=(("size", "M"),)),
            ),
        )
        outcome = await _push_one(emu, shirt)

        assert outcome.ok, outcome
        assert [("Size", ["S", "M"])] == _variation_attributes(emu, outcome)

    async def test_names_in_other_scripts_are_apart(self) -> None:
        """
        WordPress keeps letters of other scripts in the key
        (``Размер`` and ``Цвет`` are two attributes): they were keyed
        as "" and the article failed as "one choice" or landed as one
        attribute mixing sizes and colours.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        shirt = article(
            "V-7",
            categories=(),
            variants=(
                Variant(
                    number="V-7-0",
                    options=(("Размер", "S"), ("Цвет", "Красный")),
                ),
                Variant(
                    number="V-7-1",
                    options=(("Размер", "M"), ("Цвет", "Красный")),
                ),
                Variant(
                    number="V-7-2",
                    options=(("Размер", "M"), ("Цвет", "Синий")),
                ),
            ),
        )
        outcome = await _push_one(emu, shirt)

        assert outcome.ok, outcome
        assert [
            ("Размер", ["S", "M"]),
            ("Цвет", ["Красный", "Синий"]),
        ] == _variation_attributes(emu, outcome)

    async def test_merchants_own_attribute_in_other_script_stays(
        self,
    ) -> None:
        """
        An attribute the merchant added by hand (``Материал``) stays
        beside the variants' ``Размер``: both were keyed "" and it was
        dropped as if it were the article's own.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        shirt = article(
            "V-8",
            categories=(),
            variants=(
                Variant(number="V-8-0", options=(("Размер", "S"),)),
                Variant(number="V-8-1", options=(("Размер", "M"),)),
            ),
        )
        woo = woocommerce_on(emu, SECRET, key=KEY)
        async with woo:
            (first,) = await woo.push(
                DataType.ARTICLES, [Outgoing(record=shirt)]
            )
            pid = int(first.platform_id or 0)
            emu.shop.products[pid]["attributes"].append(
                {
                    "id": 0,
                    "name": "Материал",
                    "options": ["Хлопок"],
                    "variation": False,
                    "visible": True,
                    "position": 1,
                }
            )
            (again,) = await woo.push(
                DataType.ARTICLES, [Outgoing(record=shirt)]
            )

        assert again.ok, again
        assert [("Размер", True), ("Материал", False)] == [
            (a["name"], a["variation"])
            for a in emu.shop.products[pid]["attributes"]
        ]

    async def test_names_one_in_some_locale_are_one_attribute(
        self,
    ) -> None:
        """
        ``Størrelse`` and ``Storrelse`` are one attribute to WordPress
        (``remove_accents``: Ø to O): they were sent as two, the shop
        kept one with half of the values.  They are one attribute, and
        every variation names it as the parent does.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        shirt = article(
            "V-10",
            categories=(),
            variants=(
                Variant(number="V-10-0", options=(("Størrelse", "S"),)),
                Variant(number="V-10-1", options=(("Storrelse", "M"),)),
                Variant(number="V-10-2", options=(("Stoerrelse", "L"),)),
            ),
        )
        outcome = await _push_one(emu, shirt)

        assert outcome.ok, outcome
        assert [("Størrelse", ["S", "M", "L"])] == _variation_attributes(
            emu, outcome
        )
        parent = emu.shop.products[int(outcome.platform_id or 0)]
        assert [["Størrelse"]] * 3 == [
            [a["name"] for a in emu.shop.products[v]["attributes"]]
            for v in parent["variations"]
        ]

    async def test_names_one_in_a_locale_in_one_variant_fail(self) -> None:
        """
        A variant naming ``Größe`` and ``Grose`` (one attribute on an
        ``en_US`` site) would keep one of them: the article fails on
        that variant's options, naming both, with nothing written.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        shirt = article(
            "V-11",
            categories=(),
            variants=(
                Variant(
                    number="V-11-0", options=(("Größe", "S"), ("Grose", "M"))
                ),
                Variant(number="V-11-1", options=(("Größe", "L"),)),
            ),
        )
        outcome = await _push_one(emu, shirt)

        assert (False, "variants.0.options") == (outcome.ok, outcome.field)
        assert "'Größe'" in (outcome.error or "")
        assert "'Grose'" in (outcome.error or "")
        assert {} == emu.shop.products

    async def test_a_name_of_no_letters_fails(self) -> None:
        """
        An option named ``???`` is keyed "" by ``sanitize_title``, and
        WooCommerce's variations controller skips an attribute of an
        empty key: the variations lost their only option and could not
        be told apart.  The article fails on the variant's options,
        unsent.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        shirt = article(
            "V-12",
            categories=(),
            variants=(
                Variant(number="V-12-0", options=(("???", "S"),)),
                Variant(number="V-12-1", options=(("???", "M"),)),
            ),
        )
        outcome = await _push_one(emu, shirt)

        assert (False, "variants.0.options") == (outcome.ok, outcome.field)
        assert "'???'" in (outcome.error or "")
        assert {} == emu.shop.products

    def test_key_follows_sanitize_title(self) -> None:
        """
        The key is ``sanitize_title`` on an ``en_US`` site: case, the
        letters of ``remove_accents`` (ß to s, Æ to ae, Ł to l) and
        spaces fold; other scripts and their marks stay apart; ``/``
        becomes a dash, other ASCII punctuation is dropped.
        """
        assert attribute_key("Größe") == attribute_key("GROSE")
        assert attribute_key("Größe") != attribute_key("Grosse")
        assert "aeble-lodz" == attribute_key("Æble Łódź")
        assert attribute_key("Størrelse") == attribute_key("Storrelse")
        assert attribute_key("T Shirt.Size") == "t-shirt-size"
        assert attribute_key("Size/Fit") == "size-fit"
        assert attribute_key("Size, Fit!") == "size-fit"
        assert attribute_key("Размер") == attribute_key("размер")
        assert len({attribute_key(n) for n in ("Размер", "Цвет")}) == 2
        assert attribute_key("Μέγεθος") != attribute_key("Μεγεθος")
        assert attribute_key("ガ") != attribute_key("カ")
        assert attribute_key("尺寸") != attribute_key("颜色")

    async def test_two_options_of_one_name_in_a_variant_fail(self) -> None:
        """
        A variant with two options WooCommerce keys as one (``Size: S``
        and ``size: M``) would keep one of them: the article fails on
        that variant's options, naming both, with nothing written.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        shirt = article(
            "V-9",
            categories=(),
            variants=(
                Variant(
                    number="V-9-0", options=(("Size", "S"), ("size", "M"))
                ),
                Variant(number="V-9-1", options=(("Size", "L"),)),
            ),
        )
        outcome = await _push_one(emu, shirt)

        assert (False, "variants.0.options") == (outcome.ok, outcome.field)
        assert "'Size'" in (outcome.error or "")
        assert "'size'" in (outcome.error or "")
        assert {} == emu.shop.products

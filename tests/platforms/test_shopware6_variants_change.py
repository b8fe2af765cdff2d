"""
An article's variants changing on a Shopware 6 shop: a removed variant
deactivated, a changed option replacing the old one, variants no option
tells apart failing.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ecomsync import (
    DataType,
    Variant,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.platforms.shopware6._mapping import product_id
from ecomsync.testing._platform_contract import article
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._retries import fast_retries
from ._shopware6_data import (
    _numbers,
    _push,
    data_emu,
    data_shop,
)


pytestmark = pytest.mark.anyio


_fast_retries = fast_retries(3)

_emu = data_emu
_shop_fixture = data_shop


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

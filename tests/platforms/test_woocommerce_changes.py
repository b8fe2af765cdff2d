"""
WooCommerce: what the shop shows after the ERP changes a record and the
next run pushes it (through `Synchronizer`, `MemoryErp` and the
emulator): exactly the change, nothing stale left behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from hashlib import sha256
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    MediaKind,
    MediaRef,
    MediaStaging,
    RunRecord,
    RunStatus,
    SqliteStore,
    Synchronizer,
    SyncSpec,
    Variant,
)
from ecomsync.erp.memory import MemoryErp
from ecomsync.exceptions import ConfigurationError
from ecomsync.platforms.woocommerce import WooCommerce, category_slug
from ecomsync.platforms.woocommerce._product_checks import (
    class_not_taken as _class_not_taken,
)
from ecomsync.testing.woocommerce import WooCommerceEmulator


pytestmark = pytest.mark.anyio

KEY, SECRET, APP = "ck_changes", "cs_changes", "app-changes"
PUSH = SyncSpec(
    platform="shop",
    types={DataType.CATEGORIES: All(), DataType.ARTICLES: All()},
)


@attrs.define
class Shop:
    """A synchroniser over a MemoryErp and a WooCommerce emulator."""

    sync: Synchronizer
    erp: MemoryErp
    emu: WooCommerceEmulator
    platform: WooCommerce

    async def push(self) -> RunRecord:
        summary = await self.sync.execute(PUSH)
        assert RunStatus.SUCCEEDED == summary.status, summary
        return summary

    def product(self, number: str) -> dict[str, Any]:
        (row,) = [
            p for p in self.emu.shop.products.values() if p["sku"] == number
        ]
        return row

    def category(self, number: str) -> dict[str, Any]:
        (row,) = [
            t
            for t in self.emu.shop.categories.values()
            if t["slug"] == category_slug(number)
        ]
        return row


@pytest.fixture(name="shop")
async def _shop(tmp_path: Path) -> AsyncIterator[Shop]:
    emu = WooCommerceEmulator(
        KEY, SECRET, wp_user="sync", wp_application_password=APP
    )
    platform = WooCommerce(
        "https://shop.test",
        KEY,
        SECRET,
        wp_user="sync",
        wp_application_password=APP,
        transport=httpx.ASGITransport(app=emu.app),
    )
    erp = MemoryErp(media={"k1": b"\x89PNG one", "k2": b"\x89PNG two"})
    sync = Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=SqliteStore(tmp_path / "state.db"),
        staging=MediaStaging(tmp_path / "staging"),
    )
    yield Shop(sync, erp, emu, platform)
    await platform.aclose()
    await sync.store.aclose()


def _image(key: str) -> MediaRef:
    return MediaRef(
        key=key,
        filename=f"{key}.png",
        mime_type="image/png",
        kind=MediaKind.IMAGE,
        version=key,
    )


class TestCategoryImage:
    async def test_removed_image_leaves_the_shop(self, shop: Shop) -> None:
        """
        A category whose image the ERP removed shows none after the next
        run (WooCommerce keeps the image of a category sent
        ``"image": null``; the adapter sends ``{"id": 0}``).
        """
        with_image = Category(
            number="C-1", name="Tools", media=(_image("k1"),)
        )
        shop.erp.put(with_image)
        await shop.push()
        before = shop.category("C-1")["image"]

        shop.erp.put(attrs.evolve(with_image, media=()))
        await shop.push()

        assert before is not None
        assert shop.category("C-1")["image"] is None

    async def test_changed_image_replaces_the_old_one(
        self, shop: Shop
    ) -> None:
        """
        A category whose image changed in the ERP shows the new one.
        """
        shop.erp.put(
            Category(number="C-1", name="Tools", media=(_image("k1"),))
        )
        await shop.push()
        first = shop.category("C-1")["image"]["id"]

        shop.erp.put(
            Category(number="C-1", name="Tools", media=(_image("k2"),))
        )
        await shop.push()

        second = shop.category("C-1")["image"]["id"]
        assert first != second
        assert sha256(b"\x89PNG two").hexdigest() == (
            shop.emu.shop.media[second].sha256
        )


class TestEmulator:
    def test_null_image_leaves_the_category_image(self) -> None:
        """
        The emulator, as WooCommerce's ``update_term_meta_fields``:
        ``"image": null`` changes nothing, ``{}`` or ``{"id": 0}``
        removes the image.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        attachment = emu.shop.add_media(b"\x89PNG x", "x.png", "image/png")
        row = emu.shop.create_category(
            {"name": "Tools", "image": {"id": attachment.id}}
        )

        emu.shop.update_category(row["id"], {"image": None})
        kept = emu.shop.categories[row["id"]]["image"]
        emu.shop.update_category(row["id"], {"image": {"id": 0}})
        removed = emu.shop.categories[row["id"]]["image"]
        emu.shop.update_category(row["id"], {"image": {"id": attachment.id}})
        emu.shop.update_category(row["id"], {"image": {}})

        assert attachment.id == kept["id"]
        assert removed is None
        assert emu.shop.categories[row["id"]]["image"] is None


class TestTaxRates:
    async def test_each_rate_lands_in_its_class(self, shop: Shop) -> None:
        """
        Articles at 19, 7 and 0 % tax land in the standard, reduced-rate
        and zero-rate classes, so WooCommerce charges the ERP's tax;
        with net prices each is the gross over its own rate.
        """
        shop.platform.prices_include_tax = False
        shop.emu.shop.prices_include_tax = False
        for number, rate, price in (
            ("T-19", 19, "11.90"),
            ("T-7", 7, "10.70"),
            ("T-0", 0, "5.00"),
        ):
            shop.erp.put(
                Article(number=number, name=number, price=price, tax_rate=rate)
            )
        await shop.push()

        got = {
            n: (shop.product(n)["tax_class"], shop.product(n)["regular_price"])
            for n in ("T-19", "T-7", "T-0")
        }
        assert {
            "T-19": ("", "10.00"),
            "T-7": ("reduced-rate", "10.00"),
            "T-0": ("zero-rate", "5.00"),
        } == {n: (c, f"{Decimal(p):.2f}") for n, (c, p) in got.items()}

    async def test_a_changed_rate_changes_the_class(self, shop: Shop) -> None:
        """
        An article whose rate changes from 19 to 7 % moves to the
        reduced-rate class with the next run.
        """
        book = Article(number="B-1", name="Book", price="10.00")
        shop.erp.put(book)
        await shop.push()
        shop.erp.put(attrs.evolve(book, tax_rate=Decimal(7)))
        await shop.push()

        assert "reduced-rate" == shop.product("B-1")["tax_class"]

    async def test_a_rate_without_a_class_fails_unsent(
        self, shop: Shop
    ) -> None:
        """
        A rate no tax class is set for fails on tax_rate, naming it, and
        nothing of that article is written; the rest lands.
        """
        shop.erp.put(
            Article(number="AT-1", name="Wien", price="12", tax_rate=20)
        )
        shop.erp.put(Article(number="DE-1", name="Bonn", price="12"))
        summary = await shop.push()

        (failure,) = summary.failures
        assert ("AT-1", "tax_rate") == (failure.number, failure.field)
        assert "no WooCommerce tax class for 20 % tax" in failure.message
        assert ["DE-1"] == [p["sku"] for p in shop.emu.shop.products.values()]

    async def test_a_class_the_shop_lacks_fails_unsent(
        self, shop: Shop
    ) -> None:
        """
        WooCommerce stores a tax class it does not have as the standard
        one without a word; the article fails on tax_rate naming the
        class before anything is written (it was saved at the standard
        rate first), the rest lands, and it lands once the class exists.
        """
        shop.emu.shop.tax_classes.remove("reduced-rate")
        shop.erp.put(
            Article(number="B-1", name="Book", price="10", tax_rate=7)
        )
        shop.erp.put(Article(number="DE-1", name="Bonn", price="12"))
        summary = await shop.push()
        written = [p["sku"] for p in shop.emu.shop.products.values()]
        shop.emu.shop.tax_classes.append("reduced-rate")
        again = await shop.push()

        (failure,) = summary.failures
        assert ("B-1", "tax_rate") == (failure.number, failure.field)
        assert (
            "WooCommerce has no tax class 'reduced-rate' for 7 % tax"
        ) in failure.message
        assert ["DE-1"] == written
        assert [] == list(again.failures)
        assert "reduced-rate" == shop.product("B-1")["tax_class"]

    def test_a_class_not_taken_by_the_write_fails(self) -> None:
        """
        A class deleted between the check and the write, which
        WooCommerce then saved as the standard one, still fails the
        article on tax_rate.
        """
        book = Article(number="B-1", name="Book", price="10", tax_rate=7)

        refused = _class_not_taken(book, "reduced-rate", {"tax_class": ""})

        assert refused is not None
        assert "tax_rate" == refused.field
        assert "took the standard class instead" in str(refused.error)
        assert (
            _class_not_taken(
                book, "reduced-rate", {"tax_class": "reduced-rate"}
            )
            is None
        )

    def test_classes_are_configured_by_rate(self) -> None:
        """
        tax_classes takes rates as numbers or text ("standard" is the
        standard class); a value that is no rate is a ConfigurationError.
        """
        woo = WooCommerce(
            "https://shop.test",
            KEY,
            SECRET,
            tax_classes={
                "20": "standard",
                10: "ermaessigt",
                Decimal("13.0"): "x",
            },
        )

        assert {
            Decimal(20): "",
            Decimal(10): "ermaessigt",
            Decimal(13): "x",
        } == (dict(woo.tax_classes))
        with pytest.raises(
            ConfigurationError, match="'abc' is not a tax rate"
        ):
            WooCommerce(
                "https://shop.test", KEY, SECRET, tax_classes={"abc": "x"}
            )
        with pytest.raises(ConfigurationError, match="101 is not a tax rate"):
            WooCommerce(
                "https://shop.test", KEY, SECRET, tax_classes={101: "x"}
            )


class TestEmulatorTaxClass:
    def test_set_tax_class_as_woocommerce(self) -> None:
        """
        As WC_Product::set_tax_class: "standard" and unknown classes are
        stored as "" (standard); a variation takes "parent"; an unknown
        tax status is refused.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        shop = emu.shop
        parent = shop.create_product({"name": "P", "type": "variable"})
        known = shop.create_product({"name": "A", "tax_class": "Zero Rate"})
        unknown = shop.create_product({"name": "B", "tax_class": "luxury"})
        standard = shop.create_product({"name": "C", "tax_class": "standard"})
        variation = shop.create_product({"tax_class": "parent"}, parent=parent)

        assert ["zero-rate", "", ""] == [
            r["tax_class"] for r in (known, unknown, standard)
        ]
        assert "parent" == variation["tax_class"]
        with pytest.raises(Exception, match="Invalid product tax status"):
            shop.create_product({"name": "D", "tax_status": "sometimes"})


class TestLongCategoryNames:
    async def test_a_name_over_200_characters_fails_by_name(
        self, shop: Shop
    ) -> None:
        """
        A category name of more than 200 characters fails on name, new
        or renamed, and nothing of it is sent (WooCommerce refuses such a
        new term and keeps an existing term's old name without a word);
        200 characters land.
        """
        shop.erp.put(Category(number="C-1", name="Tools"))
        shop.erp.put(Category(number="C-2", name="x" * 201))
        shop.erp.put(Category(number="C-3", name="é" * 200))
        first = await shop.push()
        shop.erp.put(Category(number="C-1", name="Werkzeug " * 25))
        second = await shop.push()

        assert [("C-2", "name")] == [
            (f.number, f.field) for f in first.failures
        ]
        assert [("C-1", "name"), ("C-2", "name")] == sorted(
            (f.number, f.field) for f in second.failures
        )
        assert "name is 224 characters; WooCommerce keeps at most 200" in (
            next(f.message for f in second.failures if f.number == "C-1")
        )
        assert "Tools" == shop.category("C-1")["name"]
        assert "é" * 200 == shop.category("C-3")["name"]
        assert 3 == len(shop.emu.shop.categories)  # with "Uncategorized"


class TestEmulatorTermNames:
    def test_long_names_as_wordpress(self) -> None:
        """
        The emulator, as wp_insert_term / wp_update_term: a new name over
        200 characters is db_insert_error; an update to one leaves name
        and slug as they were and changes the rest.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        row = emu.shop.create_category({"name": "Tools", "slug": "tools"})
        with pytest.raises(Exception, match="Could not insert term"):
            emu.shop.create_category({"name": "y" * 201})

        emu.shop.update_category(
            row["id"],
            {"name": "z" * 201, "slug": "zzz", "description": "new"},
        )

        held = emu.shop.categories[row["id"]]
        assert ("Tools", "tools", "new") == (
            held["name"],
            held["slug"],
            held["description"],
        )


class TestVariableProducts:
    async def test_attributes_added_in_the_shop_stay(self, shop: Shop) -> None:
        """
        An attribute the shop added by hand to a variable product stays
        when the next run writes the article (WooCommerce replaces the
        whole attribute list); a renamed option value replaces the old
        one on the product and the variation.
        """
        shirt = Article(
            number="V-1",
            name="Shirt",
            price="20.00",
            variants=(
                Variant(number="V-1-S", options=(("Size", "S"),)),
                Variant(number="V-1-M", options=(("Size", "M"),)),
            ),
        )
        shop.erp.put(shirt)
        await shop.push()
        shop.product("V-1")["attributes"].append(
            {
                "id": 0,
                "name": "Material",
                "options": ["Cotton"],
                "variation": False,
                "visible": True,
                "position": 1,
            }
        )
        shop.erp.put(
            attrs.evolve(
                shirt,
                price=Decimal("22.00"),
                variants=(
                    Variant(number="V-1-S", options=(("Size", "Small"),)),
                    shirt.variants[1],
                ),
            )
        )
        await shop.push()

        parent = shop.product("V-1")
        assert [("Size", ["Small", "M"]), ("Material", ["Cotton"])] == [
            (a["name"], a["options"]) for a in parent["attributes"]
        ]
        assert [{"name": "Size", "option": "Small"}] == [
            {"name": a["name"], "option": a["option"]}
            for a in shop.product("V-1-S")["attributes"]
        ]
        assert "22.00" == shop.product("V-1-M")["regular_price"]

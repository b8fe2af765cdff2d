"""
Articles, variants, stock, categories and media through the WooCommerce
adapter: what lands in the shop, and what is adopted after a lost answer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import httpx
import pytest

from ecomsync import (
    Category,
    DataType,
    MediaLink,
    NumberRange,
    OrderState,
    OrderStatus,
    Outgoing,
    StockLevel,
    Variant,
)
from ecomsync.exceptions import ConfigurationError
from ecomsync.platforms.woocommerce import WooCommerce, category_slug
from ecomsync.testing._platform_contract import (
    CATEGORIES,
    PlatformContract,
    article,
    make_order,
)
from ecomsync.testing.woocommerce import Faults, WooCommerceEmulator

from .._retries import fast_retries
from ._woocommerce import APP_PASSWORD, KEY, SECRET, WooFixtures, _shop


pytestmark = pytest.mark.anyio


_fast_retries = fast_retries(3)


class TestCatalogue(WooFixtures):
    """
    Variants, stock, categories and media as they land in the shop, and
    adopted after a lost answer.
    """

    async def test_article_losing_its_variants_loses_their_attributes(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        An article that loses its variants becomes a simple product
        without the variation attribute (Size: S | L), which WooCommerce
        would otherwise go on showing; an attribute added in the shop by
        hand stays.
        """
        shirt = article(
            "A-8",
            variants=(
                Variant(number="A-8-S", options=(("Size", "S"),)),
                Variant(number="A-8-L", options=(("Size", "L"),)),
            ),
        )
        (first,) = await woo.push(DataType.ARTICLES, [Outgoing(record=shirt)])
        pid = int(first.platform_id or 0)
        emu.shop.products[pid]["attributes"].append(
            {
                "id": 0,
                "name": "Material",
                "options": ["Cotton"],
                "variation": False,
                "visible": True,
                "position": 1,
            }
        )

        (again,) = await woo.push(
            DataType.ARTICLES, [Outgoing(record=article("A-8"))]
        )

        assert again.ok
        row = emu.shop.products[pid]
        assert "simple" == row["type"]
        assert ["Material"] == [a["name"] for a in row["attributes"]]
        assert [] == row["variations"]

    async def test_negative_stock_with_backorders_is_written(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        With allow_backorders a negative level is written as the ERP has
        it; without, the product is set to 0 and the level fails.
        """
        async with _shop(emu) as woo:
            await woo.push(
                DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
            )
            await woo.push(
                DataType.ARTICLES, [Outgoing(record=article("A-9"))]
            )
            level = Outgoing(record=StockLevel(number="A-9", quantity=-2))
            (zeroed,) = await woo.push(DataType.STOCK, [level])
            (row,) = emu.shop.products.values()
            at_zero = row["stock_quantity"]
        async with WooCommerce(
            "https://shop.test",
            KEY,
            SECRET,
            allow_backorders=True,
            transport=httpx.ASGITransport(app=emu.app),
        ) as backorders:
            (written,) = await backorders.push(DataType.STOCK, [level])

        assert ("quantity", 0) == (zeroed.field, at_zero)
        assert written.ok
        assert -2 == row["stock_quantity"]

    async def test_variants_stock_and_removal(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        Variant stock lands on the variation; a dropped variant is
        deleted; net prices when the shop enters prices without tax.
        """
        # a shop calculating no tax takes either mode, so the adapter's
        # setting may change between its pushes
        emu.shop.calc_taxes = False
        shirt = article(
            "A-7",
            variants=(
                Variant(number="A-7-S", options=(("Größe", "S"),)),
                Variant(number="A-7-L", options=(("Größe", "L"),)),
            ),
        )
        await woo.push(DataType.ARTICLES, [Outgoing(record=shirt)])
        stock = await woo.push(
            DataType.STOCK,
            [
                Outgoing(record=StockLevel(number="A-7-S", quantity=4)),
                Outgoing(
                    record=StockLevel(
                        number="A-7-L", quantity=1, warehouse="X"
                    )
                ),
                Outgoing(record=StockLevel(number="A-7", quantity=-1)),
            ],
        )
        smaller = attrs.evolve(shirt, variants=shirt.variants[:1])
        woo.prices_include_tax = False
        (again,) = await woo.push(
            DataType.ARTICLES, [Outgoing(record=smaller)]
        )

        assert [True, False, False] == [o.ok for o in stock]
        assert ["warehouse", "quantity"] == [o.field for o in stock[1:]]
        assert (
            "quantity -1 of 'A-7' is negative: its stock in WooCommerce "
            "was set to 0, so the shop does not sell it; "
            "WooCommerce(allow_backorders=True) writes negative stock"
        ) == stock[2].error
        parent = emu.shop.products[int(again.platform_id or 0)]
        (variation,) = [emu.shop.products[v] for v in parent["variations"]]
        assert "A-7-S" == variation["sku"]
        assert 4 == variation["stock_quantity"]
        assert Decimal("16.7983") == Decimal(variation["regular_price"])

    async def test_category_adopted_after_lost_answer(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        A category created earlier (answer lost) is adopted by slug.
        """
        emu.shop.create_category({"name": "Neu", "slug": category_slug("K-9")})
        before = len(emu.shop.categories)
        (outcome,) = await woo.push(
            DataType.CATEGORIES,
            [Outgoing(record=Category(number="K-9", name="Neu"))],
        )

        assert outcome.ok, outcome
        assert before == len(emu.shop.categories)

    async def test_media_need_an_application_password(
        self, emu: WooCommerceEmulator, tmp_path: Any
    ) -> None:
        """
        Without wp_user and password an upload is a ConfigurationError.
        """
        shop = WooCommerce(
            "https://shop.test",
            KEY,
            SECRET,
            transport=httpx.ASGITransport(app=emu.app),
        )
        staged = PlatformContract._staged(tmp_path, b"img")
        with pytest.raises(ConfigurationError, match="application"):
            await shop.upload_media(staged)
        await shop.aclose()

    async def test_category_image_and_order_ranges(
        self, woo: WooCommerce, emu: WooCommerceEmulator, tmp_path: Any
    ) -> None:
        """
        A category takes its first image; orders select by number range;
        a non-numeric order number is unknown to WooCommerce.
        """
        media = await woo.upload_media(
            PlatformContract._staged(tmp_path, b"cat-img")
        )
        (cat,) = await woo.push(
            DataType.CATEGORIES,
            [
                Outgoing(
                    record=CATEGORIES[0],
                    media=(MediaLink(media_id=media, sha256="x", position=0),),
                )
            ],
        )
        await woo.attach_media(DataType.CATEGORIES, cat, [])
        emu.place(make_order("2001"))
        emu.place(make_order("2002"))
        got = [
            o.number
            async for batch in woo.fetch_orders(
                NumberRange("2002", "2009"), batch_size=1
            )
            for o in batch
        ]
        (status,) = await woo.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(
                        number="W-1", state=OrderState.IN_PROGRESS
                    )
                )
            ],
        )

        assert ["2002"] == got
        assert emu.shop.categories[int(cat.platform_id or 0)]["image"] is None
        assert not status.ok
        assert "does not exist" in (status.error or "")

    async def test_lost_upload_is_found_not_repeated(
        self, emu: WooCommerceEmulator, tmp_path: Any
    ) -> None:
        """
        An upload whose answer is lost is found by its hash, not resent.
        """
        shop = WooCommerce(
            "https://shop.test",
            KEY,
            SECRET,
            wp_user="sync",
            wp_application_password=APP_PASSWORD,
            request_deadline=0.3,
            transport=httpx.ASGITransport(app=emu.app),
        )
        emu.faults = Faults(commit_then_timeout=1, hang_s=1)
        media_id = await shop.upload_media(
            PlatformContract._staged(tmp_path, b"lost-answer")
        )
        await shop.aclose()

        assert [int(media_id)] == list(emu.shop.media)

    async def test_term_exists_adopted_from_a_stale_index(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        A create refused as term_exists is adopted by its resource_id; a
        nameless category fails naming ``name``.
        """
        held = emu.shop.create_category(
            {"name": "Spät", "slug": category_slug("K-8")}
        )
        items = [
            Outgoing(record=Category(number="K-8", name="Spät")),
            Outgoing(record=Category(number="K-0", name="")),
            Outgoing(record=StockLevel(number="x", quantity=1)),
        ]
        outcomes: list[Any] = [None, None, None]
        await woo._categories._wave(items, [0, 1], {}, outcomes)
        (wrong,) = await woo.push(DataType.CATEGORIES, items[2:])

        assert str(held["id"]) == outcomes[0].platform_id
        assert "name" == outcomes[1].field
        assert "empty_term_name" in outcomes[1].error
        assert not wrong.ok

    async def test_variant_held_elsewhere_and_bad_image(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        A variant number held by another product fails the article naming
        that variant's number (variants.0.number); an attachment that is
        no image fails naming media.
        """
        emu.shop.create_product({"name": "other", "sku": "A-9-S"})
        pdf = emu.shop.add_media(b"%PDF", "d.pdf", "application/pdf").id
        shirt = article("A-9", variants=(Variant(number="A-9-S"),))
        (variant,) = await woo.push(
            DataType.ARTICLES, [Outgoing(record=shirt)]
        )
        (image,) = await woo.push(
            DataType.ARTICLES,
            [
                Outgoing(
                    record=article("A-10"),
                    media=(
                        MediaLink(media_id=str(pdf), sha256="p", position=0),
                    ),
                )
            ],
        )

        assert "variants.0.number" == variant.field
        assert "A-9-S" in (variant.error or "")
        assert [] == [
            p for p in emu.shop.products.values() if p["sku"] == "A-9"
        ]
        assert "media.0" == image.field
        assert "invalid_image_id" in (image.error or "")
        assert () == image.media_gone  # there, just no image: kept

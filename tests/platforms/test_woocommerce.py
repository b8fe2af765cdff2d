"""
The WooCommerce adapter against the WooCommerce emulator (in process):
the platform contract, adoption after lost answers, secrets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
import attrs
import httpx
import pytest

from ecomsync import (
    All,
    Category,
    ChangedSince,
    DataType,
    MediaLink,
    NumberRange,
    Only,
    Order,
    OrderState,
    OrderStatus,
    Outcome,
    Outgoing,
    Refusal,
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


pytestmark = pytest.mark.anyio

KEY, SECRET = "ck_adapter", "cs_NEVER_SHOWN"
APP_PASSWORD = "app-password-NEVER-SHOWN"


_fast_retries = fast_retries(3)


def _shop(
    emu: WooCommerceEmulator,
    *,
    https: bool = True,
    wp_user: str | None = "sync",
    wp_application_password: str | None = APP_PASSWORD,
) -> WooCommerce:
    return WooCommerce(
        "https://shop.test" if https else "http://shop.test",
        KEY,
        SECRET,
        wp_user=wp_user,
        wp_application_password=wp_application_password,
        transport=httpx.ASGITransport(app=emu.app),
    )


def _emu() -> WooCommerceEmulator:
    return WooCommerceEmulator(
        KEY, SECRET, wp_user="sync", wp_application_password=APP_PASSWORD
    )


def _category_number(emu: WooCommerceEmulator, term_id: int) -> str | None:
    if not term_id:
        return None
    slug = emu.shop.categories[term_id]["slug"]
    for c in CATEGORIES:
        if category_slug(c.number) == slug:
            return c.number
    return slug


class TestWooCommerceContract(PlatformContract):
    """
    WooCommerce against the emulator honours the platform contract.
    """

    @pytest.fixture(name="platform", params=["https", "http"])
    async def _platform(
        self, request: pytest.FixtureRequest
    ) -> AsyncIterator[WooCommerce]:
        self.emu = _emu()
        shop = _shop(self.emu, https=request.param == "https")
        yield shop
        await shop.aclose()

    async def place_order(
        self, platform: Any, order: Order, *, changed_at: datetime
    ) -> None:
        self.emu.place(order, created_at=changed_at)

    def _product(self, number: str) -> dict[str, Any] | None:
        for row in self.emu.shop.products.values():
            if row["sku"] == number:
                return row
        return None

    async def read_back(
        self, platform: Any, data_type: DataType, number: str
    ) -> dict[str, Any] | None:
        shop = self.emu.shop
        if data_type is DataType.CATEGORIES:
            for term in shop.categories.values():
                if term["slug"] == category_slug(number):
                    return {
                        "name": term["name"],
                        "parent": _category_number(self.emu, term["parent"]),
                    }
            return None
        if data_type is DataType.ORDER_STATUS:
            order = shop.orders.get(int(number)) if number.isdigit() else None
            if order is None:
                return None
            meta = {m["key"]: m["value"] for m in order["meta_data"]}
            state = OrderState(meta.get("_ecomsync_state", "open"))
            return {
                "state": state,
                "tracking_numbers": set(meta.get("_ecomsync_tracking", [])),
            }
        row = self._product(number)
        if row is None:
            return None
        if data_type is DataType.STOCK:
            return {"quantity": row["stock_quantity"]}
        documents = next(
            (
                m["value"]
                for m in row["meta_data"]
                if m["key"] == "_ecomsync_documents"
            ),
            [],
        )
        images = [str(i["id"]) for i in row["images"]]
        return {
            "name": row["name"],
            "price": Decimal(
                row["regular_price"]
                or shop.products[row["variations"][0]]["regular_price"]
            ),
            "categories": {
                _category_number(self.emu, c["id"]) for c in row["categories"]
            },
            "variants": {shop.products[v]["sku"] for v in row["variations"]},
            "media": images + [str(d) for d in documents],
            "cover": images[0] if images else None,
        }

    async def count(self, platform: Any, data_type: DataType) -> int:
        if data_type is DataType.CATEGORIES:
            return len(self.emu.shop.categories)
        return len(self.emu.shop.products)

    async def media_count(self, platform: Any) -> int:
        return len(self.emu.shop.media)


async def _push_two(
    number: str, other: str
) -> tuple[WooCommerceEmulator, list[Outcome]]:
    """The categories, then articles *number* and *other* in one push."""
    emu = _emu()
    async with _shop(emu) as shop:
        await shop.push(
            DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
        )
        outcomes = await shop.push(
            DataType.ARTICLES,
            [
                Outgoing(record=article(number)),
                Outgoing(record=article(other)),
            ],
        )
    return emu, list(outcomes)


class TestAdoption:
    async def test_lost_answer_is_adopted_not_duplicated(self) -> None:
        """
        A create whose answer was lost is adopted by SKU on the rerun.
        """
        emu = _emu()
        async with _shop(emu) as shop:
            await shop.push(
                DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
            )
            emu.shop.create_product({"name": "x", "sku": "A-1"})
            (outcome,) = await shop.push(
                DataType.ARTICLES, [Outgoing(record=article("A-1"))]
            )

        assert outcome.ok, outcome
        assert 1 == sum(p["sku"] == "A-1" for p in emu.shop.products.values())
        assert (
            "Hammer A-1"
            == emu.shop.products[int(outcome.platform_id or 0)]["name"]
        )

    @pytest.mark.parametrize(
        ("number", "other"),
        [
            ("A-1", "a-1"),
            ("A-1", "\ufeffA-1"),  # a CSV export's byte order mark
            ("A-1", "A-\u200b1"),  # a zero-width space from a web page
            ("A-1", "A-1\u00a0"),  # a no-break space from a spreadsheet
            ("LO-1", "LØ-1"),  # one letter to unicode_520_ci
            ("AE-1", "Æ-1"),
        ],
    )
    async def test_sku_collision_fails_both(
        self, number: str, other: str
    ) -> None:
        """
        Two numbers WooCommerce's collation takes as one SKU fail, naming
        each other.
        """
        emu, outcomes = await _push_two(number, other)

        assert [False, False] == [o.ok for o in outcomes]
        assert repr(other) in (outcomes[0].error or "")
        assert repr(number) in (outcomes[1].error or "")
        assert not emu.shop.products

    async def test_spacing_accent_is_not_a_space(self) -> None:
        """
        "A-1" with an acute accent (U+00B4, typed as an apostrophe) is
        another SKU than "A-1" to the collation, which weighs it as a
        symbol: both land.
        """
        emu, outcomes = await _push_two("A-1", "A-1\u00b4")

        assert [True, True] == [o.ok for o in outcomes], outcomes
        assert 2 == len(emu.shop.products)

    async def test_secrets_never_in_text(self) -> None:
        """
        Neither secret shows in the repr or in an auth error.
        """
        emu = WooCommerceEmulator(KEY, "other-secret")
        shop = _shop(emu)
        problems = await shop.check()
        await shop.aclose()

        text = repr(shop) + " ".join(problems)
        assert problems
        assert SECRET not in text
        assert APP_PASSWORD not in text

    @pytest.mark.parametrize(
        ("user", "password", "expected"),
        [
            (
                "sync",
                "wrong-password",
                "media: WooCommerce refused GET /wp-json/wp/v2/media: "
                "incorrect_password: The provided password is an invalid "
                "application password.",
            ),
            ("nobody", APP_PASSWORD, "invalid_username: Unknown username."),
            ("sync", None, "media: WooCommerce media uploads need wp_user"),
        ],
    )
    async def test_check_verifies_the_media_credentials(
        self, user: str, password: str | None, expected: str
    ) -> None:
        """
        With WordPress media credentials set, check reads wp/v2/media
        with them and names a refusal (the key itself being fine) or a
        missing half, never showing the password.
        """
        shop = _shop(_emu(), wp_user=user, wp_application_password=password)
        try:
            problems = await shop.check()
        finally:
            await shop.aclose()

        assert 1 == len(problems), problems
        assert problems[0].startswith("WooCommerce at https://shop.test: ")
        assert expected in problems[0]
        assert "wrong-password" not in problems[0]
        assert APP_PASSWORD not in problems[0]

    async def test_check_reads_media_only_when_configured(self) -> None:
        """
        Good media credentials pass with one authenticated media read;
        without them check makes no media request.
        """
        emu = _emu()
        with_media = _shop(emu)
        without = _shop(emu, wp_user=None, wp_application_password=None)
        try:
            assert [] == await with_media.check()
            media_reads = [r for r in emu.requests if "media" in r.path]
            assert [] == await without.check()
        finally:
            await with_media.aclose()
            await without.aclose()

        assert [200] == [r.status for r in media_reads]
        assert media_reads == [r for r in emu.requests if "media" in r.path]

    def test_batch_limit(self) -> None:
        """
        A batch size over WooCommerce's limit is a configuration error.
        """
        with pytest.raises(ConfigurationError, match=r"1\.\.100"):
            WooCommerce("https://shop.test", KEY, SECRET, batch_size=101)


class TestAdapterDetails:
    @pytest.fixture(name="emu")
    def _emu_fixture(self) -> WooCommerceEmulator:
        return _emu()

    @pytest.fixture(name="woo")
    async def _woo(
        self, emu: WooCommerceEmulator
    ) -> AsyncIterator[WooCommerce]:
        shop = _shop(emu)
        await shop.push(
            DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
        )
        yield shop
        await shop.aclose()

    async def test_check_passes_and_estimates(self, woo: WooCommerce) -> None:
        """
        A usable shop has no problems; estimates grow with the work (an
        order import costs nothing beyond its pages: a plan counts what
        its own read of the orders sent).
        """
        assert [] == await woo.check()
        for data_type in DataType:
            small = woo.estimate_requests(
                data_type, writes=1, uploads=0, with_media=0
            )
            big = woo.estimate_requests(
                data_type, writes=250, uploads=3, with_media=3
            )
            if data_type is DataType.ADDRESSES_AND_ORDERS:
                assert (0, 0) == (small, big)
            else:
                assert 0 < small <= big

    @pytest.mark.parametrize(
        ("number", "variant", "field"),
        [
            (" B-1", None, "number"),
            ("B  1", None, "number"),
            ("B<b>1", None, "number"),
            ("B%411", None, "number"),
            ("B,1", None, "number"),
            ("SHIRT", " S-1", "variants.0.number"),
        ],
    )
    async def test_number_woocommerce_would_change_fails(
        self,
        woo: WooCommerce,
        emu: WooCommerceEmulator,
        number: str,
        variant: str | None,
        field: str,
    ) -> None:
        """
        A number WooCommerce would not keep as it is (wc_clean trims and
        collapses white space, strips tags and %-escapes) or could not
        look up (a comma) fails by name, unsent, instead of landing under
        another SKU whose stock then never finds it.
        """
        variants = (
            ()
            if variant is None
            else (Variant(number=variant, options=(("Size", "S"),)),)
        )
        record = article(number, variants=variants)

        (outcome,) = await woo.push(
            DataType.ARTICLES, [Outgoing(record=record)]
        )

        assert not outcome.ok
        assert field == outcome.field
        assert repr(variant or number) in (outcome.error or "")
        assert not [p for p in emu.shop.products.values() if p["sku"]]

    @pytest.mark.parametrize("number", ["B-1\u00a0", "\u3000B-1"])
    async def test_number_php_trim_keeps_lands(
        self, woo: WooCommerce, emu: WooCommerceEmulator, number: str
    ) -> None:
        """
        A number with a no-break or ideographic space at an end lands as
        it is: wc_clean trims with PHP's trim, which keeps them.
        """
        (outcome,) = await woo.push(
            DataType.ARTICLES, [Outgoing(record=article(number))]
        )

        assert outcome.ok, outcome
        assert [number] == [p["sku"] for p in emu.shop.products.values()]

    @pytest.mark.parametrize(
        ("ean", "variant_ean", "field"),
        [
            ("4006381 333931", None, "ean"),
            ("EAN4006381333931", None, "ean"),
            ("ABC", None, "ean"),
            ("X123", None, "ean"),
            (None, "4006381.333931", "variants.0.ean"),
        ],
    )
    async def test_ean_woocommerce_would_change_fails(
        self,
        woo: WooCommerce,
        emu: WooCommerceEmulator,
        ean: str | None,
        variant_ean: str | None,
        field: str,
    ) -> None:
        """
        An EAN WooCommerce would not keep as it is (it drops every
        character but digits, hyphens and a final X without a word: "ABC"
        becomes no EAN at all) fails by name, unsent.
        """
        variants = (
            ()
            if variant_ean is None
            else (
                Variant(
                    number="A-1-S", options=(("Size", "S"),), ean=variant_ean
                ),
            )
        )
        record = article("A-1", ean=ean, variants=variants)

        (outcome,) = await woo.push(
            DataType.ARTICLES, [Outgoing(record=record)]
        )

        assert not outcome.ok
        assert field == outcome.field
        assert repr(variant_ean or ean) in (outcome.error or "")
        assert not [p for p in emu.shop.products.values() if p["sku"]]

    async def test_ean_lands_as_written_and_leaves_with_the_erp(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        Valid EANs (with hyphens, an ISBN-10's final X) land as written;
        an EAN the ERP no longer has leaves the shop's product too.
        """
        record = article(
            "A-1",
            ean="978-3-16-148410-X",
            variants=(
                Variant(
                    number="A-1-S",
                    options=(("Size", "S"),),
                    ean="4006381333931",
                ),
            ),
        )
        await woo.push(DataType.ARTICLES, [Outgoing(record=record)])
        rows = {p["sku"]: p for p in emu.shop.products.values()}
        assert "978-3-16-148410-X" == rows["A-1"]["global_unique_id"]
        assert "4006381333931" == rows["A-1-S"]["global_unique_id"]

        cleared = attrs.evolve(
            record,
            ean=None,
            variants=(attrs.evolve(record.variants[0], ean=None),),
        )
        (outcome,) = await woo.push(
            DataType.ARTICLES, [Outgoing(record=cleared)]
        )

        assert outcome.ok
        rows = {p["sku"]: p for p in emu.shop.products.values()}
        assert "" == rows["A-1"]["global_unique_id"]
        assert "" == rows["A-1-S"]["global_unique_id"]

    async def test_trailing_space_is_found_again(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        A trailing space, which WooCommerce trims but its lookups ignore,
        lands, and the article's stock finds it.
        """
        await woo.push(DataType.ARTICLES, [Outgoing(record=article("B-1 "))])

        (stock,) = await woo.push(
            DataType.STOCK,
            [Outgoing(record=StockLevel(number="B-1 ", quantity=3))],
        )

        assert stock.ok
        (row,) = [p for p in emu.shop.products.values() if p["sku"]]
        assert ("B-1", 3) == (row["sku"], row["stock_quantity"])

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

    async def test_sku_of_a_variation_is_refused_for_an_article(
        self, woo: WooCommerce
    ) -> None:
        """
        An article numbered like another product's variation fails.
        """
        shirt = article("A-8", variants=(Variant(number="A-8-S"),))
        await woo.push(DataType.ARTICLES, [Outgoing(record=shirt)])
        (outcome,) = await woo.push(
            DataType.ARTICLES, [Outgoing(record=article("A-8-S"))]
        )

        assert not outcome.ok
        assert "variation" in (outcome.error or "")

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

    async def test_order_states_read(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        A cancelled or refunded order reads cancelled (its cancellation
        reaches the ERP); a failed one (payment declined) is not read: it
        is not cancelled (WooCommerce lets the customer pay it again),
        and WooCommerce took no stock for it.
        """
        statuses = {
            "2201": "cancelled",
            "2202": "refunded",
            "2203": "failed",
            "2204": "on-hold",
            "2205": "completed",
        }
        for number, status in statuses.items():
            oid = emu.place(make_order(number))
            emu.shop.orders[oid]["status"] = status

        got = {
            o.number: o.state
            async for batch in woo.fetch_orders(All(), batch_size=10)
            for o in batch
        }

        assert {
            "2201": OrderState.CANCELLED,
            "2202": OrderState.CANCELLED,
            "2204": OrderState.OPEN,
            "2205": OrderState.COMPLETED,
        } == got

    async def test_checkout_drafts_are_no_orders(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        A block checkout's draft (``checkout-draft``: the customer opened
        the checkout, placed nothing) and an ``auto-draft`` are not read
        as orders: ``status=any`` lists them (woocommerce#63743,
        woocommerce#62106), and imported they would be ERP orders nobody
        placed.  Once placed, the order is read.
        """
        numbers = {"2301": "processing", "2302": "checkout-draft"}
        numbers |= {"2303": "auto-draft"}
        ids = {}
        for number, status in numbers.items():
            ids[number] = oid = emu.place(make_order(number))
            emu.shop.orders[oid]["status"] = status

        async def read(selection: Any) -> list[str]:
            return [
                o.number
                async for batch in woo.fetch_orders(selection, batch_size=10)
                for o in batch
            ]

        every = await read(All())
        only = await read(Only(set(numbers)))
        emu.shop.orders[ids["2302"]]["status"] = "processing"  # placed
        placed = await read(All())

        assert ["2301"] == every
        assert ["2301"] == only
        assert ["2301", "2302"] == placed

    @pytest.mark.parametrize("unpaid", ["pending", "failed"])
    async def test_pending_order_waits_for_payment(
        self, woo: WooCommerce, emu: WooCommerceEmulator, unpaid: str
    ) -> None:
        """
        A ``pending`` or ``failed`` order (unpaid; WooCommerce has not
        taken its stock) is not imported: a changes read leaves it out,
        an ``Only`` of its number refuses it on ``status`` naming the
        number and the status; once paid (``processing``) the next
        changes read imports it.
        """
        since = datetime.now(UTC) - timedelta(minutes=1)
        oid = emu.place(make_order("2401"))
        # placed unpaid: never paid, so no date_paid
        emu.shop.orders[oid].update(
            status=unpaid, date_paid=None, date_paid_gmt=None
        )

        async def read(selection: Any) -> list[Order | Refusal]:
            return [
                o
                async for batch in woo.fetch_orders(selection, batch_size=10)
                for o in batch
            ]

        changed = await read(ChangedSince(since))
        every = await read(All())
        (refused,) = await read(Only({"2401"}))
        emu.shop.update_order(oid, {"status": "processing"})
        paid = await read(ChangedSince(since))

        assert [] == changed
        assert [] == every
        assert isinstance(refused, Refusal)
        assert ("2401", "status") == (refused.number, refused.field)
        assert f"order 2401 is {unpaid} in WooCommerce" in refused.reason
        assert [("2401", OrderState.IN_PROGRESS)] == [
            (o.number, o.state) for o in paid if isinstance(o, Order)
        ]

    async def test_failed_order_whose_stock_was_taken_is_imported(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        An ``on-hold`` order turned ``failed`` before a read keeps its
        units off stock in WooCommerce (no hook moves stock on
        ``failed``; its lines show ``_reduced_stock``): it is imported,
        open, as it would have been a moment earlier, so the ERP holds
        its units as the shop does.
        """
        since = datetime.now(UTC) - timedelta(minutes=1)
        emu.shop.create_product(
            {"name": "Hat", "sku": "H-1", "manage_stock": True}
        )
        oid = emu.place_order(
            status="on-hold",
            billing={"country": "DE", "last_name": "Muster"},
            lines=[{"sku": "H-1", "quantity": 3, "price": "10.00"}],
            total="30.00",
        )
        emu.shop.update_order(oid, {"status": "failed"})

        got = [
            (o.number, o.state)
            async for batch in woo.fetch_orders(
                ChangedSince(since), batch_size=10
            )
            for o in batch
            if isinstance(o, Order)
        ]

        assert [(str(oid), OrderState.OPEN)] == got

    @pytest.mark.parametrize("pushed", [False, True])
    async def test_paid_order_set_back_to_pending_is_refused(
        self, woo: WooCommerce, emu: WooCommerceEmulator, pushed: bool
    ) -> None:
        """
        A paid order (or one whose status the ERP pushed: imported) the
        merchant set back to ``pending``, which gave its units back to
        stock in WooCommerce, is refused on ``status`` by a changes read
        instead of left out in silence: the ERP may hold those units
        while the shop sells them again; the reason says what to do.
        """
        since = datetime.now(UTC) - timedelta(minutes=1)
        emu.shop.create_product(
            {"name": "Hat", "sku": "H-1", "manage_stock": True}
        )
        oid = emu.place_order(
            status="on-hold" if pushed else "processing",
            billing={"country": "DE", "last_name": "Muster"},
            lines=[{"sku": "H-1", "quantity": 3, "price": "10.00"}],
            total="30.00",
        )
        if pushed:
            (sent,) = await woo.push(
                DataType.ORDER_STATUS,
                [
                    Outgoing(
                        record=OrderStatus(
                            number=str(oid), state=OrderState.OPEN
                        )
                    )
                ],
            )
            assert sent.ok, sent.error
        emu.shop.update_order(oid, {"status": "pending"})

        (refused,) = [
            o
            async for batch in woo.fetch_orders(
                ChangedSince(since), batch_size=10
            )
            for o in batch
        ]

        assert isinstance(refused, Refusal)
        assert (str(oid), "status") == (refused.number, refused.field)
        assert "gave its units back to stock" in refused.reason
        assert ("the ERP still holds them" in refused.reason) is pushed
        assert "cancel the order in the ERP" in refused.reason

    @pytest.mark.parametrize(
        "current", ["pending", "on-hold", "failed", "processing"]
    )
    @pytest.mark.parametrize(
        "state", [OrderState.OPEN, OrderState.IN_PROGRESS]
    )
    async def test_open_or_in_progress_keeps_where_the_payment_is(
        self,
        woo: WooCommerce,
        emu: WooCommerceEmulator,
        current: str,
        state: OrderState,
    ) -> None:
        """
        Open or in progress in the ERP (which knows nothing of payments)
        leaves a WooCommerce status that says where the order's payment
        is as it is: ``processing`` means paid (WooCommerce sets its
        ``date_paid``), ``pending`` unpaid (WooCommerce cancels an unpaid
        checkout order after its hold-stock time).  The ERP's state goes
        to the order's meta.
        """
        oid = emu.place(make_order("2401"))
        emu.shop.orders[oid]["status"] = current

        (outcome,) = await woo.push(
            DataType.ORDER_STATUS,
            [Outgoing(record=OrderStatus(number="2401", state=state))],
        )

        order = emu.shop.orders[oid]
        meta = {m["key"]: m["value"] for m in order["meta_data"]}
        assert outcome.ok, outcome
        assert current == order["status"]
        assert state.value == meta["_ecomsync_state"]

    @pytest.mark.parametrize(
        "state", [OrderState.OPEN, OrderState.IN_PROGRESS]
    )
    async def test_open_after_completed_is_processing(
        self, woo: WooCommerce, emu: WooCommerceEmulator, state: OrderState
    ) -> None:
        """
        Open or in progress for an order the shop has completed takes it
        back to ``processing`` (paid, not shipped yet), never to
        ``pending``.
        """
        oid = emu.place(make_order("2402"))
        emu.shop.orders[oid]["status"] = "completed"

        outcomes = await woo.push(
            DataType.ORDER_STATUS,
            [Outgoing(record=OrderStatus(number="2402", state=state))],
        )

        assert all(o.ok for o in outcomes), outcomes
        assert "processing" == emu.shop.orders[oid]["status"]

    @pytest.mark.parametrize("closed", ["cancelled", "refunded"])
    async def test_shipped_for_an_order_the_shop_cancelled(
        self, woo: WooCommerce, emu: WooCommerceEmulator, closed: str
    ) -> None:
        """
        "Shipped" (or any state but cancelled) for an order the shop has
        cancelled or refunded since fails on ``state`` by name and leaves
        the order as it is, instead of reopening it as completed;
        "cancelled" goes through without turning a refunded order into a
        cancelled one.
        """
        oid = emu.place(make_order("2101"))
        emu.shop.orders[oid]["status"] = closed

        def push(state: OrderState) -> Any:
            return woo.push(
                DataType.ORDER_STATUS,
                [
                    Outgoing(
                        record=OrderStatus(
                            number="2101",
                            state=state,
                            tracking_numbers=("T-1",),
                        )
                    )
                ],
            )

        (ship,) = await push(OrderState.SHIPPED)
        kept = emu.shop.orders[oid]["status"]
        (cancel,) = await push(OrderState.CANCELLED)

        assert ("2101", "state") == (ship.number, ship.field)
        assert f"2101 is {closed} in WooCommerce" in str(ship.error)
        assert closed == kept
        assert cancel.ok, cancel
        assert closed == emu.shop.orders[oid]["status"]

    async def test_tracking_note_whose_answer_was_lost_is_not_posted_again(
        self, emu: WooCommerceEmulator
    ) -> None:
        """
        A tracking note that landed but whose answer was lost is found
        on the order before it is sent again, not posted a second time:
        the customer is told each tracking number once.
        """
        oid = emu.place(make_order("2102"))
        woo = WooCommerce(
            "https://shop.test",
            KEY,
            SECRET,
            request_deadline=0.3,
            transport=httpx.ASGITransport(app=emu.app),
        )
        shipped = Outgoing(
            record=OrderStatus(
                number="2102",
                state=OrderState.SHIPPED,
                tracking_numbers=("T-1", "T-2"),
            )
        )
        emu.faults = Faults(commit_then_timeout=1, hang_s=1)
        (first,) = await woo.push(DataType.ORDER_STATUS, [shipped])
        emu.faults = Faults()
        (again,) = await woo.push(DataType.ORDER_STATUS, [shipped])
        (third,) = await woo.push(DataType.ORDER_STATUS, [shipped])
        await woo.aclose()

        assert first.ok, first
        assert again.ok, again
        assert third.ok, third
        assert ["Tracking number: T-1", "Tracking number: T-2"] == sorted(
            n["note"] for n in emu.shop.notes[oid] if n["customer_note"]
        )
        assert "completed" == emu.shop.orders[oid]["status"]

    async def test_tracking_note_of_a_dead_push_is_not_posted_again(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        A tracking note posted by a push that died before it recorded
        the tracking on the order is not posted again by the next push.
        """
        oid = emu.place(make_order("2103"))
        emu.shop.add_note(oid, "Tracking number: T-1", customer_note=True)

        (outcome,) = await woo.push(
            DataType.ORDER_STATUS,
            [
                Outgoing(
                    record=OrderStatus(
                        number="2103",
                        state=OrderState.SHIPPED,
                        tracking_numbers=("T-1", "T-2"),
                    )
                )
            ],
        )

        assert outcome.ok, outcome
        assert ["Tracking number: T-1", "Tracking number: T-2"] == sorted(
            n["note"] for n in emu.shop.notes[oid] if n["customer_note"]
        )

    async def test_retries_a_throttled_shop(
        self, woo: WooCommerce, emu: WooCommerceEmulator
    ) -> None:
        """
        A 429 with Retry-After is retried with a fresh OAuth nonce.
        """
        emu.faults = Faults(storm_next=1, retry_after="0")
        (outcome,) = await woo.push(
            DataType.ARTICLES, [Outgoing(record=article("A-3"))]
        )

        assert outcome.ok, outcome
        assert 429 in [r.status for r in emu.requests]

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


class _Meet(httpx.AsyncBaseTransport):
    """
    The emulator, holding each request *held* picks until a second one
    is in flight: one sent after the other, the first waits for ever.
    """

    def __init__(
        self, app: Any, held: Callable[[httpx.Request], bool]
    ) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.held = held
        self.arrived = 0
        self.met = anyio.Event()

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        if self.held(request):
            self.arrived += 1
            if self.arrived >= 2:
                self.met.set()
            await self.met.wait()
        return await self.inner.handle_async_request(request)


def _order_read(request: httpx.Request) -> bool:
    return request.method == "GET" and "/orders/" in request.url.path


def _sku_lookup(request: httpx.Request) -> bool:
    return request.url.path.endswith("/products") and (
        "sku" in request.url.params
    )


class TestStatusesSideBySide:
    async def test_statuses_of_several_orders_are_written_side_by_side(
        self,
    ) -> None:
        """
        A push of order statuses wrote one order at a time (a read and a
        write each, one after the other: 200 round trips for 100
        shipments).  The orders are read and written side by side, within
        the adapter's requests in flight; each lands.
        """
        emu = _emu()
        ids = [emu.place(make_order(n)) for n in ("2501", "2502", "2503")]
        meet = _Meet(emu.app, _order_read)
        statuses = [
            Outgoing(record=OrderStatus(number=n, state=OrderState.SHIPPED))
            for n in ("2501", "2502", "2503")
        ]
        async with WooCommerce(
            "https://shop.test", KEY, SECRET, transport=meet
        ) as woo:
            with anyio.fail_after(10):
                outcomes = await woo.push(DataType.ORDER_STATUS, statuses)

        assert [(True, str(i)) for i in ids] == [
            (o.ok, o.platform_id) for o in outcomes
        ]
        assert ["completed"] * 3 == [emu.shop.orders[i]["status"] for i in ids]

    async def test_a_batchs_skus_are_looked_up_side_by_side(self) -> None:
        """
        The SKUs of a batch are looked up 40 a request (``?sku=`` is in
        the URL), and the requests went one after the other.  They go
        side by side; each of 41 articles lands once.
        """
        emu = _emu()
        meet = _Meet(emu.app, _sku_lookup)
        articles = [
            Outgoing(record=article(f"L-{n}", categories=()))
            for n in range(41)
        ]
        async with WooCommerce(
            "https://shop.test", KEY, SECRET, transport=meet, batch_size=100
        ) as woo:
            with anyio.fail_after(10):
                outcomes = await woo.push(DataType.ARTICLES, articles)

        assert [True] * 41 == [o.ok for o in outcomes]
        assert 41 == len(emu.shop.products)

"""
The WooCommerce adapter against the WooCommerce emulator (in process):
the platform contract, adoption after lost answers, secrets.  Product
numbers, the catalogue, order states and requests side by side have their
own files (test_woocommerce_product_numbers, test_woocommerce_catalogue,
test_woocommerce_order_states, test_woocommerce_side_by_side).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from ecomsync import (
    Category,
    DataType,
    Order,
    OrderState,
    Outcome,
    Outgoing,
)
from ecomsync.exceptions import ConfigurationError
from ecomsync.platforms.woocommerce import WooCommerce, category_slug
from ecomsync.testing._platform_contract import (
    CATEGORIES,
    PlatformContract,
    article,
)
from ecomsync.testing.woocommerce import Faults, WooCommerceEmulator

from .._retries import fast_retries
from ._adapters import woocommerce_on
from ._woocommerce import APP_PASSWORD, KEY, SECRET, WooFixtures, _emu, _shop


pytestmark = pytest.mark.anyio


_fast_retries = fast_retries(3)


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


class TestAdapterDetails(WooFixtures):
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

    async def test_category_estimate_counts_every_term_page(self) -> None:
        """
        A category push into a shop with more terms than a page holds
        stays within the plan's estimate (check() tells the terms).
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        tree = [
            Category(number=f"T-{n:03}", name=f"Term {n:03}")
            for n in range(250)
        ]
        seed = woocommerce_on(emu, SECRET, key=KEY)
        async with seed:
            await seed.push(
                DataType.CATEGORIES, [Outgoing(record=c) for c in tree]
            )
        woo = woocommerce_on(emu, SECRET, key=KEY)
        async with woo:
            assert [] == await woo.check()
            planned = woo.estimate_requests(
                DataType.CATEGORIES, writes=1, uploads=0, with_media=0
            )
            before = len(emu.requests)
            (outcome,) = await woo.push(
                DataType.CATEGORIES,
                [Outgoing(record=Category(number="T-007", name="Renamed"))],
            )

        assert outcome.ok, outcome
        # three pages of 250 terms (each page after the first starts at
        # the last row read) and the batch
        assert 4 == len(emu.requests) - before <= planned

    async def test_article_estimate_counts_the_term_listing(self) -> None:
        """
        An article push, which reads the shop's terms first, into a shop
        with more terms than a page holds stays within the estimate.
        """
        emu = WooCommerceEmulator(KEY, SECRET)
        tree = [
            *CATEGORIES,
            *(
                Category(number=f"T-{n:03}", name=f"Term {n:03}")
                for n in range(250)
            ),
        ]
        seed = woocommerce_on(emu, SECRET, key=KEY)
        async with seed:
            await seed.push(
                DataType.CATEGORIES, [Outgoing(record=c) for c in tree]
            )
        woo = woocommerce_on(emu, SECRET, key=KEY)
        async with woo:
            assert [] == await woo.check()
            planned = woo.estimate_requests(
                DataType.ARTICLES, writes=1, uploads=0, with_media=0
            )
            before = len(emu.requests)
            (outcome,) = await woo.push(
                DataType.ARTICLES, [Outgoing(record=article("A-9"))]
            )

        assert outcome.ok, outcome
        assert len(emu.requests) - before <= planned

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

"""
The WooCommerce adapter against the WooCommerce emulator (in process):
the platform contract, adoption after lost answers, secrets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import stamina

from ecomsync import DataType, Order, OrderState, Outgoing
from ecomsync.exceptions import ConfigurationError
from ecomsync.platforms.woocommerce import WooCommerce, category_slug
from ecomsync.testing._platform_contract import (
    CATEGORIES,
    PlatformContract,
    article,
)
from ecomsync.testing.woocommerce import WooCommerceEmulator


pytestmark = pytest.mark.anyio

KEY, SECRET = "ck_adapter", "cs_NEVER_SHOWN"
APP_PASSWORD = "app-password-NEVER-SHOWN"


@pytest.fixture(autouse=True)
def _fast_retries() -> Iterator[None]:
    with stamina.set_testing(True, attempts=3):
        yield


def _shop(emu: WooCommerceEmulator, *, https: bool = True) -> WooCommerce:
    return WooCommerce(
        "https://shop.test" if https else "http://shop.test",
        KEY,
        SECRET,
        wp_user="sync",
        wp_application_password=APP_PASSWORD,
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

    async def test_sku_collision_by_case_fails_both(self) -> None:
        """
        Two numbers WooCommerce takes as one SKU fail, naming each other.
        """
        emu = _emu()
        async with _shop(emu) as shop:
            await shop.push(
                DataType.CATEGORIES, [Outgoing(record=c) for c in CATEGORIES]
            )
            outcomes = await shop.push(
                DataType.ARTICLES,
                [
                    Outgoing(record=article("A-1")),
                    Outgoing(record=article("a-1")),
                ],
            )

        assert [False, False] == [o.ok for o in outcomes]
        assert "'a-1'" in (outcomes[0].error or "")
        assert not emu.shop.products

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

    def test_batch_limit(self) -> None:
        """
        A batch size over WooCommerce's limit is a configuration error.
        """
        with pytest.raises(ConfigurationError, match=r"1\.\.100"):
            WooCommerce("https://shop.test", KEY, SECRET, batch_size=101)

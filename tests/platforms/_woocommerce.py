"""
Helpers of the WooCommerce adapter tests against the emulator: the
credentials, an emulator, an adapter on it, the fixtures the test classes
take.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ecomsync import (
    DataType,
    Outgoing,
)
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing._platform_contract import (
    CATEGORIES,
)
from ecomsync.testing.woocommerce import WooCommerceEmulator


KEY, SECRET = "ck_adapter", "cs_NEVER_SHOWN"
APP_PASSWORD = "app-password-NEVER-SHOWN"


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


class WooFixtures:
    """
    The emulator and an adapter on it with the contract's categories, for
    the test classes that take them.
    """

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

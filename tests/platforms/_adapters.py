"""
Platform adapters on in-process emulators, and a Shopify emulator whose
throttle never bites, for the modules that talk to them.
"""

from __future__ import annotations

from typing import Any

import httpx

from ecomsync.platforms.shopify import Shopify
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing.shopify import ShopifyEmulator
from ecomsync.testing.woocommerce import WooCommerceEmulator


def shopify_emulator(token: str, **kwargs: Any) -> ShopifyEmulator:
    """An emulator with a bucket of a million points, refilled as fast."""
    return ShopifyEmulator(
        token, maximum=1_000_000, restore_rate=1_000_000, **kwargs
    )


def shopify_on(emu: ShopifyEmulator, token: str, **kwargs: Any) -> Shopify:
    """The adapter on *emu*; bulk operations polled at once."""
    kwargs.setdefault("bulk_poll_interval", 0.001)
    return Shopify(
        "https://shop.test",
        token,
        transport=httpx.ASGITransport(app=emu.app),
        **kwargs,
    )


def woocommerce_on(
    emu: WooCommerceEmulator, secret: str, *, key: str = "ck_x", **kwargs: Any
) -> WooCommerce:
    """The adapter on *emu*, with consumer key *key*."""
    return WooCommerce(
        "https://shop.test",
        key,
        secret,
        transport=httpx.ASGITransport(app=emu.app),
        **kwargs,
    )

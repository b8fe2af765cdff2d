"""
A Shopware 6 Admin API emulator (ASGI) for testing and benchmarking
platform adapters without a shop.

It reproduces the documented contract of ``platform-apis.md`` §1.15:
OAuth client credentials with expiring tokens, simple JSON and Shopware's
error shape, the all-or-nothing sync API with write-error pointers and the
``product.number`` resolver, search criteria, media upload, the order
state machines, and no rate limit except on failed logins.  `Faults` adds
costs (latency, per-item and per-upload time, bandwidth, worker limit) and
failures (429/503 storms, connection resets, slow drip, commit-then-
timeout).

Use it in-process::

    emu = ShopwareEmulator(client_id="SWIA...", client_secret="s")
    transport = httpx.ASGITransport(app=emu.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://shop.test"
    ) as client:
        ...

or on loopback with ``with serve(emu) as base_url: ...`` or
``python -m ecomsync.testing.shopware6 --port 8000``.
"""

from __future__ import annotations

from ._emulator import RequestRecord, ShopwareEmulator
from ._faults import Faults
from ._media import MediaFile
from ._schema import DEFAULT_CURRENCY, LIVE_VERSION, SYSTEM_LANGUAGE, seed_id
from ._seed import SeedIds
from ._serve import serve
from ._states import TransitionRecord


__all__ = [
    "DEFAULT_CURRENCY",
    "LIVE_VERSION",
    "SYSTEM_LANGUAGE",
    "Faults",
    "MediaFile",
    "RequestRecord",
    "SeedIds",
    "ShopwareEmulator",
    "TransitionRecord",
    "seed_id",
    "serve",
]

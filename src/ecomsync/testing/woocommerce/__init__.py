"""
A WooCommerce REST API v3 emulator (ASGI) for testing and benchmarking
without a shop.

It reproduces ``platform-apis.md`` §2.14, following WooCommerce's source
where it and the docs differ: API keys with read/write permissions, HTTP
Basic over TLS and OAuth 1.0a one-legged (HMAC-SHA1/256, nonce, 15 minute
window) over plain HTTP, query strings read as PHP reads them (last
duplicate wins); products, variations, product categories, orders with
notes, customers, each with batch endpoints (at most 100 items, per-item
errors under HTTP 200, no rollback); SKU uniqueness
(``product_invalid_sku`` with ``resource_id``), ``term_exists`` with
``resource_id``; images replaced as a list (index 0 featured), sideloaded
per ``src`` or attached by id; WordPress media uploads with application
passwords; stock only when managed; paging with ``X-WP-Total``,
``X-WP-TotalPages`` and ``Link``; date filters with ``dates_are_gmt``;
WordPress' error shape.  `Faults` (shared with the Shopware 6 emulator)
adds latency, 429/5xx storms with ``Retry-After``, dropped connections,
slow bodies and commit-then-timeout.

Use it in-process::

    emu = WooCommerceEmulator("ck_test", "cs_test")
    transport = httpx.ASGITransport(app=emu.app)

or on loopback with ``with serve(emu) as base_url: ...`` or
``python -m ecomsync.testing.woocommerce --port 8000``.

.. versionadded:: 26.1.0
"""

from __future__ import annotations

from .._faults import Faults
from ._auth import ApiKey, sign
from ._emulator import WooCommerceEmulator
from ._request import RequestRecord
from ._serve import serve
from ._shop import BATCH_LIMIT, Attachment, Shop


__all__ = [
    "BATCH_LIMIT",
    "ApiKey",
    "Attachment",
    "Faults",
    "RequestRecord",
    "Shop",
    "WooCommerceEmulator",
    "serve",
    "sign",
]

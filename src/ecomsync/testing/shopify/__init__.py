"""
A Shopify GraphQL Admin API emulator (ASGI) for testing and benchmarking
without a shop.

It reproduces ``platform-apis.md`` §3.13: ``POST
/admin/api/{version}/graphql.json`` behind ``X-Shopify-Access-Token``
(401 otherwise), served by graphql-core from an SDL of the subset a sync
needs: ``productSet`` (identifier upsert by id, handle or unique
metafield, list fields replaced), collections, ``stagedUploadsCreate``
with a fake upload target (S3-style multipart POST or PUT),
``fileCreate`` (PROCESSING, then READY), ``inventorySetQuantities``
(``changeFromQuantity`` checks; from 2026-04 ``@idempotent`` and
``changeFromQuantity`` mandatory; only where the item is stocked, as
``inventoryActivate`` and ``inventoryBulkToggleActivation`` set),
``locations``, ``orders`` and
``customers`` with ``query:"updated_at:>='…'"``, ``sortKey`` and cursor
paging (``first`` ≤ 250), fulfillment orders, ``fulfillmentCreate`` and
``fulfillmentTrackingInfoUpdate``,
and JSONL bulk mutations (``bulkOperationRunMutation``, polling, a
result file).  ``userErrors`` come under HTTP 200; every answer carries
``extensions.cost`` with ``throttleStatus`` from a leaky bucket per token
(``THROTTLED`` when it cannot hold the requested cost,
``MAX_COST_EXCEEDED`` over 1,000 points); input arrays over 250 are
refused; every id is a GID.

Use it in-process::

    emu = ShopifyEmulator("shpat_test")
    transport = httpx.ASGITransport(app=emu.app)

or on loopback with ``with serve(emu) as base_url: ...`` or
``python -m ecomsync.testing.shopify --port 8000 --access-token T``.

.. versionadded:: 26.1.0
"""

from __future__ import annotations

from .._faults import Faults
from ._app import RequestRecord
from ._cost import MAX_QUERY_COST, Bucket
from ._emulator import ShopifyEmulator
from ._serve import serve
from ._shop import Shop
from ._views import INPUT_LIMIT, PAGE_LIMIT


__all__ = [
    "INPUT_LIMIT",
    "MAX_QUERY_COST",
    "PAGE_LIMIT",
    "Bucket",
    "Faults",
    "RequestRecord",
    "Shop",
    "ShopifyEmulator",
    "serve",
]

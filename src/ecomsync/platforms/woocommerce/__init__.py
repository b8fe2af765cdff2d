"""
WooCommerce, through its REST API v3.

`WooCommerce` implements `ecomsync.typing.Platform` for all five data
types.  Writes go through the batch endpoints (at most 100 items, per-item
errors become per-record failures, nothing is rolled back); a write whose
answer was lost is adopted by SKU (``product_invalid_sku``) or slug
(``term_exists``) instead of duplicated.  Images are uploaded through
WordPress' media endpoint and attached by id.  See ``docs/woocommerce.md``.

The package: ``_client`` (signing, errors, paging, media upload),
``_common`` (slugs, SKU keys, money, failures), ``_batches`` (lookup by
SKU, batch writes with adoption), ``_categories``, ``_products``
(products and variations), ``_stock``, ``_orders`` (orders in, statuses
out), ``_media`` and ``_platform`` (`WooCommerce`, wiring them together).

.. versionadded:: 26.1.0
"""

from ._common import category_slug
from ._platform import WooCommerce


__all__ = ["WooCommerce", "category_slug"]

"""
WooCommerce, through its REST API v3.

`WooCommerce` implements `ecomsync.typing.Platform` for all five data
types.  Writes go through the batch endpoints (at most 100 items, per-item
errors become per-record failures, nothing is rolled back); a write whose
answer was lost is adopted by SKU (``product_invalid_sku``) or slug
(``term_exists``) instead of duplicated.  Images are uploaded through
WordPress' media endpoint and attached by id.  See ``docs/woocommerce.md``.

The package: ``_client`` (signing, errors, paging, media upload),
``_platform`` (`WooCommerce`: catalogue, stock, orders, media).

.. versionadded:: 26.1.0
"""

from ._platform import WooCommerce, category_slug


__all__ = ["WooCommerce", "category_slug"]

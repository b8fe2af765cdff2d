"""
Shopware 6, through its Admin API.

`Shopware6` implements `ecomsync.typing.Platform` for all five data types.
Writes go through the Sync API with ids derived from ERP numbers, so a
replayed request upserts what it wrote before instead of duplicating it;
a rejected Sync request (one transaction) is split until the offending
record is isolated and the rest is written.  See ``docs/shopware6.md``.

The package, by concern: ``_client`` (OAuth, errors, Sync and search),
``_writer`` (one batch through the Sync API, split until the offender
stands alone), ``_catalogue`` (categories, articles, stock) and
``_catalogue_rows`` (an article's write planned as Sync operations, held
against what the shop holds), ``_orders`` (reading orders, status
transitions), ``_media`` (uploads and media links), ``_mapping`` and
``_order_mapping`` (pure payloads and ids), ``_platform`` (`Shopware6`,
wiring them together).

.. versionadded:: 26.1.0
"""

from ._platform import Shopware6


__all__ = ["Shopware6"]

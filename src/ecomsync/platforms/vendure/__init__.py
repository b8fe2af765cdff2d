"""
`Vendure`: the ecomsync `Platform` for Vendure 3.x over its Admin
GraphQL API.

Mapping in brief (docs/vendure.md has the whole story):

- categories: one value of the private facet ``erp-category`` per ERP
  category (code = category number) plus one collection per category,
  filtered by that value and the values of all its descendants, nested
  like the ERP tree;
- articles: one product per article with one variant per ERP variant
  (SKU = variant number; the article number for an article without
  variants), options from the variant options, net or gross price as the
  channel wants, texts, the category facet values; SKUs are looked up
  before creating (Vendure accepts duplicates) and an ambiguous one fails
  every record involved;
- stock: the variant's stock on hand = ERP available + what Vendure holds
  allocated for open orders, at the default location or, with
  *stock_locations*, at the location mapped to the ERP warehouse;
- images: assets named by their SHA-256, reused when present;
- orders: placed orders read by ``updatedAt``, code range or codes;
  status pushed as fulfilments (Shipped, Delivered) or a cancellation.

.. versionadded:: 26.1.0
"""

from ._platform import SYNC_PERMISSIONS, Vendure


__all__ = ["SYNC_PERMISSIONS", "Vendure"]

"""
Shopify through the GraphQL Admin API, paced by its cost bucket.

.. versionadded:: 26.1.0
"""

from __future__ import annotations

from ._catalogue import collection_handle
from ._platform import Shopify


__all__ = ["Shopify", "collection_handle"]

"""
Platforms a merchant sells on: `Shopware6` (Admin API), `Vendure` (Admin
GraphQL API), and `MemoryPlatform` for tests and demos.

.. versionadded:: 26.1.0
"""

from .memory import MemoryPlatform
from .shopware6 import Shopware6
from .vendure import Vendure


__all__ = ["MemoryPlatform", "Shopware6", "Vendure"]

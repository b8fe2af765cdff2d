"""
Platforms: `MemoryPlatform` here; `ecomsync.platforms.shopware6` and
`ecomsync.platforms.vendure` for real shops.
"""

from .memory import MemoryPlatform


__all__ = ["MemoryPlatform"]

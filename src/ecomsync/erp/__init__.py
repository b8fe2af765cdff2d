"""
ERP sources: `MemoryErp` here; `ecomsync.erp.tryton.TrytonErp` for a real
Tryton server.
"""

from .memory import MemoryErp


__all__ = ["MemoryErp"]

"""
ERP sources: `TrytonErp` for a real Tryton server, `MemoryErp` for tests
and demos.

.. versionadded:: 26.1.0
"""

from .memory import MemoryErp
from .tryton import TrytonErp


__all__ = ["MemoryErp", "TrytonErp"]

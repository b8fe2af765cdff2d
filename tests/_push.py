"""
The spec most tests push: every category, article and stock level.
"""

from __future__ import annotations

from ecomsync import All, DataType, SyncSpec


#: The data types a push writes, in the order the engine runs them.
PUSH_TYPES = (DataType.CATEGORIES, DataType.ARTICLES, DataType.STOCK)
#: All of them, everything selected.
PUSH = SyncSpec(types={t: All() for t in PUSH_TYPES})

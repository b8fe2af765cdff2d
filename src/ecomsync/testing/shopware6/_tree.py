"""
The fields Shopware derives from the category tree (``TreeUpdater``):
``path``, the ids of a category's ancestors from the root down as
``|a|b|`` (null for a root), and ``level`` (1 for a root).

Shopware writes them when a category is written or moved (its
descendants too, in the same request with the default synchronous
indexing); the emulator derives them when it renders a category, which
reads the same.
"""

from __future__ import annotations

from typing import Any

from ._store import Row, View


def tree_fields(view: View, row: Row) -> dict[str, Any]:
    """
    The ``path`` and ``level`` of the category *row*.
    """
    ancestors: list[str] = []
    seen = {row.get("id")}
    parent = row.get("parentId")
    # A cycle (which Shopware's validation would not let in) ends the walk.
    while isinstance(parent, str) and parent not in seen:
        seen.add(parent)
        ancestors.append(parent)
        above = view.get("category", parent)
        parent = above.get("parentId") if above is not None else None
    ancestors.reverse()
    return {
        "path": f"|{'|'.join(ancestors)}|" if ancestors else None,
        "level": len(ancestors) + 1,
    }

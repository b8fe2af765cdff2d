"""
Where the ERP's top-level categories go in Shopware's category tree.

A storefront shows the tree below its sales channel's navigation
category (a fresh shop's "Home"); a root category beside it is shown by
no storefront.  So a top-level category goes below the navigation
category of the sales channel (``sales_channel_id``'s, or the one all
the shop's channels share), or below ``category_root`` when given.

Pure: no I/O.  `Catalogue` reads the sales channels (with their
navigation category) or the ``category_root`` category and asks the
`Home` built here where each top-level category goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from ..._model import Category
from ._mapping import NUMBER_FIELD, category_id
from ._writer import Failure


#: What `Catalogue` reads of a sales channel: its id (the articles'
#: visibilities), its navigation category, with that category's
#: ancestors and whether ecomsync wrote it, and its default currency
#: (the shop's, ``Defaults::CURRENCY``, where it is that one: no
#: look-up of its own).
_CHANNEL_INCLUDES: dict[str, Any] = {
    "sales_channel": [
        "id",
        "navigationCategoryId",
        "navigationCategory",
        "currencyId",
        "currency",
    ],
    "category": ["id", "path", "customFields"],
    "currency": ["id", "isoCode", "itemRounding"],
}

#: What `Catalogue` reads of the ``category_root`` category.
ROOT_INCLUDES: dict[str, Any] = {"category": ["id", "path"]}


def channel_criteria(configured: str | None) -> dict[str, Any]:
    """
    The criteria of the sales channels' look-up: every channel, or just
    the *configured* one.
    """
    criteria: dict[str, Any] = {
        "associations": {"navigationCategory": {}, "currency": {}},
        "includes": _CHANNEL_INCLUDES,
    }
    if configured is not None:
        criteria["filter"] = [
            {"type": "equals", "field": "id", "value": configured}
        ]
    return criteria


@attrs.frozen
class Home:
    """
    Where the top-level categories go: below *parent* (None: they stay
    roots), except those in *keep*, which stay roots, and those in
    *refuse* (or, with *refuse_all*, every other one), which cannot be
    placed, for the reason *why*.
    """

    parent: str | None
    keep: frozenset[str] = frozenset()
    refuse: frozenset[str] = frozenset()
    refuse_all: bool = False
    why: str = ""

    def parent_of(self, cid: str) -> str | None:
        """
        The parent id of the top-level category *cid*.
        """
        return None if cid in self.keep else self.parent

    def refused(self, number: str, cid: str) -> Failure | None:
        """
        Why the top-level category *number* (id *cid*) cannot be
        written, on ``parent``; None if it can.
        """
        if cid in self.keep:
            return None
        if cid in self.refuse or self.refuse_all:
            return (
                f"top-level category {number} cannot be placed in "
                f"Shopware's category tree: {self.why}",
                "parent",
            )
        return None


def _path(category: Any) -> set[str]:
    """
    The ids of *category*'s ancestors (Shopware's ``path``, ``|a|b|``).
    """
    path = category.get("path") if isinstance(category, dict) else None
    return (
        {p for p in path.split("|") if p} if isinstance(path, str) else set()
    )


def _ours(category: Any) -> bool:
    """
    Whether ecomsync wrote *category* (it carries an ERP number).
    """
    fields = (
        category.get("customFields") if isinstance(category, dict) else None
    )
    return isinstance(fields, dict) and bool(fields.get(NUMBER_FIELD))


def from_channels(
    rows: Sequence[dict[str, Any]], configured: str | None
) -> Home:
    """
    The home below the navigation category of the sales channels *rows*
    (read with `channel_criteria`; just the *configured* one, if any).

    A top-level category that is a channel's navigation category, or
    above one, stays a root: the merchant built that channel's navigation
    from the ERP's tree (as an earlier ecomsync, which wrote roots,
    required), and below it the category would be its own ancestor.  A
    channel whose navigation category is one of the ERP's leaves nowhere
    else to go: the top-level categories stay roots.  Channels that show
    different navigation categories of the shop leave the choice to
    ``category_root``.
    """
    if configured is not None and not rows:
        return Home(
            None,
            refuse_all=True,
            why=(
                f"sales channel {configured!r} (sales_channel_id) does not "
                "exist in Shopware"
            ),
        )
    keep: set[str] = set()
    shown: set[str] = set()
    for row in rows:
        nav = row.get("navigationCategoryId")
        if not isinstance(nav, str) or not nav:
            continue
        category = row.get("navigationCategory")
        keep |= {nav, *_path(category)}
        if not _ours(category):
            shown.add(nav)
    if len(shown) == 1:
        return Home(shown.pop(), keep=frozenset(keep))
    if not shown:
        return Home(None)
    return Home(
        None,
        keep=frozenset(keep),
        refuse_all=True,
        why=(
            "the shop's sales channels show different navigation "
            f"categories ({', '.join(sorted(shown))}); set "
            "Shopware6(category_root=<category id>) to the category to "
            "put them below, or sales_channel_id"
        ),
    )


def from_root(root: str, rows: Sequence[dict[str, Any]]) -> Home:
    """
    The home below *root* (``category_root``), given what the shop holds
    of it (*rows*, read with `ROOT_INCLUDES`).  A top-level category that
    is *root* or above it cannot go below it.
    """
    if not rows:
        return Home(
            None,
            refuse_all=True,
            why=f"category_root {root!r} does not exist in Shopware",
        )
    return Home(
        root,
        refuse=frozenset({root, *_path(rows[0])}),
        why=(
            f"category_root {root!r} is this category or lies below it "
            "in Shopware"
        ),
    )


def refusals(
    home: Home, categories: Sequence[Category], send: Sequence[int]
) -> dict[int, Failure]:
    """
    The top-level categories among *send* (parents first) that *home*
    cannot place, and the categories of *send* below them: sent, these
    failed one by one after the write was bisected (Shopware names no
    row on a missing parent), saying only that the parent did not exist.
    """
    failures: dict[int, Failure] = {}
    # category number -> why it (or the category above it) was refused
    blocked: dict[str, str] = {}
    for i in send:
        number, parent = categories[i].number, categories[i].parent
        if parent is None:
            refused = home.refused(number, category_id(number))
            if refused is not None:
                failures[i] = refused
                blocked[number] = refused[0]
        elif parent in blocked:
            failures[i] = (
                f"category {number} cannot be written below its parent "
                f"category {parent!r}, which was refused: {blocked[parent]}",
                "parent",
            )
            blocked[number] = blocked[parent]
    return failures

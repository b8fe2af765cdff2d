"""
Which of an article's stock levels its own write takes
(`~ecomsync.typing.SupportsStockOnPush`), the rule every adapter that
writes stock with the article shares.

Private: each adapter's ``stock_on_push`` is the public face.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from .._model import Article, StockLevel
from .._record_checks import problems
from ._backorders import negative_stock


def levels_taken(
    article: Article,
    levels: Sequence[StockLevel] | None,
    *,
    key: Callable[[str], str],
    platform: str,
    option: str,
    allow_backorders: bool,
    warehouses: bool,
) -> dict[str, StockLevel]:
    """
    The levels of *article*'s ``Outgoing.stock`` its write takes, by
    *key* of their number: one valid level per number the article sells
    (its own, a variant's), with a warehouse only where *warehouses*,
    not negative unless backorders are allowed.  The others are left to
    the stock sync, which fails them as it always did, never the article
    (a negative one it writes as 0 and reports there, which the
    article's answer has no room for).
    """
    if not levels:
        return {}
    mine = {article.number, *(v.number for v in article.variants)}
    given = Counter(level.number for level in levels)
    taken: dict[str, StockLevel] = {}
    for level in levels:
        if (
            level.number not in mine
            or given[level.number] > 1
            or (level.warehouse is not None and not warehouses)
            or problems(level)
            or negative_stock(
                level.number,
                level.quantity,
                platform=platform,
                option=option,
                allowed=allow_backorders,
            )
        ):
            continue
        taken[key(level.number)] = level
    return taken

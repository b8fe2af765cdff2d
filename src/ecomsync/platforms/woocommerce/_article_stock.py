"""
An article's stock written in its own product and variation writes
(`~ecomsync.typing.SupportsStockOnPush`): no SKU look-up and no batch of
its own for it.

Private: `ecomsync.platforms.woocommerce.WooCommerce` is the public face.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..._contracts import Outcome
from ..._model import Article, StockLevel
from .._stock_on_push import levels_taken
from ._common import Row, sku_key


def stock_taken(
    article: Article,
    levels: Sequence[StockLevel] | None,
    *,
    allow_backorders: bool,
) -> dict[str, StockLevel]:
    """
    The levels of an article's ``Outgoing.stock`` its product and
    variation writes take, by `sku_key`: one valid level per number the
    article sells (its own, a variant's), without a warehouse, not
    negative unless backorders are allowed.  The others are left to the
    stock sync, which fails them as it always did (WooCommerce has no
    locations), never the article; a negative one it writes as 0 and
    reports there, which the article's answer has no room for.
    """
    return levels_taken(
        article,
        levels,
        key=sku_key,
        platform="WooCommerce",
        option="WooCommerce",
        allow_backorders=allow_backorders,
        warehouses=False,
    )


def with_stock(
    payload: Row, number: str, taken: Mapping[str, StockLevel]
) -> Row:
    """
    *payload* (the product or variation of *number*) with its *taken*
    level as ``manage_stock`` and ``stock_quantity``, as the stock sync
    writes it, in place.
    """
    level = taken.get(sku_key(number))
    if level is not None:
        payload["manage_stock"] = True
        payload["stock_quantity"] = level.quantity
    return payload


def landed(
    taken: Mapping[str, StockLevel], rows: Sequence[Row]
) -> tuple[Outcome, ...]:
    """
    One ``ok`` outcome per *taken* level the written *rows* (products or
    variations, as WooCommerce answered them) hold, by SKU; a row that
    does not manage its stock (the shop's stock management is off:
    WooCommerce keeps the quantity and sells without limit) answers
    nothing, so the stock sync fails that level saying so.
    """
    found: list[Outcome] = []
    for row in rows:
        level = taken.get(sku_key(str(row.get("sku") or "")))
        if level is None or row.get("manage_stock") is not True:
            continue
        found.append(Outcome(number=level.number, platform_id=str(row["id"])))
    return tuple(found)

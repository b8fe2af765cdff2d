"""
`shop_orders` for a test's own catalogue: an ERP imports only orders for
articles it sells, so the orders must name the catalogue's numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ecomsync import Order
from ecomsync.testing import shop_orders


def orders_for(
    count: int,
    articles: int,
    number: Callable[[int], str] = "A-{}".format,
    *,
    seed: int = 0,
) -> list[Order]:
    """
    *count* `shop_orders` over *articles* articles, each line naming
    article *i* as ``number(i)`` instead of ``A-0000i``.
    """
    return [
        attrs.evolve(
            order,
            lines=tuple(
                attrs.evolve(
                    line,
                    article_number=number(int(line.article_number[2:])),
                )
                for line in order.lines
            ),
        )
        for order in shop_orders(count, articles=articles, seed=seed)
    ]

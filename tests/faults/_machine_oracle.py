"""
What the messy-data state machine checks after a quiet run: the shop is
the ERP's, or the failure ledger says why, and the ledger holds nothing
else.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ecomsync import All, Article, Category, DataType, StockLevel
from ecomsync.events import RecordFailed

from .._push import PUSH as SPEC
from ._data_machine import ARTICLES, CATEGORIES, DataMachine, _only
from ._shop_views import ABSENT


async def projection(
    self: DataMachine, events: list[Any], skip: set[str]
) -> None:
    """The checks after a quiet run (see test_state_machine_data.py)."""
    ledger = {
        (f.data_type, f.number) for f in await self.store.list_failures("shop")
    }
    reported = {
        (e.data_type, e.number) for e in events if isinstance(e, RecordFailed)
    }
    assert reported <= ledger, (
        f"failed, not in the ledger: {reported - ledger}"
    )
    erp_has = {
        (data_type, r.number)
        for data_type in SPEC.types
        for r in self.erp._select(data_type, All())
    }
    # A read of everything clears what the ERP no longer has.
    assert ledger <= erp_has, f"stale in the ledger: {ledger - erp_has}"
    twins = set(self.twins) | set(self.twins.values())
    twins |= {number for _, number in self.doubles}
    # The article holding a twin as a variant is a party too: every
    # party of an ambiguity fails (DESIGN §1.14), while the view may find
    # it right (it does not compare variants).
    twins |= {
        article.number
        for article in self.erp._select(DataType.ARTICLES, All())
        if isinstance(article, Article)
        and any(v.number in twins for v in article.variants)
    }
    for key in self.doubles:
        if self._doubled(*key):
            assert key in ledger, f"a duplicate not failed: {key}"
    wrong: list[str] = []
    for number in ARTICLES + sorted(self.twins):
        article = self._article(number)
        if article is None or number in skip:
            continue
        why = self.view.article_right(article)
        failed = (DataType.ARTICLES, number) in ledger
        if why is not None and not failed:
            wrong.append(f"{number!r} silently wrong: {why}")
        if why is None and failed and number not in twins:
            wrong.append(f"{number!r} in the ledger, yet right")
    for number in CATEGORIES:
        category = self.erp.get(DataType.CATEGORIES, number)
        assert isinstance(category, Category)
        why = self.view.category_right(category)
        failed = (DataType.CATEGORIES, number) in ledger
        if why is not None and not failed:
            wrong.append(f"category {number!r} silently wrong: {why}")
    levels: dict[str, list[StockLevel]] = defaultdict(list)
    owner: dict[str, str] = {}
    for number in ARTICLES:
        for stock in self._stock_numbers(number):
            owner[stock] = number
            found = self.erp._select(DataType.STOCK, _only(stock))
            levels[stock] = [
                s
                for s in found
                if isinstance(s, StockLevel) and s.number == stock
            ]
    for stock, held in levels.items():
        if not held or stock in skip:
            continue
        why = self.view.stock_right(held)
        failed = (DataType.STOCK, stock) in ledger
        if why == ABSENT and (DataType.ARTICLES, owner[stock]) in ledger:
            # Its article failed, so the shop has no variant to hold
            # it; the article's ledger entry says why (report item 1:
            # the level itself may keep its checksum meanwhile).
            continue
        if why is not None and not failed:
            wrong.append(f"stock {stock!r} silently wrong: {why}")
        if why is None and failed and stock not in twins:
            wrong.append(f"stock {stock!r} in the ledger, yet right")
    assert not wrong, wrong

"""
Shared helpers of the fold's tests (`test_stock_fold`,
`test_stock_fold_reads`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ecomsync import Article, Category, DataType, StockLevel, Variant
from ecomsync.testing.shopware6 import ShopwareEmulator


def catalogue(plain: int) -> list[Category | Article | StockLevel]:
    """
    *plain* plain articles ("A-1" stocked 10, "A-2" 20, ...) and a shirt
    with two sizes ("SHIRT-M" 3, "SHIRT-L" 4), each number stocked.
    """
    numbers = range(1, plain + 1)
    return [
        Category(number="C-1", name="Werkzeug"),
        *(
            Article(
                number=f"A-{i}",
                name=f"Artikel {i}",
                price=Decimal("9.99"),
                categories=("C-1",),
            )
            for i in numbers
        ),
        Article(
            number="SHIRT",
            name="Shirt",
            price=Decimal("19.99"),
            categories=("C-1",),
            variants=(
                Variant(number="SHIRT-M", options=(("size", "M"),)),
                Variant(number="SHIRT-L", options=(("size", "L"),)),
            ),
        ),
        *(StockLevel(number=f"A-{i}", quantity=10 * i) for i in numbers),
        StockLevel(number="SHIRT-M", quantity=3),
        StockLevel(number="SHIRT-L", quantity=4),
    ]


def shop_stock(emu: ShopwareEmulator) -> dict[str, int]:
    """
    The stock of each product row in *emu*, by product number.
    """
    return {
        p["productNumber"]: p["stock"]
        for p in emu.entities["product"].values()
    }


def stock_events(events: Sequence[object], kind: type) -> list[Any]:
    """
    The events of *kind* among *events* that speak of the STOCK type.
    """
    return [
        e
        for e in events
        if isinstance(e, kind) and e.data_type is DataType.STOCK
    ]


def stock_counts(summary: Any) -> tuple[int, int, int, int]:
    """
    The STOCK type's counts in a run's *summary*: created, updated,
    unchanged, failed.
    """
    counts = summary.counts[DataType.STOCK]
    return (counts.created, counts.updated, counts.unchanged, counts.failed)

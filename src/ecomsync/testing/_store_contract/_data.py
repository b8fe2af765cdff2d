"""
The records and moments the store contract writes and expects back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from ..._contracts import Failure, RunRecord, RunStatus, Schedule, TypeCounts
from ..._spec import (
    All,
    ChangedSince,
    DataType,
    NumberRange,
    Only,
    SyncSpec,
    Trigger,
)


T0 = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)
CET = timezone(timedelta(hours=1))
ARTICLES = DataType.ARTICLES
STOCK = DataType.STOCK

# PostgreSQL text cannot hold NUL; nor can most platforms' numbers.
TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    min_size=1,
    max_size=20,
)


def a_run(
    run_id: str = "run-1",
    *,
    started_at: datetime = T0,
    status: RunStatus = RunStatus.RUNNING,
    **changes: Any,
) -> RunRecord:
    """
    A run record with a bit of everything in it.
    """
    values: dict[str, Any] = {
        "id": run_id,
        "trigger": Trigger.MANUAL,
        "platform": "shop",
        "spec": SyncSpec(
            types={
                DataType.CATEGORIES: All(),
                ARTICLES: NumberRange("A-2", "A-10"),
                STOCK: Only({"A-1", "A-2"}),
                DataType.ORDER_STATUS: ChangedSince(
                    datetime(2026, 10, 1, tzinfo=CET)
                ),
            },
            platform="shop",
            force=True,
        ),
        "status": status,
        "started_at": started_at,
        "holder": "host:1",
        "counts": {ARTICLES: TypeCounts(created=3, updated=1, failed=1)},
        "failures": (
            Failure(
                data_type=ARTICLES,
                number="A-3",
                message="price: must be positive",
                field="price",
                run_id=run_id,
            ),
        ),
    }
    values.update(changes)
    return RunRecord(**values)


def a_schedule(
    schedule_id: str = "s-1", *, next_due: datetime = T0
) -> Schedule:
    return Schedule(
        id=schedule_id,
        spec=SyncSpec(types={ARTICLES: All()}, platform="shop"),
        interval=timedelta(minutes=15),
        next_due=next_due,
    )

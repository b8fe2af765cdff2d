"""
Orders read from the shop emulators, and the refund-after-import
scenarios that Shopify and WooCommerce share: each test module passes
its own shop, order number and the way its emulator refunds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ecomsync import (
    All,
    Article,
    ChangedSince,
    DataType,
    MediaStaging,
    MemoryErp,
    Order,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync.events import RecordFailed, RecordSynced
from ecomsync.platforms.shopify import Shopify
from ecomsync.platforms.woocommerce import WooCommerce
from ecomsync.testing import capture_events
from ecomsync.typing import Selection


#: When the scheduled-run scenario's order is placed; it is refunded two
#: hours later.
PLACED = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

_Run = Callable[[Selection], Awaitable[list[object]]]


def _erp() -> MemoryErp:
    """The ERP the scenarios import into: it sells A-1 and B-1."""
    return MemoryErp(
        [
            Article(number="A-1", name="A", price="10.00"),
            Article(number="B-1", name="B", price="25.00"),
        ]
    )


async def fetched(shop: Any) -> list[Order]:
    """Every order *shop* reads (All()), in its order; closes *shop*."""
    try:
        return [
            o
            async for page in shop.fetch_orders(All(), batch_size=10)
            for o in page
        ]
    finally:
        await shop.aclose()


async def fetched_one(shop: Any) -> Order:
    """The one order *shop* reads; closes *shop*."""
    (order,) = await fetched(shop)
    return order


@asynccontextmanager
async def _runs(
    shop: Shopify | WooCommerce, erp: MemoryErp, tmp_path: Path
) -> AsyncIterator[_Run]:
    """Order imports from *shop* into *erp*, one store for all runs."""
    store = SqliteStore(tmp_path / "state.db")
    sync = Synchronizer(
        erp=erp,
        platforms={"shop": shop},
        store=store,
        staging=MediaStaging(tmp_path / "staging"),
    )

    async def run(selection: Selection) -> list[object]:
        spec = SyncSpec(types={DataType.ADDRESSES_AND_ORDERS: selection})
        async with capture_events(sync, spec) as captured:
            return list(captured.events)

    try:
        yield run
    finally:
        await shop.aclose()
        await store.aclose()


def _failed(events: list[object]) -> list[RecordFailed]:
    return [e for e in events if isinstance(e, RecordFailed)]


async def refund_after_import_fails_on_lines(
    shop: Shopify | WooCommerce,
    refund: Callable[[], object],
    number: str,
    tmp_path: Path,
) -> None:
    """
    The shop's one order *number* (three A-1 on its first line) is
    imported; *refund* refunds one A-1.  The next two runs each fail the
    order on its lines, naming the order and the ERP order; the ERP
    keeps one order, unchanged.
    """
    erp = _erp()
    async with _runs(shop, erp, tmp_path) as run:
        first = await run(All())
        assert [] == _failed(first)
        assert any(isinstance(e, RecordSynced) for e in first)
        refund()

        second = await run(All())
        third = await run(All())

    for events in (second, third):
        (failed,) = _failed(events)
        assert (number, "lines.0.quantity") == (failed.number, failed.field)
        assert number in failed.message
        assert f"SO-{number}" in failed.message
    assert [number] == list(erp.orders)
    assert 3 == erp.orders[number].lines[0].quantity


async def a_scheduled_run_sees_a_later_refund(
    shop: Shopify | WooCommerce,
    refund_at: Callable[[datetime], object],
    number: str,
    tmp_path: Path,
) -> None:
    """
    The shop's one order *number*, last changed at `PLACED`, is
    imported; *refund_at* refunds one A-1 of its first line two hours
    later.  A ChangedSince run from before the refund fails the order on
    its lines; one from after reads nothing.
    """
    refunded = PLACED + timedelta(hours=2)
    async with _runs(shop, _erp(), tmp_path) as run:
        first = await run(All())
        assert any(isinstance(e, RecordSynced) for e in first)
        refund_at(refunded)

        scheduled = await run(ChangedSince(PLACED + timedelta(hours=1)))
        later = await run(ChangedSince(refunded + timedelta(minutes=1)))

    (failed,) = _failed(scheduled)
    assert (number, "lines.0.quantity") == (failed.number, failed.field)
    assert [] == [
        e for e in later if isinstance(e, (RecordFailed, RecordSynced))
    ]

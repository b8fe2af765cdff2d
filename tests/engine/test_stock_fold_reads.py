"""
The fold's reads (`_stock_fold`): a run that writes the stock with the
articles reads each stock level from the ERP once where the adapter
takes ``exclude`` (`ErpSession.read`), and reports the same events and
counts either way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Container, Sequence
from contextlib import asynccontextmanager
from typing import Any

import attrs
import pytest

from ecomsync import (
    All,
    Article,
    DataType,
    MemoryErp,
    Record,
    RecordSkipped,
    RecordSynced,
    Selection,
    SqliteStore,
    StockLevel,
    Synchronizer,
    TypeStarted,
)
from ecomsync.testing import capture_events
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._push import PUSH, shopware6
from ._fold import catalogue, shop_stock, stock_counts, stock_events


pytestmark = pytest.mark.anyio

SECRET = "fold-reads-secret"


@attrs.define
class _Counted:
    """
    A MemoryErp session that counts the stock levels its reads yield.
    """

    inner: Any
    erp: _CountingErp

    async def read(
        self,
        data_type: DataType,
        selection: Selection,
        *,
        batch_size: int,
        exclude: Container[str] | None = None,
    ) -> AsyncIterator[Sequence[Record]]:
        if data_type is DataType.STOCK and isinstance(selection, All):
            self.erp.before_stock_step()
        given = {} if exclude is None else {"exclude": exclude}
        async for batch in self.inner.read(
            data_type, selection, batch_size=batch_size, **given
        ):
            if data_type is DataType.STOCK:
                self.erp.reads.update(r.number for r in batch)
            yield batch

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@attrs.define
class _Unexcluding(_Counted):
    """
    As `_Counted`, for an adapter written before ``exclude``.
    """

    async def read(  # type: ignore[override]
        self, data_type: DataType, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Record]]:
        async for batch in super().read(
            data_type, selection, batch_size=batch_size
        ):
            yield batch


class _CountingErp(MemoryErp):
    """
    Counts every stock level read, per number; *excludes*: whether its
    sessions take ``exclude``.
    """

    def __init__(self, *args: Any, excludes: bool = True, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.reads: Counter[str] = Counter()
        self.excludes = excludes
        #: Called as the stock step's read starts.
        self.before_stock_step: Callable[[], None] = lambda: None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Any]:  # type: ignore[override]
        kind = _Counted if self.excludes else _Unexcluding
        async with super().session() as inner:
            yield kind(inner, self)


@asynccontextmanager
async def _engine(
    erp: MemoryErp, store: SqliteStore
) -> AsyncIterator[tuple[Synchronizer, ShopwareEmulator]]:
    emu = ShopwareEmulator(client_id="SWIAREADS", client_secret=SECRET)
    platform = shopware6(emu, SECRET)
    sync = Synchronizer(erp=erp, platforms={"shop": platform}, store=store)
    try:
        yield sync, emu
    finally:
        await sync.aclose()
        await platform.aclose()


class TestFirstSync:
    @pytest.mark.parametrize("excludes", [True, False])
    async def test_each_level_is_read_once(
        self, store: SqliteStore, excludes: bool
    ) -> None:
        """A first sync reads each level once where the adapter takes
        ``exclude`` (twice where not), and reports the same: each level
        created, in the STOCK type, counted against its total."""
        erp = _CountingErp(catalogue(1), excludes=excludes)
        async with (
            _engine(erp, store) as (sync, emu),
            capture_events(sync, PUSH) as run,
        ):
            pass

        numbers = ["A-1", "SHIRT-L", "SHIRT-M"]
        assert dict.fromkeys(numbers, 1 if excludes else 2) == erp.reads
        stocked = shop_stock(emu)
        assert {"A-1": 10, "SHIRT-M": 3, "SHIRT-L": 4} == {
            n: stocked[n] for n in numbers
        }
        synced = stock_events(run.events, RecordSynced)
        assert numbers == sorted(e.number for e in synced)
        assert all(e.created and e.platform_id for e in synced)
        assert run.summary is not None
        assert (3, 0, 0, 0) == stock_counts(run.summary)
        (started,) = stock_events(run.events, TypeStarted)
        assert 3 == started.total
        assert all(
            run.events.index(e) > run.events.index(started) for e in synced
        )


class TestRerun:
    @pytest.mark.parametrize("excludes", [True, False])
    async def test_a_changed_articles_unchanged_stock_is_read_once(
        self, store: SqliteStore, excludes: bool
    ) -> None:
        """A changed article whose stock did not change: its levels,
        read with it, are not read again and are reported skipped; one
        changed level goes with it."""
        erp = _CountingErp(catalogue(1), excludes=excludes)
        async with _engine(erp, store) as (sync, _):
            await sync.execute(PUSH)
            shirt = erp.get(DataType.ARTICLES, "SHIRT")
            assert isinstance(shirt, Article)
            erp.put(attrs.evolve(shirt, name="Shirt, new"))
            erp.put(StockLevel(number="SHIRT-L", quantity=1))
            erp.reads.clear()

            async with capture_events(sync, PUSH) as run:
                pass
            reads = dict(erp.reads)
            again = await sync.execute(PUSH)

        twice = 1 if excludes else 2
        assert {"A-1": 1, "SHIRT-M": twice, "SHIRT-L": twice} == reads
        (synced,) = stock_events(run.events, RecordSynced)
        assert ("SHIRT-L", False) == (synced.number, synced.created)
        skipped = stock_events(run.events, RecordSkipped)
        assert ["A-1", "SHIRT-M"] == sorted(e.number for e in skipped)
        assert run.summary is not None
        assert (0, 1, 2, 0) == stock_counts(run.summary)
        assert 3 == again.counts[DataType.STOCK].unchanged

    async def test_a_level_changed_after_its_article_is_sent_again(
        self, store: SqliteStore
    ) -> None:
        """An adapter that reads a folded level anyway, changed since it
        went with its article, has the stock step send it once more,
        reported once, as an update."""
        erp = _CountingErp(catalogue(1), excludes=False)
        erp.before_stock_step = lambda: erp.put(
            StockLevel(number="A-1", quantity=2)
        )
        async with (
            _engine(erp, store) as (sync, emu),
            capture_events(sync, PUSH) as run,
        ):
            pass

        stocked = shop_stock(emu)
        assert 2 == stocked["A-1"]
        synced = stock_events(run.events, RecordSynced)
        assert ["A-1", "SHIRT-L", "SHIRT-M"] == sorted(
            e.number for e in synced
        )
        (a1,) = [e for e in synced if e.number == "A-1"]
        assert not a1.created

    async def test_a_level_changed_after_its_article_goes_next_run(
        self, store: SqliteStore
    ) -> None:
        """Where the stock step reads without the folded levels, a level
        changed since it went with its article is reported with the
        figure its article took, and the next run sends the new one."""
        erp = _CountingErp(catalogue(1), excludes=True)
        erp.before_stock_step = lambda: erp.put(
            StockLevel(number="A-1", quantity=2)
        )
        async with _engine(erp, store) as (sync, emu):
            async with capture_events(sync, PUSH) as run:
                pass
            first = shop_stock(emu)["A-1"]
            async with capture_events(sync, PUSH) as again:
                pass

        assert (10, 2) == (first, shop_stock(emu)["A-1"])
        (a1,) = [
            e
            for e in stock_events(run.events, RecordSynced)
            if e.number == "A-1"
        ]
        assert a1.created
        (sent,) = stock_events(again.events, RecordSynced)
        assert ("A-1", False) == (sent.number, sent.created)

"""
What a run reads: its selections resolved against the watermarks, the
failed records a scheduled run retries, the batches to read, and what the
store knows of a batch.
"""

from __future__ import annotations

import inspect
from collections.abc import (
    AsyncIterator,
    Callable,
    Container,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import attrs

from ._anyio_util import aclose
from ._changes import Changes, compare, refuse
from ._contracts import Link, Refusal
from ._fingerprint import checksum
from ._model import Article, Record, number_key, own_statuses
from ._run import Run
from ._spec import (
    All,
    ChangedSince,
    DataType,
    Direction,
    Only,
    Selection,
    SyncSpec,
    Trigger,
)
from .exceptions import SpecError
from .typing import ErpSession, Platform, StateStore


def platform_for(spec: SyncSpec, platforms: Mapping[str, Platform]) -> str:
    """
    The name of the platform *spec* runs against, checked to handle every
    data type it asks for.

    Raises:
        SpecError: Naming the problem.
    """
    if spec.platform is None:
        if len(platforms) != 1:
            raise SpecError(
                "the spec names no platform and there are "
                f"{len(platforms)}: {sorted(platforms)}"
            )
        name = next(iter(platforms))
    else:
        name = spec.platform
    if name not in platforms:
        raise SpecError(
            f"unknown platform {name!r}; known: {sorted(platforms)}"
        )
    unsupported = [t for t in spec.types if t not in platforms[name].supported]
    if unsupported:
        raise SpecError(
            f"platform {name!r} cannot handle "
            f"{', '.join(t.name for t in unsupported)}"
        )
    return name


async def resolve(
    store: StateStore,
    platform_name: str,
    spec: SyncSpec,
    trigger: Trigger,
    overlap: timedelta,
) -> SyncSpec:
    """
    *spec* as a run with *trigger* reads it: a scheduled run reads what
    changed since each type's watermark (minus *overlap*), or everything
    while a type has no watermark; other runs read *spec* as it is.
    """
    if trigger is not Trigger.SCHEDULED:
        return spec
    types: dict[DataType, Selection] = {}
    for data_type in spec.types:
        mark = await store.get_watermark(platform_name, data_type)
        types[data_type] = (
            All() if mark is None else ChangedSince(mark - overlap)
        )
    return attrs.evolve(spec, types=types)


async def resolve_resumed(
    store: StateStore,
    platform_name: str,
    spec: SyncSpec,
    overlap: timedelta,
) -> SyncSpec:
    """
    The spec a resumed scheduled run reads: its recorded selections,
    widened to what a scheduled run would read now.  A run that died
    while it waited for a licence never resolved its spec: it recorded
    the schedule's own selections, which a scheduled run ignores, and
    reading only those before moving the watermark would skip what
    changed since it.  A resolved spec stays as it is (the watermark
    only moved on since).
    """
    now = await resolve(store, platform_name, spec, Trigger.SCHEDULED, overlap)
    types: dict[DataType, Selection] = {}
    for data_type, recorded in spec.types.items():
        current = now.types[data_type]
        if isinstance(recorded, All) or isinstance(current, All):
            types[data_type] = All()
        elif isinstance(recorded, ChangedSince) and isinstance(
            current, ChangedSince
        ):
            types[data_type] = ChangedSince(
                min(recorded.moment, current.moment)
            )
        else:
            types[data_type] = current
    return attrs.evolve(spec, types=types)


async def advance_watermark(
    store: StateStore, run: Run, data_type: DataType
) -> None:
    """
    After *data_type* went through: only scheduled runs move the "date of
    last synchronisation", to when the run *started*, so that changes
    made meanwhile are read again.
    """
    if run.trigger is Trigger.SCHEDULED:
        await store.set_watermark(run.platform_name, data_type, run.started_at)


async def ledger_numbers(
    store: StateStore,
    platform_name: str,
    trigger: Trigger,
    data_type: DataType,
    selection: Selection,
) -> list[str]:
    """
    Failed records a scheduled run retries besides its selection.
    """
    if trigger is not Trigger.SCHEDULED or isinstance(selection, All):
        return []
    failed = await store.list_failures(platform_name, data_type)
    return [f.number for f in failed]


async def ledger_watch(
    store: StateStore,
    platform_name: str,
    data_type: DataType,
    selection: Selection,
    retry: Sequence[str],
) -> set[str]:
    """
    Failed records whose absence from this read of *data_type* shows
    they are gone from the source (deleted since they failed): every
    ledgered number for `All`, the ledgered ones among `Only`'s numbers,
    and the numbers a scheduled run retries.  Once the type completed,
    those not read are taken out of the ledger; otherwise they would be
    listed, and retried by every scheduled run, for ever.  Only the ERP
    is taken at its word: a platform may not show every old order (Shopify
    without ``read_all_orders``), so order imports are never forgotten.
    """
    if data_type.direction is not Direction.TO_PLATFORM:
        return set()
    watch = set(retry)
    if isinstance(selection, All | Only):
        failed = await store.list_failures(platform_name, data_type)
        watch.update(
            f.number
            for f in failed
            if isinstance(selection, All) or f.number in selection.numbers
        )
    return watch


def _takes(method: Callable[..., object], name: str) -> bool:
    """
    Whether an ERP session's *method* (``read``, ``count``) takes the
    keyword *name* (``platform``, ``exclude``); adapters written before
    it do not.
    """
    try:
        parameter = inspect.signature(method).parameters.get(name)
    except (TypeError, ValueError):  # a builtin or an odd callable
        return False
    return parameter is not None and parameter.kind in (
        inspect.Parameter.KEYWORD_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )


def _takes_platform(method: Callable[..., object]) -> bool:
    """
    Whether an ERP session's *method* takes the ``platform`` keyword.
    """
    return _takes(method, "platform")


def erp_read(
    session: ErpSession,
    data_type: DataType,
    selection: Selection,
    *,
    batch_size: int,
    platform: str | None = None,
    exclude: Container[str] | None = None,
) -> AsyncIterator[Sequence[Record]]:
    """
    ``session.read``; order status with the run's *platform* where the
    adapter's ``read`` takes the keyword (`ErpSession`).  Others read
    every platform's statuses, of which the engine keeps the platform's
    own (`own_statuses`), as before.  Stock `All` without the single
    levels of the numbers in *exclude*, where the adapter's ``read``
    takes that keyword; others read them too.
    """
    if (
        exclude is not None
        and data_type is DataType.STOCK
        and isinstance(selection, All)
        and _takes(session.read, "exclude")
    ):
        excluding: Any = session  # ErpSession leaves the keyword out
        return excluding.read(  # type: ignore[no-any-return]
            data_type, selection, batch_size=batch_size, exclude=exclude
        )
    if (
        platform is not None
        and data_type is DataType.ORDER_STATUS
        and _takes_platform(session.read)
    ):
        reader: Any = session  # ErpSession leaves the keyword out
        return reader.read(  # type: ignore[no-any-return]
            data_type, selection, batch_size=batch_size, platform=platform
        )
    return session.read(data_type, selection, batch_size=batch_size)


async def erp_count(
    session: ErpSession,
    data_type: DataType,
    selection: Selection,
    *,
    platform: str | None = None,
) -> int | None:
    """
    ``session.count``, for order status of the run's *platform* alone
    where the adapter's ``count`` takes the keyword (as `erp_read`); an
    adapter that does not counts every platform's, as before.
    """
    if (
        platform is not None
        and data_type is DataType.ORDER_STATUS
        and _takes_platform(session.count)
    ):
        counter: Any = session
        return await counter.count(  # type: ignore[no-any-return]
            data_type, selection, platform=platform
        )
    return await session.count(data_type, selection)


@asynccontextmanager
async def erp_batches(
    session: ErpSession,
    data_type: DataType,
    selection: Selection,
    batch_size: int,
    *,
    whole_units: bool = False,
    platform: str | None = None,
    exclude: Container[str] | None = None,
) -> AsyncIterator[AsyncIterator[Sequence[Record]]]:
    """
    The ERP's batches of a selection, closed however the block ends.

    With *whole_units* (stock), a batch never ends inside one article's
    levels: the levels of the last number of a batch move to the next,
    so an article whose levels the ERP yields one after another is one
    unit however the ERP cuts its batches.

    With *platform* (order status), the statuses of a number are one
    unit too, of which only the platform's own go on (`own_statuses`).

    *exclude* (stock `All`): the numbers whose one level the run has read
    already, which the read may leave out (`erp_read`).
    """
    batches = erp_read(
        session,
        data_type,
        selection,
        batch_size=batch_size,
        platform=platform,
        exclude=exclude,
    )
    wrapped = batches
    if whole_units or platform is not None:
        wrapped = _whole_units(batches)
    if platform is not None:
        wrapped = _own_statuses(wrapped, platform)
    try:
        yield wrapped
    finally:
        if wrapped is not batches:
            await aclose(wrapped)
        await aclose(batches)


async def _whole_units(
    batches: AsyncIterator[Sequence[Record]],
) -> AsyncIterator[Sequence[Record]]:
    """
    *batches*, one behind: a batch goes on once the next one shows
    whether it continues the batch's last article (then those levels move
    on with it).
    """
    pending: list[Record] = []
    async for batch in batches:
        if not batch:
            continue
        first = batch[0].number
        cut = len(pending)
        while cut and pending[cut - 1].number == first:
            cut -= 1
        if cut:
            yield pending[:cut]
        pending = [*pending[cut:], *batch]
    if pending:
        yield pending


async def _own_statuses(
    batches: AsyncIterator[Sequence[Record]], platform: str
) -> AsyncIterator[Sequence[Record]]:
    try:
        async for batch in batches:
            own = own_statuses(batch, platform)
            if own:
                yield own
    finally:
        await aclose(batches)


@asynccontextmanager
async def platform_orders(
    platform: Platform, selection: Selection, page_size: int
) -> AsyncIterator[AsyncIterator[Sequence[Record | Refusal]]]:
    """
    The platform's pages of selected orders, closed however the block
    ends.
    """
    batches = platform.fetch_orders(selection, batch_size=page_size)
    try:
        yield batches
    finally:
        await aclose(batches)


async def changes(
    store: StateStore,
    platform_name: str,
    data_type: DataType,
    batch: Sequence[Record],
    *,
    force: bool,
    checksum_of: Callable[[Record], str] = checksum,
    links: Mapping[str, Link] | None = None,
) -> Changes:
    """
    A batch classified against what the store remembers of it (*links*:
    the batch's links, where the caller read them already).
    """
    valid, refused = refuse(batch)
    if links is None:
        links = await store.get_links(
            platform_name, data_type, [u[0].number for u in valid]
        )
    unchanged, todo = compare(
        valid, links, force=force, checksum_of=checksum_of
    )
    return Changes(
        invalid=tuple(refused), unchanged=tuple(unchanged), todo=tuple(todo)
    )


#: What an `Only` number that selects nothing was meant to name, by type.
_WHAT = {
    DataType.CATEGORIES: "the ERP has no category",
    DataType.ARTICLES: "the ERP has no article (nor variant)",
    DataType.STOCK: "the ERP has no stock level (nor article with levels)",
    DataType.ORDER_STATUS: "the ERP has no order of this platform",
    DataType.ADDRESSES_AND_ORDERS: (
        "the platform shows no order (unknown, or too old for it to show)"
    ),
}

#: The types whose `Only` numbers the read may not account for (a
#: variant's, an article's for its levels): the ERP is asked about them.
_COUNTED = frozenset({DataType.CATEGORIES, DataType.ARTICLES, DataType.STOCK})

#: An article's number is followed by one of these in its variants'
#: numbers (``SHIRT`` in ``SHIRT-M``).
_SEPARATORS = "-_./: "


@attrs.define
class Sought:
    """
    The numbers an `Only` selection names that its read has not found
    yet.  A record found answers for its number and its variants';
    a stock level also for its article's number where the level's
    number starts with it and a separator (``SHIRT`` for ``SHIRT-M``);
    what is left is asked of the ERP (`unknown`).
    """

    data_type: DataType
    numbers: set[str]

    def found(self, batch: Sequence[Record | Refusal]) -> None:
        for record in batch:
            self.numbers.discard(record.number)
            if isinstance(record, Article):
                self.numbers.difference_update(
                    v.number for v in record.variants
                )
            elif self.data_type is DataType.STOCK and self.numbers:
                number = record.number
                self.numbers.difference_update(
                    number[:i]
                    for i in range(1, len(number))
                    if number[i] in _SEPARATORS
                )

    async def unknown(self, session: ErpSession) -> list[tuple[str, str]]:
        """
        The numbers that selected nothing, each with a message naming
        it.  The ERP is asked (`ErpSession.count`) about those the read
        could not account for: by halves, so that many unknown numbers
        cost one count and a few known ones (stock by an article number
        its levels do not start with) a few.  Orders are the platform's
        word, order statuses the read's: their reads match numbers
        exactly, and the statuses read are the run's platform's own (an
        order only another platform's is unknown to this one; the ERP's
        count would say it exists).
        """
        left = sorted(self.numbers, key=number_key)
        if left and self.data_type in _COUNTED:
            left = await _absent(session, self.data_type, left)
        what = _WHAT[self.data_type]
        return [
            (n, f"{n!r}: {what} with this number, so nothing is synced for it")
            for n in left
        ]


async def _absent(
    session: ErpSession, data_type: DataType, numbers: Sequence[str]
) -> list[str]:
    found = await session.count(data_type, Only(numbers))
    if found == 0:
        return list(numbers)
    if found is None:
        # The ERP cannot tell: the read's word, but for stock, whose
        # levels an article number may select under other numbers.
        return [] if data_type is DataType.STOCK else list(numbers)
    if len(numbers) == 1:
        return []
    half = len(numbers) // 2
    return [
        *await _absent(session, data_type, numbers[:half]),
        *await _absent(session, data_type, numbers[half:]),
    ]

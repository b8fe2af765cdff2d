"""
One data type of a run: read, classify, write.

Two direction strategies say how (`_directions`): `Outbound` (ERP →
platform) and `Inbound` (orders, platform → ERP).  The pipeline itself is
the same for both: batches in flight up to a bound, cancellation checked
at record boundaries, progress metered, counts kept.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import nullcontext

import anyio
import attrs

from . import _instrument
from ._ambiguity import NumberClaims
from ._anyio_util import task_group
from ._changes import Change, ambiguous, chunks, fingerprints
from ._contracts import Link, Refusal
from ._dependencies import CategoryClosure
from ._directions import Inbound, Outbound
from ._identity_claims import Claiming
from ._media_transfer import MediaTransfer
from ._model import Problem, Record
from ._order_lease import importing
from ._pipeline_types import Read, Strategy
from ._run import Meter, Run, Tally
from ._selection import (
    Sought,
    advance_watermark,
    changes,
    ledger_numbers,
    ledger_watch,
)
from ._spec import All, DataType, Direction, Only, Selection
from ._stock_fold import StockFold, checksum_for, run_order
from ._stock_layouts import keep as keep_layout
from ._twins import Twins, identity_of
from ._writer import Writer
from .events import RecordSkipped, TypeFinished, TypeStarted
from .exceptions import RunCancelled
from .media import RunStaging
from .typing import ErpSession, StateStore


@attrs.define
class Pipeline:
    """
    Moves one run's data types, each by its direction's strategy.
    """

    run: Run
    store: StateStore
    outbound: Strategy
    inbound: Strategy
    closure: CategoryClosure
    writer: Writer
    write_concurrency: int = 4
    progress_interval: float = 0.5
    #: Parties of an ambiguity found after their batch went on, per type.
    _late: dict[DataType, dict[str, Problem]] = attrs.field(
        init=False, factory=dict
    )
    #: Per type: failed numbers to look out for, and those read so far
    #: (`_selection.ledger_watch`).
    _watch: dict[DataType, tuple[set[str], set[str]]] = attrs.field(
        init=False, factory=dict
    )
    #: Per type: the ledgered numbers a scheduled run retries that its
    #: selection has not read yet.
    _unread: dict[DataType, set[str]] = attrs.field(init=False, factory=dict)
    #: Per type: the numbers its `Only` names that the read did not find.
    _sought: dict[DataType, Sought] = attrs.field(init=False, factory=dict)
    #: Per type: the numbers in the failure ledger when it started.
    _ledgered: dict[DataType, set[str]] = attrs.field(init=False, factory=dict)
    #: Per type: twins of numbers that landed in earlier runs (`_twins`).
    _twins: dict[DataType, Twins] = attrs.field(init=False, factory=dict)
    #: Per type: the claims of numbers new to the store, against twins
    #: that runs side by side land (`_identity_claims`).
    _claiming: dict[DataType, Claiming] = attrs.field(init=False, factory=dict)
    #: Per type: the batches' turns at claiming their numbers, where
    #: that looks at the store first.
    _turns: dict[DataType, anyio.Lock] = attrs.field(init=False, factory=dict)

    def strategy(self, data_type: DataType) -> Strategy:
        if data_type.direction is Direction.TO_ERP:
            return self.inbound
        return self.outbound

    async def sync_all(self, session: ErpSession) -> None:
        """
        Move every data type of the run, in the spec's order; a scheduled
        run advances a type's watermark once the type went through.
        """
        run = self.run
        for data_type, selection in run_order(
            run.spec.types, self.writer.fold.active
        ):
            if data_type in run.synced:
                continue  # before it gave its licence back (LeaseBusy)
            await run.cancel.check(force=True)
            with _instrument.log_fields(data_type=data_type.value):
                # Orders one import at a time across processes.
                async with importing(self.store, run, data_type):
                    await self.sync_type(session, data_type, selection)
            await self.store.save_run(run.record())
            await advance_watermark(self.store, run, data_type)
            await keep_layout(self.store, run, data_type)
            run.synced.add(data_type)

    async def sync_type(
        self, session: ErpSession, data_type: DataType, selection: Selection
    ) -> None:
        """
        Move the selected records of *data_type*, then a scheduled run's
        failed ones again; report the type from start to finish.
        """
        run = self.run
        tally = Tally()
        if data_type.direction is Direction.TO_PLATFORM:
            self._watch_numbers(data_type, selection)
        retry = await ledger_numbers(
            self.store, run.platform_name, run.trigger, data_type, selection
        )
        if data_type is DataType.STOCK and not isinstance(selection, All):
            # Stock of variants this run's article push may have made anew,
            # whatever the trigger (`Writer.note_restock`); `All` reads it.
            retry += sorted(self.writer.restock.difference(retry))
        watch = await ledger_watch(
            self.store, run.platform_name, data_type, selection, retry
        )
        self._watch[data_type] = (watch, set())
        self._ledgered[data_type] = {
            f.number
            for f in await self.store.list_failures(
                run.platform_name, data_type
            )
        }
        total = await self.strategy(data_type).total(
            session, data_type, selection
        )
        if total is not None:
            # A scheduled run's retries of the ledger count too, or a
            # progress bar would run past its end.
            extra = await self._retry_total(session, data_type, retry)
            total = None if extra is None else total + extra
        await run.emit(
            TypeStarted(
                run_id=run.id,
                data_type=data_type,
                selection=selection,
                total=total,
            )
        )
        meter = Meter(run, data_type, total, self.progress_interval)
        # A ledgered record the selection reads too (it failed, then
        # changed) is moved once, not again as a retry: one outcome, one
        # failure, one count.
        unread = self._unread[data_type] = set(retry)
        if isinstance(selection, Only):
            self._sought[data_type] = Sought(data_type, set(selection.numbers))
        try:
            await self._selection(session, data_type, selection, tally, meter)
            if data_type is DataType.STOCK:
                # The levels read with their articles that this read left
                # out, reported as read.
                watch, seen = self._watch[data_type]
                seen.update(await self.writer.fold.rest(tally, watch))
            self._unread.pop(data_type)
            # A number that selected nothing (a typing error) fails naming
            # it, not ledgered: there is no record to retry.
            for number, why in await self._sought.pop(
                data_type, Sought(data_type, set())
            ).unknown(session):
                await self.writer.fail(
                    data_type, number, why, "number", tally, ledger=False
                )
            retry = [number for number in retry if number in unread]
            if meter.total is not None:
                # Retries the selection read as well are counted once.
                extra = await self._retry_total(session, data_type, retry)
                if extra is not None:
                    meter.total = tally.done + extra
            if retry:
                await self._selection(
                    session, data_type, Only(retry), tally, meter
                )
            await self._settle_late(data_type, tally)
            await self._forget_gone(data_type)
        finally:
            self._unread.pop(data_type, None)
            self._sought.pop(data_type, None)
            self._ledgered.pop(data_type, None)
            self._twins.pop(data_type, None)
            self._claiming.pop(data_type, None)
            self._turns.pop(data_type, None)
            run.count(data_type, tally.frozen())
            # The type's writes are over: its claims (one entry per
            # record) need not outlive it.
            self.writer.claims.pop(data_type, None)
        await meter.tick(tally.done, final=True)
        await run.emit(
            TypeFinished(
                run_id=run.id, data_type=data_type, counts=tally.frozen()
            )
        )

    def _watch_numbers(
        self, data_type: DataType, selection: Selection
    ) -> None:
        """
        Follow the numbers *data_type*'s records claim over the run: one
        rule for numbers claimed twice, over the whole read, comparing
        numbers as the platform does; their twins landed in earlier runs
        (`_twins`) and by runs side by side (`_identity_claims`).
        """
        run = self.run
        self.writer.claims[data_type] = NumberClaims(
            identity_of(run.platform, data_type)
        )
        self._late[data_type] = {}
        twins = Twins.of(
            run.platform, run.platform_name, self.store, data_type, selection
        )
        if twins is not None:
            self._twins[data_type] = twins
        claiming = Claiming.of(
            run.platform, run.platform_name, self.store, data_type, run.id
        )
        if claiming is not None:
            self._claiming[data_type] = claiming
        self._turns[data_type] = anyio.Lock()

    async def _retry_total(
        self, session: ErpSession, data_type: DataType, retry: Sequence[str]
    ) -> int | None:
        """
        How many of the ledgered records *retry* the source still has.
        """
        if not retry:
            return 0
        return await self.strategy(data_type).total(
            session, data_type, Only(retry)
        )

    async def _selection(
        self,
        session: ErpSession,
        data_type: DataType,
        selection: Selection,
        tally: Tally,
        meter: Meter,
    ) -> None:
        run = self.run
        strategy = self.strategy(data_type)
        if self.closure.serial(data_type):
            async with strategy.batches(
                session, data_type, selection
            ) as batches:
                async for batch in batches:
                    await run.cancel.check()
                    await self._batch(session, data_type, batch, tally)
                    await meter.tick(tally.done)
            return
        # Other types pipeline: up to `write_concurrency` batches in flight
        # while the next ones are read.  Cancellation is checked before a
        # batch starts, so batches in flight finish whole.
        slots = anyio.Semaphore(self.write_concurrency)

        async def one(batch: Read) -> None:
            try:
                await self._batch(
                    session, data_type, batch, tally, check_cancel=False
                )
                await meter.tick(tally.done)
            finally:
                slots.release()

        async with (
            strategy.batches(session, data_type, selection) as batches,
            task_group() as tg,
        ):
            async for batch in batches:
                await slots.acquire()
                try:
                    await run.cancel.check()
                except RunCancelled:
                    slots.release()
                    break
                tg.start_soon(one, batch)
        if run.cancel.cancelled:
            raise RunCancelled(f"run {run.id} was cancelled")

    async def _forget_gone(self, data_type: DataType) -> None:
        """
        Take the failed records this complete read looked for and did not
        find (deleted from the source) out of the failure ledger.
        """
        watch, found = self._watch.pop(data_type, (set(), set()))
        gone = sorted(watch - found)
        if gone:
            await self.store.clear_failures(
                self.run.platform_name, data_type, gone
            )

    async def _settle_late(self, data_type: DataType, tally: Tally) -> None:
        """
        Fail the parties of an ambiguity that were sent before their rival
        turned up, and take back their checksums: nothing ambiguous may
        look in sync.
        """
        late = self._late.pop(data_type, {})
        if not late:
            return
        for number, problem in late.items():
            if (data_type, number) not in self.writer.reported:
                self.writer.reported.add((data_type, number))
                await self.writer.fail(
                    data_type,
                    number,
                    f"{problem.field} {problem.reason}",
                    problem.field,
                    tally,
                )
        name = self.run.platform_name
        links = await self.store.get_links(name, data_type, list(late))
        if links:
            await self.store.put_links(
                name,
                data_type,
                {
                    n: attrs.evolve(link, checksum="")
                    for n, link in links.items()
                },
            )

    async def _batch(
        self,
        session: ErpSession,
        data_type: DataType,
        batch: Read,
        tally: Tally,
        *,
        check_cancel: bool = True,
    ) -> None:
        with _instrument.batch(self.run.id, data_type, len(batch)):
            await self._work_batch(
                session, data_type, batch, tally, check_cancel=check_cancel
            )

    async def _work_batch(
        self,
        session: ErpSession,
        data_type: DataType,
        read: Read,
        tally: Tally,
        *,
        check_cancel: bool,
    ) -> None:
        run = self.run
        strategy = self.strategy(data_type)
        watch, seen = self._watch.get(data_type, (set(), set()))
        if watch:
            seen.update(r.number for r in read if r.number in watch)
        unread = self._unread.get(data_type)
        if unread:
            unread.difference_update(r.number for r in read)
        if data_type in self._sought:
            self._sought[data_type].found(read)
        # The platform's word: these orders cannot be imported as read.
        for item in await self.refusals(data_type, read):
            await self.writer.fail(
                data_type, item.number, item.reason, item.field, tally
            )
        batch = [r for r in read if not isinstance(r, Refusal)]
        claims = self.writer.claims.get(data_type)
        # Each record's checksum once per batch, for both uses below;
        # a stock level's with where the platform's mapping sends it.
        digests: dict[int, str] = {}
        of = checksum_for(run.platform, data_type)

        def checksum_of(record: Record) -> str:
            digest = digests.get(id(record))
            if digest is None:
                digest = digests[id(record)] = of(record)
            return digest

        links = None
        if claims is not None:
            batch, links = await self._claim(
                session, data_type, claims, batch, tally, checksum_of
            )
        found = await changes(
            self.store,
            run.platform_name,
            data_type,
            batch,
            force=run.spec.force,
            checksum_of=checksum_of,
            links=links,
        )
        if data_type is DataType.STOCK:
            # Stock that landed with its article is reported, not sent.
            found = await self.writer.fold.settle(found, tally, checksum_of)
        for refusal in found.invalid:
            await self.writer.fail(
                data_type, refusal.number, refusal.reason, refusal.field, tally
            )
        for record in found.unchanged:
            tally.unchanged += 1
            await run.emit(
                RecordSkipped(
                    run_id=run.id, data_type=data_type, number=record.number
                )
            )
        ledgered = self._ledgered.get(data_type, set())
        if back := [r.number for r in found.unchanged if r.number in ledgered]:
            # As the other side holds it (a failed change undone): in sync.
            await self.store.clear_failures(run.platform_name, data_type, back)
            ledgered.difference_update(back)
        await strategy.prepare(session, data_type, found.todo)
        todo: list[Change] = []
        for change in found.todo:
            # An article whose category is in neither the ERP nor the
            # platform fails here, saying so, instead of at the platform.
            unknown = self.closure.unknown(change.record)
            if unknown is None:
                todo.append(change)
            else:
                await self.writer.fail(
                    data_type,
                    unknown.number,
                    unknown.reason,
                    unknown.field,
                    tally,
                )
        for chunk in chunks(todo, strategy.chunk_size):
            if check_cancel:
                await run.cancel.check()
            await strategy.write(session, data_type, chunk, tally)

    async def refusals(self, data_type: DataType, read: Read) -> list[Refusal]:
        """
        The refusals of *read* that hold: those for every order, and
        those for an order the engine imported before, or did not
        (`Refusal.if_imported`), as the state store links its number
        (one store read, only where there are any).
        """
        refused = [r for r in read if isinstance(r, Refusal)]
        numbers = [r.number for r in refused if r.if_imported is not None]
        imported: Collection[str] = ()
        if numbers:
            imported = await self.store.get_links(
                self.run.platform_name, data_type, numbers
            )
        return [
            r for r in refused if r.if_imported in (None, r.number in imported)
        ]

    async def _claim(
        self,
        session: ErpSession,
        data_type: DataType,
        claims: NumberClaims,
        batch: list[Record],
        tally: Tally,
        checksum_of: Callable[[Record], str],
    ) -> tuple[list[Record], dict[str, Link] | None]:
        """
        *batch* without the parties of an ambiguity, each failed, and the
        batch's links where the twins needed them (`_twins`).
        """
        links = None
        rivals: list[Record] = []
        twins = self._twins.get(data_type)
        claiming = self._claiming.get(data_type)
        taken = None
        # Batches register their numbers in the order they started, as
        # they do where nothing is awaited before (the first of two twins
        # read may be sent, never the later one), while batches in flight
        # look at the store in turn.
        turn = (
            nullcontext()
            if twins is None and claiming is None
            else self._turns[data_type]
        )
        async with turn:
            if twins is not None or claiming is not None:
                # The batch's links once, for the twins, the claims and
                # the changes.
                batch, links, rivals = await self._rivals(
                    session, data_type, twins, batch, claims
                )
            if claiming is not None:
                # Twins another run lands side by side.
                taken, more = await claiming.take(
                    session,
                    self.strategy(data_type).batches,
                    batch,
                    links or {},
                    claims,
                    rivals,
                )
                rivals += more
            both = [*batch, *rivals]
            claimed = claims.claim(both, fingerprints(both, checksum_of))
        self._late[data_type].update(claimed.late)
        for i, problem in ambiguous(both, claimed.invalid):
            await self.writer.fail(
                data_type,
                both[i].number,
                f"{problem.field} {problem.reason}",
                problem.field,
                tally,
            )
            if i >= len(batch):
                for pulled in (twins, claiming):
                    if pulled is not None:
                        pulled.pulled.add(both[i].number)
        kept = [r for i, r in enumerate(batch) if i not in claimed.invalid]
        if claiming is not None and taken is not None:
            lost = await claiming.settle(taken, kept)
            for number, why in lost.items():
                await self.writer.fail(
                    data_type, number, f"number {why}", "number", tally
                )
            kept = [r for r in kept if r.number not in lost]
        return kept, links

    async def _rivals(
        self,
        session: ErpSession,
        data_type: DataType,
        twins: Twins | None,
        batch: list[Record],
        claims: NumberClaims,
    ) -> tuple[list[Record], dict[str, Link], list[Record]]:
        """
        *batch* without the twins that failed in an earlier batch, its
        links, and the landed twins of its new numbers (`_twins`).
        """
        claiming = self._claiming.get(data_type)
        pulled: set[str] = set() if twins is None else twins.pulled
        if claiming is not None:
            pulled = pulled | claiming.pulled
        if pulled:
            batch = [r for r in batch if r.number not in pulled]
        links = await self.store.get_links(
            self.run.platform_name, data_type, [r.number for r in batch]
        )
        if twins is None:
            return batch, links, []
        rivals = await twins.rivals(
            session, self.strategy(data_type).batches, batch, links, claims
        )
        return batch, links, rivals


def build(
    run: Run,
    store: StateStore,
    staging: RunStaging | None,
    *,
    batch_size: int,
    media_concurrency: int,
    write_concurrency: int,
    order_page_size: int,
    progress_interval: float,
) -> Pipeline:
    """
    The pipeline of *run*, its parts wired.
    """
    media = MediaTransfer(run, store, staging, media_concurrency)
    writer = Writer(
        run,
        store,
        media,
        fold=StockFold.of(run, store, batch_size),
        restock=run.restock,
    )
    closure = CategoryClosure(run, store, batch_size)
    return Pipeline(
        run=run,
        store=store,
        outbound=Outbound(run, writer, closure, batch_size),
        inbound=Inbound(run, writer, order_page_size, batch_size),
        closure=closure,
        writer=writer,
        write_concurrency=write_concurrency,
        progress_interval=progress_interval,
    )

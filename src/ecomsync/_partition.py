"""
Partitioned runs: one run over a large selection, split into number
ranges that workers on many machines claim exactly once.

- `submit_partitioned` reads the selected numbers once, cuts them into
  partitions (one data type each, types in the run's order as *phases*:
  a phase starts when the one before it has no open partition) and
  records the run as the parent in the monitoring view.
- `PartitionBoard.claim` hands a worker the next open partition with
  ``FOR UPDATE SKIP LOCKED`` and a new *fencing token*; the worker
  heartbeats it.  A partition whose heartbeat is older than *stale_after*
  is claimable again (its worker died) and gets a new token.
- Every store write a worker makes for a partition first checks, in the
  same transaction, that the partition still carries its token
  (``FOR SHARE``): a worker that lost its partition has its late writes
  rejected with `PartitionLost`, and its run stops at the next record
  boundary (it sees itself cancelled).
- Cancelling the parent run (`Synchronizer.cancel`, the monitoring view)
  stops every partition at its next boundary: a partition's run checks
  the parent's cancel flag.

The engine needs no change: a partition is an ordinary run of the
`Synchronizer` on a `PartitionStore` (the fenced view of the store) with
the worker's licence already held (`HeldLicence`).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from ._contracts import (
    Failure,
    Lease,
    Link,
    PendingMedia,
    RunRecord,
    RunStatus,
    Schedule,
    TypeCounts,
)
from ._spec import (
    All,
    DataType,
    NumberRange,
    Only,
    Selection,
    SyncSpec,
    Trigger,
    spec_from_plain,
    spec_to_plain,
)
from .exceptions import ConfigurationError, SpecError, StateStoreError
from .state._postgres import PostgresStore
from .state._serial import run_from_json, run_to_json


if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from ._engine import Synchronizer


__all__ = [
    "Claim",
    "HeldLicence",
    "PartitionBoard",
    "PartitionLost",
    "PartitionStore",
    "submit_partitioned",
]

log = logging.getLogger("ecomsync.partition")

_SEP = "~p"


class PartitionLost(StateStoreError):
    """
    This worker's partition was taken over (its heartbeat went stale and
    another worker claimed it): the write was rejected.
    """


@attrs.frozen(kw_only=True)
class Claim:
    """
    A partition a worker holds, with the fencing token of this claim.
    """

    run_id: str
    index: int
    token: int
    spec: SyncSpec
    worker: str
    attempts: int = 1

    @property
    def sub_run_id(self) -> str:
        """
        The id the partition's run has in the engine.
        """
        return f"{self.run_id}{_SEP}{self.index}"


def _chunks(numbers: Sequence[str], size: int) -> list[list[str]]:
    return [list(numbers[i : i + size]) for i in range(0, len(numbers), size)]


def _partition_selection(
    selection: Selection, chunk: Sequence[str]
) -> Selection:
    """
    The part of *selection* a chunk of its (number-ordered) records is.
    """
    if isinstance(selection, All | NumberRange):
        return NumberRange(chunk[0], chunk[-1])
    return Only(frozenset(chunk))


async def submit_partitioned(
    sync: Synchronizer,
    spec: SyncSpec,
    *,
    partition_size: int = 1000,
    run_id: str | None = None,
) -> str:
    """
    Plan *spec* as a partitioned run for workers; return its run id.

    Reads the selected numbers once (holding a licence and an ERP session
    meanwhile), cuts each data type into partitions of *partition_size*
    records and records the run (`RunStatus.QUEUED`) in the store, which
    must be a `PostgresStore`.  Orders (`DataType.ADDRESSES_AND_ORDERS`)
    are read from the platform and form one partition.

    Raises:
        SpecError: If *spec* does not fit *sync*.
        ConfigurationError: If the store is not a `PostgresStore`.
    """
    if partition_size < 1:
        raise SpecError(f"partition_size must be >= 1: {partition_size}")
    store = sync.store
    if not isinstance(store, PostgresStore):
        raise ConfigurationError(
            "partitioned runs need a PostgresStore shared by the workers, "
            f"not {type(store).__name__}"
        )
    name = sync.validate(spec)
    run_id = run_id or uuid.uuid4().hex[:12]
    parts: list[tuple[int, SyncSpec]] = []
    async with (
        sync.licenses.lease(run_id, timeout=sync.license_timeout),
        sync.erp.session() as session,
    ):
        for phase, (data_type, selection) in enumerate(spec.types.items()):
            one = attrs.evolve(spec, platform=name)
            if data_type is DataType.ADDRESSES_AND_ORDERS:
                parts.append(
                    (phase, attrs.evolve(one, types={data_type: selection}))
                )
                continue
            numbers: list[str] = []
            async for batch in session.read(
                data_type, selection, batch_size=sync.batch_size
            ):
                numbers += [r.number for r in batch]
            for chunk in _chunks(numbers, partition_size):
                parts.append(
                    (
                        phase,
                        attrs.evolve(
                            one,
                            types={
                                data_type: _partition_selection(
                                    selection, chunk
                                )
                            },
                        ),
                    )
                )
    parent = RunRecord(
        id=run_id,
        trigger=Trigger.MANUAL,
        platform=name,
        spec=spec,
        status=RunStatus.QUEUED if parts else RunStatus.SUCCEEDED,
        started_at=sync.clock(),
        ended_at=None if parts else sync.clock(),
        holder=f"partitioned:{len(parts)}",
    )
    board = PartitionBoard(store)

    async def create(conn: AsyncConnection[Any]) -> None:
        s = board.s
        await conn.execute(
            f"INSERT INTO {s}.runs (id, started_at, status, body) "  # noqa: S608
            "VALUES (%s, %s, %s, %s)",
            (
                run_id,
                parent.started_at,
                parent.status.value,
                run_to_json(parent),
            ),
        )
        async with conn.cursor() as cur:
            await cur.executemany(
                f"INSERT INTO {s}.partitions (run_id, idx, phase, spec) "  # noqa: S608
                "VALUES (%s, %s, %s, %s)",
                [
                    (run_id, index, phase, json.dumps(spec_to_plain(part)))
                    for index, (phase, part) in enumerate(parts)
                ],
            )

    await store.transact(create)
    return run_id


@attrs.define
class PartitionBoard:
    """
    The partitions of every partitioned run, in a `PostgresStore`.
    """

    store: PostgresStore

    @property
    def s(self) -> str:
        return f'"{self.store.schema}"'

    async def has_work(self) -> bool:
        """
        Whether any partition of a live run is still open (claimed or
        not).
        """

        async def get(conn: AsyncConnection[Any]) -> bool:
            cur = await conn.execute(
                f"SELECT EXISTS (SELECT 1 FROM {self.s}.partitions p "  # noqa: S608
                f"JOIN {self.s}.runs r ON r.id = p.run_id "
                "WHERE p.state = 'todo' AND NOT r.cancel)"
            )
            row = await cur.fetchone()
            return bool(row and row[0])

        return await self.store.transact(get)

    async def claim(self, worker: str, *, stale_after: float) -> Claim | None:
        """
        The next open partition, claimed for *worker* with a new fencing
        token; ``None`` if there is none to claim now.
        """
        s = self.s

        async def claim(conn: AsyncConnection[Any]) -> Claim | None:
            cur = await conn.execute(
                f"WITH c AS (SELECT p.run_id, p.idx FROM {s}.partitions p "  # noqa: S608
                f"JOIN {s}.runs r ON r.id = p.run_id "
                "WHERE p.state = 'todo' AND NOT r.cancel "
                "AND (p.worker IS NULL OR "
                "p.heartbeat < now() - make_interval(secs => %s)) "
                f"AND NOT EXISTS (SELECT 1 FROM {s}.partitions q "
                "WHERE q.run_id = p.run_id AND q.phase < p.phase "
                "AND q.state = 'todo') "
                "ORDER BY r.started_at, p.run_id, p.phase, p.idx "
                "LIMIT 1 FOR UPDATE OF p SKIP LOCKED) "
                f"UPDATE {s}.partitions p SET worker = %s, "
                f"token = nextval('{s}.fencing_tokens'), "
                "heartbeat = now(), attempts = p.attempts + 1 "
                "FROM c WHERE p.run_id = c.run_id AND p.idx = c.idx "
                "RETURNING p.run_id, p.idx, p.token, p.spec, p.attempts",
                (stale_after, worker),
            )
            row = await cur.fetchone()
            if row is None:
                return None
            run_id, index, token, spec, attempts = row
            return Claim(
                run_id=run_id,
                index=index,
                token=token,
                spec=spec_from_plain(json.loads(spec)),
                worker=worker,
                attempts=attempts,
            )

        return await self.store.transact(claim)

    async def heartbeat(self, claim: Claim) -> bool:
        """
        Keep *claim* alive; ``False`` once it was lost.
        """

        async def beat(conn: AsyncConnection[Any]) -> bool:
            cur = await conn.execute(
                f"UPDATE {self.s}.partitions SET heartbeat = now() "  # noqa: S608
                "WHERE run_id = %s AND idx = %s AND token = %s "
                "AND state = 'todo'",
                (claim.run_id, claim.index, claim.token),
            )
            return cur.rowcount == 1

        return await self.store.transact(beat)

    async def release(self, claim: Claim) -> None:
        """
        Give *claim*'s partition back unfinished, claimable at once (a
        worker that is being stopped).
        """

        async def give_back(conn: AsyncConnection[Any]) -> None:
            await conn.execute(
                f"UPDATE {self.s}.partitions SET worker = NULL, "  # noqa: S608
                "heartbeat = NULL WHERE run_id = %s AND idx = %s "
                "AND token = %s AND state = 'todo'",
                (claim.run_id, claim.index, claim.token),
            )

        await self.store.transact(give_back)

    def fence(
        self, claim: Claim
    ) -> Callable[[AsyncConnection[Any]], Awaitable[None]]:
        """
        A check, run first in a write transaction, that *claim* still
        holds its partition; it keeps the partition locked against a
        takeover until the transaction ends.
        """
        s = self.s

        async def check(conn: AsyncConnection[Any]) -> None:
            cur = await conn.execute(
                f"SELECT 1 FROM {s}.partitions WHERE run_id = %s "  # noqa: S608
                "AND idx = %s AND token = %s AND state = 'todo' FOR SHARE",
                (claim.run_id, claim.index, claim.token),
            )
            if await cur.fetchone() is None:
                raise PartitionLost(
                    f"partition {claim.index} of run {claim.run_id} is no "
                    f"longer held by {claim.worker} (token {claim.token}); "
                    "the write was rejected"
                )

        return check

    async def progress(self, claim: Claim, record: RunRecord) -> None:
        """
        Record the partition run's state (fenced) and refresh the parent.
        """
        fence = self.fence(claim)

        async def save(conn: AsyncConnection[Any]) -> None:
            await fence(conn)
            await conn.execute(
                f"UPDATE {self.s}.partitions SET body = %s "  # noqa: S608
                "WHERE run_id = %s AND idx = %s",
                (run_to_json(record), claim.run_id, claim.index),
            )
            await self._aggregate(conn, claim.run_id)

        await self.store.transact(save)

    async def finish(
        self, claim: Claim, record: RunRecord | None, error: str | None
    ) -> None:
        """
        Close *claim*'s partition (fenced) with its run's outcome and
        refresh the parent run.

        Raises:
            PartitionLost: The partition was taken over meanwhile.
        """
        fence = self.fence(claim)
        if record is not None and record.status is RunStatus.SUCCEEDED:
            state = "done"
        elif record is not None and record.status is RunStatus.CANCELLED:
            state = "cancelled"
        else:
            state = "failed"

        async def close(conn: AsyncConnection[Any]) -> None:
            await fence(conn)
            await conn.execute(
                f"UPDATE {self.s}.partitions SET state = %s, "  # noqa: S608
                "body = coalesce(%s, body), error = %s, worker = NULL "
                "WHERE run_id = %s AND idx = %s",
                (
                    state,
                    None if record is None else run_to_json(record),
                    error,
                    claim.run_id,
                    claim.index,
                ),
            )
            await self._aggregate(conn, claim.run_id)

        await self.store.transact(close)

    async def sweep(self, *, stale_after: float, max_attempts: int) -> None:
        """
        Close the open partitions nobody works on of cancelled runs (as
        cancelled), and those whose workers died *max_attempts* times (as
        failed: a partition that kills its workers must not kill them
        all); then refresh their runs.
        """
        s = self.s

        async def sweep(conn: AsyncConnection[Any]) -> None:
            cur = await conn.execute(
                f"UPDATE {s}.partitions p SET state = 'cancelled', "  # noqa: S608
                "worker = NULL "
                f"FROM {s}.runs r WHERE r.id = p.run_id AND r.cancel "
                "AND p.state = 'todo' AND (p.worker IS NULL OR "
                "p.heartbeat < now() - make_interval(secs => %s)) "
                "RETURNING p.run_id",
                (stale_after,),
            )
            runs = {r for (r,) in await cur.fetchall()}
            cur = await conn.execute(
                f"UPDATE {s}.partitions SET state = 'failed', "  # noqa: S608
                "worker = NULL, error = 'partition ' || idx || "
                "' abandoned: its worker died ' || attempts || ' times' "
                "WHERE state = 'todo' AND attempts >= %s "
                "AND heartbeat < now() - make_interval(secs => %s) "
                "RETURNING run_id",
                (max_attempts, stale_after),
            )
            runs |= {r for (r,) in await cur.fetchall()}
            for run_id in sorted(runs):
                await self._aggregate(conn, run_id)

        await self.store.transact(sweep)

    async def _aggregate(
        self, conn: AsyncConnection[Any], run_id: str
    ) -> None:
        """
        Recompute the parent run's record from its partitions.
        """
        s = self.s
        cur = await conn.execute(
            f"SELECT body, cancel FROM {s}.runs WHERE id = %s FOR UPDATE",  # noqa: S608
            (run_id,),
        )
        row = await cur.fetchone()
        if row is None:
            return
        parent = run_from_json(row[0])
        cancel = bool(row[1])
        cur = await conn.execute(
            f"SELECT state, body, error FROM {s}.partitions "  # noqa: S608
            "WHERE run_id = %s ORDER BY idx",
            (run_id,),
        )
        parts = await cur.fetchall()
        counts: dict[DataType, TypeCounts] = {}
        failures: list[Failure] = []
        errors: list[str] = []
        for _state, body, error in parts:
            if error:
                errors.append(error)
            if body is None:
                continue
            sub = run_from_json(body)
            failures += [attrs.evolve(f, run_id=run_id) for f in sub.failures]
            for data_type, c in sub.counts.items():
                was = counts.get(data_type, TypeCounts())
                counts[data_type] = TypeCounts(
                    created=was.created + c.created,
                    updated=was.updated + c.updated,
                    unchanged=was.unchanged + c.unchanged,
                    failed=was.failed + c.failed,
                )
        states = {state for state, _, _ in parts}
        ended_at = None
        if "todo" in states:
            status = (
                RunStatus.RUNNING
                if parent.status is not RunStatus.QUEUED
                or any(b is not None for _, b, _ in parts)
                else RunStatus.QUEUED
            )
        else:
            ended_at = datetime.now(UTC)
            if cancel or "cancelled" in states:
                status = RunStatus.CANCELLED
            elif "failed" in states:
                status = RunStatus.FAILED
            else:
                status = RunStatus.SUCCEEDED
        final = attrs.evolve(
            parent,
            status=status,
            ended_at=ended_at,
            counts=counts,
            failures=tuple(failures),
            error="; ".join(errors[:3]) or None,
        )
        await conn.execute(
            f"UPDATE {s}.runs SET status = %s, body = %s WHERE id = %s",  # noqa: S608
            (final.status.value, run_to_json(final), run_id),
        )


@attrs.define
class PartitionStore:
    """
    The store as one partition's run sees it: writes are fenced by the
    claim's token, the partition's own run record goes to its partition
    (the monitoring view shows the parent), and the run counts as
    cancelled once the parent is cancelled or the claim is lost.
    """

    inner: PostgresStore
    board: PartitionBoard
    claim: Claim
    lost: bool = False

    def __repr__(self) -> str:
        return f"<PartitionStore {self.claim.sub_run_id} of {self.inner!r}>"

    async def get_links(
        self, platform: str, data_type: DataType, numbers: Sequence[str]
    ) -> dict[str, Link]:
        return await self.inner.get_links(platform, data_type, numbers)

    async def put_links(
        self, platform: str, data_type: DataType, links: Mapping[str, Link]
    ) -> None:
        await self.inner.put_links(platform, data_type, links)

    async def get_media_id(self, platform: str, sha256: str) -> str | None:
        return await self.inner.get_media_id(platform, sha256)

    async def put_media_id(
        self, platform: str, sha256: str, media_id: str
    ) -> None:
        await self.inner.put_media_id(platform, sha256, media_id)

    async def add_pending(self, pending: PendingMedia) -> None:
        await self.inner.add_pending(pending)

    async def remove_pending(self, sha256: str) -> None:
        await self.inner.remove_pending(sha256)

    async def list_pending(self) -> list[PendingMedia]:
        return await self.inner.list_pending()

    async def save_run(self, run: RunRecord) -> None:
        if run.id == self.claim.sub_run_id:
            await self.board.progress(self.claim, run)
        else:
            await self.inner.save_run(run)

    async def get_run(self, run_id: str) -> RunRecord | None:
        return await self.inner.get_run(run_id)

    async def list_runs(self, *, limit: int = 50) -> list[RunRecord]:
        return await self.inner.list_runs(limit=limit)

    async def request_cancel(self, run_id: str) -> None:
        if run_id == self.claim.sub_run_id:
            run_id = self.claim.run_id
        await self.inner.request_cancel(run_id)

    async def cancel_requested(self, run_id: str) -> bool:
        if run_id != self.claim.sub_run_id:
            return await self.inner.cancel_requested(run_id)
        if self.lost:
            return True
        return await self.inner.cancel_requested(self.claim.run_id)

    async def get_watermark(
        self, platform: str, data_type: DataType
    ) -> datetime | None:
        return await self.inner.get_watermark(platform, data_type)

    async def set_watermark(
        self, platform: str, data_type: DataType, moment: datetime
    ) -> None:
        await self.inner.set_watermark(platform, data_type, moment)

    async def add_failures(
        self, platform: str, failures: Sequence[Failure]
    ) -> None:
        await self.inner.add_failures(
            platform,
            [attrs.evolve(f, run_id=self.claim.run_id) for f in failures],
        )

    async def list_failures(
        self, platform: str, data_type: DataType | None = None
    ) -> list[Failure]:
        return await self.inner.list_failures(platform, data_type)

    async def clear_failures(
        self, platform: str, data_type: DataType, numbers: Sequence[str]
    ) -> None:
        await self.inner.clear_failures(platform, data_type, numbers)

    async def save_schedule(self, schedule: Schedule) -> None:
        await self.inner.save_schedule(schedule)

    async def list_schedules(self) -> list[Schedule]:
        return await self.inner.list_schedules()

    async def claim_schedule(
        self, schedule_id: str, holder: str, until: datetime
    ) -> bool:
        return await self.inner.claim_schedule(schedule_id, holder, until)

    async def release_schedule(
        self, schedule_id: str, holder: str, next_due: datetime
    ) -> None:
        await self.inner.release_schedule(schedule_id, holder, next_due)

    async def aclose(self) -> None:
        await self.inner.aclose()


@attrs.define
class HeldLicence:
    """
    A `LicensePool` of the one licence a worker already holds: the
    partition's run uses it instead of leasing another.
    """

    held: Lease

    @property
    def size(self) -> int:
        return 1

    async def holders(self) -> tuple[str, ...]:
        return (self.held.holder,)

    @asynccontextmanager
    async def lease(
        self, holder: str, *, timeout: float
    ) -> AsyncIterator[Lease]:
        del holder, timeout
        yield self.held

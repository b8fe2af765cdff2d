"""
The partition board in PostgreSQL (see `ecomsync._partition` for how
partitioned runs work).

- `PostgresPartitionBoard.claim` hands a worker the next open partition
  with ``FOR UPDATE SKIP LOCKED`` and a new *fencing token*; the worker
  heartbeats it.  A partition whose heartbeat is older than *stale_after*
  is claimable again (its worker died) and gets a new token.
- Every store write a worker makes for a partition first checks, in the
  same transaction, that the partition still carries its token
  (``FOR SHARE``): a worker that lost its partition has its late writes
  rejected with `PartitionLost`, and its run stops at the next record
  boundary (it sees itself cancelled).
- `PartitionStore` is that fenced view of the store: the shared SQL of
  `SqlStore` on the board's store's connections, with the run record and
  cancel flag redirected to the partition and its parent run.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from .._contracts import Failure, RunRecord, RunStatus, TypeCounts
from .._spec import All, DataType, SyncSpec, spec_from_plain, spec_to_plain
from ._board import Claim, PartitionLost
from ._media_rows import MediaForgetOps
from ._postgres import PostgresStore
from ._records import run_from_json, run_to_json
from ._sql import Dialect, Op, SqlStore


if TYPE_CHECKING:
    from psycopg import AsyncConnection


__all__ = ["PartitionStore", "PostgresPartitionBoard"]

T = TypeVar("T")

#: The key of a stock partition's layout in its body (`_keep_layout`).
_LAYOUT = "stock_layout"


@attrs.define
class PostgresPartitionBoard:
    """
    The partitions of every partitioned run, in a `PostgresStore`
    (`PartitionBoard`).
    """

    store: PostgresStore

    async def create(
        self, parent: RunRecord, parts: Sequence[tuple[int, SyncSpec]]
    ) -> None:
        """
        Record *parent* and its partitions, as (phase, spec), at once.
        """
        s = self.s

        async def create(conn: AsyncConnection[Any]) -> None:
            await conn.execute(
                f"INSERT INTO {s}.runs (id, started_at, status, body) "  # noqa: S608
                "VALUES (%s, %s, %s, %s)",
                (
                    parent.id,
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
                        (parent.id, i, phase, json.dumps(spec_to_plain(part)))
                        for i, (phase, part) in enumerate(parts)
                    ],
                )

        await self.store.transact(create)

    def view(self, claim: Claim) -> PartitionStore:
        """
        The store for *claim*'s run: writes fenced by its token, on this
        board's store's connections.
        """
        return PartitionStore(self, claim)

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
                f"SELECT token, state, worker FROM {s}.partitions "  # noqa: S608
                "WHERE run_id = %s AND idx = %s FOR SHARE",
                (claim.run_id, claim.index),
            )
            row = await cur.fetchone()
            if row is None or (row[0], row[1]) != (claim.token, "todo"):
                raise PartitionLost(
                    f"{_lost(claim, row)}; the write was rejected"
                )

        return check

    async def loss(self, claim: Claim) -> str:
        """
        What became of *claim*, lost: who took its partition over, or how
        it was closed.
        """

        async def get(conn: AsyncConnection[Any]) -> str:
            cur = await conn.execute(
                f"SELECT token, state, worker FROM {self.s}.partitions "  # noqa: S608
                "WHERE run_id = %s AND idx = %s",
                (claim.run_id, claim.index),
            )
            return _lost(claim, await cur.fetchone())

        return await self.store.transact(get)

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
        self,
        claim: Claim,
        record: RunRecord | None,
        error: str | None,
        *,
        stock_layout: str | None = None,
    ) -> None:
        """
        Close *claim*'s partition (fenced) with its run's outcome and
        refresh the parent run; with *stock_layout* (a partition of stock
        that went through), keep it for the platform once every stock
        partition of a run of all stock went through under it
        (`_keep_layout`).

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

        body = None if record is None else run_to_json(record)
        if body is not None and stock_layout is not None:
            # Beside the run record, which its reader takes field by field.
            body = json.dumps({**json.loads(body), _LAYOUT: stock_layout})

        async def close(conn: AsyncConnection[Any]) -> None:
            await fence(conn)
            await conn.execute(
                f"UPDATE {self.s}.partitions SET state = %s, "  # noqa: S608
                "body = coalesce(%s, body), error = %s, worker = NULL "
                "WHERE run_id = %s AND idx = %s",
                (state, body, error, claim.run_id, claim.index),
            )
            await self._aggregate(conn, claim.run_id)
            if stock_layout is not None:
                await self._keep_layout(conn, claim.run_id)

        await self.store.transact(close)

    async def _keep_layout(
        self, conn: AsyncConnection[Any], run_id: str
    ) -> None:
        """
        Keep the stock layout of *run_id* for its platform (its store's
        `StockLayouts`) if it is a run of all stock whose every stock
        partition went through, all under one layout: the next scheduled
        run then reads only changes, as after an unpartitioned run
        (`_stock_layouts`).  Under the parent's row lock `_aggregate`
        took, so of two partitions closing at once the second sees both.
        A partition still open, failed or cancelled, or written under
        another layout (a worker with other settings), keeps nothing: the
        next scheduled run reads all stock once, as before.
        """
        s = self.s
        cur = await conn.execute(
            f"SELECT body FROM {s}.runs WHERE id = %s",  # noqa: S608
            (run_id,),
        )
        row = await cur.fetchone()
        if row is None:
            return
        parent = run_from_json(row[0])
        if not isinstance(parent.spec.types.get(DataType.STOCK), All):
            return
        cur = await conn.execute(
            f"SELECT state, spec, body FROM {s}.partitions "  # noqa: S608
            "WHERE run_id = %s",
            (run_id,),
        )
        layouts: set[str | None] = set()
        for state, spec, body in await cur.fetchall():
            if DataType.STOCK not in spec_from_plain(json.loads(spec)).types:
                continue
            if state != "done" or body is None:
                return
            layouts.add(json.loads(body).get(_LAYOUT))
        if len(layouts) != 1 or None in layouts:
            return
        (layout,) = layouts
        await conn.execute(
            f"INSERT INTO {s}.stock_layouts (platform, layout) "  # noqa: S608
            "VALUES (%s, %s) ON CONFLICT (platform) "
            "DO UPDATE SET layout = excluded.layout",
            (parent.platform, layout),
        )

    async def cancelled(self, run_id: str) -> None:
        """
        Close the partitions of *run_id*, just cancelled, that no worker
        holds, and refresh the run: a partitioned run no worker started
        ends at once, as a queued run does, not at some worker's sweep.
        """
        s = self.s

        async def close(conn: AsyncConnection[Any]) -> None:
            cur = await conn.execute(
                f"UPDATE {s}.partitions p SET state = 'cancelled' "  # noqa: S608
                f"FROM {s}.runs r WHERE r.id = p.run_id AND r.cancel "
                "AND p.run_id = %s AND p.state = 'todo' "
                "AND p.worker IS NULL",
                (run_id,),
            )
            if cur.rowcount:
                await self._aggregate(conn, run_id)

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
            f"SELECT body, cancel, cancel_reason FROM {s}.runs "  # noqa: S608
            "WHERE id = %s FOR UPDATE",
            (run_id,),
        )
        row = await cur.fetchone()
        if row is None:
            return
        parent = run_from_json(row[0])
        cancel = bool(row[1])
        # Who asked, as a run cancelled through the store says it.
        asked = "asked through the state store"
        if row[2] is not None:
            asked += f": {row[2]}"
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
                errors = errors or [asked]
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


def _lost(claim: Claim, row: tuple[Any, ...] | None) -> str:
    """
    Why *claim* no longer holds its partition, *row* (token, state,
    worker) as the partition is now: not a cancel, so its run says so.
    """
    if row is None:
        what = "its partition is gone"
    elif row[1] != "todo":
        what = f"its partition was closed ({row[1]}) elsewhere"
    elif row[0] != claim.token:
        what = (
            f"taken over by worker {row[2]!r} (token {row[0]}) after this "
            "worker's heartbeat went stale; the new owner runs it again"
        )
    else:
        what = "it was given back"
    return (
        f"partition {claim.index} of run {claim.run_id} is no longer held "
        f"by {claim.worker} (token {claim.token}): its claim was lost: {what}"
    )


@attrs.define
class PartitionStore(SqlStore, MediaForgetOps):
    """
    The store as one partition's run sees it: writes are fenced by the
    claim's token, the partition's own run record goes to its partition
    (the monitoring view shows the parent), failures are the parent's, and
    the run counts as cancelled once the parent is cancelled or the claim
    is lost.
    """

    board: PostgresPartitionBoard
    claim: Claim
    lost: bool = False
    _closed: bool = attrs.field(init=False, default=False)

    def __repr__(self) -> str:
        return (
            f"<PartitionStore {self.claim.sub_run_id} of {self.board.store!r}>"
        )

    @property
    def _dialect(self) -> Dialect:
        return self.board.store._dialect

    async def _perform(self, op: Op[T]) -> T:
        return await self.board.store._perform(
            op, fence=self.board.fence(self.claim)
        )

    async def save_run(self, run: RunRecord) -> None:
        if run.id == self.claim.sub_run_id:
            await self.board.progress(self.claim, run)
        else:
            await super().save_run(run)

    async def request_cancel(
        self, run_id: str, reason: str | None = None
    ) -> None:
        if run_id == self.claim.sub_run_id:
            run_id = self.claim.run_id
        await super().request_cancel(run_id, reason)

    async def cancel_reason(self, run_id: str) -> str | None:
        if run_id == self.claim.sub_run_id:
            run_id = self.claim.run_id
        return await super().cancel_reason(run_id)

    async def cancel_requested(self, run_id: str) -> bool:
        if run_id != self.claim.sub_run_id:
            return await super().cancel_requested(run_id)
        return self.lost or await super().cancel_requested(self.claim.run_id)

    async def beat(self, run_id: str, at: datetime) -> bool:
        if run_id == self.claim.sub_run_id:
            # The partition's run lives as long as its claim: the worker
            # heartbeats that (`PostgresPartitionBoard.heartbeat`).
            return not self.lost
        return await super().beat(run_id, at)

    async def add_failures(
        self, platform: str, failures: Sequence[Failure]
    ) -> None:
        await super().add_failures(
            platform,
            [attrs.evolve(f, run_id=self.claim.run_id) for f in failures],
        )

    async def _close(self) -> None:
        """
        Nothing: the connections are the board's store's.
        """

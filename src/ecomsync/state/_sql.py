"""
The SQL both built-in stores share: every statement, built once for both
(the schema and its migrations: `._schema`; rows to records: `._records`).

A store method is an `Op`: the statements to run in one transaction and
how to turn what they return into the method's result.  `SqlStore`
implements every `StateStore` method as an op once; a backend only knows
how to connect and how to run an op in a transaction (`SqlStore._perform`).
Where SQLite and PostgreSQL differ (placeholders, schema prefix, bytewise
collation, timestamp columns, list parameters), the `Dialect` says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio.to_thread

from .._closing import AsyncResource
from .._contracts import Failure, Link, PendingMedia, RunRecord, Schedule
from .._spec import DataType, spec_to_plain
from ._claims import ClaimOps
from ._dialect import (
    SQLITE,
    Dialect,
    Op,
    Result,
    Row,
    Stmt,
    _first,
    _nothing,
    postgres,
)
from ._layouts import StockLayoutOps
from ._leases import LeaseOps
from ._owners import RunOwnerOps
from ._records import (
    failure_from_row,
    link_from_row,
    link_row,
    pending_from_row,
    run_from_json,
    run_to_json,
    schedule_from_row,
)


__all__ = [
    "SQLITE",
    "Dialect",
    "Op",
    "SqlStore",
    "postgres",
]

T = TypeVar("T")


# -- the store ------------------------------------------------------------


class SqlStore(AsyncResource, ClaimOps, LeaseOps, RunOwnerOps, StockLayoutOps):
    """
    Every `StateStore` method, once, over `_perform` and `_dialect`.

    Each method builds an `Op` (pure; no I/O) and hands it to the
    backend, which runs it in one transaction.
    """

    __slots__ = ()

    @property
    def _dialect(self) -> Dialect:  # pragma: no cover -- overridden
        raise NotImplementedError

    async def _perform(self, op: Op[T]) -> T:  # pragma: no cover
        raise NotImplementedError

    def _stmt(
        self,
        sql: str,
        args: Sequence[Any] = (),
        rows: Sequence[Sequence[Any]] | None = None,
    ) -> Stmt:
        return Stmt(self._dialect.sql(sql), tuple(args), rows)

    async def _exec(self, sql: str, *args: Any) -> None:
        await self._perform(Op((self._stmt(sql, args),), _nothing, True))

    async def _one(
        self, sql: str, args: Sequence[Any], convert: Callable[[Row], T]
    ) -> T | None:
        def result(results: list[Result]) -> T | None:
            row = _first(results)
            return None if row is None else convert(row)

        return await self._perform(Op((self._stmt(sql, args),), result))

    async def _all(
        self, sql: str, args: Sequence[Any], convert: Callable[[Row], T]
    ) -> list[T]:
        def result(results: list[Result]) -> list[T]:
            return [convert(row) for row in results[-1].rows]

        return await self._perform(Op((self._stmt(sql, args),), result))

    # -- links and media ids --------------------------------------------

    async def get_links(
        self, platform: str, data_type: DataType, numbers: Sequence[str]
    ) -> dict[str, Link]:
        stmts = tuple(
            Stmt(
                self._dialect.sql(
                    "SELECT number, platform_id, checksum, variants "
                    "FROM {p}links WHERE platform = ? AND data_type = ? AND "
                )
                + fragment,
                (platform, data_type.value, *args),
            )
            for fragment, args in self._dialect.member(
                "number", list(dict.fromkeys(numbers))
            )
        )

        def result(results: list[Result]) -> dict[str, Link]:
            return dict(link_from_row(row) for r in results for row in r.rows)

        return await self._perform(Op(stmts, result))

    async def linked_numbers(
        self, platform: str, data_type: DataType
    ) -> dict[str, tuple[str, ...]]:
        """
        Every number of *data_type* that *platform* has a link for, with
        the variant numbers it landed with (`~ecomsync.typing.LinkedNumbers`).
        """

        def result(results: list[Result]) -> dict[str, tuple[str, ...]]:
            return {
                str(number): ()
                if variants is None
                else tuple(json.loads(variants))
                for number, variants in results[-1].rows
            }

        stmt = self._stmt(
            "SELECT number, variants FROM {p}links "
            "WHERE platform = ? AND data_type = ?",
            (platform, data_type.value),
        )
        return await self._perform(Op((stmt,), result))

    async def put_links(
        self, platform: str, data_type: DataType, links: Mapping[str, Link]
    ) -> None:
        # Sorted, so concurrent writers lock rows in the same order.
        rows = [
            link_row(platform, data_type, n, link)
            for n, link in sorted(links.items())
        ]
        if rows:
            stmt = self._stmt(
                "INSERT INTO {p}links (platform, data_type, number, "
                "platform_id, checksum, variants) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (platform, data_type, number) DO UPDATE SET "
                "platform_id = excluded.platform_id, "
                "checksum = excluded.checksum, variants = excluded.variants",
                rows=rows,
            )
            await self._perform(Op((stmt,), _nothing, True))

    async def get_media_id(self, platform: str, sha256: str) -> str | None:
        return await self._one(
            "SELECT media_id FROM {p}media WHERE platform = ? AND sha256 = ?",
            (platform, sha256),
            lambda row: str(row[0]),
        )

    async def put_media_id(
        self, platform: str, sha256: str, media_id: str
    ) -> None:
        await self._exec(
            "INSERT INTO {p}media (platform, sha256, media_id) "
            "VALUES (?, ?, ?) ON CONFLICT (platform, sha256) DO UPDATE SET "
            "media_id = excluded.media_id",
            platform,
            sha256,
            media_id,
        )

    async def get_media_ids(
        self, platform: str, sha256s: Sequence[str]
    ) -> dict[str, str]:
        """
        `get_media_id` for each of *sha256s*, in one transaction: the
        known ones, by hash.
        """
        stmts = tuple(
            Stmt(
                self._dialect.sql(
                    "SELECT sha256, media_id FROM {p}media "
                    "WHERE platform = ? AND "
                )
                + fragment,
                (platform, *args),
            )
            for fragment, args in self._dialect.member(
                "sha256", list(dict.fromkeys(sha256s))
            )
        )

        def result(results: list[Result]) -> dict[str, str]:
            return {str(h): str(m) for r in results for h, m in r.rows}

        return await self._perform(Op(stmts, result))

    async def put_media_ids(
        self, platform: str, media_ids: Mapping[str, str]
    ) -> None:
        """
        `put_media_id` for each hash -> media id of *media_ids*, in one
        transaction.
        """
        # Sorted, so concurrent writers lock rows in the same order.
        rows = [(platform, h, m) for h, m in sorted(media_ids.items())]
        if rows:
            stmt = self._stmt(
                "INSERT INTO {p}media (platform, sha256, media_id) "
                "VALUES (?, ?, ?) ON CONFLICT (platform, sha256) DO UPDATE "
                "SET media_id = excluded.media_id",
                rows=rows,
            )
            await self._perform(Op((stmt,), _nothing, True))

    # -- the media journal ----------------------------------------------

    def _add_pending_stmt(self, pendings: Sequence[PendingMedia]) -> Stmt:
        # Sorted, so concurrent writers lock rows in the same order; the
        # last of one key wins.
        latest = {(p.scope, p.sha256): p for p in pendings}
        return self._stmt(
            "INSERT INTO {p}pending (scope, sha256, size, registered_at, "
            "registered_text, meta) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (scope, sha256) DO UPDATE SET size = excluded.size, "
            "registered_at = excluded.registered_at, "
            "registered_text = excluded.registered_text, "
            "meta = excluded.meta",
            rows=[
                (
                    p.scope,
                    p.sha256,
                    p.size,
                    self._dialect.moment(p.registered_at),
                    p.registered_at.isoformat(),
                    json.dumps(dict(p.meta)),
                )
                for _, p in sorted(latest.items())
            ],
        )

    def _remove_pending_stmt(self, keys: Sequence[tuple[str, str]]) -> Stmt:
        return self._stmt(
            "DELETE FROM {p}pending WHERE scope = ? AND sha256 = ?",
            rows=sorted(set(keys)),
        )

    async def add_pending(self, pending: PendingMedia) -> None:
        stmt = self._add_pending_stmt([pending])
        await self._perform(Op((stmt,), _nothing, True))

    async def remove_pending(
        self, sha256: str, scope: str | None = None
    ) -> None:
        """
        Close the entry of *sha256* in *scope*, or of every scope if
        ``None``.
        """
        if scope is None:
            stmt = self._stmt(
                "DELETE FROM {p}pending WHERE sha256 = ?", (sha256,)
            )
        else:
            stmt = self._remove_pending_stmt([(scope, sha256)])
        await self._perform(Op((stmt,), _nothing, True))

    async def add_pending_many(self, pendings: Sequence[PendingMedia]) -> None:
        """
        `add_pending` for each of *pendings*, in one transaction.
        """
        if pendings:
            stmt = self._add_pending_stmt(pendings)
            await self._perform(Op((stmt,), _nothing, True))

    async def remove_pending_many(
        self, keys: Sequence[tuple[str, str]]
    ) -> None:
        """
        Close the entries of *keys* (scope, sha256), in one transaction.
        """
        if keys:
            stmt = self._remove_pending_stmt(keys)
            await self._perform(Op((stmt,), _nothing, True))

    async def update_pending(
        self,
        closing: Callable[[], Sequence[tuple[str, str]]] | None,
        adding: Sequence[PendingMedia] = (),
    ) -> None:
        """
        Call *closing* (unless None), then close the entries whose keys,
        ``(scope, sha256)``, it returned and register *adding*, in one
        transaction.

        *closing* may block (`MediaStaging` takes the closed entries'
        files away in it, before their entries go): it runs in a worker
        thread; `SqliteStore` runs the transaction in the same thread, one
        thread hop for both.

        .. versionadded:: 26.1.0
        """
        keys = (
            () if closing is None else await anyio.to_thread.run_sync(closing)
        )
        await self._perform(self._update_pending_op(keys, adding))

    def _update_pending_op(
        self,
        keys: Sequence[tuple[str, str]],
        adding: Sequence[PendingMedia],
    ) -> Op[None]:
        # Closed first: an entry closed and registered again stays.
        stmts = [self._remove_pending_stmt(keys)] if keys else []
        if adding:
            stmts.append(self._add_pending_stmt(adding))
        return Op(tuple(stmts), _nothing, True)

    async def list_pending(self) -> list[PendingMedia]:
        return await self._all(
            "SELECT scope, sha256, size, registered_text, meta "
            "FROM {p}pending ORDER BY registered_at, scope{c}, sha256{c}",
            (),
            pending_from_row,
        )

    # -- runs -------------------------------------------------------------

    async def save_run(self, run: RunRecord) -> None:
        heartbeat = run.heartbeat_at
        await self._exec(
            "INSERT INTO {p}runs (id, started_at, status, body, heartbeat) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "status = excluded.status, body = excluded.body, "
            # A live run keeps the beat its owner wrote meanwhile.
            "heartbeat = CASE WHEN excluded.status IN ('queued', 'running') "
            "THEN coalesce(excluded.heartbeat, {p}runs.heartbeat) "
            "ELSE excluded.heartbeat END, "
            # Queued again (resumed): a request its dead process never saw
            # would stop it at once, and for good.
            "cancel = CASE WHEN excluded.status = 'queued' THEN ? "
            "ELSE {p}runs.cancel END, "
            "cancel_reason = CASE WHEN excluded.status = 'queued' THEN NULL "
            "ELSE {p}runs.cancel_reason END",
            run.id,
            self._dialect.moment(run.started_at),
            run.status.value,
            run_to_json(run),
            None if heartbeat is None else self._dialect.moment(heartbeat),
            False,
        )

    async def get_run(self, run_id: str) -> RunRecord | None:
        return await self._one(
            "SELECT body, heartbeat FROM {p}runs WHERE id = ?",
            (run_id,),
            lambda row: run_from_json(*row),
        )

    async def list_runs(self, *, limit: int = 50) -> list[RunRecord]:
        return await self._all(
            "SELECT body, heartbeat FROM {p}runs ORDER BY {newest} LIMIT ?",
            (max(limit, 0),),
            lambda row: run_from_json(*row),
        )

    async def request_cancel(
        self, run_id: str, reason: str | None = None
    ) -> None:
        # The first reason stays: it is the request that stopped the run.
        await self._exec(
            "UPDATE {p}runs SET cancel_reason = CASE WHEN {p}runs.cancel "
            "THEN coalesce({p}runs.cancel_reason, ?) ELSE ? END, "
            "cancel = ? WHERE id = ?",
            reason,
            reason,
            True,
            run_id,
        )

    async def cancel_reason(self, run_id: str) -> str | None:
        return await self._one(
            "SELECT cancel_reason FROM {p}runs WHERE id = ? AND cancel",
            (run_id,),
            lambda row: None if row[0] is None else str(row[0]),
        )

    async def cancel_requested(self, run_id: str) -> bool:
        found = await self._one(
            "SELECT cancel FROM {p}runs WHERE id = ?",
            (run_id,),
            lambda row: bool(row[0]),
        )
        return bool(found)

    # -- watermarks and the failure ledger ------------------------------

    async def get_watermark(
        self, platform: str, data_type: DataType
    ) -> datetime | None:
        return await self._one(
            "SELECT moment FROM {p}watermarks "
            "WHERE platform = ? AND data_type = ?",
            (platform, data_type.value),
            lambda row: datetime.fromisoformat(row[0]),
        )

    async def set_watermark(
        self, platform: str, data_type: DataType, moment: datetime
    ) -> None:
        # Never backwards (by instant: moment_at sorts in UTC); a row
        # from before schema step 6 has no moment_at and is overwritten.
        await self._exec(
            "INSERT INTO {p}watermarks (platform, data_type, moment, "
            "moment_at) VALUES (?, ?, ?, ?) ON CONFLICT (platform, data_type) "
            "DO UPDATE SET moment = excluded.moment, "
            "moment_at = excluded.moment_at "
            "WHERE {p}watermarks.moment_at IS NULL "
            "OR {p}watermarks.moment_at < excluded.moment_at",
            platform,
            data_type.value,
            moment.isoformat(),
            self._dialect.moment(moment),
        )

    async def add_failures(
        self, platform: str, failures: Sequence[Failure]
    ) -> None:
        # One row per record: the last failure given wins.
        latest = {(f.data_type.value, f.number): f for f in failures}
        rows = [
            (platform, dt, number, f.message, f.field, f.run_id)
            for (dt, number), f in sorted(latest.items())
        ]
        if rows:
            stmt = self._stmt(
                "INSERT INTO {p}failures (platform, data_type, number, "
                "message, field, run_id) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (platform, data_type, number) DO UPDATE "
                "SET message = excluded.message, field = excluded.field, "
                "run_id = excluded.run_id",
                rows=rows,
            )
            await self._perform(Op((stmt,), _nothing, True))

    async def list_failures(
        self, platform: str, data_type: DataType | None = None
    ) -> list[Failure]:
        query = (
            "SELECT data_type, number, message, field, run_id "
            "FROM {p}failures WHERE platform = ?"
        )
        args: tuple[Any, ...] = (platform,)
        if data_type is not None:
            query += " AND data_type = ?"
            args += (data_type.value,)
        return await self._all(
            query + " ORDER BY data_type{c}, number{c}", args, failure_from_row
        )

    async def clear_failures(
        self, platform: str, data_type: DataType, numbers: Sequence[str]
    ) -> None:
        stmts = tuple(
            Stmt(
                self._dialect.sql(
                    "DELETE FROM {p}failures "
                    "WHERE platform = ? AND data_type = ? AND "
                )
                + fragment,
                (platform, data_type.value, *args),
            )
            for fragment, args in self._dialect.member(
                "number", sorted(set(numbers))
            )
        )
        if stmts:
            await self._perform(Op(stmts, _nothing, True))

    # -- schedules ------------------------------------------------------

    async def save_schedule(self, schedule: Schedule) -> None:
        await self._exec(
            "INSERT INTO {p}schedules (id, spec, interval_s, next_due, "
            "next_due_text, rule) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) "
            "DO UPDATE SET spec = excluded.spec, "
            "interval_s = excluded.interval_s, "
            "next_due = excluded.next_due, "
            "next_due_text = excluded.next_due_text, "
            "rule = excluded.rule",
            schedule.id,
            json.dumps(spec_to_plain(schedule.spec)),
            schedule.interval.total_seconds(),
            self._dialect.moment(schedule.next_due),
            schedule.next_due.isoformat(),
            None
            if schedule.cron is None
            else json.dumps({"cron": schedule.cron, "zone": schedule.zone}),
        )

    async def delete_schedule(self, schedule_id: str) -> bool:
        """
        Remove the schedule *schedule_id*; whether there was one.

        .. versionadded:: 26.1.0
        """
        stmt = self._stmt(
            "DELETE FROM {p}schedules WHERE id = ?", (schedule_id,)
        )
        return await self._perform(
            Op((stmt,), lambda r: r[-1].rowcount == 1, True)
        )

    async def list_schedules(self) -> list[Schedule]:
        return await self._all(
            "SELECT id, spec, interval_s, next_due_text, rule "
            "FROM {p}schedules "
            "ORDER BY next_due, id{c}",
            (),
            schedule_from_row,
        )

    async def claim_schedule(
        self,
        schedule_id: str,
        holder: str,
        until: datetime,
        *,
        now: datetime | None = None,
    ) -> bool:
        # Under READ COMMITTED (PostgreSQL) a concurrent claimer waits
        # for our row lock and then re-checks the condition on the new
        # row; SQLite serialises writers.
        # Only a due schedule is claimed: the caller's list of due
        # schedules may be stale (its last run re-armed it since).
        moment = self._dialect.moment
        at = moment(now if now is not None else datetime.now(UTC))
        stmt = self._stmt(
            "UPDATE {p}schedules SET holder = ?, claimed_until = ? "
            "WHERE id = ? AND next_due <= ? "
            "AND (holder IS NULL OR claimed_until < ?)",
            (holder, moment(until), schedule_id, at, at),
        )
        return await self._perform(
            Op((stmt,), lambda r: r[-1].rowcount == 1, True)
        )

    async def release_schedule(
        self, schedule_id: str, holder: str, next_due: datetime
    ) -> None:
        await self._exec(
            "UPDATE {p}schedules SET holder = NULL, claimed_until = NULL, "
            "next_due = ?, next_due_text = ? WHERE id = ? AND holder = ?",
            self._dialect.moment(next_due),
            next_due.isoformat(),
            schedule_id,
            holder,
        )

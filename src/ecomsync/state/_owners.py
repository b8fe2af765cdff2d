"""
Run owners (`ecomsync.typing.RunOwnership`), as both built-in stores keep
them: a heartbeat column on the runs, and ends written by compare-and-set
so that a run beating meanwhile is never ended as abandoned (kept apart
from `._sql` for the team's file size limit).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from .._contracts import RunRecord
from ._dialect import Dialect, Op, Row, Stmt
from ._records import run_from_json, run_to_json


__all__ = ["RunOwnerOps"]

T = TypeVar("T")


class RunOwnerOps:
    """
    The `RunOwnership` role over `SqlStore`'s ops.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def _dialect(self) -> Dialect: ...
        def _stmt(self, sql: str, args: Any = ()) -> Stmt: ...
        async def _perform(self, op: Op[T]) -> T: ...
        async def _exec(self, sql: str, *args: Any) -> None: ...
        async def _all(
            self, sql: str, args: Any, convert: Callable[[Row], T]
        ) -> list[T]: ...

    async def live_runs(self) -> list[RunRecord]:
        """
        The queued and running runs, oldest first.
        """
        return await self._all(
            "SELECT body, heartbeat FROM {p}runs "
            "WHERE status IN ('queued', 'running') ORDER BY started_at, id{c}",
            (),
            lambda row: run_from_json(*row),
        )

    async def beat(self, run_id: str, at: datetime) -> bool:
        """
        Record that run *run_id*'s owner is alive at *at*; ``False`` if
        the run is no longer queued or running (it ended, or was found
        abandoned).
        """
        stmt = self._stmt(
            "UPDATE {p}runs SET heartbeat = ? "
            "WHERE id = ? AND status IN ('queued', 'running')",
            (self._dialect.moment(at), run_id),
        )
        return await self._perform(
            Op((stmt,), lambda r: r[-1].rowcount == 1, True)
        )

    async def abandon_run(self, run: RunRecord, *, seen: RunRecord) -> bool:
        """
        Save *run* (ended as abandoned) in place of *seen*, unless the run
        moved on meanwhile (another status, or a heartbeat since).
        """
        heartbeat = seen.heartbeat_at
        stmt = self._stmt(
            "UPDATE {p}runs SET status = ?, body = ? WHERE id = ? "
            "AND status = ? AND heartbeat {same} ?",
            (
                run.status.value,
                run_to_json(run),
                run.id,
                seen.status.value,
                None if heartbeat is None else self._dialect.moment(heartbeat),
            ),
        )
        return await self._perform(
            Op((stmt,), lambda r: r[-1].rowcount == 1, True)
        )

    async def drop_claim(self, schedule_id: str, holder_prefix: str) -> None:
        """
        Free schedule *schedule_id* if its holder starts with
        *holder_prefix*; its due time stays.
        """
        await self._exec(
            "UPDATE {p}schedules SET holder = NULL, claimed_until = NULL "
            "WHERE id = ? AND substr(holder, 1, ?) = ?",
            schedule_id,
            len(holder_prefix),
            holder_prefix,
        )

"""
Leases by name (`ecomsync.typing.RunLeases`), as both built-in stores keep
them: one row per held lease, taken and renewed by compare-and-set, so of
two processes taking one lease at once only one wins.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from .._contracts import RunLease, RunOwner
from ._dialect import Op, Row, Stmt


__all__ = ["LeaseOps"]

T = TypeVar("T")


def _text(at: datetime) -> str:
    # Text in both backends, compared for equality only: one form.
    return at.astimezone(UTC).isoformat()


def _owner_json(owner: RunOwner | None) -> str | None:
    return None if owner is None else json.dumps(attrs.asdict(owner))


def _lease_from_row(row: Row) -> RunLease:
    name, run_id, token, owner, heartbeat = row
    return RunLease(
        name=name,
        run_id=run_id,
        token=token,
        owner=None if owner is None else RunOwner(**json.loads(owner)),
        heartbeat_at=datetime.fromisoformat(heartbeat),
    )


def _one_row(results: Any) -> bool:
    return bool(results[-1].rowcount == 1)


class LeaseOps:
    """
    The `RunLeases` role over `SqlStore`'s ops.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        def _stmt(self, sql: str, args: Any = ()) -> Stmt: ...
        async def _perform(self, op: Op[T]) -> T: ...
        async def _one(self, sql: str, args: Any, convert: Any) -> Any: ...

    async def lease_holder(self, name: str) -> RunLease | None:
        """
        Who holds lease *name*, or ``None``.
        """
        found: RunLease | None = await self._one(
            "SELECT name, run_id, token, owner, heartbeat FROM {p}leases "
            "WHERE name = ?",
            (name,),
            _lease_from_row,
        )
        return found

    async def take_lease(
        self, lease: RunLease, *, seen: RunLease | None
    ) -> bool:
        """
        Hold *lease* in place of *seen* (``None``: nobody), if the lease
        is still as *seen*.
        """
        values = (
            lease.run_id,
            lease.token,
            _owner_json(lease.owner),
            _text(lease.heartbeat_at),
        )
        if seen is None:
            stmt = self._stmt(
                "INSERT INTO {p}leases (name, run_id, token, owner, "
                "heartbeat) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (lease.name, *values),
            )
        else:
            # Under READ COMMITTED a concurrent taker waits for our row
            # lock and then finds the token changed; SQLite serialises.
            stmt = self._stmt(
                "UPDATE {p}leases SET run_id = ?, token = ?, owner = ?, "
                "heartbeat = ? WHERE name = ? AND token = ? "
                "AND heartbeat = ?",
                (*values, lease.name, seen.token, _text(seen.heartbeat_at)),
            )
        return await self._perform(Op((stmt,), _one_row, True))

    async def renew_lease(self, name: str, token: str, at: datetime) -> bool:
        """
        The holder of *name* with *token* is alive at *at*; ``False`` once
        it no longer holds it.
        """
        stmt = self._stmt(
            "UPDATE {p}leases SET heartbeat = ? WHERE name = ? AND token = ?",
            (_text(at), name, token),
        )
        return await self._perform(Op((stmt,), _one_row, True))

    async def release_lease(self, name: str, token: str) -> None:
        """
        Give lease *name* up, if it is still held with *token*.
        """
        stmt = self._stmt(
            "DELETE FROM {p}leases WHERE name = ? AND token = ?",
            (name, token),
        )
        await self._perform(Op((stmt,), lambda _: None, True))

"""
Numbers claimed by the platform's identity of them
(`ecomsync.typing.IdentityClaims`), as both built-in stores keep them:
one row per identity, taken by an insert that does nothing where the
identity is held, so of two processes claiming one identity at once
only one wins (SQLite serialises writers; PostgreSQL's second insert
waits for the first's row and then does nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .._contracts import NumberClaim
from .._spec import DataType
from ._dialect import Dialect, Op, Result, Stmt


__all__ = ["ClaimOps"]

T = TypeVar("T")


class ClaimOps:
    """
    The `IdentityClaims` role over `SqlStore`'s ops.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def _dialect(self) -> Dialect: ...
        def _stmt(
            self, sql: str, args: Any = (), rows: Any = None
        ) -> Stmt: ...
        async def _perform(self, op: Op[T]) -> T: ...

    async def claim_numbers(
        self,
        platform: str,
        data_type: DataType,
        claims: Sequence[NumberClaim],
        *,
        seen: Sequence[NumberClaim] = (),
    ) -> list[NumberClaim]:
        """
        Take each of *claims* where its identity is free, or held as in
        *seen*; return the claims of their identities held under another
        spelling, in one transaction.
        """
        # One claim per identity (the first asked), sorted, so concurrent
        # claimers lock rows in the same order.
        wanted: dict[str, NumberClaim] = {}
        for claim in claims:
            wanted.setdefault(claim.identity, claim)
        if not wanted:
            return []
        kind = data_type.value
        stmts: list[Stmt] = []
        was = {c.identity: c for c in seen if c.identity in wanted}
        if was:
            stmts.append(
                self._stmt(
                    "UPDATE {p}number_claims SET number = ?, holder = ?, "
                    "run_id = ? WHERE platform = ? AND data_type = ? "
                    "AND identity = ? AND number = ? AND holder = ?",
                    rows=[
                        (
                            wanted[key].number,
                            wanted[key].holder,
                            wanted[key].run_id,
                            platform,
                            kind,
                            key,
                            old.number,
                            old.holder,
                        )
                        for key, old in sorted(was.items())
                    ],
                )
            )
        stmts.append(
            self._stmt(
                "INSERT INTO {p}number_claims (platform, data_type, "
                "identity, number, holder, run_id) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (platform, data_type, identity) DO NOTHING",
                rows=[
                    (platform, kind, key, c.number, c.holder, c.run_id)
                    for key, c in sorted(wanted.items())
                ],
            )
        )
        asked = len(stmts)
        stmts.extend(
            Stmt(
                self._dialect.sql(
                    "SELECT identity, number, holder, run_id "
                    "FROM {p}number_claims WHERE platform = ? "
                    "AND data_type = ? AND "
                )
                + fragment,
                (platform, kind, *args),
            )
            for fragment, args in self._dialect.member(
                "identity", sorted(wanted)
            )
        )

        def result(results: list[Result]) -> list[NumberClaim]:
            held = [
                NumberClaim(
                    identity=str(key),
                    number=str(number),
                    holder=str(holder),
                    run_id=str(run_id),
                )
                for r in results[asked:]
                for key, number, holder, run_id in r.rows
            ]
            return [c for c in held if c.number != wanted[c.identity].number]

        return await self._perform(Op(tuple(stmts), result, True))

    async def held_claims(
        self, platform: str, data_type: DataType, identities: Sequence[str]
    ) -> list[NumberClaim]:
        """
        The claims held of *identities*, read only: what a plan looks at
        (a plan writes no claim).
        """
        wanted = sorted(set(identities))
        if not wanted:
            return []
        kind = data_type.value
        stmts = tuple(
            Stmt(
                self._dialect.sql(
                    "SELECT identity, number, holder, run_id "
                    "FROM {p}number_claims WHERE platform = ? "
                    "AND data_type = ? AND "
                )
                + fragment,
                (platform, kind, *args),
            )
            for fragment, args in self._dialect.member("identity", wanted)
        )

        def result(results: list[Result]) -> list[NumberClaim]:
            return [
                NumberClaim(
                    identity=str(key),
                    number=str(number),
                    holder=str(holder),
                    run_id=str(run_id),
                )
                for r in results
                for key, number, holder, run_id in r.rows
            ]

        return await self._perform(Op(stmts, result))

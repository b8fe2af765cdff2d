"""
The vocabulary of the shared SQL (`._sql`): the `Dialect` that says where
SQLite and PostgreSQL differ, and the `Op` a store method is (statements
run in one transaction, then a function over what they returned).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import attrs


__all__ = ["SQLITE", "Dialect", "Op", "Result", "Row", "Stmt", "postgres"]

T = TypeVar("T")
Row = tuple[Any, ...]

# -- the dialects --------------------------------------------------------


@attrs.frozen
class Dialect:
    """
    Where the two databases differ, as far as the shared SQL cares.

    The shared statements are written with ``?`` placeholders and a
    ``{p}`` before each table name; ``{c}`` after a text column in
    ORDER BY asks for bytewise order.
    """

    mark: str
    prefix: str = ""
    #: Appended to a text column in ORDER BY for bytewise order.
    collate: str = ""
    #: Whether timestamp columns take datetimes (else UTC ISO text).
    native_time: bool = False
    #: Largest IN list; ``None``: one array parameter (``= ANY(?)``).
    max_in: int | None = None
    #: Null-safe equality (``{same}``).
    same: str = "IS"
    #: How runs sort newest first (``{newest}``): by start, then by when
    #: they were recorded (runs started at one moment by a coarse or a
    #: host's fixed clock).
    newest: str = "started_at DESC, rowid DESC"

    def sql(self, text: str) -> str:
        return (
            text.replace("?", self.mark)
            .replace("{p}", self.prefix)
            .replace("{c}", self.collate)
            .replace("{same}", self.same)
            .replace("{newest}", self.newest)
        )

    def moment(self, value: datetime) -> Any:
        """
        *value* for a timestamp column (sorted and compared there).
        """
        return value if self.native_time else value.astimezone(UTC).isoformat()

    def member(
        self, column: str, values: Sequence[Any]
    ) -> list[tuple[str, tuple[Any, ...]]]:
        """
        ``column IN values`` as (fragment, args) chunks; none if empty.
        """
        if not values:
            return []
        if self.max_in is None:
            return [(f"{column} = ANY({self.mark})", (list(values),))]
        out: list[tuple[str, tuple[Any, ...]]] = []
        for start in range(0, len(values), self.max_in):
            chunk = tuple(values[start : start + self.max_in])
            marks = ", ".join(self.mark for _ in chunk)
            out.append((f"{column} IN ({marks})", chunk))
        return out


SQLITE = Dialect(mark="?", max_in=500)


def postgres(schema: str) -> Dialect:
    """
    The PostgreSQL dialect for the tables in *schema* (a checked name).
    """
    return Dialect(
        mark="%s",
        prefix=f'"{schema}".',
        collate=' COLLATE "C"',
        native_time=True,
        same="IS NOT DISTINCT FROM",
        newest="started_at DESC, seq DESC",
    )


# -- ops -----------------------------------------------------------------


@attrs.frozen
class Stmt:
    """
    One statement with its arguments, or with *rows* for ``executemany``.
    """

    sql: str
    args: tuple[Any, ...] = ()
    rows: Sequence[Sequence[Any]] | None = None


@attrs.frozen
class Result:
    """
    What one statement returned: its rows (if it was a query) and how many
    rows it changed.
    """

    rows: list[Row]
    rowcount: int


def _nothing(_: list[Result]) -> None:
    return None


@attrs.frozen
class Op(Generic[T]):
    """
    What one store call does: *stmts* in one transaction, then *result*
    over what they returned.  *write* ops are fenced where a store fences.
    """

    stmts: tuple[Stmt, ...]
    result: Callable[[list[Result]], T]
    write: bool = False


def _first(results: list[Result]) -> Row | None:
    rows = results[-1].rows
    return rows[0] if rows else None

"""
Writing through the Sync API: one transaction per request, split until
the offending record stands alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import attrs

from ..._contracts import Outcome, Outgoing
from ._client import AdminApi, ShopwareApiError


#: One Sync operation: ``key``, ``entity``, ``action``, ``payload``.
Operation: TypeAlias = dict[str, Any]
#: Operations for some items, and per operation key which item (by index)
#: owns each payload row, so Shopware's error pointer names the record.
Built: TypeAlias = tuple[list[Operation], dict[str, list[int]]]
#: Why an item failed: Shopware's (or our) message and the field.
Failure: TypeAlias = tuple[str, str | None]


def op(
    key: str, entity: str, rows: list[dict[str, Any]], action: str = "upsert"
) -> Operation:
    """
    One Sync operation.
    """
    return {"key": key, "entity": entity, "action": action, "payload": rows}


def pointer_parts(pointer: str | None) -> tuple[str, int, str] | None:
    """
    ``/{operation key}/{index}/{field...}`` → (key, index, dotted field).
    """
    if not pointer:
        return None
    match = re.match(r"^/([^/]+)/(\d+)(?:/(.*))?$", pointer)
    if match is None:
        return None
    key, index, rest = match.groups()
    field = ".".join(p for p in (rest or "").split("/") if p)
    return key, int(index), field


@attrs.frozen
class Writer:
    """
    Writes items with as few Sync requests as the data allows.
    """

    api: AdminApi

    async def write(
        self, count: int, build: Callable[[Sequence[int]], Built]
    ) -> dict[int, Failure]:
        """
        Write items ``0..count-1``; return the failures by item index:
        (Shopware's detail, field from its pointer).

        A Sync request is one transaction.  When Shopware rejects one,
        the items its error pointers name fail, and the rest is retried.
        Without a usable pointer (Shopware's database errors: a duplicate
        product number, a missing foreign key) the failing batch is
        bisected, left half first (so parents still precede children):
        if the left half goes through, the fault lies in the right half,
        which is split without being sent whole; if it fails, the search
        goes on in it and the right half waits.  Halves left waiting are
        sent together once the offender stands alone, so one offender in
        *n* items costs at most ``ceil(log2 n) + 1`` extra requests.
        """
        failures: dict[int, Failure] = {}
        # (items, the error they are known to fail with, or None: unsent)
        pending: list[tuple[list[int], ShopwareApiError | None]] = (
            [(list(range(count)), None)] if count else []
        )
        while pending:
            chunk, known = pending.pop(0)
            if not chunk:
                continue
            if known is None:
                while pending and pending[0][1] is None:
                    chunk = chunk + pending.pop(0)[0]
                sent = await self._try(chunk, build, failures, pending)
                if not isinstance(sent, ShopwareApiError):
                    continue
                known = sent
            if len(chunk) == 1:
                failures[chunk[0]] = first_problem(known)
                continue
            half = len(chunk) // 2
            left, right = chunk[:half], chunk[half:]
            failed = await self._try(left, build, failures, pending)
            if failed is True:
                # The left half went through: the right one holds the fault.
                pending.insert(0, (right, known))
            elif failed is False:
                # Pointers named items of the left half; the right is unsent.
                pending.insert(1, (right, None))
            else:
                pending[:0] = [(left, failed), (right, None)]
        return failures

    async def _try(
        self,
        chunk: list[int],
        build: Callable[[Sequence[int]], Built],
        failures: dict[int, Failure],
        pending: list[tuple[list[int], ShopwareApiError | None]],
    ) -> ShopwareApiError | bool:
        """
        Send *chunk*: True if it was written.  Items an error pointer
        names fail and the rest is queued first (False); the error when
        nothing could be blamed, so the caller bisects.
        """
        operations, owners = build(chunk)
        try:
            await self.api.sync(operations)
        except ShopwareApiError as exc:
            blamed = blame(exc, owners, chunk)
            if not blamed:
                return exc
            failures.update(blamed)
            rest = [i for i in chunk if i not in blamed]
            pending.insert(0, (rest, None))
            return False
        return True


def first_problem(exc: ShopwareApiError) -> Failure:
    """
    The first problem of *exc* as a failure.
    """
    for problem in exc.problems:
        parts = pointer_parts(problem.pointer)
        return problem.detail or str(exc), (
            (parts[2] or None) if parts else None
        )
    return str(exc), None


def blame(
    exc: ShopwareApiError,
    owners: dict[str, list[int]],
    chunk: Sequence[int],
) -> dict[int, Failure]:
    """
    The items of *chunk* that *exc*'s pointers name.
    """
    blamed: dict[int, Failure] = {}
    for problem in exc.problems:
        parts = pointer_parts(problem.pointer)
        if parts is None:
            continue
        key, index, field = parts
        rows = owners.get(key, [])
        if 0 <= index < len(rows) and rows[index] in chunk:
            blamed.setdefault(
                rows[index], (problem.detail or str(exc), field or None)
            )
    return blamed


def outcomes(
    numbers: Sequence[str],
    ids: Sequence[str | None],
    failures: dict[int, Failure],
) -> list[Outcome]:
    """
    One outcome per number: its failure, or written under its id.
    """
    found = []
    for i, number in enumerate(numbers):
        if i in failures:
            error, field = failures[i]
            found.append(Outcome(number=number, error=error, field=field))
        else:
            found.append(Outcome(number=number, platform_id=ids[i]))
    return found


def wrong_type(items: Sequence[Outgoing], kind: type) -> list[Outcome]:
    """
    Every item fails: the batch is not of *kind*.
    """
    return [
        Outcome(
            number=item.record.number,
            error=(
                f"expected a {kind.__name__}, got {type(item.record).__name__}"
            ),
        )
        for item in items
    ]

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
        the items its error pointers name fail, and the rest is retried;
        without a usable pointer the batch is halved, left half first (so
        parents still precede children), until the offender is alone.
        """
        failures: dict[int, Failure] = {}
        pending: list[list[int]] = [list(range(count))] if count else []
        while pending:
            chunk = pending.pop(0)
            operations, owners = build(chunk)
            try:
                await self.api.sync(operations)
            except ShopwareApiError as exc:
                blamed = blame(exc, owners, chunk)
                if len(chunk) == 1 and not blamed:
                    blamed = {chunk[0]: first_problem(exc)}
                if blamed:
                    failures.update(blamed)
                    rest = [i for i in chunk if i not in blamed]
                    if rest:
                        pending.insert(0, rest)
                    continue
                half = len(chunk) // 2
                pending[:0] = [chunk[:half], chunk[half:]]
        return failures


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

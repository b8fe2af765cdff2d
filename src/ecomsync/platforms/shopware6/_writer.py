"""
Writing through the Sync API: one transaction per request, split until
the offending record stands alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
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


#: A translated field's pointer: Shopware writes ``name`` of a product or
#: category as ``translations/{languageId}/name`` and reports its errors
#: there (``/0/translations/2fbb5fe2e29a4d70aa5854ce7ce3e20b/name``).
_TRANSLATED = re.compile(r"^translations\.[0-9a-f]{32}\.")


def pointer_parts(pointer: str | None) -> tuple[str, int, str] | None:
    """
    ``/{operation key}/{index}/{field...}`` → (key, index, dotted field);
    a translated field is named as the record has it (``name``, not
    ``translations.{languageId}.name``).
    """
    if not pointer:
        return None
    match = re.match(r"^/([^/]+)/(\d+)(?:/(.*))?$", pointer)
    if match is None:
        return None
    key, index, rest = match.groups()
    field = ".".join(p for p in (rest or "").split("/") if p)
    return key, int(index), _TRANSLATED.sub("", field)


#: Collated product number -> (item index, field): who sent which number,
#: to blame a duplicate number that Shopware reports without a pointer.
Numbers: TypeAlias = Mapping[str, tuple[int, str]]

#: Shopware's code for a product number another product already has.
DUPLICATE_NUMBER = "CONTENT__DUPLICATE_PRODUCT_NUMBER"


@attrs.frozen
class Writer:
    """
    Writes items with as few Sync requests as the data allows.

    A Sync request is one transaction: when Shopware rejects one, nothing
    of it was written.  The items its errors name (by pointer, or a
    duplicate product number by the number) fail, and the rest is sent
    again.  An error that names no item (a database error: a missing
    foreign key) is narrowed down by halving: the left half is sent; if it
    lands, the offender is in the right half, which is halved in turn
    without sending it whole; if it fails, the right half is set aside and
    sent after the offender is found.  One offender among *n* items costs
    at most ``ceil(log2 n) + 1`` requests beyond the first.  Halves keep
    the items' order, so parents still precede children.
    """

    api: AdminApi

    async def write(
        self,
        count: int,
        build: Callable[[Sequence[int]], Built],
        *,
        numbers: Numbers | None = None,
        collate: Callable[[str], str] = str,
    ) -> dict[int, Failure]:
        """
        Write items ``0..count-1``; return the failures by item index:
        (Shopware's detail, field from its pointer).

        Args:
            count: How many items.
            build: The operations for some items, with their owners.
            numbers: Who sent which product number (collated), to blame a
                duplicate number reported without a pointer.
            collate: How Shopware compares product numbers.
        """
        failures: dict[int, Failure] = {}
        queue: list[list[int]] = [list(range(count))] if count else []
        while queue:
            chunk = queue.pop(0)
            rejected = await self._send(chunk, build)
            if rejected is None:
                continue
            exc, owners = rejected
            blamed = blame(exc, owners, chunk, numbers, collate)
            if blamed:
                failures.update(blamed)
                rest = [i for i in chunk if i not in blamed]
                if rest:
                    queue.insert(0, rest)
                continue
            if len(chunk) == 1:
                failures[chunk[0]] = first_problem(exc)
                continue
            aside = await self._narrow(
                chunk, exc, build, failures, numbers, collate
            )
            if aside:
                queue.insert(0, sorted(aside))
        return failures

    async def _send(
        self, chunk: Sequence[int], build: Callable[[Sequence[int]], Built]
    ) -> tuple[ShopwareApiError, dict[str, list[int]]] | None:
        operations, owners = build(chunk)
        try:
            await self.api.sync(operations)
        except ShopwareApiError as exc:
            return exc, owners
        return None

    async def _narrow(
        self,
        chunk: list[int],
        exc: ShopwareApiError,
        build: Callable[[Sequence[int]], Built],
        failures: dict[int, Failure],
        numbers: Numbers | None,
        collate: Callable[[str], str],
    ) -> list[int]:
        """
        Find one offender in *chunk*, which failed with *exc* naming no
        item; record its failure and return the items set aside, not yet
        sent.
        """
        aside: list[int] = []
        bad, last = chunk, exc
        while len(bad) > 1:
            half = len(bad) // 2
            left, right = bad[:half], bad[half:]
            rejected = await self._send(left, build)
            if rejected is None:
                bad = right  # left landed: the offender is on the right
                continue
            last, owners = rejected
            blamed = blame(last, owners, left, numbers, collate)
            if blamed:
                failures.update(blamed)
                return [
                    *aside,
                    *(i for i in left if i not in blamed),
                    *right,
                ]
            aside += right
            bad = left
        # Everything else *last* was sent with has landed since: the
        # error is this item's.
        failures[bad[0]] = first_problem(last)
        return aside


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
    numbers: Numbers | None = None,
    collate: Callable[[str], str] = str,
) -> dict[int, Failure]:
    """
    The items of *chunk* that *exc* names: by error pointer, or, for a
    duplicate product number (which Shopware reports without a pointer),
    by the number.
    """
    blamed: dict[int, Failure] = {}
    members = set(chunk)
    for problem in exc.problems:
        parts = pointer_parts(problem.pointer)
        if parts is not None:
            key, index, field = parts
            rows = owners.get(key, [])
            if 0 <= index < len(rows) and rows[index] in members:
                blamed.setdefault(
                    rows[index], (problem.detail or str(exc), field or None)
                )
            continue
        number = problem.parameters.get("number")
        if (
            problem.code == DUPLICATE_NUMBER
            and numbers is not None
            and isinstance(number, str)
        ):
            item, field = numbers.get(collate(number), (-1, ""))
            if item in members:
                blamed.setdefault(
                    item,
                    (
                        f"{field} {number!r} is already used by another "
                        "product in Shopware, which compares product "
                        "numbers ignoring case, accents and trailing "
                        f"spaces ({problem.detail})",
                        field,
                    ),
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

"""
Which records of a batch changed: pure, no I/O.

A batch splits into records that may not be sent (`Refusal`), records
whose checksum equals the one last sent (unchanged, unless forced) and
the rest (`Change`: to create where the store has no link, else to
update).  Runs and plans classify alike, so a plan lists what the run
does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import attrs

from ._contracts import Link
from ._model import Record, checksum, problems


@attrs.frozen(kw_only=True)
class Refusal:
    """
    A record that would fail validation, and why.

    .. versionadded:: 26.1.0
    """

    number: str
    field: str
    reason: str


@attrs.frozen
class Change:
    """
    A record to write, its checksum, and its link if the platform has it.
    """

    record: Record
    checksum: str
    link: Link | None = None

    @property
    def created(self) -> bool:
        """
        Whether writing it creates the record on the other side.
        """
        return self.link is None


@attrs.frozen(kw_only=True)
class Changes:
    """
    A batch, classified; every record is in exactly one of the three.
    """

    invalid: tuple[Refusal, ...] = ()
    unchanged: tuple[Record, ...] = ()
    todo: tuple[Change, ...] = ()


def refuse(batch: Sequence[Record]) -> tuple[list[Record], list[Refusal]]:
    """
    The records of *batch* that may be sent, and a refusal for each
    other one (its first problem).
    """
    valid: list[Record] = []
    refused: list[Refusal] = []
    for record in batch:
        bad = problems(record)
        if bad:
            number = getattr(record, "number", None) or "<no number>"
            refused.append(
                Refusal(
                    number=number,
                    field=bad[0].field,
                    reason=f"{bad[0].field} {bad[0].reason}",
                )
            )
        else:
            valid.append(record)
    return valid, refused


def compare(
    valid: Sequence[Record],
    links: Mapping[str, Link],
    *,
    force: bool,
    checksum_of: Callable[[Record], str] = checksum,
) -> tuple[list[Record], list[Change]]:
    """
    Split valid records into unchanged ones (same checksum as the link
    holds, and not *force*) and changes.
    """
    unchanged: list[Record] = []
    todo: list[Change] = []
    for record in valid:
        digest = checksum_of(record)
        link = links.get(record.number)
        if link is not None and link.checksum == digest and not force:
            unchanged.append(record)
        else:
            todo.append(Change(record, digest, link))
    return unchanged, todo


def classify(
    batch: Sequence[Record], links: Mapping[str, Link], *, force: bool
) -> Changes:
    """
    *batch* classified against *links*, the store's links by number.
    """
    valid, refused = refuse(batch)
    unchanged, todo = compare(valid, links, force=force)
    return Changes(
        invalid=tuple(refused), unchanged=tuple(unchanged), todo=tuple(todo)
    )

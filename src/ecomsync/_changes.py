"""
Which records of a batch changed: pure, no I/O.

A batch splits into records that may not be sent (`Refusal`), records
whose checksum equals the one last sent (unchanged, unless forced) and
the rest (`Change`: to create where the store has no link, else to
update).  Runs and plans classify alike, so a plan lists what the run
does.

The unit is one record, with one exception: the stock levels of one
article (one per warehouse, where the ERP keeps stock per warehouse) are
**one unit** (`units`).  They share the article's number, its link, its
checksum (over every level, `unit_checksum`) and its entry in the failure
ledger; they are refused, compared and written together, and the unit
counts as landed only when every level landed.  A platform without stock
locations can then see all levels of an article at once (and refuse them
rather than keep the last), and a lone changed level never makes the
store believe the others were sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

import attrs

from ._contracts import Link, Refusal
from ._fingerprint import checksum
from ._model import Problem, Record, StockLevel
from ._record_checks import problems


#: A unit of change detection: one record, or one article's stock levels.
Unit = tuple[Record, ...]


@attrs.frozen
class Change:
    """
    A record to write, its checksum, and its link if the platform has it.
    """

    record: Record
    checksum: str
    link: Link | None = None
    #: The other stock levels of the article, written with *record*.
    also: tuple[Record, ...] = ()

    @property
    def records(self) -> Unit:
        """
        Everything this change writes: *record*, then *also*.
        """
        return (self.record, *self.also)

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


def units(batch: Sequence[Record]) -> list[Unit]:
    """
    *batch* as units of change detection: every record alone, except
    stock levels, grouped by number in the order each number first
    appears.
    """
    found: list[Unit] = []
    stock: dict[object, int] = {}
    for record in batch:
        if isinstance(record, StockLevel):
            at = stock.get(record.number)
            if at is not None:
                found[at] = (*found[at], record)
                continue
            stock[record.number] = len(found)
        found.append((record,))
    return found


def unit_checksum(unit: Unit, checksum_of: Callable[[Record], str]) -> str:
    """
    The checksum of *unit*: its record's own for a unit of one (so the
    summed stock level keeps the checksum it always had), else one over
    every level's, in warehouse order.
    """
    if len(unit) == 1:
        return checksum_of(unit[0])
    parts = sorted(
        (str(getattr(r, "warehouse", None)), checksum_of(r)) for r in unit
    )
    blob = "\n".join(f"{w}\x1f{c}" for w, c in parts)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[
        :32
    ]


def fingerprints(
    batch: Sequence[Record], checksum_of: Callable[[Record], str] = checksum
) -> Callable[[Record], str]:
    """
    For each record of *batch*, the checksum of its unit: what tells one
    read of an article's stock from another (`_ambiguity`).
    """
    digest: dict[int, str] = {}
    for unit in units(batch):
        if len(unit) > 1:
            whole = unit_checksum(unit, checksum_of)
            digest.update((id(r), whole) for r in unit)

    def of(record: Record) -> str:
        found = digest.get(id(record))
        return checksum_of(record) if found is None else found

    return of


def where(record: Record) -> str:
    """
    `` in 'WH'`` for a stock level kept per warehouse, else nothing: what
    a message adds to name one level of an article.
    """
    warehouse = getattr(record, "warehouse", None)
    return "" if warehouse is None else f" in {warehouse!r}"


def _unit_problem(unit: Unit) -> tuple[str, str] | None:
    """
    Why *unit* may not be sent, as (field, reason), or ``None``.
    """
    seen: set[object] = set()
    for record in unit:
        bad = problems(record)
        if bad:
            extra = where(record) if len(unit) > 1 else ""
            return bad[0].field, f"{bad[0].field} {bad[0].reason}{extra}"
        if len(unit) > 1:
            warehouse = getattr(record, "warehouse", None)
            if warehouse in seen:
                which = (
                    "two summed stock levels"
                    if warehouse is None
                    else f"two stock levels in warehouse {warehouse!r}"
                )
                return (
                    "warehouse",
                    f"warehouse: {record.number!r} has {which} in this "
                    "read; none of its levels is sent until the ERP gives "
                    "the article one level per warehouse",
                )
            seen.add(warehouse)
    return None


def refuse(batch: Sequence[Record]) -> tuple[list[Unit], list[Refusal]]:
    """
    The units of *batch* (`units`) that may be sent, and a refusal for
    each other one: its first problem; one bad stock level refuses every
    level of its article.
    """
    valid: list[Unit] = []
    refused: list[Refusal] = []
    for unit in units(batch):
        bad = _unit_problem(unit)
        if bad:
            number = getattr(unit[0], "number", None) or "<no number>"
            refused.append(Refusal(number=number, field=bad[0], reason=bad[1]))
        else:
            valid.append(unit)
    return valid, refused


def compare(
    valid: Sequence[Unit],
    links: Mapping[str, Link],
    *,
    force: bool,
    checksum_of: Callable[[Record], str] = checksum,
) -> tuple[list[Record], list[Change]]:
    """
    Split valid units into unchanged ones (same checksum as the link
    holds, and not *force*; each given by its first record) and changes.
    """
    unchanged: list[Record] = []
    todo: list[Change] = []
    for unit in valid:
        record, *also = unit
        digest = unit_checksum(unit, checksum_of)
        link = links.get(record.number)
        if link is not None and link.checksum == digest and not force:
            unchanged.append(record)
        else:
            todo.append(Change(record, digest, link, tuple(also)))
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


def ambiguous(
    batch: Sequence[Record], invalid: Mapping[int, Problem]
) -> list[tuple[int, Problem]]:
    """
    The parties of *batch* that `_ambiguity` found (index -> problem), in
    batch order, one per unit: an article's stock levels fail once.
    """
    found: list[tuple[int, Problem]] = []
    seen: set[str] = set()
    for i, problem in sorted(invalid.items()):
        record = batch[i]
        if isinstance(record, StockLevel):
            if record.number in seen:
                continue
            seen.add(record.number)
        found.append((i, problem))
    return found


def chunks(todo: Sequence[Change], size: int) -> list[list[Change]]:
    """
    *todo* in chunks of at most *size* records written, never splitting
    a change (an article's stock levels go in one push; one larger than
    *size* goes alone).
    """
    found: list[list[Change]] = []
    current: list[Change] = []
    held = 0
    for change in todo:
        n = 1 + len(change.also)
        if current and held + n > size:
            found.append(current)
            current, held = [], 0
        current.append(change)
        held += n
    if current:
        found.append(current)
    return found

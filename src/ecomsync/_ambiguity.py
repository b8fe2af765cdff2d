"""
One rule for ambiguous numbers: when two records of one read claim the
same number, every party fails, each naming all of them.  Pure, no I/O.

A record *claims* its own number; an article also claims each of its
variants' numbers (a variant becomes a product of its own on most
platforms).  The stock levels of one article (one per warehouse) are one
unit of change detection (`_changes.units`): they claim the article's
number together, as one party whose fingerprint covers every level, so
the levels of one read batch are no conflict, while levels of one article
that the ERP yields in two places of a read are (the engine would
otherwise record a checksum for half of the article).  Numbers compare
exactly here: case, whitespace or Unicode forms that a platform treats as
equal are that platform's to catch.

`NumberClaims` follows one data type over a whole run, batch by batch, so
a duplicate is found however far apart the ERP yields the two parties.
What this assumes about the read order: nothing.  The price of that is
that a party in an *earlier* batch may already have been written when
its rival turns up; `NumberClaims.claim` returns it as *late*, and the
engine then fails it all the same (event, failure ledger, and its stored
checksum invalidated so it is never taken as in sync).  Within one batch
no party is ever written.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Hashable, Sequence
from typing import cast

import attrs

from ._compact import CompactMap
from ._fingerprint import checksum
from ._model import (
    Article,
    Category,
    OrderStatus,
    Problem,
    Record,
    StockLevel,
)


__all__ = ["Claimed", "NumberClaims", "named"]

#: How many parties a message lists by name before "and N more".
_NAMED = 10


#: One record's claim on a number: (holder, field, label, digest),
#: through *field* of the record whose own number is *holder*; *digest*
#: is 16 bytes of its fingerprint.  Only a number's parties once it is
#: claimed twice are kept as such; a sole claim is packed (`_pack`).
_Party = tuple[str, str, str, bytes]

#: How a label starts (`_claims`): a packed claim keeps the index, not
#: the text.
_KINDS = ("article ", "category ", "order status ", "stock level ")
#: The kind byte of a claim packed in full.
_FULL = 255


def _digest(fingerprint: str) -> bytes:
    return hashlib.blake2b(
        fingerprint.encode("utf-8", "surrogatepass"), digest_size=16
    ).digest()


def _pack(shown: str, party: _Party) -> bytes:
    """
    A sole claim as the run keeps it, for every number of a type's read
    (50,000 articles are 50,000 of them), in one `CompactMap` entry: a
    record's claim on its own number is its digest, its kind and the
    label's rest (about a sixth of the tuple of strings); any other claim
    (a variant's number) its digest and each string in full.
    """
    holder, field, label, digest = party
    if field == "number" and holder == shown:
        for kind, start in enumerate(_KINDS):
            head = start + repr(shown)
            if label.startswith(head):
                return digest + bytes((kind,)) + _utf8(label[len(head) :])
    texts = [_utf8(text) for text in (holder, field, label)]
    return (
        digest
        + bytes((_FULL,))
        + struct.pack("<II", len(texts[0]), len(texts[1]))
        + b"".join(texts)
    )


def _unpack(shown: str, packed: bytes) -> _Party:
    digest, kind = packed[:16], packed[16]
    if kind != _FULL:
        rest = packed[17:].decode("utf-8", "surrogatepass")
        return (shown, "number", f"{_KINDS[kind]}{shown!r}{rest}", digest)
    sizes = struct.unpack_from("<II", packed, 17)
    at = 17 + 8
    holder = packed[at : at + sizes[0]]
    field = packed[at + sizes[0] : at + sizes[0] + sizes[1]]
    label = packed[at + sizes[0] + sizes[1] :]
    return (
        holder.decode("utf-8", "surrogatepass"),
        field.decode("utf-8", "surrogatepass"),
        label.decode("utf-8", "surrogatepass"),
        digest,
    )


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


@attrs.frozen
class Claimed:
    """
    What `NumberClaims.claim` found for one batch.

    Attributes:
        invalid: Index in the batch -> why that record must not be sent.
        late: Record number -> problem, for parties that came in earlier
            batches (they may already be on the platform) and are
            ambiguous now.
    """

    invalid: dict[int, Problem]
    late: dict[str, Problem]


def named(record: Record) -> str:
    """
    How a message names a record after its number: its name in quotes
    where it has one, and ``(inactive)`` where it is inactive.
    """
    name = getattr(record, "name", None)
    text = f' "{name}"' if isinstance(name, str) and name else ""
    if getattr(record, "active", True) is False:
        text += " (inactive)"
    return text


def _claims(record: Record) -> list[tuple[Hashable, str, str, str]]:
    """
    (key, shown number, field, label) for every number *record* claims.
    """
    number = record.number
    if isinstance(record, StockLevel):
        where = "" if record.warehouse is None else f" in {record.warehouse!r}"
        return [
            (
                ("stock", number),
                number,
                "number",
                f"stock level {number!r}{where}",
            )
        ]
    kind = {
        Article: "article",
        Category: "category",
        OrderStatus: "order status",
    }.get(type(record), type(record).__name__.lower())
    label = f"{kind} {number!r}{named(record)}"
    found: list[tuple[Hashable, str, str, str]] = [
        (number, number, "number", label)
    ]
    if isinstance(record, Article):
        for i, variant in enumerate(record.variants):
            if isinstance(variant.number, str) and variant.number:
                found.append(
                    (
                        variant.number,
                        variant.number,
                        f"variants.{i}.number",
                        f"variant {variant.number!r} of {label}",
                    )
                )
    return found


@attrs.define
class NumberClaims:
    """
    Who claims which number, over every batch of one data type in a run.

    Feed it each batch in the order it was read; the same record read
    twice (a scheduled run re-reading a failed record) is one party, not
    two.
    """

    #: Numbers claimed once so far: their one party, packed (`_pack`);
    #: the numbers of stock keys apart (a key ``("stock", number)`` would
    #: cost a tuple per record).  Exact keys: a number is never taken
    #: for another (`CompactMap`), so no duplicate goes unseen.
    _sole: CompactMap = attrs.field(init=False, factory=CompactMap)
    _sole_stock: CompactMap = attrs.field(init=False, factory=CompactMap)
    #: Numbers claimed by two parties or more: all of them, in order.
    _shared: dict[Hashable, list[_Party]] = attrs.field(
        init=False, factory=dict
    )
    _ambiguous: dict[str, tuple[Hashable, str]] = attrs.field(
        init=False, factory=dict
    )
    _reported: set[_Party] = attrs.field(init=False, factory=set)

    def claim(
        self,
        batch: Sequence[Record],
        fingerprint_of: Callable[[Record], str] = checksum,
    ) -> Claimed:
        """
        Register *batch* and say which of its records, and which earlier
        ones, are parties to an ambiguity (*fingerprint_of* tells the
        same record read again: its checksum).
        """
        mine: list[tuple[int, Hashable, _Party]] = []
        for i, record in enumerate(batch):
            number = getattr(record, "number", None)
            if not isinstance(number, str) or not number:
                continue  # problems() names a missing number
            fingerprint = _digest(fingerprint_of(record))
            for key, _, field, label in _claims(record):
                mine.append(
                    (
                        i,
                        key,
                        self._join(key, number, field, label, fingerprint),
                    )
                )
        invalid: dict[int, Problem] = {}
        late: dict[str, Problem] = {}
        touched: set[Hashable] = set()
        for i, key, party in mine:
            if key in self._shared:
                touched.add(key)
                self._reported.add(party)
                invalid.setdefault(i, Problem(party[1], self._reason(key)))
        for key in touched:
            for party in self._shared[key]:
                holder, field = party[0], party[1]
                self._ambiguous.setdefault(holder, (key, field))
                if party not in self._reported:
                    self._reported.add(party)
                    late.setdefault(holder, Problem(field, self._reason(key)))
        return Claimed(invalid=invalid, late=late)

    def _join(
        self,
        key: Hashable,
        holder: str,
        field: str,
        label: str,
        fingerprint: bytes,
    ) -> _Party:
        """
        The party of *holder* for *key*: the one it already is (the same
        record read again), else a new one, registered.
        """
        if isinstance(key, tuple):
            table, shown = self._sole_stock, key[1]
        else:
            table, shown = self._sole, cast(str, key)
        packed = table.get(shown)
        if packed is None:
            shared = self._shared.get(key)
            if shared is None:
                party = (holder, field, label, fingerprint)
                table.set(shown, _pack(shown, party))
                return party
        else:
            shared = [_unpack(shown, packed)]
        for party in shared:
            if (party[0], party[1], party[3]) == (holder, field, fingerprint):
                return party
        party = (holder, field, label, fingerprint)
        if packed is not None:
            table.pop(shown)
            self._shared[key] = shared
        shared.append(party)
        return party

    def problem(self, number: str) -> Problem | None:
        """
        Why the record numbered *number* is ambiguous, if it is: for a
        last look before its write is recorded as a success.
        """
        found = self._ambiguous.get(number)
        if found is None:
            return None
        key, field = found
        return Problem(field, self._reason(key))

    def _reason(self, key: Hashable) -> str:
        parties = self._shared[key]
        # The number as shown: a stock level's key is ("stock", number).
        shown = key[1] if isinstance(key, tuple) else key
        named = "; ".join(p[2] for p in parties[:_NAMED])
        more = len(parties) - _NAMED
        if more > 0:
            named += f"; and {more} more"
        if isinstance(key, tuple) and key[0] == "stock":
            return (
                f"the stock of {shown!r} came in {len(parties)} "
                f"parts of this read: {named}. None of them is sent until "
                f"the ERP yields the article's levels together, one per "
                f"warehouse"
            )
        return (
            f"{shown!r} is claimed by {len(parties)} records "
            f"of this read: {named}. None of them is sent until the ERP "
            f"gives each its own number"
        )

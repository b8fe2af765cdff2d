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
as the platform compares them (*identity*: the platform's
`~ecomsync.typing.SupportsNumberIdentity`, else exactly): ``A-01`` and
``"A-01 "`` are one number to WooCommerce, so two records holding them are
two parties to it, each message naming both spellings.

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


#: One record's claim on a number: (holder, field, label, digest,
#: number), through *field* of the record whose own number is *holder*;
#: *digest* is 16 bytes of its fingerprint, *number* the number claimed
#: as the record spells it.  Only a number's parties once it is claimed
#: twice are kept as such; a sole claim is packed (`_pack`).
_Party = tuple[str, str, str, bytes, str]

#: How a label starts (`_claims`): a packed claim keeps the index, not
#: the text.
_KINDS = ("article ", "category ", "order status ", "stock level ")
#: Added to the kind byte of a claim whose number is not its key (the
#: platform's identity of it), which then follows the kind byte.
_SPELT = 16
#: The kind byte of a claim packed in full.
_FULL = 255


def _digest(fingerprint: str) -> bytes:
    return hashlib.blake2b(
        fingerprint.encode("utf-8", "surrogatepass"), digest_size=16
    ).digest()


def _pack(shown: str, party: _Party) -> bytes:
    """
    A sole claim as the run keeps it, for every number of a type's read
    (50,000 articles are 50,000 of them), in one `CompactMap` entry
    under its key *shown*: a record's claim on its own number is its
    digest, its kind, the number where it is not the key itself
    (``A-01`` under ``a-01``) and the label's rest (about a sixth of the
    tuple of strings); any other claim (a variant's number) its digest
    and each string in full.
    """
    holder, field, label, digest, number = party
    if field == "number" and holder == number:
        for kind, start in enumerate(_KINDS):
            head = start + repr(number)
            if label.startswith(head):
                rest = _utf8(label[len(head) :])
                if number == shown:
                    return digest + bytes((kind,)) + rest
                spelt = _utf8(number)
                return (
                    digest
                    + bytes((kind + _SPELT,))
                    + struct.pack("<I", len(spelt))
                    + spelt
                    + rest
                )
    texts = [_utf8(text) for text in (holder, field, number, label)]
    return (
        digest
        + bytes((_FULL,))
        + struct.pack("<III", *(len(t) for t in texts[:3]))
        + b"".join(texts)
    )


def _unpack(shown: str, packed: bytes) -> _Party:
    digest, kind = packed[:16], packed[16]
    if kind != _FULL:
        at, number = 17, shown
        if kind >= _SPELT:
            (size,) = struct.unpack_from("<I", packed, at)
            at += 4
            number = _text(packed[at : at + size])
            at += size
            kind -= _SPELT
        rest = _text(packed[at:])
        return (
            number,
            "number",
            f"{_KINDS[kind]}{number!r}{rest}",
            digest,
            number,
        )
    sizes = struct.unpack_from("<III", packed, 17)
    at = 17 + 12
    texts = []
    for size in sizes:
        texts.append(_text(packed[at : at + size]))
        at += size
    holder, field, number = texts
    return (holder, field, _text(packed[at:]), digest, number)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


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


def _claims(
    record: Record, identity: Callable[[str], str] | None = None
) -> list[tuple[Hashable, str, str, str]]:
    """
    (key, number claimed, field, label) for every number *record*
    claims; the key is the number as the platform compares it
    (*identity*), a stock level's in a tuple of its own.
    """
    key = (lambda n: n) if identity is None else identity
    number = record.number
    if isinstance(record, StockLevel):
        where = "" if record.warehouse is None else f" in {record.warehouse!r}"
        return [
            (
                ("stock", key(number)),
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
        (key(number), number, "number", label)
    ]
    if isinstance(record, Article):
        for i, variant in enumerate(record.variants):
            if isinstance(variant.number, str) and variant.number:
                found.append(
                    (
                        key(variant.number),
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
    two.  *identity* is the number as the platform compares it
    (`~ecomsync.typing.SupportsNumberIdentity`); ``None``: exactly.
    """

    identity: Callable[[str], str] | None = None

    #: Numbers claimed once so far: their one party, packed (`_pack`);
    #: the numbers of stock keys apart (a key ``("stock", number)`` would
    #: cost a tuple per record); each under its key (`_claims`).  Exact
    #: keys: a key is never taken for another (`CompactMap`), so no
    #: duplicate goes unseen.
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
            for key, claimed, field, label in _claims(record, self.identity):
                party = (number, field, label, fingerprint, claimed)
                mine.append((i, key, self._join(key, party)))
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

    def _join(self, key: Hashable, new: _Party) -> _Party:
        """
        The party *new* stands for under *key*: the one it already is
        (the same record read again), else *new*, registered.
        """
        if isinstance(key, tuple):
            table, shown = self._sole_stock, key[1]
        else:
            table, shown = self._sole, cast(str, key)
        packed = table.get(shown)
        if packed is None:
            shared = self._shared.get(key)
            if shared is None:
                table.set(shown, _pack(shown, new))
                return new
        else:
            shared = [_unpack(shown, packed)]
        for party in shared:
            if (party[0], party[1], party[3]) == (new[0], new[1], new[3]):
                return party
        if packed is not None:
            table.pop(shown)
            self._shared[key] = shared
        shared.append(new)
        return new

    def known(self, key: str, *, stock: bool = False) -> bool:
        """
        Whether a record of this read claimed *key* (a number as the
        platform compares it; a stock level's if *stock*) already.
        """
        if stock:
            return key in self._sole_stock or ("stock", key) in self._shared
        return key in self._sole or key in self._shared

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
        named = "; ".join(p[2] for p in parties[:_NAMED])
        more = len(parties) - _NAMED
        if more > 0:
            named += f"; and {more} more"
        spellings = list(dict.fromkeys(p[4] for p in parties))
        if len(spellings) > 1:
            # Twins: numbers the platform takes for one (`identity`).
            shown = ", ".join(map(repr, spellings[:-1]))
            return (
                f"{shown} and {spellings[-1]!r} are one number to the "
                f"platform, which compares them as equal; it is claimed "
                f"by {len(parties)} records: {named}. None of them is "
                f"sent until the ERP gives each its own number"
            )
        shown = spellings[0]
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

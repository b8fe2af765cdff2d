"""
Twins across runs: a number new to the store whose spelling the platform
takes for one that landed in an earlier run (an article's number, or a
variant's it landed with) (``"A-01 "`` for ``A-01`` on
WooCommerce, `~ecomsync.typing.SupportsNumberIdentity`).

Within one read, `_ambiguity` keys numbers as the platform compares
them, so twins read in one run fail as a number claimed twice does.  A
read that is not `All` (a scheduled run's `ChangedSince`, an `Only`, a
range) may hold the newcomer without its landed twin; the platform would
then take the newcomer's write for the twin's product and overwrite it.
For exact duplicates the ERP source reads the rival with the changed
record (`ErpSession.read`); it cannot know the platform's comparison, so
the engine does it here: it reads the landed twin from the ERP and adds
it to the batch's claims, and both fail, as exact duplicates do.  A twin
the ERP no longer has is no rival (the number was respelt): nothing is
read for it, and the newcomer goes on.

What it costs: nothing on the common path.  An `All` read holds every
twin itself; otherwise the store is asked for the type's linked numbers
(`~ecomsync.typing.LinkedNumbers`) once per type and run, and only when
a batch holds a number the store has no link for (a variant added to a
linked article counts: its number is new to the shop); a batch with a
twin costs one ERP read of the twins.

The load runs in a worker thread (the event loop goes on: progress,
heartbeats, cancellation) and keeps only two sorted arrays of 64-bit
hashes, 16 bytes a number, no index of spellings held for the run: of
the linked numbers' identities, and of their spellings.  A batch's new
number whose identity hash is not there has no twin; one whose
identity is there as often as its spelling is there only under its own
spelling (a variant moved to an article of its own, or to another
article, as it landed) has none either.  Only a batch with another
spelling of the identity (a twin, or a hash collision) asks the store
again and, in a thread too, keeps the linked numbers of the wanted
identities alone.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import (
    AsyncIterator,
    Callable,
    Collection,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager
from functools import partial

import anyio.to_thread
import attrs

from ._ambiguity import NumberClaims
from ._contracts import Link, Refusal
from ._model import Article, Record
from ._pipeline_types import Read
from ._spec import All, DataType, Direction, NumberRange, Only, Selection
from .state._board import PartitionView
from .typing import (
    ErpSession,
    LinkedNumbers,
    Platform,
    StateStore,
    SupportsNumberIdentity,
)


__all__ = ["Reader", "Twins", "identity_of", "new_numbers", "read_records"]

#: Reads the selected records of a type (`Strategy.batches`).
Reader = Callable[
    [ErpSession, DataType, Selection],
    AbstractAsyncContextManager[AsyncIterator[Read]],
]


def identity_of(
    platform: Platform, data_type: DataType
) -> Callable[[str], str] | None:
    """
    How *platform* compares the numbers of *data_type*, where it says
    (`SupportsNumberIdentity`); ``None``: exactly.
    """
    if data_type.direction is not Direction.TO_PLATFORM or not isinstance(
        platform, SupportsNumberIdentity
    ):
        return None
    compare = platform.number_identity

    def identity(number: str) -> str:
        return compare(data_type, number)

    return identity


def new_numbers(record: Record, links: Mapping[str, Link]) -> list[str]:
    """
    The numbers *record* carries that the shop does not hold for it:
    all of them without a link, else its variants' its link does not
    list.  A variant added to a linked article is as new to the shop as
    a new article's; one the link does not know (``variants`` None:
    links written before) counts as new.
    """
    number = record.number
    if not isinstance(number, str) or not number:
        return []
    link = links.get(number)
    found = [number] if link is None else []
    if isinstance(record, Article):
        landed = set(link.variants or ()) if link is not None else set()
        found.extend(
            v.number
            for v in record.variants
            if isinstance(v.number, str)
            and v.number
            and v.number not in landed
        )
    return found


async def read_records(
    session: ErpSession,
    read: Reader,
    data_type: DataType,
    numbers: Collection[str],
) -> list[Record]:
    """
    The ERP's records of *numbers* (refusals left out): the rivals a
    batch is claimed with.  No read for none.
    """
    found: list[Record] = []
    if numbers:
        async with read(session, data_type, Only(sorted(numbers))) as got:
            async for page in got:
                found.extend(r for r in page if not isinstance(r, Refusal))
    return found


@attrs.define
class Twins:
    """
    The numbers of one type that landed in earlier runs, by the
    platform's identity, loaded when first needed (`rivals`).
    """

    store: LinkedNumbers
    platform_name: str
    data_type: DataType
    identity: Callable[[str], str]
    #: The sorted hashes of the identities of the linked numbers (an
    #: article's own and its variants'), and beside each the hash of
    #: the number's spelling.
    _hashes: tuple[array[int], array[int]] | None = attrs.field(
        init=False, default=None
    )
    #: Numbers read as a twin: a later batch of the read that yields them
    #: again yields the party that failed already.
    pulled: set[str] = attrs.field(init=False, factory=set)

    @classmethod
    def of(
        cls,
        platform: Platform,
        platform_name: str,
        store: StateStore,
        data_type: DataType,
        selection: Selection,
    ) -> Twins | None:
        """
        The twins to look out for in a read of *selection*; ``None``
        where there are none to find: the read is `All`, or a partition
        of a partitioned run reading a range (`All` or a `NumberRange`
        cut for workers), the platform compares this type's numbers
        exactly, or the store cannot list its links.

        A partitioned run is one sync of the range: its partitions run
        side by side, so an index loaded per partition would cost every
        link landed so far each time (O(N^2) over a first sync) and
        still miss the twin another partition lands meanwhile.  Twins in
        one partition fail together (`NumberClaims`), and twins the run
        reads always share a partition, wherever number order puts them
        (``A-01``, ``"A-01 "``, ``a-01``: `_partition._chunks`; a
        partition holding twins far apart is an `Only`, which looks
        here for twins landed before the run).
        """
        identity = identity_of(platform, data_type)
        if (
            identity is None
            or isinstance(selection, All)
            or not isinstance(store, LinkedNumbers)
            or (
                isinstance(selection, NumberRange)
                and isinstance(store, PartitionView)
            )
        ):
            return None
        return cls(store, platform_name, data_type, identity)

    async def rivals(
        self,
        session: ErpSession,
        read: Reader,
        batch: Sequence[Record],
        links: Mapping[str, Link],
        claims: NumberClaims,
    ) -> list[Record]:
        """
        The ERP's records whose numbers landed as twins of a number of
        *batch* new to the store (no link in *links*, or a variant its
        article's link does not list) that this read has not claimed
        yet: to be claimed with *batch*.
        """
        new = {n for record in batch for n in new_numbers(record, links)}
        if not new:
            return []
        stock = self.data_type is DataType.STOCK
        keys = {number: self.identity(number) for number in new}
        hashes, spellings = await self._load()
        hit = {
            key
            for number, key in keys.items()
            if _other_spelling(hashes, spellings, hash(key), hash(number))
            and not claims.known(key, stock=stock)
        }
        if not hit:
            return []
        linked = await self.store.linked_numbers(
            self.platform_name, self.data_type
        )
        held = await anyio.to_thread.run_sync(
            partial(_holders, linked, self.identity, hit),
            abandon_on_cancel=True,
        )
        read_now = {r.number for r in batch}
        wanted: set[str] = set()
        for number, key in keys.items():
            for spelt, holder in held.get(key, ()):
                if spelt != number and holder not in read_now:
                    # The article to read: the twin's own, or the one
                    # that landed with it as a variant.
                    wanted.add(holder)
        wanted.difference_update(self.pulled)
        return await read_records(session, read, self.data_type, wanted)

    async def _load(self) -> tuple[array[int], array[int]]:
        if self._hashes is None:
            linked = await self.store.linked_numbers(
                self.platform_name, self.data_type
            )
            # Off the event loop, and given up on cancellation: a store
            # of 300,000 numbers takes a second or more of identities.
            self._hashes = await anyio.to_thread.run_sync(
                partial(_hash_all, linked, self.identity),
                abandon_on_cancel=True,
            )
        return self._hashes


def _hash_all(
    linked: Mapping[str, Sequence[str]], identity: Callable[[str], str]
) -> tuple[array[int], array[int]]:
    """
    The sorted hashes of the identities of *linked*'s numbers and its
    variants', and the sorted hashes of their spellings (in a worker
    thread).
    """
    identities: list[int] = []
    spellings: list[int] = []
    for holder, variants in linked.items():
        for spelt in (holder, *variants):
            identities.append(hash(identity(spelt)))
            spellings.append(hash(spelt))
    identities.sort()
    spellings.sort()
    return array("q", identities), array("q", spellings)


def _count(hashes: array[int], value: int) -> int:
    at = bisect_left(hashes, value)
    return bisect_right(hashes, value, at) - at


def _other_spelling(
    identities: array[int], spellings: array[int], key: int, spelt: int
) -> bool:
    """
    Whether a linked number has the identity hash *key* under another
    spelling than the one hashed *spelt* (a twin, or a collision to look
    at): more numbers have the identity than the spelling, which has it.
    Only two spellings with one 64-bit hash (about one lookup in 10^14
    at 100,000 links) could hide a twin.
    """
    return _count(identities, key) > _count(spellings, spelt)


def _holders(
    linked: Mapping[str, Sequence[str]],
    identity: Callable[[str], str],
    keys: set[str],
) -> dict[str, list[tuple[str, str]]]:
    """
    Of *linked*, the numbers whose identity is one of *keys*, by
    identity, each as (spelling, article number) (in a worker thread).
    """
    held: dict[str, list[tuple[str, str]]] = {}
    for holder, variants in linked.items():
        for spelt in (holder, *variants):
            key = identity(spelt)
            if key in keys:
                held.setdefault(key, []).append((spelt, holder))
    return held

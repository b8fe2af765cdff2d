"""
The product ids an adapter has sent, kept in 8 bytes each: a `set` of id
strings costs about 120 bytes per article for the adapter's whole life
(50,000 articles: 6 MB of a first sync's peak).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable

import attrs


__all__ = ["SentIds"]

#: New ids are kept as a set until this many, then sorted into a block.
_RECENT = 4096


@attrs.define
class SentIds:
    """
    Ids by their 64-bit `hash` (one process's ids: the hash need not be
    stable across processes).  Two ids with one hash only make `any_of`
    say "sent" for an id that was not: the adapter then searches the shop
    once more, which is always correct.
    """

    _recent: set[int] = attrs.field(init=False, factory=set)
    #: Sorted hashes, each block at most half the size of the one before
    #: it: few blocks to search, each id sorted again only log(n) times.
    _blocks: list[array[int]] = attrs.field(init=False, factory=list)

    def add_all(self, ids: Iterable[str]) -> None:
        self._recent.update(hash(i) for i in ids)
        if len(self._recent) < _RECENT:
            return
        block = array("q", sorted(self._recent))
        self._recent.clear()
        blocks = self._blocks
        blocks.append(block)
        while len(blocks) > 1 and len(blocks[-2]) <= 2 * len(blocks[-1]):
            last = blocks.pop()
            blocks[-1] = array("q", sorted(blocks[-1] + last))

    def any_of(self, ids: Iterable[str]) -> bool:
        """
        Whether any of *ids* was sent (or shares a hash with one that was).
        """
        return any(self._holds(hash(i)) for i in ids)

    def _holds(self, h: int) -> bool:
        if h in self._recent:
            return True
        for block in self._blocks:
            at = bisect_left(block, h)
            if at < len(block) and block[at] == h:
                return True
        return False

"""
A set of SHA-256 digests kept in 32 bytes each, exactly: a `set` of hex
strings costs about 160 bytes per digest, and a first sync holds one per
image it uploads for the whole run (50,000 articles with 3 images: about
24 MB of its peak).  Membership is exact (no hash stands in for a
digest): a run's media checks depend on it (`MediaTransfer`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

import attrs


__all__ = ["Digests"]

#: New digests are kept as a set until this many, then sorted into a block.
_RECENT = 4096
_WIDTH = 32


@attrs.define
class Digests:
    """
    SHA-256 digests (64 hex digits, as `_fingerprint` writes them).
    """

    _recent: set[str] = attrs.field(init=False, factory=set)
    #: Sorted raw digests, 32 bytes each, each block at most half the
    #: size of the one before it: few blocks to search, each digest
    #: merged again only log(n) times.
    _blocks: list[bytes | bytearray] = attrs.field(init=False, factory=list)
    #: Discarded while in a block (rare: content gone from the shop).
    _gone: set[str] = attrs.field(init=False, factory=set)
    #: Anything but 64 hex digits, as given.
    _odd: set[str] = attrs.field(init=False, factory=set)

    def add(self, sha: str) -> None:
        self._gone.discard(sha)
        if not _raw(sha):
            self._odd.add(sha)
            return
        # One already in a block may be added again: a duplicate in a
        # block changes no answer, and looking first would cost a search
        # per digest.
        self._recent.add(sha)
        if len(self._recent) < _RECENT:
            return
        block = b"".join(sorted(map(bytes.fromhex, self._recent)))
        self._recent.clear()
        blocks = self._blocks
        blocks.append(block)
        while len(blocks) > 1 and len(blocks[-2]) <= 2 * len(blocks[-1]):
            last = blocks.pop()
            # Streamed: a list of the merged digests would cost their
            # objects' size again at the largest merge.  Into a buffer of
            # the final size, kept as it is: one grown digest by digest
            # leaves its outgrown copies resident, and a `bytes` copy of
            # it is its size again (together 13 MB over the 4.5 MB held,
            # at 140,000 digests: a 50,000-article sync's peak RSS).
            merged = bytearray(len(blocks[-1]) + len(last))
            at = 0
            for digest in heapq.merge(_each(blocks[-1]), _each(last)):
                merged[at : at + _WIDTH] = digest
                at += _WIDTH
            blocks[-1] = merged

    def discard(self, sha: str) -> None:
        self._recent.discard(sha)
        self._odd.discard(sha)
        raw = _raw(sha)
        if raw and self._in_blocks(raw):
            self._gone.add(sha)

    def __contains__(self, sha: object) -> bool:
        if not isinstance(sha, str):
            return False
        if sha in self._recent or sha in self._odd:
            return True
        if sha in self._gone:
            return False
        raw = _raw(sha)
        return raw is not None and self._in_blocks(raw)

    def _in_blocks(self, raw: bytes) -> bool:
        for block in self._blocks:
            lo, hi = 0, len(block) // _WIDTH
            while lo < hi:
                mid = (lo + hi) // 2
                at = block[mid * _WIDTH : (mid + 1) * _WIDTH]
                if at == raw:
                    return True
                if at < raw:
                    lo = mid + 1
                else:
                    hi = mid
        return False


def _raw(sha: str) -> bytes | None:
    """
    The 32 bytes of *sha* where it is 64 hex digits (lower case, as
    `hexdigest` writes them: "AB" and "ab" are different strings).
    """
    if len(sha) != 2 * _WIDTH:
        return None
    try:
        raw = bytes.fromhex(sha)
    except ValueError:
        return None
    # Exactly: fromhex also takes upper case and spaces.
    return raw if raw.hex() == sha else None


def _each(block: bytes | bytearray) -> Iterator[bytes | bytearray]:
    for at in range(0, len(block), _WIDTH):
        yield block[at : at + _WIDTH]

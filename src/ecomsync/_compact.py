"""
A map of strings to bytes kept in a few flat buffers, in insertion
order.  A `dict` costs about 100 bytes per entry on top of its key and
value objects (a `str` of an 8-character number is 57 bytes, a `bytes`
33 plus its length), and a first sync holds one entry per article: the
number claims for a type's whole read (`_ambiguity`), the stock levels
that landed with their articles until the stock step reports them
(`_stock_fold`).  Here an entry is its header, its key's and its value's
bytes and 16 bytes of index.

Keys are exact: the index holds a hash of each key only to find the
candidates, and every candidate is compared with the key itself, so two
keys never stand for each other (a missed duplicate number, a level
reported that did not land).
"""

from __future__ import annotations

import bisect
import heapq
import struct
from array import array
from collections.abc import Iterator

import attrs


__all__ = ["CompactMap"]

#: New entries are indexed in a dict until this many, then sorted into
#: a block of the index.
_RECENT = 2048
#: An entry: flags, the key's size, the value's size, then both.
_NARROW = struct.Struct("<BHH")
_WIDE = struct.Struct("<BII")
_LIVE, _WIDE_FLAG = 1, 2
_MASK = (1 << 64) - 1


def _hash(key: str) -> int:
    # The process's own string hash: the index never leaves the process.
    return hash(key) & _MASK


def _encode(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")


@attrs.define
class CompactMap:
    """
    Strings to bytes, insertion-ordered; a key set again keeps its place
    where its value keeps its size (else it moves to the end).
    """

    _data: bytearray = attrs.field(init=False, factory=bytearray)
    #: Key -> offset of its entry, for entries not yet in a block.
    _recent: dict[str, int] = attrs.field(init=False, factory=dict)
    #: Sorted hashes of keys and their entries' offsets, each block at
    #: most half the size of the one before it (few to search, each
    #: entry merged again only log(n) times).
    _blocks: list[tuple[array[int], array[int]]] = attrs.field(
        init=False, factory=list
    )
    _live: int = attrs.field(init=False, default=0)

    def __len__(self) -> int:
        return self._live

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._find(key) is not None

    def get(self, key: str) -> bytes | None:
        at = self._find(key)
        return None if at is None else self._value(at)

    def set(self, key: str, value: bytes) -> None:
        at = self._find(key)
        raw = _encode(key)
        if at is not None:
            _, size, start = self._head(at)
            if size[1] == len(value):
                begin = start + size[0]
                self._data[begin : begin + len(value)] = value
                return
            self._kill(at, key)
        data = self._data
        at = len(data)
        if len(raw) <= 0xFFFF and len(value) <= 0xFFFF:
            data += _NARROW.pack(_LIVE, len(raw), len(value))
        else:
            data += _WIDE.pack(_LIVE | _WIDE_FLAG, len(raw), len(value))
        data += raw
        data += value
        self._live += 1
        self._recent[key] = at
        if len(self._recent) >= _RECENT:
            self._seal()

    def pop(self, key: str) -> bytes | None:
        at = self._find(key)
        if at is None:
            return None
        value = self._value(at)
        self._kill(at, key)
        return value

    def __iter__(self) -> Iterator[str]:
        return self.keys()

    def keys(self) -> Iterator[str]:
        for key, _ in self.items():
            yield key

    def items(self) -> Iterator[tuple[str, bytes]]:
        """
        The entries in insertion order, each as it is when reached (one
        popped meanwhile is left out).
        """
        data, at = self._data, 0
        while at < len(data):
            flags, (ksize, vsize), start = self._head(at, data)
            if flags & _LIVE:
                key = data[start : start + ksize].decode(
                    "utf-8", "surrogatepass"
                )
                end = start + ksize + vsize
                yield key, bytes(data[start + ksize : end])
            at = start + ksize + vsize

    def _head(
        self, at: int, data: bytearray | None = None
    ) -> tuple[int, tuple[int, int], int]:
        """
        The flags of the entry at *at*, its key's and value's sizes, and
        where its key starts.
        """
        data = self._data if data is None else data
        flags = data[at]
        shape = _WIDE if flags & _WIDE_FLAG else _NARROW
        _, ksize, vsize = shape.unpack_from(data, at)
        return flags, (ksize, vsize), at + shape.size

    def _value(self, at: int) -> bytes:
        _, (ksize, vsize), start = self._head(at)
        return bytes(self._data[start + ksize : start + ksize + vsize])

    def _find(self, key: str) -> int | None:
        """
        The offset of the live entry of *key*, if any.
        """
        at = self._recent.get(key)
        if at is not None or not self._blocks:
            return at
        wanted = _hash(key)
        raw: bytes | None = None
        data = self._data
        for hashes, offsets in self._blocks:
            i = bisect.bisect_left(hashes, wanted)
            while i < len(hashes) and hashes[i] == wanted:
                at = offsets[i]
                i += 1
                flags, (ksize, _), start = self._head(at)
                if not flags & _LIVE:
                    continue
                raw = _encode(key) if raw is None else raw
                if ksize == len(raw) and data[start : start + ksize] == raw:
                    return at
        return None

    def _kill(self, at: int, key: str) -> None:
        self._data[at] &= ~_LIVE
        self._recent.pop(key, None)
        self._live -= 1
        if not self._live:
            # New objects, not cleared in place: an `items()` under way
            # ends on the old buffer, every entry of which is gone.
            self._data = bytearray()
            self._recent = {}
            self._blocks = []

    def _seal(self) -> None:
        """
        Sort the recent entries into a block of the index; merge blocks
        (leaving out entries gone since) while the last is not at most
        half the size of the one before it.
        """
        pairs = sorted((_hash(k), at) for k, at in self._recent.items())
        self._recent = {}
        blocks = self._blocks
        blocks.append(
            (
                array("Q", (h for h, _ in pairs)),
                array("Q", (a for _, a in pairs)),
            )
        )
        del pairs
        data = self._data
        while len(blocks) > 1 and len(blocks[-2][0]) <= 2 * len(blocks[-1][0]):
            last_hashes, last_offsets = blocks.pop()
            hashes, offsets = blocks[-1]
            merged_hashes, merged_offsets = array("Q"), array("Q")
            # Streamed: a list of the merged pairs would cost their
            # objects' size again at the largest merge.
            for h, at in heapq.merge(
                zip(hashes, offsets, strict=True),
                zip(last_hashes, last_offsets, strict=True),
            ):
                if data[at] & _LIVE:
                    merged_hashes.append(h)
                    merged_offsets.append(at)
            blocks[-1] = (merged_hashes, merged_offsets)

"""
The shapes the pipeline works with: `Volume` (what a plan found of one
data type, for estimating requests) and `Strategy` (how one direction
counts, reads and writes; `_directions.Outbound` and `_directions.Inbound`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import attrs

from ._changes import Change
from ._contracts import Refusal
from ._model import Record
from ._run import Tally
from ._spec import DataType, Selection
from .typing import ErpSession


#: One batch a strategy reads: records, and for orders the platform's
#: refusals of those it cannot hand over as read (`Platform.fetch_orders`).
Read = Sequence[Record | Refusal]


@attrs.frozen(kw_only=True)
class Volume:
    """
    What a plan found for one data type, for estimating requests.
    """

    fetched: int = 0
    #: The reads the records came in (for orders: the platform's pages).
    pages: int = 0
    writes: int = 0
    uploads: int = 0
    with_media: int = 0
    dependencies: int = 0
    #: The write calls *writes* take, as the run batches them (each read
    #: batch's changes pushed on their own); at least ceil(writes / the
    #: platform's batch size).
    chunks: int = 0
    #: The same for the categories pulled in (*dependencies*).
    dependency_chunks: int = 0
    #: Orders: the requests the plan's read sent (`SupportsRequestCount`),
    #: else None.
    read_requests: int | None = None


class Strategy(Protocol):
    """
    How records of one direction are counted, read and written.
    """

    @property
    def chunk_size(self) -> int:
        """
        Records written per call.
        """

    async def total(
        self, session: ErpSession, data_type: DataType, selection: Selection
    ) -> int | None:
        """
        How many records the selection holds, where known.
        """

    def batches(
        self, session: ErpSession, data_type: DataType, selection: Selection
    ) -> AbstractAsyncContextManager[AsyncIterator[Read]]:
        """
        The selection's records in batches, closed however the block ends.
        """

    async def prepare(
        self, session: ErpSession, data_type: DataType, todo: Sequence[Change]
    ) -> None:
        """
        Before a batch's changes are written (dependencies first).
        """

    async def write(
        self,
        session: ErpSession,
        data_type: DataType,
        chunk: Sequence[Change],
        tally: Tally,
    ) -> None:
        """
        Write one chunk and record its outcomes.
        """

    def requests(self, data_type: DataType, volume: Volume) -> int:
        """
        Estimated platform requests for *volume* of a type (a plan).
        """


__all__ = ["Read", "Strategy", "Volume"]

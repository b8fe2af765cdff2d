"""
The partition board: where the partitions of partitioned runs wait for
workers, as a protocol (the engine layer needs nothing else), and the one
implementation there is (PostgreSQL, `._pg_partitions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import attrs

from .._contracts import RunRecord
from .._spec import SyncSpec
from ..exceptions import ConfigurationError, StateStoreError
from ..typing import StateStore


__all__ = [
    "Claim",
    "PartitionBoard",
    "PartitionLost",
    "PartitionView",
    "board_for",
]

_SEP = "~p"


class PartitionLost(StateStoreError):
    """
    This worker's partition was taken over (its heartbeat went stale and
    another worker claimed it): the write was rejected.
    """


@attrs.frozen(kw_only=True)
class Claim:
    """
    A partition a worker holds, with the fencing token of this claim.
    """

    run_id: str
    index: int
    token: int
    spec: SyncSpec
    worker: str
    attempts: int = 1

    @property
    def sub_run_id(self) -> str:
        """
        The id the partition's run has in the engine.
        """
        return f"{self.run_id}{_SEP}{self.index}"


@runtime_checkable
class PartitionView(StateStore, Protocol):
    """
    The store as one partition's run sees it; *lost* makes the run see
    itself cancelled (the worker lost its claim).
    """

    lost: bool


class PartitionBoard(Protocol):  # pragma: no cover -- a Protocol only
    """
    The partitions of every partitioned run, claimed exactly once.
    """

    async def create(
        self, parent: RunRecord, parts: Sequence[tuple[int, SyncSpec]]
    ) -> None:
        """
        Record *parent* and its partitions, as (phase, spec), at once.
        """

    async def has_work(self) -> bool:
        """
        Whether any partition of a live run is still open.
        """

    async def claim(self, worker: str, *, stale_after: float) -> Claim | None:
        """
        The next claimable partition with a new fencing token, or
        ``None``.
        """

    async def heartbeat(self, claim: Claim) -> bool:
        """
        Keep *claim* alive; ``False`` once it was lost.
        """

    async def loss(self, claim: Claim) -> str:
        """
        What became of *claim*, lost (taken over, closed).
        """

    async def release(self, claim: Claim) -> None:
        """
        Give *claim*'s partition back unfinished.
        """

    async def finish(
        self,
        claim: Claim,
        record: RunRecord | None,
        error: str | None,
        *,
        stock_layout: str | None = None,
    ) -> None:
        """
        Close *claim*'s partition with its run's outcome; *stock_layout*:
        the layout a partition of stock went through under, kept for the
        platform (`StockLayouts`) once every stock partition of a run of
        all stock went through under that one layout.
        """

    async def sweep(self, *, stale_after: float, max_attempts: int) -> None:
        """
        Close what nobody will finish (cancelled runs, partitions that
        killed their workers *max_attempts* times).
        """

    def view(self, claim: Claim) -> PartitionView:
        """
        The store for *claim*'s run: writes fenced by its token.
        """


def board_for(store: StateStore) -> PartitionBoard:
    """
    The partition board kept in *store*.

    Raises:
        ConfigurationError: *store* cannot hold one (only a
            `PostgresStore` shared by the workers can).
    """
    from ._pg_partitions import PostgresPartitionBoard
    from ._postgres import PostgresStore

    if not isinstance(store, PostgresStore):
        raise ConfigurationError(
            "partitioned runs need a PostgresStore shared by the workers, "
            f"not {type(store).__name__}"
        )
    return PostgresPartitionBoard(store)

"""
Partitioned runs: one run over a large selection, split into number
ranges that workers on many machines claim exactly once.

- `submit_partitioned` reads the selected numbers once, cuts them into
  partitions (one data type each, types in the run's order as *phases*:
  a phase starts when the one before it has no open partition) and
  records the run as the parent in the monitoring view.
- Workers claim partitions from the `PartitionBoard` (in the store,
  `ecomsync.state._pg_partitions`: claims with fencing tokens and
  heartbeats, a stale partition is claimed again).
- Cancelling the parent run (`Synchronizer.cancel`, the monitoring view)
  stops every partition at its next boundary: a partition's run checks
  the parent's cancel flag.

The engine needs no change: a partition is an ordinary run of the
`Synchronizer` on a `PartitionStore` (the fenced view of the store) with
the worker's licence already held (`HeldLicence`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import attrs

from ._contracts import Lease, RunRecord, RunStatus
from ._model import number_key
from ._selection import Sought, erp_batches
from ._spec import (
    All,
    DataType,
    NumberRange,
    Only,
    Selection,
    SyncSpec,
    Trigger,
)
from ._twins import identity_of
from .exceptions import SpecError
from .state._board import board_for
from .typing import LicensePool


if TYPE_CHECKING:
    from ._engine import Synchronizer


__all__ = ["HeldLicence", "submit_partitioned"]

log = logging.getLogger("ecomsync.partition")


def _chunks(
    numbers: Sequence[str],
    size: int,
    identity: Callable[[str], str] | None = None,
) -> list[tuple[list[str], bool]]:
    """
    *numbers* (in number order) in chunks of *size*, each with whether
    its numbers are a run of *numbers* (a `NumberRange` of it selects
    them and no other chunk's).

    A chunk grows past *size* rather than cut between numbers that
    natural order holds equal (``0010`` and ``10``, ``A-01`` and
    ``A-1``): a number range ending at one of them holds the other too,
    so two partitions would both read and write them.  Nor are numbers
    the platform takes for one (*identity*, `_twins.identity_of`:
    ``A-01``, ``"A-01 "`` and ``a-01`` on WooCommerce) cut apart,
    wherever number order puts them: partitions side by side would each
    send one, and the second would write over the first's product,
    where one run fails both (`NumberClaims`).  A twin far from the
    others in number order is taken into the first one's chunk; that
    chunk, and the one whose run it is cut out of, are then no run.
    """

    def same(a: int, b: int) -> bool:
        return number_key(numbers[a]) == number_key(numbers[b])

    twins: dict[int, int] = {}
    if identity is not None:
        first: dict[str, int] = {}
        for at, number in enumerate(numbers):
            seen = first.setdefault(identity(number), at)
            if seen != at:
                twins[at] = seen
    if not twins:
        # number_key is costly (a regex and the value of every digit):
        # compared only where a chunk would be cut.
        runs: list[list[str]] = []
        for at, number in enumerate(numbers):
            if not runs or (len(runs[-1]) >= size and not same(at - 1, at)):
                runs.append([])
            runs[-1].append(number)
        return [(run, True) for run in runs]
    return _grouped(numbers, size, twins, same)


def _grouped(
    numbers: Sequence[str],
    size: int,
    twins: dict[int, int],
    same: Callable[[int, int], bool],
) -> list[tuple[list[str], bool]]:
    """
    `_chunks` where *numbers* hold twins (position -> the position of
    the first number of its identity): groups of positions, each whole
    in one chunk.
    """
    parent = list(range(len(numbers)))

    def root(at: int) -> int:
        while parent[at] != at:
            parent[at] = parent[parent[at]]
            at = parent[at]
        return at

    for at, seen in twins.items():
        parent[root(at)] = root(seen)
    # A twin taken into another chunk takes the numbers natural order
    # holds equal to it along: a range of them holds it.
    for at in {*twins, *twins.values()}:
        for step in (-1, 1):
            near = at
            while 0 <= near + step < len(numbers) and same(near, near + step):
                near += step
                parent[root(near)] = root(at)
    members: dict[int, list[int]] = {}
    for at in range(len(numbers)):
        members.setdefault(root(at), []).append(at)
    chunks: list[list[int]] = []
    placed: set[int] = set()
    for at in range(len(numbers)):
        group = root(at)
        if group in placed:
            continue
        placed.add(group)
        if not chunks or (len(chunks[-1]) >= size and not same(at - 1, at)):
            chunks.append([])
        chunks[-1].extend(members[group])
    result: list[tuple[list[str], bool]] = []
    for chunk in chunks:
        chunk.sort()
        run = chunk[-1] - chunk[0] + 1 == len(chunk)
        result.append(([numbers[at] for at in chunk], run))
    return result


def _partition_selection(
    selection: Selection, chunk: Sequence[str], run: bool
) -> Selection:
    """
    The part of *selection* a chunk of its (number-ordered) records is;
    *run*: the chunk is a run of them (`_chunks`).
    """
    if run and isinstance(selection, All | NumberRange):
        return NumberRange(chunk[0], chunk[-1])
    return Only(frozenset(chunk))


async def submit_partitioned(
    sync: Synchronizer,
    spec: SyncSpec,
    *,
    partition_size: int = 1000,
    run_id: str | None = None,
) -> str:
    """
    Plan *spec* as a partitioned run for workers; return its run id.

    Reads the selected numbers once (holding a licence and an ERP session
    meanwhile), cuts each data type into partitions of *partition_size*
    records and records the run (`RunStatus.QUEUED`) in the store, which
    must be a `PostgresStore`.  Orders (`DataType.ADDRESSES_AND_ORDERS`)
    are read from the platform and form one partition.

    Raises:
        SpecError: If *spec* does not fit *sync*.
        ConfigurationError: If the store is not a `PostgresStore`.
    """
    if partition_size < 1:
        raise SpecError(f"partition_size must be >= 1: {partition_size}")
    board = board_for(sync.store)
    name = sync.validate(spec)
    run_id = run_id or uuid.uuid4().hex[:12]
    parts: list[tuple[int, SyncSpec]] = []
    async with (
        sync.licenses.lease(run_id, timeout=sync.license_timeout),
        sync.erp.session() as session,
    ):
        for phase, (data_type, selection) in enumerate(spec.types.items()):
            one = attrs.evolve(spec, platform=name)
            if data_type is DataType.ADDRESSES_AND_ORDERS:
                parts.append(
                    (phase, attrs.evolve(one, types={data_type: selection}))
                )
                continue
            numbers: list[str] = []
            sought = Sought(
                data_type,
                set(selection.numbers)
                if isinstance(selection, Only)
                else set(),
            )
            # Order status as the partition's run reads it: this
            # platform's own, or another platform's numbers fail there.
            async with erp_batches(
                session,
                data_type,
                selection,
                sync.batch_size,
                platform=name if data_type is DataType.ORDER_STATUS else None,
            ) as batches:
                async for batch in batches:
                    numbers += [r.number for r in batch]
                    sought.found(batch)
            # A number that selects nothing goes to a partition too, whose
            # run fails it naming it, rather than vanishing with the cut.
            numbers += [n for n, _ in await sought.unknown(session)]
            identity = identity_of(sync.platforms[name], data_type)
            for chunk, run in _chunks(numbers, partition_size, identity):
                parts.append(
                    (
                        phase,
                        attrs.evolve(
                            one,
                            types={
                                data_type: _partition_selection(
                                    selection, chunk, run
                                )
                            },
                        ),
                    )
                )
    parent = RunRecord(
        id=run_id,
        trigger=Trigger.MANUAL,
        platform=name,
        spec=spec,
        status=RunStatus.QUEUED if parts else RunStatus.SUCCEEDED,
        started_at=sync.clock(),
        ended_at=None if parts else sync.clock(),
        holder=f"partitioned:{len(parts)}",
    )
    await board.create(parent, parts)
    return run_id


@attrs.define
class HeldLicence:
    """
    A `LicensePool` lending its partition's run the licence its worker
    already holds, instead of leasing another.  When the run gives it
    back (to wait for another run's order import), *give_back* has the
    worker return it to *pool* (in the worker's task, which holds it),
    free for other runs meanwhile, and the run takes one from *pool*
    again (within its licence timeout) before it goes on: it never
    works without one.  Without *pool* it gives nothing back.
    """

    held: Lease
    pool: LicensePool | None = None
    give_back: Callable[[], object] | None = None
    _lent: bool = attrs.field(init=False, default=True)

    @property
    def size(self) -> int:
        return 1 if self.pool is None else self.pool.size

    async def holders(self) -> tuple[str, ...]:
        if self.pool is None:
            return (self.held.holder,)
        return await self.pool.holders()

    @asynccontextmanager
    async def lease(
        self, holder: str, *, timeout: float
    ) -> AsyncIterator[Lease]:
        if self._lent or self.pool is None:
            self._lent = False
            try:
                yield self.held
            finally:
                if self.give_back is not None:
                    self.give_back()
        else:
            async with self.pool.lease(holder, timeout=timeout) as lease:
                yield lease

"""
One import of a platform's orders at a time, across every process that
shares the store.

An ERP that finds an order (or a customer) and creates it when it is not
there makes two of it when two runs import the same order at the same
moment: a manual ``ecomsync run`` beside the scheduled import of
``ecomsync serve`` would make two sales for one shop order.  So a run
holds the store's lease ``"orders:<platform>"`` (`RunLeases`) while it
imports that platform's orders; another run waits for it, and then finds
the orders already in.  Different platforms import at once.

A run does not wait holding its ERP licence (licences are scarce, and
shared with the ERP's users): where its import would wait, `importing`
raises `LeaseBusy` out of the run's work, which gives its ERP session
and licence back; the lifecycle waits for the lease with `wait_free`
and takes a licence again (with the whole licence timeout), and the run
goes on at its order import.  No run waits for a licence while holding
the lease, nor for the lease while holding a licence (a partition gives
its worker's licence back too: `HeldLicence`), so lease and licence
cannot deadlock across processes.

The holder beats every `HEARTBEAT_INTERVAL` seconds.  A lease whose
holder's process is gone on this host is taken over at once.  One that
has not beaten for `STALE_AFTER` (a process dead on another host, or
stalled) is taken over once this waiter has seen its beat stand still
for two beats: clocks that stepped or disagree between hosts never take
a live holder's lease.  A holder that cannot renew for half the stale
time stops importing before anyone could take over.  A store without
`RunLeases` keeps the behaviour of before: no lease.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import anyio

from . import _instrument, _ownership
from ._anyio_util import task_group
from ._contracts import RunLease, RunOwner
from ._run import Run, leaves, log
from ._spec import DataType
from .exceptions import EcomsyncError, RunCancelled, StateStoreError
from .typing import RunLeases


__all__ = [
    "POLL_INTERVAL",
    "LeaseBusy",
    "importing",
    "lease_name",
    "until_busy",
]

#: Seconds between looks at a lease another run holds.
POLL_INTERVAL = 1.0


def lease_name(platform: str) -> str:
    """
    The lease a run holds while it imports *platform*'s orders.
    """
    return f"orders:{platform}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LeaseBusy(Exception):
    """
    Raised out of a run's work where its order import would wait for
    another run's lease: the run gives its licence back, waits
    (`wait_free`), takes a licence again and goes on.  Never reaches a
    host: the lifecycle catches it (`until_busy`).
    """

    def __init__(self, store: RunLeases, name: str) -> None:
        super().__init__(f"the lease {name} is held by another run")
        self.store, self.name = store, name

    async def wait_free(self, run: Run) -> None:
        """
        Return once the lease may be taken (cancellably).
        """
        await _settle(self.store, self.name, run, None)


async def until_busy(work: Callable[[], Awaitable[None]]) -> LeaseBusy | None:
    """
    Do *work*; return the `LeaseBusy` that stopped it, if any.
    """
    try:
        await work()
    except Exception as exc:
        found = list(leaves(exc))
        busy = [e for e in found if isinstance(e, LeaseBusy)]
        if busy and len(busy) == len(found):
            return busy[0]
        raise
    return None


@asynccontextmanager
async def importing(
    store: object, run: Run, data_type: DataType
) -> AsyncIterator[None]:
    """
    Hold *run*'s platform's order lease for the block if *data_type* is
    `DataType.ADDRESSES_AND_ORDERS` and *store* keeps leases; raise
    `LeaseBusy` while another live run holds it.
    """
    if data_type is not DataType.ADDRESSES_AND_ORDERS or not isinstance(
        store, RunLeases
    ):
        yield
        return
    name = lease_name(run.platform_name)
    token = uuid.uuid4().hex
    lost: list[StateStoreError] = []
    try:
        # Inside: a take whose outcome stayed unknown is given up too.
        await _settle(store, name, run, token)
        try:
            async with task_group() as tg:
                tg.start_soon(_renew, store, name, token, run, lost)
                try:
                    yield
                finally:
                    tg.cancel_scope.cancel()
        except Exception as exc:
            # The stop _renew asked for: the run fails with the reason
            # (nobody cancelled it, and its import may overlap the
            # taker's), not cancelled with the reason in the log only.
            if lost and all(isinstance(e, RunCancelled) for e in leaves(exc)):
                raise lost[0] from exc
            raise
        if lost:
            raise lost[0]
    finally:
        # Also when cancelled or failed; a lease left behind (the store
        # failing now) is taken over once it has not beaten for a while.
        with anyio.CancelScope(shield=True):
            try:
                await store.release_lease(name, token)
            except EcomsyncError as exc:
                log.warning(
                    "run %s could not give up the lease %s: %s",
                    run.id,
                    name,
                    exc,
                    extra=_instrument.fields(),
                )


def why_free(
    held: RunLease, *, now: datetime, me: RunOwner, run_id: str
) -> str | None:
    """
    Why the lease *held* may be taken over, or ``None`` while its holder
    lives.
    """
    stale_after = _ownership.STALE_AFTER
    if held.run_id == run_id and held.owner == me:
        return "this run held it before"  # a release that failed
    reason = _ownership.why_gone(
        held.owner, held.heartbeat_at, now=now, stale_after=stale_after
    )
    if reason is None and now - held.heartbeat_at > stale_after:
        reason = (
            f"it has not beaten since {held.heartbeat_at.isoformat()} "
            f"(more than {stale_after.total_seconds():g} s)"
        )
    return reason


async def _take_once(
    store: RunLeases, mine: RunLease, *, seen: RunLease | None
) -> bool:
    """
    `RunLeases.take_lease`, settled by reading the lease back when the
    store cannot tell whether the take was written (PostgreSQL: a COMMIT
    whose reply was lost): the fresh token is this run's alone.
    """
    try:
        return await store.take_lease(mine, seen=seen)
    except EcomsyncError:
        held = await store.lease_holder(mine.name)
        if held is not None and held.token == mine.token:
            return True
        raise


def _at_once(held: RunLease, *, me: RunOwner, run_id: str) -> bool:
    """
    Whether *held* may be taken over without watching it: this run's own
    lease, or a holder on this host whose process is gone (judged by its
    pid and start, which no clock step moves).
    """
    if held.run_id == run_id and held.owner == me:
        return True
    beat = held.heartbeat_at
    # `now` = its own beat: only the host's checks can find it gone.
    return _ownership.why_gone(held.owner, beat, now=beat) is not None


def _still_for() -> float:
    """
    Seconds a lease must be seen standing still (its heartbeat unchanged)
    before a waiter takes it over: two of the holder's beats.
    """
    return 2 * _ownership.HEARTBEAT_INTERVAL


async def _settle(
    store: RunLeases, name: str, run: Run, token: str | None
) -> None:
    """
    Take the lease *name* for *run* with *token*, raising `LeaseBusy`
    where that would wait for another live run; with *token* None, wait
    (cancellably) until the lease may be taken, without taking it.
    """
    me = _ownership.this_owner()
    # When this run first saw each (token, heartbeat) of a holder, on its
    # own monotonic clock: a wall clock that stepped (NTP's first sync, a
    # VM resumed) or another host's skew makes a live holder's beat look
    # old, but a live holder's beat changes.  Kept on the run: the take
    # after a wait judges by what the wait saw.
    first_seen = run.lease_seen
    while True:
        now = _utcnow()
        held = await store.lease_holder(name)
        reason: str | None = "nobody holds it"
        if held is not None:
            reason = why_free(held, now=now, me=me, run_id=run.id)
            if reason is not None and not _at_once(held, me=me, run_id=run.id):
                seen = first_seen.setdefault(
                    (held.token, held.heartbeat_at), anyio.current_time()
                )
                if anyio.current_time() - seen < _still_for():
                    reason = None  # old by the clocks: watch it beat first
        if reason is not None and token is None:
            return
        if reason is not None and token is not None:
            mine = RunLease(
                name=name,
                run_id=run.id,
                token=token,
                owner=me,
                heartbeat_at=now,
            )
            if not await _take_once(store, mine, seen=held):
                continue  # another run took it first
            if held is not None:
                log.warning(
                    "run %s takes the lease %s over from run %s: %s",
                    run.id,
                    name,
                    held.run_id,
                    reason,
                    extra=_instrument.fields(),
                )
            break
        if token is not None:
            # Waited for without the licence (see the module's doc).
            raise LeaseBusy(store, name)
        if held is not None and run.lease_waited_for != held.run_id:
            run.lease_waited_for = held.run_id
            log.warning(
                "run %s waits for run %s (%s), which imports the orders "
                "of %r: one import at a time, so that no order is "
                "imported twice",
                run.id,
                held.run_id,
                held.owner or "owner unknown",
                run.platform_name,
                extra=_instrument.fields(),
            )
        await run.cancel.check()
        await anyio.sleep(POLL_INTERVAL)
    if run.lease_waited_for is not None:
        log.info(
            "run %s imports the orders of %r now",
            run.id,
            run.platform_name,
            extra=_instrument.fields(),
        )


async def _renew(
    store: RunLeases,
    name: str,
    token: str,
    run: Run,
    lost: list[StateStoreError],
) -> None:
    renewed = anyio.current_time()
    while True:
        await anyio.sleep(_ownership.HEARTBEAT_INTERVAL)
        try:
            held = await store.renew_lease(name, token, _utcnow())
        except EcomsyncError as exc:
            log.warning(
                "run %s could not renew the lease %s: %s",
                run.id,
                name,
                exc,
                extra=_instrument.fields(),
            )
            unrenewed = anyio.current_time() - renewed
            if unrenewed > _ownership.STALE_AFTER.total_seconds() / 2:
                # Before the lease looks stale to others: past that, a run
                # of another host takes it over while this one imports on.
                lost.append(
                    StateStoreError(
                        f"run {run.id} could not renew the lease {name} for "
                        f"{unrenewed:.1f} s ({exc}): it stopped importing "
                        f"the orders of {run.platform_name!r} before "
                        "another run takes the lease over"
                    )
                )
                run.cancel.request()
                return
            continue
        renewed = anyio.current_time()
        if not held:
            # Taken over: this process stalled past the stale time, and
            # another run imports these orders now.
            log.warning(
                "run %s lost the lease %s to another run; stopping it",
                run.id,
                name,
                extra=_instrument.fields(),
            )
            lost.append(await _lost(store, name, run))
            run.cancel.request()
            return


async def _lost(store: RunLeases, name: str, run: Run) -> StateStoreError:
    """
    The error a run ends with whose lease *name* another run took over.
    """
    try:
        taker = await store.lease_holder(name)
    except EcomsyncError:
        taker = None
    by = (
        "another run"
        if taker is None
        else f"run {taker.run_id} ({taker.owner or 'owner unknown'})"
    )
    return StateStoreError(
        f"run {run.id} lost the lease {name} to {by}, which took the "
        f"import of the orders of {run.platform_name!r} over: this "
        f"process did not renew it for "
        f"{_ownership.STALE_AFTER.total_seconds():g} s (it stalled, or "
        "could not reach the store); this run stopped importing"
    )

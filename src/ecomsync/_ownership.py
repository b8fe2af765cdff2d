"""
Run ownership: every queued or running run names the process that runs
it (`RunOwner`) and beats while that process lives; whoever starts a run
first ends the runs whose owner is dead, as `RunStatus.ABANDONED` with the
reason, so that no run stays "running" for ever.

An owner is dead when

- it ran on this host, in this pid namespace, and its process is gone (or
  the pid now belongs to a process that started at another time: a reused
  pid; or the host restarted since), or
- its last heartbeat is older than *stale_after* (another host, or a
  process that hangs): the only sign there is across machines.

What a dead run held comes back: its licence by itself (the file lock or
advisory lock of its process), its staged files when `MediaStaging`
opens, and the claim on its schedule (if `Synchronizer.serve` started it)
when it is found abandoned.  An abandoned run can still be resumed; a
scheduled run reads from the watermark, which an unfinished type never
moved.

Engine-independent: the engine calls `keep_alive` around a run and
`reap_abandoned` when one starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import anyio
import attrs

from . import _instrument
from ._anyio_util import task_group
from ._contracts import RunOwner, RunRecord, RunStatus
from .exceptions import EcomsyncError, StateStoreError
from .typing import RunOwnership, RunStore


__all__ = [
    "HEARTBEAT_INTERVAL",
    "STALE_AFTER",
    "Host",
    "boot_id",
    "keep_alive",
    "reap_abandoned",
    "this_owner",
    "why_dead",
    "why_gone",
]

log = logging.getLogger("ecomsync.ownership")

#: Seconds between heartbeats of a live run.
HEARTBEAT_INTERVAL = 15.0
#: A run whose owner has not beaten for this long counts as abandoned.
STALE_AFTER = timedelta(minutes=5)


def process_start(pid: int) -> float | None:
    """
    When process *pid* started, in seconds after this host booted (to the
    clock tick), or ``None`` if it does not exist, is a zombie, or the
    system does not say (no ``/proc``).

    Not a wall-clock time: the boot time that would make it one
    (``/proc/stat``'s ``btime``) moves with every step of the clock (NTP's
    first sync, a VM resumed), and two processes that read it on either
    side of a step took a live owner for a reused pid.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return round(int(fields[19]) / os.sysconf("SC_CLK_TCK"), 2)


@cache
def boot_id() -> str | None:
    """
    This boot of the host (Linux's random boot id), or ``None`` where the
    system does not say: start times after boot mean something only
    within one boot.
    """
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:  # pragma: no cover -- no /proc
        return None


def pid_alive(pid: int) -> bool:
    """
    Whether a process *pid* exists on this host (not a zombie).
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    state = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return state.read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    return True  # pragma: no cover -- no /proc: the pid exists


def pid_space() -> str | None:
    """
    The pid namespace of this process (``pid:[4026531836]``), or ``None``
    where there is no ``/proc``.
    """
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:  # pragma: no cover -- no /proc
        return None


@attrs.frozen
class Host:
    """
    How this host sees processes (replaceable in tests).
    """

    name: str = attrs.field(factory=socket.gethostname)
    alive: Callable[[int], bool] = pid_alive
    started: Callable[[int], float | None] = process_start
    pid_space: str | None = attrs.field(factory=pid_space)
    boot: str | None = attrs.field(factory=boot_id)


def this_owner() -> RunOwner:
    """
    This process, as the owner of the runs it starts.
    """
    return _owner(os.getpid())


@cache
def _owner(pid: int) -> RunOwner:
    return RunOwner(
        host=socket.gethostname(),
        pid=pid,
        started=process_start(pid),
        pid_space=pid_space(),
        boot=boot_id(),
    )


#: Start times are whole clock ticks after boot, read the same by every
#: process: only float rounding may tell them apart.
_START_TOLERANCE = 0.005


def why_dead(
    run: RunRecord,
    *,
    now: datetime,
    stale_after: timedelta = STALE_AFTER,
    host: Host | None = None,
) -> str | None:
    """
    Why *run*'s owner is dead, or ``None`` if it may be alive (or the run
    has no owner: partitioned parents, records of older versions).
    """
    return why_gone(
        run.owner,
        run.heartbeat_at or run.started_at,
        now=now,
        stale_after=stale_after,
        host=host,
    )


def why_gone(
    owner: RunOwner | None,
    beat: datetime,
    *,
    now: datetime,
    stale_after: timedelta = STALE_AFTER,
    host: Host | None = None,
) -> str | None:
    """
    Why process *owner*, which last beat at *beat*, is dead (the rules of
    `why_dead`), or ``None`` if it may be alive (or is unknown).
    """
    if owner is None:
        return None
    host = host or Host()
    # Its pid means something here only on this host and in this pid
    # namespace (containers may share a host name, not their pids).
    if owner.host == host.name and owner.pid_space in (None, host.pid_space):
        if None not in (owner.boot, host.boot) and owner.boot != host.boot:
            # Its pid and start time are of another boot: a process
            # started as long after this boot may hold that pid now.
            return f"its host restarted since its process ({owner}) ran"
        if not host.alive(owner.pid):
            return f"its process ({owner}) is gone"
        started = host.started(owner.pid)
        if (
            owner.started is not None
            and started is not None
            and abs(started - owner.started) > _START_TOLERANCE
        ):
            return (
                f"its process ({owner}) is gone; the pid now belongs to "
                "another process"
            )
        return None
    if now - beat > stale_after:
        return (
            f"its process ({owner}) has not beaten since "
            f"{beat.isoformat()} (more than "
            f"{stale_after.total_seconds():g} s)"
        )
    return None


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def reap_abandoned(
    store: RunStore,
    *,
    now: datetime | None = None,
    stale_after: timedelta = STALE_AFTER,
    keep: Collection[str] = (),
    host: Host | None = None,
) -> list[RunRecord]:
    """
    End the queued and running runs of *store* whose owner is dead as
    `RunStatus.ABANDONED` (with the reason in `RunRecord.error`), except
    those in *keep*; return them.  A store that keeps no owners
    (no `RunOwnership`) has none to end.

    Heartbeats are wall-clock times, so *now* is too (the default).
    """
    if not isinstance(store, RunOwnership):
        return []
    now = now or _utcnow()
    ended: list[RunRecord] = []
    for run in await store.live_runs():
        if run.id in keep:
            continue
        reason = why_dead(run, now=now, stale_after=stale_after, host=host)
        if reason is None:
            continue
        abandoned = attrs.evolve(
            run,
            status=RunStatus.ABANDONED,
            ended_at=now,
            error=f"abandoned: {reason}",
        )
        try:
            gone = await store.abandon_run(abandoned, seen=run)
        except StateStoreError:
            # Its COMMIT may have gone unanswered (PostgresStore): read it
            # back, as a run ended so is not live to the next reap, which
            # would then never free the schedule its process held.
            now_seen = await store.get_run(run.id)
            if now_seen is None or (
                now_seen.status,
                now_seen.ended_at,
                now_seen.error,
            ) != (abandoned.status, abandoned.ended_at, abandoned.error):
                raise
            gone = True
        if gone:
            log.warning(
                "run %s %s",
                run.id,
                abandoned.error,
                extra=_instrument.fields(
                    run_id=run.id, platform=run.platform, data_type=None
                ),
            )
            ended.append(abandoned)
            owner = run.owner
            if run.schedule_id is not None and owner is not None:
                # `Synchronizer.serve` claims a schedule as
                # "host:pid:<token>" of its process (`_run.holder`).
                await store.drop_claim(
                    run.schedule_id, f"{owner.host}:{owner.pid}:"
                )
    return ended


@asynccontextmanager
async def keep_alive(
    store: RunStore,
    run_id: str,
    *,
    on_lost: Callable[[], None],
    clock: Callable[[], datetime] = _utcnow,
    interval: float = HEARTBEAT_INTERVAL,
) -> AsyncIterator[None]:
    """
    Beat for run *run_id* every *interval* seconds while the block runs
    (at once, too); call *on_lost* if the run was ended by someone else
    (found abandoned) or its record names another owner (resumed by
    another process meanwhile).  A store error while beating is logged
    and the beat tried again.
    """
    if not isinstance(store, RunOwnership):
        yield
        return
    beating = store
    mine = this_owner()

    async def beat() -> None:
        while True:
            try:
                alive = await beating.beat(run_id, clock())
                if alive:
                    # Found abandoned while this process stalled, then
                    # resumed by another one: the run is that one's now.
                    seen = await store.get_run(run_id)
                    owner = None if seen is None else seen.owner
                    alive = owner is None or owner == mine
            except EcomsyncError as exc:
                log.warning(
                    "heartbeat of run %s failed: %s",
                    run_id,
                    exc,
                    extra=_instrument.fields(run_id=run_id),
                )
            else:
                if not alive:
                    log.warning(
                        "run %s was ended elsewhere (found abandoned) or "
                        "taken over by another process; stopping it",
                        run_id,
                        extra=_instrument.fields(run_id=run_id),
                    )
                    on_lost()
                    return
            await anyio.sleep(interval)

    async with task_group() as tg:
        tg.start_soon(beat)
        try:
            yield
        finally:
            tg.cancel_scope.cancel()

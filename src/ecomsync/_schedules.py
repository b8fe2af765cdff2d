"""
Serving schedules: due schedules run as `Trigger.SCHEDULED` runs, never
two runs of one schedule at once (the store's claim also holds across
processes).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio

from . import _instrument
from ._anyio_util import task_group
from ._contracts import RunStatus, Schedule
from ._ownership import HEARTBEAT_INTERVAL, reap_abandoned
from ._run import RunEvents, holder, log
from ._spec import SyncSpec
from .events import Event
from .exceptions import (
    EcomsyncError,
    ResourceClosed,
    SpecError,
    StateStoreError,
)
from .typing import StateStore


#: Starts the scheduled run of a schedule; the block reads its events.
Start = Callable[[Schedule], AbstractAsyncContextManager[RunEvents]]


def new_schedule(
    spec: SyncSpec,
    *,
    now: datetime,
    every: timedelta | None,
    first_due: datetime | None,
    schedule_id: str | None,
    cron: str | None,
    zone: str | None,
) -> Schedule:
    """
    A schedule of *spec*: every *every*, or at the times of *cron* in
    *zone* (first due at its next time unless *first_due* says so).
    """
    if (every is None) == (cron is None):
        raise SpecError("a schedule needs either every or cron")
    # A number of seconds (every=300) failed with a bare TypeError.
    if every is not None and (
        not isinstance(every, timedelta) or every <= timedelta(0)
    ):
        raise SpecError(
            f"a schedule needs a positive interval (a timedelta), got "
            f"{every!r}"
        )
    if cron is None and zone is not None:
        raise SpecError("zone applies to cron schedules only")
    if first_due is not None and (
        not isinstance(first_due, datetime) or first_due.utcoffset() is None
    ):
        # Kept, a naive moment would stop serve() for every schedule: it
        # cannot be compared with the aware "now".
        raise SpecError(
            f"a schedule's first_due must be a timezone-aware datetime, "
            f"got {first_due!r}"
        )
    if cron is not None and first_due is None:
        first_due = next_slot(cron, zone, now)
    return Schedule(
        id=schedule_id or uuid.uuid4().hex[:12],
        spec=spec,
        interval=every or timedelta(0),
        next_due=first_due or now,
        cron=cron,
        zone=zone,
    )


def next_slot(cron: str, zone: str | None, after: datetime) -> datetime:
    """
    The first time of the *cron* rule (read in *zone*, UTC if ``None``)
    strictly after *after*, as an aware UTC datetime.  Needs the extra
    ``cron`` (cronsim).

    Raises:
        SpecError: The rule or the zone is not valid, or cronsim is
            missing.
    """
    try:
        from cronsim import CronSim, CronSimError
    except ImportError:
        raise SpecError(
            "cron schedules need the extra 'cron': "
            "pip install 'ecomsync[cron]'"
        ) from None
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise SpecError(
            f"unknown time zone {zone!r}; use an IANA name such as "
            "'Europe/Berlin'"
        ) from None
    local = after.astimezone(tz)
    try:
        found = next(CronSim(cron, local))
    except CronSimError as exc:
        raise SpecError(f"cron rule {cron!r}: {exc}") from None
    return found.astimezone(UTC)


def following_due(schedule: Schedule, now: datetime) -> datetime:
    """
    When *schedule* is due next after a run that ended at *now*: one
    interval later, or the cron rule's next time after *now*, so that
    slots missed while nothing served run once, not once each.
    """
    if schedule.cron is not None:
        return next_slot(schedule.cron, schedule.zone, now)
    return now + schedule.interval


async def serve(
    store: StateStore,
    clock: Callable[[], datetime],
    start: Start,
    *,
    poll_interval: float,
    on_event: Callable[[Event], None] | None,
    until: Callable[[], bool],
    closing: Callable[[], bool] = lambda: False,
) -> None:
    """
    Run the due schedules of *store* with *start* until cancelled or
    *until* returns true; *closing* says whether the synchroniser is
    closing (its runs then end cancelled, their schedules due).  A store
    that fails for a while (a database restart) is logged and asked again
    at the next poll: serving goes on, and the claims it could not release
    are released once it answers.
    """
    # This server; each claim adds a number of its own, so that a claim
    # whose outcome the store could not tell (a COMMIT unanswered) can be
    # let go without touching another claim of this server's.
    claimant = f"{holder()}:{uuid.uuid4().hex[:6]}"
    tokens = (f"{claimant}:{n}" for n in itertools.count(1))
    reaped = -math.inf
    # Claims the store could not release (it was away), by holder token,
    # with the schedule and the due time each is to be released with.
    unreleased: dict[str, tuple[str, datetime]] = {}
    try:
        async with task_group() as tg:
            while not until():
                try:
                    await _release_each(store, unreleased)
                    if time.monotonic() - reaped >= HEARTBEAT_INTERVAL:
                        # A dead server's runs end as abandoned and free
                        # the schedules it had claimed.
                        await reap_abandoned(store)
                        reaped = time.monotonic()
                    for schedule, token in await _claim_due(
                        store, clock(), tokens, unreleased
                    ):
                        tg.start_soon(
                            _serve_one,
                            store,
                            clock,
                            start,
                            schedule,
                            token,
                            on_event,
                            unreleased,
                            closing,
                        )
                except StateStoreError as exc:
                    _log_outage(exc)
                await anyio.sleep(poll_interval)
            tg.cancel_scope.cancel()
    finally:
        # Once more on the way out (bounded: a store that hangs must not
        # hold the host's cancellation); what is still held is freed when
        # its lease ends.
        with (
            anyio.move_on_after(5, shield=True),
            contextlib.suppress(StateStoreError),
        ):
            await _release_each(store, unreleased)


def _log_outage(exc: StateStoreError) -> None:
    log.warning(
        "serving schedules: %s; trying again at the next poll",
        exc,
        extra=_instrument.fields(run_id=None, platform=None, data_type=None),
    )


async def _release_each(
    store: StateStore, unreleased: dict[str, tuple[str, datetime]]
) -> None:
    """
    Release the claims of *unreleased* (forgetting each released).
    """
    for token, (schedule_id, next_due) in list(unreleased.items()):
        await store.release_schedule(schedule_id, token, next_due)
        del unreleased[token]


async def _claim_due(
    store: StateStore,
    now: datetime,
    tokens: Iterator[str],
    unreleased: dict[str, tuple[str, datetime]],
) -> list[tuple[Schedule, str]]:
    """
    Claim the schedules due at *now*, each with the next of *tokens*;
    return those to run, with their tokens.
    """
    claimed = []
    held = {schedule_id for schedule_id, _ in unreleased.values()}
    for schedule in await store.list_schedules():
        if schedule.next_due > now or schedule.id in held:
            continue
        lease = now + max(schedule.interval, timedelta(hours=1))
        token = next(tokens)
        try:
            if not await store.claim_schedule(
                schedule.id, token, lease, now=now
            ):
                continue
            due = await _still_due(store, schedule, token, now)
        except StateStoreError:
            # Claimed, or perhaps claimed (a COMMIT whose answer was
            # lost), then the store went away: let it go as it was (due)
            # when the store answers again, so that it runs at the next
            # poll, not once the claim's lease ends.  The token is this
            # claim's alone: letting it go never frees a run in flight.
            unreleased[token] = (schedule.id, schedule.next_due)
            raise
        if due:
            claimed.append((schedule, token))
    return claimed


async def _still_due(
    store: StateStore, schedule: Schedule, token: str, now: datetime
) -> bool:
    """
    Whether a schedule just claimed is still due.  The list it was picked
    from may be stale: its last run may have ended and re-armed it since
    (the claim only says nobody holds it).  If so, let it go untouched.
    """
    fresh = next(
        (s for s in await store.list_schedules() if s.id == schedule.id),
        None,
    )
    if fresh is not None and fresh.next_due <= now:
        return True
    await store.release_schedule(
        schedule.id, token, (fresh or schedule).next_due
    )
    return False


def _stopped(events: RunEvents, closing: Callable[[], bool]) -> bool:
    """
    Whether the run of *events* ended cancelled because its synchroniser
    is closing (serving stops): its schedule then stays due.
    """
    summary = events.summary
    return (
        summary is not None
        and summary.status is RunStatus.CANCELLED
        and closing()
    )


async def _serve_one(
    store: StateStore,
    clock: Callable[[], datetime],
    start: Start,
    schedule: Schedule,
    token: str,
    on_event: Callable[[Event], None] | None,
    unreleased: dict[str, tuple[str, datetime]],
    closing: Callable[[], bool] = lambda: False,
) -> None:
    events: RunEvents | None = None
    next_due = None
    try:
        async with start(schedule) as events:
            async for event in events:
                if on_event is not None:
                    on_event(event)
        if _stopped(events, closing):
            next_due = schedule.next_due
    except EcomsyncError as exc:
        if events is None and isinstance(exc, ResourceClosed):
            # The synchroniser closed before the run started: it stays
            # due, for whoever serves next.
            next_due = schedule.next_due
            return
        summary = None if events is None else events.summary
        log.warning(
            "scheduled run of %s failed: %s",
            schedule.id,
            exc,
            extra=_instrument.fields(
                run_id=None if events is None else events.run_id,
                platform=(
                    schedule.spec.platform
                    if summary is None
                    else summary.platform
                ),
                schedule_id=schedule.id,
            ),
        )
    except anyio.get_cancelled_exc_class():
        if (
            events is None
            or events.summary is None
            or _stopped(events, closing)
        ):
            # Serving stopped under the run (SIGTERM, Ctrl-C, a deploy):
            # it stays due for whoever serves next, rather than losing
            # its turn (a nightly schedule, a night).
            next_due = schedule.next_due
        raise
    finally:
        next_due = next_due or following_due(schedule, clock())
        with anyio.CancelScope(shield=True):
            try:
                await store.release_schedule(schedule.id, token, next_due)
            except StateStoreError as exc:
                # Held until the store answers: `serve` releases it then
                # (a claim left held would keep the schedule from running
                # for its whole lease, an hour or more).
                unreleased[token] = (schedule.id, next_due)
                _log_outage(exc)

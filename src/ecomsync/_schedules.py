"""
Serving schedules: due schedules run as `Trigger.SCHEDULED` runs, never
two runs of one schedule at once (the store's claim also holds across
processes).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio

from ._anyio_util import task_group
from ._contracts import Schedule
from ._run import holder, log
from ._spec import Trigger
from .events import Event
from .exceptions import EcomsyncError


if TYPE_CHECKING:
    from ._engine import Synchronizer


async def serve(
    sync: Synchronizer,
    *,
    poll_interval: float,
    on_event: Callable[[Event], None] | None,
    until: Callable[[], bool],
) -> None:
    """
    Run *sync*'s due schedules until cancelled or *until* returns true.
    """
    claimant = f"{holder()}:{uuid.uuid4().hex[:6]}"
    async with task_group() as tg:
        while not until():
            now = sync.clock()
            for schedule in await sync.store.list_schedules():
                if schedule.next_due > now:
                    continue
                lease = now + max(schedule.interval, timedelta(hours=1))
                if await sync.store.claim_schedule(
                    schedule.id, claimant, lease, now=now
                ):
                    tg.start_soon(
                        _serve_one, sync, schedule, claimant, on_event
                    )
            await anyio.sleep(poll_interval)
        tg.cancel_scope.cancel()


async def _serve_one(
    sync: Synchronizer,
    schedule: Schedule,
    claimant: str,
    on_event: Callable[[Event], None] | None,
) -> None:
    try:
        async with sync._start(
            schedule.spec, Trigger.SCHEDULED, schedule_id=schedule.id
        ) as events:
            async for event in events:
                if on_event is not None:
                    on_event(event)
    except EcomsyncError as exc:
        log.warning("scheduled run of %s failed: %s", schedule.id, exc)
    finally:
        with anyio.CancelScope(shield=True):
            await sync.store.release_schedule(
                schedule.id, claimant, sync.clock() + schedule.interval
            )

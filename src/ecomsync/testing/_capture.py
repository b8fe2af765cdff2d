"""
Collecting a run's events for assertions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

import attrs

from .._contracts import RunRecord
from .._engine import Synchronizer
from .._spec import SyncSpec, Trigger
from ..events import Event


E = TypeVar("E")


@attrs.define
class CapturedRun:
    """
    The events of one run, in order, and its final record.
    """

    events: list[Event] = attrs.Factory(list)
    summary: RunRecord | None = None

    def of(self, kind: type[E]) -> list[E]:
        """
        The events of one class.
        """
        return [e for e in self.events if isinstance(e, kind)]


@asynccontextmanager
async def capture_events(
    sync: Synchronizer,
    spec: SyncSpec,
    *,
    trigger: Trigger = Trigger.MANUAL,
) -> AsyncIterator[CapturedRun]:
    """
    Run *spec* to the end and collect every event; the block sees them.
    """
    captured = CapturedRun()
    async with sync.run(spec, trigger=trigger) as events:
        async for event in events:
            captured.events.append(event)
    captured.summary = events.summary
    yield captured

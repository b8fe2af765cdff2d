"""
Cron schedules: a rule read in a time zone; missed times run once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from ecomsync import (
    All,
    RunFinished,
    SpecError,
    SqliteStore,
    Synchronizer,
)
from ecomsync._contracts import Schedule
from ecomsync._schedules import following_due, next_slot

from ._support import spec


pytestmark = pytest.mark.anyio

NOW = datetime(2026, 12, 4, 10, 17, tzinfo=UTC)


class TestNextSlot:
    async def test_nightly_in_berlin_winter_and_summer(self) -> None:
        """'0 2 * * *' in Europe/Berlin is 01:00 UTC in winter, 00:00 in
        summer."""
        winter = next_slot("0 2 * * *", "Europe/Berlin", NOW)
        summer = next_slot(
            "0 2 * * *", "Europe/Berlin", datetime(2026, 7, 1, 10, tzinfo=UTC)
        )

        assert datetime(2026, 12, 5, 1, tzinfo=UTC) == winter
        assert datetime(2026, 7, 2, 0, tzinfo=UTC) == summer

    async def test_strictly_after_and_utc_by_default(self) -> None:
        """A time equal to *after* is not the next one; no zone is UTC."""
        at = datetime(2026, 12, 4, 11, tzinfo=UTC)

        assert datetime(2026, 12, 4, 12, tzinfo=UTC) == next_slot(
            "0 * * * *", None, at
        )

    async def test_bad_rule_and_zone_are_spec_errors(self) -> None:
        """A rule cronsim refuses, or an unknown zone, names itself."""
        with pytest.raises(SpecError, match="cron rule '61 \\* \\* \\* \\*'"):
            next_slot("61 * * * *", None, NOW)
        with pytest.raises(SpecError, match="unknown time zone 'Mars/Base'"):
            next_slot("0 2 * * *", "Mars/Base", NOW)

    async def test_following_due_of_an_interval_schedule(self) -> None:
        """An interval schedule is due one interval after its run."""
        schedule = Schedule(
            id="s",
            spec=spec(stock=All()),
            interval=timedelta(hours=2),
            next_due=NOW,
        )

        assert NOW + timedelta(hours=2) == following_due(schedule, NOW)


class TestCronSchedules:
    async def test_add_keeps_rule_and_zone(
        self, sync: Synchronizer, store: SqliteStore
    ) -> None:
        """add_schedule(cron=, zone=) stores both; first due at the next
        time of the rule."""
        sync.clock = lambda: NOW

        await sync.add_schedule(
            spec(stock=All()),
            cron="0 2 * * *",
            zone="Europe/Berlin",
            schedule_id="nightly",
        )

        (schedule,) = await store.list_schedules()
        assert ("0 2 * * *", "Europe/Berlin") == (schedule.cron, schedule.zone)
        assert timedelta(0) == schedule.interval
        assert datetime(2026, 12, 5, 1, tzinfo=UTC) == schedule.next_due

    async def test_every_or_cron_exactly_one(self, sync: Synchronizer) -> None:
        """Neither or both of every and cron, or a zone without cron,
        is a SpecError."""
        with pytest.raises(SpecError, match="either every or cron"):
            await sync.add_schedule(spec(stock=All()))
        with pytest.raises(SpecError, match="either every or cron"):
            await sync.add_schedule(
                spec(stock=All()), every=timedelta(1), cron="0 2 * * *"
            )
        with pytest.raises(SpecError, match="zone applies to cron"):
            await sync.add_schedule(
                spec(stock=All()), every=timedelta(1), zone="UTC"
            )

    async def test_missed_times_run_once(
        self, sync: Synchronizer, store: SqliteStore
    ) -> None:
        """A cron schedule last due five hours ago (nothing served) runs
        once on start and is then due at the rule's next time."""
        sync.clock = lambda: NOW
        await store.save_schedule(
            Schedule(
                id="hourly",
                spec=spec(stock=All()),
                interval=timedelta(0),
                next_due=NOW - timedelta(hours=5),
                cron="0 * * * *",
            )
        )
        seen: list[object] = []
        polls_after = 0

        def until() -> bool:
            nonlocal polls_after
            if any(isinstance(e, RunFinished) for e in seen):
                polls_after += 1
            return polls_after > 10

        with anyio.fail_after(10):
            await sync.serve(
                poll_interval=0.01, on_event=seen.append, until=until
            )

        assert 1 == len([e for e in seen if isinstance(e, RunFinished)])
        (schedule,) = await store.list_schedules()
        assert datetime(2026, 12, 4, 11, tzinfo=UTC) == schedule.next_due

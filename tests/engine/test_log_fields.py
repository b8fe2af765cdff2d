"""
Every record of an ``ecomsync.*`` logger carries the run fields
(``run_id``, ``platform``, ``data_type``), so that a host can route and
filter them.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from ecomsync import (
    All,
    Event,
    MemoryErp,
    MemoryPlatform,
    RunStatus,
    SqliteStore,
    Synchronizer,
)
from ecomsync._contracts import RunOwner, RunRecord
from ecomsync._instrument import fields, log_fields
from ecomsync._ownership import keep_alive, reap_abandoned
from ecomsync._spec import DataType, Trigger

from ._support import BrokenErp, spec


pytestmark = pytest.mark.anyio

FIELDS = ("run_id", "platform", "data_type")


def ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("ecomsync")]


def run_fields(record: logging.LogRecord) -> tuple[object, ...]:
    return tuple(getattr(record, f, "missing") for f in FIELDS)


class BrokenBatches:
    """
    An instrumentation whose batch block cannot be made.
    """

    def event(self, event: Event) -> None:
        pass

    def batch(
        self, run_id: str, data_type: DataType, size: int
    ) -> AbstractContextManager[object]:
        raise RuntimeError("batch")

    def request(self, **kwargs: Any) -> None:  # pragma: no cover - no HTTP
        pass

    def license_wait(self, run_id: str, seconds: float) -> None:
        raise RuntimeError("license_wait")


class TestRunFields:
    async def test_inside_a_run(
        self,
        erp: MemoryErp,
        platform: MemoryPlatform,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A record logged inside a run (here: a broken instrumentation)
        names the run, its platform and the data type being worked."""
        caplog.set_level(logging.INFO)
        async with Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            instrumentation=BrokenBatches(),  # type: ignore[arg-type]
        ) as sync:
            record = await sync.execute(spec(articles=All()))

        telemetry = [r for r in ours(caplog) if r.name == "ecomsync.telemetry"]
        assert {
            ("instrumentation failed in license_wait", None),
            ("instrumentation failed in batch", "articles"),
        } == {(r.getMessage(), r.data_type) for r in telemetry}  # type: ignore[attr-defined]
        for r in ours(caplog):
            assert record.id == r.run_id  # type: ignore[attr-defined]
            assert "shop" == r.platform  # type: ignore[attr-defined]

    async def test_scheduled_run_failed(
        self,
        sync: Synchronizer,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A failed scheduled run is logged with its run id, platform and
        schedule id."""
        sync.erp = BrokenErp()  # type: ignore[assignment]
        schedule = await sync.add_schedule(
            spec(stock=All()), every=timedelta(hours=1)
        )

        def logged() -> bool:
            return any("scheduled run" in r.getMessage() for r in ours(caplog))

        with anyio.fail_after(5), caplog.at_level(logging.WARNING):
            await sync.serve(poll_interval=0.01, until=logged)

        (run,) = await sync.runs()
        (failed,) = [
            r for r in ours(caplog) if "scheduled run" in r.getMessage()
        ]
        assert (run.id, "shop", None) == run_fields(failed)
        assert schedule.id == failed.schedule_id  # type: ignore[attr-defined]

    async def test_abandoned_and_heartbeat(
        self, store: SqliteStore, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Ending a dead process's run and a run found ended elsewhere are
        logged with that run's fields."""
        caplog.set_level(logging.WARNING)
        dead = RunRecord(
            id="r-dead",
            trigger=Trigger.MANUAL,
            platform="shop",
            spec=spec(stock=All()),
            status=RunStatus.RUNNING,
            started_at=datetime(2026, 1, 1, tzinfo=UTC),
            owner=RunOwner(host="elsewhere", pid=1),
            heartbeat_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        await store.save_run(dead)

        await reap_abandoned(store)
        lost = anyio.Event()
        async with keep_alive(store, "r-dead", on_lost=lost.set):
            await lost.wait()

        records = ours(caplog)
        assert 2 == len(records)
        assert [("r-dead", "shop", None), ("r-dead", None, None)] == [
            run_fields(r) for r in records
        ]

    def test_outside_a_run(self) -> None:
        """Outside a run the fields are there, as None; a block adds to
        them and more fields come last."""
        assert {"run_id": None, "platform": None, "data_type": None} == (
            fields()
        )
        with log_fields(run_id="r1", platform="shop"):
            inner = fields(data_type="stock", worker="w")

        assert {
            "run_id": "r1",
            "platform": "shop",
            "data_type": "stock",
            "worker": "w",
        } == inner

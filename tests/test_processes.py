"""
Across processes: a run killed with SIGKILL is resumed without loss or
duplicates; a run is cancelled from another process sharing the store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import anyio
import attrs
import pytest

from ecomsync import (
    DataType,
    RunRecord,
    RunStatus,
    SqliteStore,
    Trigger,
)
from ecomsync._staging_fs import MARKER
from ecomsync.events import Event, RunFinished
from ecomsync.typing import StateStore

from ._child_run import SPEC, synchronizer


pytestmark = pytest.mark.anyio

ROOT = Path(__file__).parent.parent


def start_child(
    directory: Path, *args: str
) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests._child_run", str(directory), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    assert run_id, "the child did not start a run"
    return child, run_id


def journal(directory: Path) -> list[dict[str, str]]:
    path = directory / "journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def wait_for_writes(directory: Path, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(journal(directory)) < count:
        assert time.monotonic() < deadline, "the child wrote nothing"
        time.sleep(0.02)


class TestResume:
    async def test_killed_run_resumes(self, tmp_path: Path) -> None:
        """A run killed mid-way resumes: nothing lost, nothing written
        twice that was committed, licence free, staging clean."""
        child, run_id = start_child(tmp_path)
        wait_for_writes(tmp_path, 40)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
        store = SqliteStore(tmp_path / "state.db")
        committed = {
            t: set(
                await store.get_links(
                    "shop", t, [e["number"] for e in journal(tmp_path)]
                )
            )
            for t in DataType
        }
        before = len(journal(tmp_path))
        dead = await store.get_run(run_id)
        assert dead is not None
        assert RunStatus.RUNNING == dead.status
        await store.aclose()

        sync = synchronizer(tmp_path, latency=0.0)
        async with sync.resume(run_id) as events:
            async for _ in events:
                pass

        assert events.summary is not None
        assert RunStatus.SUCCEEDED == events.summary.status
        assert SPEC == events.summary.spec
        after = journal(tmp_path)[before:]
        for entry in after:
            assert entry["number"] not in committed[DataType(entry["type"])]
        everything = journal(tmp_path)
        ids: dict[tuple[str, str], set[str]] = {}
        for entry in everything:
            ids.setdefault((entry["type"], entry["number"]), set()).add(
                entry["id"]
            )
        assert all(len(v) == 1 for v in ids.values()), "a duplicate"
        per_type = Counter(t for t, _ in ids)
        assert {"categories": 10, "articles": 60, "stock": 60} == per_type
        assert 0 == sync.licenses.in_use  # type: ignore[attr-defined]
        # Nothing but the marker that says the directory is ecomsync's.
        assert [MARKER] == [p.name for p in (tmp_path / "staging").iterdir()]
        assert [] == await sync.store.list_pending()
        await sync.store.aclose()


def kill(child: subprocess.Popen[str]) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.stdout is not None
    child.stdout.close()


async def check_abandoned_then_carried_on(
    directory: Path, store: StateStore, dead_id: str, pid: int
) -> None:
    """
    With *dead_id* killed mid-run (its process *pid* gone), the next
    scheduled run on *store* ends it as abandoned with the reason,
    completes from the watermark, and the dead run can still be resumed.
    """
    # on PostgreSQL, the one licence the dead run held, too
    dsn = getattr(store, "dsn", None)
    sync = attrs.evolve(synchronizer(directory, 0.0, dsn), store=store)

    record = await sync.execute(SPEC, trigger=Trigger.SCHEDULED)
    dead = await store.get_run(dead_id)
    marks = [await store.get_watermark("shop", t) for t in SPEC.types]
    async with sync.resume(dead_id) as events:
        async for _ in events:
            pass

    assert dead is not None
    assert RunStatus.ABANDONED == dead.status
    assert dead.error is not None
    assert f"pid {pid} on " in dead.error
    assert "is gone" in dead.error
    assert dead.ended_at is not None
    assert RunStatus.SUCCEEDED == record.status
    assert [record.started_at] * len(SPEC.types) == marks
    ids: dict[tuple[str, str], set[str]] = {}
    for entry in journal(directory):
        ids.setdefault((entry["type"], entry["number"]), set()).add(
            entry["id"]
        )
    assert all(len(v) == 1 for v in ids.values()), "a duplicate"
    assert {"categories": 10, "articles": 60, "stock": 60} == Counter(
        t for t, _ in ids
    )
    assert events.summary is not None
    assert RunStatus.SUCCEEDED == events.summary.status
    live = [r for r in await store.list_runs() if not r.status.finished]
    assert [] == live


class TestAbandoned:
    async def test_killed_run_abandoned_by_next_run(
        self, tmp_path: Path
    ) -> None:
        """A scheduled run killed with SIGKILL is ended as abandoned, with
        its dead pid as the reason, by the next scheduled run on the
        store, which completes from the watermark; the dead run can still
        be resumed."""
        child, run_id = start_child(tmp_path, "scheduled")
        wait_for_writes(tmp_path, 40)
        kill(child)
        store = SqliteStore(tmp_path / "state.db")
        dead = await store.get_run(run_id)
        assert dead is not None
        assert RunStatus.RUNNING == dead.status
        assert dead.owner is not None
        assert child.pid == dead.owner.pid
        assert dead.heartbeat_at is not None

        await check_abandoned_then_carried_on(
            tmp_path, store, run_id, child.pid
        )
        await store.aclose()

    async def test_serve_takes_over_a_dead_servers_schedule(
        self, tmp_path: Path
    ) -> None:
        """When the process serving a schedule is killed mid-run, another
        process serving the store ends the dead run as abandoned, frees
        the schedule at once (not after its hour-long claim) and runs it
        to success."""
        child, run_id = start_child(tmp_path, "serve")
        wait_for_writes(tmp_path, 20)
        kill(child)
        sync = synchronizer(tmp_path, latency=0.0)
        finished: list[RunRecord] = []

        def on_event(event: Event) -> None:
            if isinstance(event, RunFinished):
                finished.append(event.run)

        with anyio.fail_after(120):
            await sync.serve(
                poll_interval=0.05,
                on_event=on_event,
                until=lambda: bool(finished),
            )

        dead = await sync.store.get_run(run_id)
        assert dead is not None
        assert RunStatus.ABANDONED == dead.status
        assert [(Trigger.SCHEDULED, RunStatus.SUCCEEDED, "hourly")] == [
            (r.trigger, r.status, r.schedule_id) for r in finished
        ]
        await sync.store.aclose()

    async def test_monitoring_view_shows_it_abandoned(
        self, tmp_path: Path
    ) -> None:
        """The monitoring view never shows a killed run as running: listing
        the runs ends it as abandoned first."""
        child, run_id = start_child(tmp_path)
        wait_for_writes(tmp_path, 5)
        kill(child)
        sync = synchronizer(tmp_path, latency=0.0)

        runs = await sync.runs()

        assert [(run_id, RunStatus.ABANDONED)] == [
            (r.id, r.status) for r in runs
        ]
        await sync.store.aclose()


class TestCancelAcrossProcesses:
    async def test_cancel_from_other_process(self, tmp_path: Path) -> None:
        """A run in another process stops when cancelled from here."""
        child, run_id = start_child(tmp_path)
        wait_for_writes(tmp_path, 5)
        sync = synchronizer(tmp_path, latency=0.0)

        await sync.cancel(run_id)
        with anyio.fail_after(30):
            out, _ = await anyio.to_thread.run_sync(child.communicate)

        assert "cancelled" == out.strip().splitlines()[-1]
        run = await sync.store.get_run(run_id)
        assert run is not None
        assert RunStatus.CANCELLED == run.status
        assert len(journal(tmp_path)) < 130
        await sync.store.aclose()

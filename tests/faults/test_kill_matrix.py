"""
SIGKILL at 50+ exact points of a scheduled run, over every phase (before
the run is recorded, reading, pushing, between the shop write and the
state commit, media staging, watermarks, the failure ledger), each
recovered twice from a copy of what the dead process left: by
``resume(run_id)`` and by the next scheduled run.  After recovery the
oracles of reliability-performance.md D.1 hold: nothing lost, nothing
duplicated, licence free, watermark safe, staging clean, no run left
running.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ecomsync import DataType, RunStatus, SpecError, Trigger

from ._kill_child import (
    ARTICLES,
    CATEGORIES,
    POISON,
    SPEC,
    fingerprint,
    synchronizer,
)


pytestmark = pytest.mark.anyio

ROOT = Path(__file__).parents[2]

#: (point, n): the process dies at the n-th call of point.
POINTS: list[tuple[str, int]] = [
    # Before the run is recorded, and its status updates.
    ("store.save_run", 1),
    ("store.save_run", 2),
    ("store.save_run", 3),
    ("store.save_run", 4),
    ("store.save_run", 5),
    ("store.list_pending", 1),
    ("erp.session", 1),
    ("store.get_watermark", 1),
    ("store.get_watermark", 3),
    ("store.cancel_requested", 2),
    # Categories.
    ("erp.read:categories", 1),
    ("erp.read:categories", 2),
    ("platform.push.before:categories", 1),
    ("platform.push.after:categories", 1),
    ("platform.push.after:categories", 2),
    ("store.put_links", 1),
    ("store.set_watermark", 1),
    # Articles and their media.
    ("erp.read:articles", 1),
    ("erp.read:articles", 3),
    ("erp.read:articles", 6),
    ("store.get_links", 3),
    ("store.get_links", 8),
    ("platform.push.before:articles", 1),
    ("platform.push.before:articles", 4),
    ("platform.push.after:articles", 1),
    ("platform.push.after:articles", 3),
    ("platform.push.after:articles", 6),
    ("store.put_links", 3),
    ("store.put_links", 6),
    ("store.clear_failures", 5),
    ("erp.read_media", 1),
    ("erp.read_media", 20),
    ("erp.read_media", 55),
    ("store.get_media_id", 10),
    # The journal steps: a group's entries registered (before its files
    # are written) together with the entries of files taken away closed;
    # ":closed" dies with those files gone and their entries still open.
    # Journal groups take the files that are ready, so how many there
    # are varies with the load (11 to 21 closes seen, of 30 articles,
    # 23 steps at the fewest): the points stay well below the fewest.
    ("store.update_pending", 1),
    ("store.update_pending", 10),
    ("store.update_pending", 16),
    ("store.update_pending:closed", 1),
    ("store.update_pending:closed", 4),
    ("store.update_pending:closed", 7),
    ("platform.upload_media", 1),
    ("platform.upload_media", 25),
    ("platform.upload_media", 60),
    ("store.put_media_id", 1),
    ("store.put_media_id", 33),
    ("store.add_failures", 1),
    ("store.set_watermark", 2),
    # Stock.
    ("erp.read:stock", 1),
    ("erp.read:stock", 4),
    ("platform.push.before:stock", 2),
    ("platform.push.after:stock", 1),
    ("platform.push.after:stock", 6),
    ("store.put_links", 12),
    ("store.put_links", 14),
    ("store.add_failures", 2),
    ("store.set_watermark", 3),
]


def _journal(directory: Path) -> list[dict[str, str]]:
    path = directory / "journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def killed(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, int], tuple[Path, str | None]]:
    """
    Every kill point run once, in parallel children; per point the
    directory the dead child left and its run id (None if it died before
    the run was recorded).
    """
    base = tmp_path_factory.mktemp("kills")
    children = []
    for i, (point, at) in enumerate(POINTS):
        directory = base / f"k{i}"
        directory.mkdir()
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.faults._kill_child",
                str(directory),
                point,
                str(at),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        children.append((point, at, directory, child))
        if len(children) % 4 == 0:
            # Four at a time: enough to overlap start-up, not a fork bomb.
            for *_, c in children[-4:]:
                c.wait(timeout=120)
    out = {}
    # Every child waited for before any is judged: one left running (a
    # point never reached) warned in whichever test came next.
    ended = [
        (point, at, directory, child, *child.communicate(timeout=120))
        for point, at, directory, child in children
    ]
    for point, at, directory, child, stdout, stderr in ended:
        assert -signal.SIGKILL == child.returncode, (
            f"{point} #{at} was never reached: {stdout} {stderr[-2000:]}"
        )
        lines = stdout.split()
        out[point, at] = (directory, lines[0] if lines else None)
    return out


def _copy(source: Path, target: Path) -> Path:
    """
    A copy of a dead child's directory, its journal entries moved along:
    they name the staging directory they were made in (the dead run's
    entries are found by it).
    """
    shutil.copytree(source, target)
    old, new = str(source.resolve()), str(target.resolve())
    if not (target / "state.db").exists():
        return target
    with contextlib.closing(sqlite3.connect(target / "state.db")) as db, db:
        db.execute(
            "UPDATE pending SET scope = replace(scope, ?, ?), "
            "meta = replace(meta, ?, ?)",
            (old, new, json.dumps(old)[1:-1], json.dumps(new)[1:-1]),
        )
    return target


async def _check(directory: Path, sync: object, recovery_id: str) -> None:
    """The oracles I1, I2, I3, I4, I5 and 'no run left running'."""
    from ecomsync import Synchronizer

    assert isinstance(sync, Synchronizer)
    erp = sync.erp._inner  # type: ignore[attr-defined]
    expected: dict[tuple[str, str], str] = {}
    async with erp.session() as session:
        for data_type in (
            DataType.CATEGORIES,
            DataType.ARTICLES,
            DataType.STOCK,
        ):
            from ecomsync import All

            async for batch in session.read(data_type, All(), batch_size=50):
                for record in batch:
                    if record.number != POISON:
                        expected[data_type.value, record.number] = fingerprint(
                            record
                        )
    # I1: everything but the poison record (and its stock) landed, with
    # the ERP's content as the last write.
    landed: dict[tuple[str, str], str] = {}
    ids: dict[tuple[str, str], set[str]] = {}
    for entry in _journal(directory):
        key = (entry["type"], entry["number"])
        landed[key] = entry["content"]
        ids.setdefault(key, set()).add(entry["id"])
    assert expected == landed
    assert CATEGORIES + 2 * (ARTICLES - 1) == len(landed)
    # I2: one shop entity per record.
    assert all(1 == len(v) for v in ids.values()), "a duplicate entity"
    # The failure ledger keeps the poison record for the next run.
    failures = await sync.store.list_failures("shop", DataType.ARTICLES)
    assert [POISON] == [f.number for f in failures]
    # I3: the licence is back.
    assert 0 == len(await sync.licenses.holders())
    # I5: nothing staged or pending is left.
    assert [] == await sync.store.list_pending()
    staged = [
        p
        for p in (directory / "staging").rglob("*")
        if p.is_file() and not p.name.startswith(".")
    ]
    assert [] == staged
    # No run is left running or queued.
    runs = await sync.store.list_runs()
    assert [] == [
        r.id for r in runs if r.status in (RunStatus.RUNNING, RunStatus.QUEUED)
    ]
    recovery = await sync.store.get_run(recovery_id)
    assert recovery is not None
    assert RunStatus.SUCCEEDED == recovery.status
    # I4: scheduled recoveries leave each watermark at their start.
    if recovery.trigger is Trigger.SCHEDULED:
        for data_type in SPEC.types:
            mark = await sync.store.get_watermark("shop", data_type)
            assert recovery.started_at == mark


IDS = [f"{p}#{n}" for p, n in POINTS]


class TestKillAndRecover:
    @pytest.mark.parametrize(("point", "at"), POINTS, ids=IDS)
    async def test_resume(
        self,
        killed: dict[tuple[str, int], tuple[Path, str | None]],
        tmp_path: Path,
        point: str,
        at: int,
    ) -> None:
        """resume(run_id) finishes the killed run; the oracles hold."""
        source, run_id = killed[point, at]
        directory = _copy(source, tmp_path / "copy")
        sync = synchronizer(directory)
        if run_id is None or await sync.store.get_run(run_id) is None:
            # Died before the run was recorded: nothing was written, and
            # resuming says there is no such run.
            assert [] == _journal(directory)
            with pytest.raises(SpecError, match="no run"):
                async with sync.resume(run_id or "never-started"):
                    pass
            await sync.store.aclose()
            return
        async with sync.resume(run_id) as events:
            async for _ in events:
                pass
        await _check(directory, sync, run_id)
        await sync.store.aclose()

    @pytest.mark.parametrize(("point", "at"), POINTS, ids=IDS)
    async def test_next_scheduled_run(
        self,
        killed: dict[tuple[str, int], tuple[Path, str | None]],
        tmp_path: Path,
        point: str,
        at: int,
    ) -> None:
        """The next scheduled run takes over: it ends the dead run as
        abandoned and carries on; the oracles hold."""
        source, run_id = killed[point, at]
        directory = _copy(source, tmp_path / "copy")
        sync = synchronizer(directory)
        async with sync.run(SPEC, trigger=Trigger.SCHEDULED) as events:
            async for _ in events:
                pass
        await _check(directory, sync, events.run_id)
        if run_id is not None:
            dead = await sync.store.get_run(run_id)
            if dead is not None:
                assert RunStatus.ABANDONED == dead.status
                assert dead.error is not None
                assert "is gone" in dead.error
        await sync.store.aclose()

"""
SIGKILL at each step of the staging directory (a run directory made, a
file written, fsynced, renamed, uploaded files taken away, the run's
directory closed), each recovered by ``resume(run_id)`` and by the next
scheduled run: the oracles of the kill matrix hold (nothing lost,
nothing duplicated, staging clean, no run left running), and no media
file reaches the shop twice.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from ._kill_child import (
    abandoned,
    remembered_media,
    synchronizer,
    uploads,
)
from .test_kill_matrix import (
    UPLOADS,
    Kill,
    _after,
    _at,
    _copy,
    _id,
    _recovered,
    run_kills,
)


pytestmark = pytest.mark.anyio

POINTS: list[Kill] = [
    _at("fs.run_dir", 1),
    _at("fs.write", 1),
    _at("fs.write", UPLOADS // 2),
    _at("fs.fsync", 1),
    _at("fs.fsync", UPLOADS // 2),
    _at("fs.fsync", UPLOADS),
    # Groups take the files that are ready: anchored to uploads.
    _at("fs.renamed", 1),
    _after("fs.renamed", "platform.upload_media", UPLOADS // 2),
    _at("fs.retired", 1),
    _after("fs.retired", "platform.upload_media", UPLOADS // 2),
    _after("fs.retired", "platform.upload_media", UPLOADS),
    _at("fs.close", 1),
    _at("fs.closed", 1),
]
IDS = [_id(k) for k in POINTS]


@pytest.fixture(scope="module")
def killed(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[Kill, tuple[Path, str | None]]:
    """Every staging kill point run once, in children."""
    return run_kills(tmp_path_factory.mktemp("staging-kills"), POINTS)


def _uploaded_once(directory: Path, remembered: set[str]) -> None:
    """No content reached the shop twice, over the dead and the
    recovering process, but one whose upload answered while the process
    died before storing its id (uploads in flight in other tasks: the
    known window, see docs/concepts.md)."""
    counts = uploads(directory)
    twice = {sha for sha, n in counts.items() if n > 1}
    assert set() == twice & remembered
    assert UPLOADS == len(counts)


class TestKillStaging:
    @pytest.mark.parametrize("kill", POINTS, ids=IDS)
    async def test_resume(
        self,
        killed: dict[Kill, tuple[Path, str | None]],
        tmp_path: Path,
        kill: Kill,
    ) -> None:
        """resume(run_id) finishes the run killed in a staging step."""
        source, run_id = killed[kill]
        assert run_id is not None  # staging starts after the run's record
        directory = _copy(source, tmp_path / "copy")
        remembered = remembered_media(directory)
        sync = synchronizer(directory)
        await _recovered(directory, sync, run_id)
        _uploaded_once(directory, remembered)
        await sync.store.aclose()

    @pytest.mark.parametrize("kill", POINTS, ids=IDS)
    async def test_next_scheduled_run(
        self,
        killed: dict[Kill, tuple[Path, str | None]],
        tmp_path: Path,
        kill: Kill,
    ) -> None:
        """The next scheduled run takes over from a run killed in a
        staging step."""
        source, run_id = killed[kill]
        directory = _copy(source, tmp_path / "copy")
        remembered = remembered_media(directory)
        sync = synchronizer(directory)
        await _recovered(directory, sync)
        _uploaded_once(directory, remembered)
        await abandoned(sync, run_id)
        await sync.store.aclose()


class TestRecreatedContainer:
    async def test_dead_runs_entries_cleared(self, tmp_path: Path) -> None:
        """A run killed in a container that is then recreated (a new host
        name, a new /tmp), the state on a volume: the next run, once the
        dead run is ended, closes its journal entries (they stayed for
        ever: only entries of this host's staging directory were
        recovered)."""
        kill = _after("fs.renamed", "platform.upload_media", UPLOADS // 2)
        ((source, run_id),) = run_kills(tmp_path, [kill]).values()
        directory = _copy(source, tmp_path / "copy")
        db = sqlite3.connect(directory / "state.db")
        with contextlib.closing(db), db:
            rows = db.execute("SELECT rowid, meta FROM pending").fetchall()
            assert rows
            for rowid, meta in rows:
                moved = {**json.loads(meta), "host": "old-container"}
                db.execute(
                    "UPDATE pending SET meta = ? WHERE rowid = ?",
                    (json.dumps(moved), rowid),
                )
        shutil.rmtree(directory / "staging")

        sync = synchronizer(directory)
        await _recovered(directory, sync)
        await abandoned(sync, run_id)
        await sync.store.aclose()

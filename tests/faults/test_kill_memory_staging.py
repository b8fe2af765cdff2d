"""
SIGKILL at the media points of a run on `MediaStaging`'s default
settings (small files staged in memory, not on disk nor in the
journal), in an article with one file over ``memory_file_bytes`` (on
disk) and one in memory, and with the memory and disk budgets full
(staging waits for uploads), each recovered by ``resume(run_id)`` and by
the next scheduled run: the oracles of the kill matrix hold (nothing
lost, nothing duplicated, licence free, staging clean, no run left
running), no media content reaches the shop twice but in the known
window (see test_kill_staging), and every content that reached the shop
is remembered, so that a further run uploads nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from pathlib import Path

import pytest

from ecomsync import Synchronizer, Trigger

from ._kill_child import (
    LARGE,
    SPEC,
    abandoned,
    large_content,
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

#: Chunks of five articles, two files each: upload 5 and 25 are in the
#: middle of a chunk's uploads.
POINTS: list[Kill] = [
    # An upload answered, its id not saved yet.
    _at("store.put_media_id", 1),
    _at("store.put_media_id", 33),
    # In the middle of a chunk's uploads and reads.
    _at("platform.upload_media", 5),
    _at("platform.upload_media", 25),
    _at("erp.read_media", 7),
    # A chunk's products written, their media not transferred yet.
    _at("platform.push.after:articles", 1),
    _at("platform.push.after:articles", 4),
]
#: For the mixed articles, the same and the disk steps of the large files.
MIXED: list[Kill] = [
    *POINTS,
    _at("fs.write", 1),
    _at("fs.fsync", 2),
    _after("fs.retired", "platform.upload_media", UPLOADS // 2),
]
#: With room for one file in memory and two on disk: the budget is full,
#: staging waits for uploads (how many files go to disk depends on the
#: load, 9 to 21 seen: the disk steps are early ones).
FULL: list[Kill] = [
    _at("fs.write", 1),
    _at("fs.write", 3),
    _at("fs.retired", 1),
    _at("store.update_pending:closed", 1),
    _at("platform.upload_media", 25),
    _at("store.put_media_id", 33),
]
STAGINGS = {"memory": POINTS, "mixed": MIXED, "full": FULL}
CASES = [(s, k) for s, points in STAGINGS.items() for k in points]
IDS = [f"{staging}-{_id(k)}" for staging, k in CASES]


@pytest.fixture(scope="module")
def killed(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, Kill], tuple[Path, str | None]]:
    """Every kill point run once, in children, per staging."""
    out = {}
    for staging, points in STAGINGS.items():
        base = tmp_path_factory.mktemp(f"kills-{staging}")
        for kill, left in run_kills(base, points, staging=staging).items():
            out[staging, kill] = left
    return out


def _journalled(directory: Path) -> set[str]:
    """The contents with an entry in the staging journal."""
    with contextlib.closing(sqlite3.connect(directory / "state.db")) as db:
        return {row[0] for row in db.execute("SELECT sha256 FROM pending")}


def _staged_by_dead(staging: str, directory: Path) -> None:
    """The dead run journalled only files it staged on disk: none on the
    default settings, only the large ones in the mixed articles (with the
    budget full, any)."""
    large = {hashlib.sha256(large_content(key)).hexdigest() for key in LARGE}
    journalled = _journalled(directory)
    if staging == "memory":
        assert set() == journalled
    elif staging == "mixed":
        assert journalled <= large


async def _all_once(
    directory: Path, sync: Synchronizer, remembered: set[str]
) -> None:
    """Every content reached the shop, none remembered by the dead run
    twice; each is remembered now, and a further manual run (which reads
    every article) uploads nothing."""
    counts = uploads(directory)
    assert UPLOADS == len(counts)
    assert set() == {s for s, n in counts.items() if n > 1} & remembered
    assert set(counts) == remembered_media(directory)
    async with sync.run(SPEC, trigger=Trigger.MANUAL) as events:
        async for _ in events:
            pass
    assert counts == uploads(directory)


class TestKillMemoryStaging:
    @pytest.mark.parametrize(("staging", "kill"), CASES, ids=IDS)
    async def test_resume(
        self,
        killed: dict[tuple[str, Kill], tuple[Path, str | None]],
        tmp_path: Path,
        staging: str,
        kill: Kill,
    ) -> None:
        """resume(run_id) finishes a run killed at a media point with
        files staged in memory; every image reaches the shop once."""
        source, run_id = killed[staging, kill]
        assert run_id is not None  # media come after the run's record
        directory = _copy(source, tmp_path / "copy")
        _staged_by_dead(staging, directory)
        remembered = remembered_media(directory)
        sync = synchronizer(directory, staging=staging)
        await _recovered(directory, sync, run_id)
        await _all_once(directory, sync, remembered)
        await sync.store.aclose()

    @pytest.mark.parametrize(("staging", "kill"), CASES, ids=IDS)
    async def test_next_scheduled_run(
        self,
        killed: dict[tuple[str, Kill], tuple[Path, str | None]],
        tmp_path: Path,
        staging: str,
        kill: Kill,
    ) -> None:
        """The next scheduled run takes over from a run killed at a media
        point with files staged in memory, and ends it as abandoned."""
        source, run_id = killed[staging, kill]
        directory = _copy(source, tmp_path / "copy")
        remembered = remembered_media(directory)
        sync = synchronizer(directory, staging=staging)
        await _recovered(directory, sync)
        await _all_once(directory, sync, remembered)
        await abandoned(sync, run_id)
        await sync.store.aclose()

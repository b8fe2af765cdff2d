"""
SIGKILL at the media points of a run on Shopware 6 (the emulator, served
by the parent so that the shop outlives the child), whose media are
uploaded after the product push and their ids saved per chunk: with
`MediaStaging`'s default settings (every file in memory), with memory for
two files (the rest on disk), and with memory and disk for one file each
(the rest overflows into memory).  The next scheduled run, or
``resume(run_id)``, leaves the shop exactly as one clean run does (every
image on its product once, each media entity with its file, no other
media), the staging directory and its journal empty, no run running (the
dead one abandoned, or finished when resumed), and a further run uploads
nothing.  test_kill_memory_staging kills these points on
`MemoryPlatform`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from ecomsync import RunStatus, SqliteStore, Trigger
from ecomsync.testing.shopware6 import ShopwareEmulator, serve

from .._push import PUSH
from ._adopt_child import SECRET, synchronizer
from ._kill_child import Kill, Killer, kill_args, kill_id, run_children
from .test_kill_matrix import _at


pytestmark = pytest.mark.anyio


#: Three article chunks with images (seven files, one shared), each
#: pushed, then its files uploaded, then their ids saved at once (the
#: first such kill, with the default staging, is test_kill_adoption's).
SHOP: list[Kill] = [
    # A chunk's products (and their media entities, no file yet) written.
    _at("platform.push.after:articles", 1),
    _at("platform.push.after:articles", 2),
    # In the middle of the uploads; an upload done, its id not saved.
    _at("platform.upload_media", 1),
    _at("platform.upload_media", 4),
    _at("store.put_media_ids", 2),
    _at("erp.read_media", 5),
]
CASES: list[tuple[str, Kill]] = [
    *(("memory", k) for k in SHOP),
    *(
        ("overflow", k)
        for k in [
            # The variants' chunk (no media) may be the first pushed.
            _at("platform.push.after:articles", 2),
            _at("platform.upload_media", 1),
            # The files on disk: written, fsynced, renamed, taken away
            # (their entries closed, or not yet).
            _at("fs.write", 1),
            _at("fs.fsync", 3),
            _at("fs.renamed", 1),
            _at("fs.retired", 1),
            _at("store.update_pending:closed", 1),
        ]
    ),
    *(
        ("full", k)
        for k in [
            _at("fs.write", 1),
            _at("platform.upload_media", 3),
            _at("fs.retired", 1),
        ]
    ),
]
IDS = [f"{staging}-{kill_id(kill)}" for staging, kill in CASES]
#: Resumed by resume(run_id): the default staging's kills, and files on
#: disk written or taken away.
RESUMED: list[tuple[str, Kill]] = [
    *(("memory", k) for k in SHOP),
    ("overflow", _at("fs.write", 1)),
    ("overflow", _at("fs.retired", 1)),
]
RESUMED_IDS = [f"{staging}-{kill_id(kill)}" for staging, kill in RESUMED]
#: Every child: how it is recovered, its staging, its kill.
CHILDREN = [("next", *c) for c in CASES] + [("resume", *c) for c in RESUMED]


def _emulator() -> ShopwareEmulator:
    return ShopwareEmulator(client_id="SWIAADOPT", client_secret=SECRET)


async def _run(
    directory: Path, url: str, staging: str, trigger: Trigger
) -> tuple[Any, Killer]:
    """One run in this process, a new adapter; its record and counts."""
    killer = Killer()
    async with synchronizer(
        directory, "shopware6", url, killer, staging
    ) as sync:
        with anyio.fail_after(60):
            run = await sync.execute(PUSH, trigger=trigger)
    return run, killer


async def _resume(directory: Path, url: str, staging: str, run_id: str) -> Any:
    """resume(*run_id*) in this process, a new adapter; the run's record."""
    async with synchronizer(
        directory, "shopware6", url, Killer(), staging
    ) as sync:
        with anyio.fail_after(60):
            async with sync.resume(run_id) as events:
                async for _ in events:
                    pass
            return await sync.store.get_run(run_id)


def _catalogue(emu: ShopwareEmulator) -> object:
    import tests.engine.test_shopware6 as s6

    return s6.TestLostState().catalogue(emu)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> object:
    """What one clean run leaves in the shop."""
    emu = _emulator()
    with serve(emu) as url:
        run, _ = anyio.run(
            _run,
            tmp_path_factory.mktemp("clean"),
            url,
            "memory",
            Trigger.SCHEDULED,
        )
    assert RunStatus.SUCCEEDED == run.status, run.failures
    return _catalogue(emu)


@pytest.fixture(scope="module")
def killed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[
    dict[tuple[str, str, Kill], tuple[ShopwareEmulator, str, Path, str]]
]:
    """
    Per case its shop (served for the module's tests), its URL, the
    directory its killed child left and the child's run id.
    """
    base = tmp_path_factory.mktemp("sw6-media")
    with contextlib.ExitStack() as stack:
        shops = []
        children = []
        for i, (_, staging, kill) in enumerate(CHILDREN):
            emu = _emulator()
            url = stack.enter_context(serve(emu))
            directory = base / f"k{i}"
            directory.mkdir()
            shops.append((emu, url, directory))
            argv = [
                "tests.faults._adopt_child",
                str(directory),
                "shopware6",
                url,
                *kill_args(kill),
            ]
            children.append((kill, argv, {"ADOPT_CHILD_STAGING": staging}))
        printed = run_children(children)
        yield {
            case: (emu, url, directory, out.split()[0])
            for case, (emu, url, directory), out in zip(
                CHILDREN, shops, printed, strict=True
            )
        }


def _files_whole(emu: ShopwareEmulator) -> None:
    """Every media entity holds its file: the content its name hashes."""
    for media_id, row in emu.entities["media"].items():
        held = emu.media_files.get(media_id)
        assert held is not None, f"media {media_id} has no file"
        assert row["fileName"] == held.sha256


async def _staging_clean(
    directory: Path, dead: str, status: RunStatus = RunStatus.ABANDONED
) -> None:
    """Nothing staged or journalled is left; no run is running, the
    dead one has *status* (abandoned, or succeeded when resumed)."""
    staged = [
        p
        for p in (directory / "staging").rglob("*")
        if p.is_file() and not p.name.startswith(".")
    ]
    assert [] == staged
    async with SqliteStore(directory / "state.db") as store:
        assert [] == await store.list_pending()
        runs = await store.list_runs()
        running = (RunStatus.RUNNING, RunStatus.QUEUED)
        assert [] == [r.id for r in runs if r.status in running]
        run = await store.get_run(dead)
        assert run is not None
        assert status == run.status


@pytest.mark.parametrize(("staging", "kill"), CASES, ids=IDS)
async def test_next_run_leaves_the_shop_right(
    killed: dict[
        tuple[str, str, Kill], tuple[ShopwareEmulator, str, Path, str]
    ],
    clean: object,
    staging: str,
    kill: Kill,
) -> None:
    """Killed at a media point with files in memory (or overflowing to
    disk, or the disk full): the next run leaves the shop as a clean run
    does, nothing staged, and a further run uploads nothing."""
    emu, url, directory, dead = killed["next", staging, kill]
    run, _ = await _run(directory, url, staging, Trigger.SCHEDULED)
    assert RunStatus.SUCCEEDED == run.status, run.failures
    assert not run.failures
    assert clean == _catalogue(emu)
    _files_whole(emu)
    await _staging_clean(directory, dead)
    again, counts = await _run(directory, url, staging, Trigger.MANUAL)
    assert RunStatus.SUCCEEDED == again.status, again.failures
    assert 0 == counts.seen["platform.upload_media"]
    assert clean == _catalogue(emu)


@pytest.mark.parametrize(("staging", "kill"), RESUMED, ids=RESUMED_IDS)
async def test_resume_leaves_the_shop_right(
    killed: dict[
        tuple[str, str, Kill], tuple[ShopwareEmulator, str, Path, str]
    ],
    clean: object,
    staging: str,
    kill: Kill,
) -> None:
    """resume(run_id) of a run killed at a media point with files in
    memory (or on disk) finishes it: the shop as a clean run leaves it,
    nothing staged, and a further run uploads nothing."""
    emu, url, directory, dead = killed["resume", staging, kill]
    run = await _resume(directory, url, staging, dead)
    assert RunStatus.SUCCEEDED == run.status, run.failures
    assert not run.failures
    assert clean == _catalogue(emu)
    _files_whole(emu)
    await _staging_clean(directory, dead, RunStatus.SUCCEEDED)
    again, counts = await _run(directory, url, staging, Trigger.MANUAL)
    assert RunStatus.SUCCEEDED == again.status, again.failures
    assert 0 == counts.seen["platform.upload_media"]
    assert clean == _catalogue(emu)

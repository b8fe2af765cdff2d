"""
SqliteStore on its own: opening and migrating one file from many
connections and processes at once, the schema version check, and media
ids many at once, a ROLLBACK that fails, and waits for a file another
connection locks.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import anyio
import pytest

from ecomsync import DataType, Link, SqliteStore, StateStoreError
from ecomsync._closing import hurried
from ecomsync.state._sqlite import MIGRATIONS, SCHEMA_VERSION
from ecomsync.testing._store_contract._data import a_run

from .._sqlite_lock import locked


pytestmark = pytest.mark.anyio

ROOT = Path(__file__).parent.parent.parent


async def test_many_handles_open_a_new_file_together(tmp_path: Path) -> None:
    """Four handles opening the same new file at once all open and write."""
    for round_ in range(40):
        path = tmp_path / f"s{round_}.db"
        stores = [SqliteStore(path) for _ in range(4)]
        try:
            async with anyio.create_task_group() as tg:
                for i, store in enumerate(stores):
                    tg.start_soon(
                        store.put_links,
                        "shop",
                        DataType.ARTICLES,
                        {f"A-{i}": Link(f"p{i}", "c")},
                    )
        finally:
            for store in stores:
                await store.aclose()
        check = SqliteStore(path)
        links = await check.get_links(
            "shop", DataType.ARTICLES, [f"A-{i}" for i in range(4)]
        )
        await check.aclose()
        assert 4 == len(links)


def _burn() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "while True: pass"],
        stdout=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("processes", [2, 4, 8])
def test_processes_open_and_write_under_load(
    tmp_path: Path, processes: int
) -> None:
    """2-8 processes open the same new files at once, under CPU load, and
    every one of their writes lands."""
    paths = [str(tmp_path / f"s{i}.db") for i in range(12)]
    go = tmp_path / "go"
    burners = [_burn() for _ in range(2)]
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.state._sqlite_child",
                f"t{n}",
                str(go),
                *paths,
            ],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(processes)
    ]
    try:
        # Let every child import and wait on the start file.
        time.sleep(1.5)
        go.touch()
        for child in children:
            _, err = child.communicate(timeout=120)
            assert 0 == child.returncode, err
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for path in paths:
        with sqlite3.connect(path) as conn:
            (links,) = conn.execute("SELECT count(*) FROM links").fetchone()
            (failures,) = conn.execute(
                "SELECT count(*) FROM failures"
            ).fetchone()
        assert processes * 20 == links
        assert processes == failures


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A file written by a newer ecomsync is refused with StateStoreError,
    and the file is left as it was."""
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    await store.put_links("shop", DataType.ARTICLES, {"A": Link("1", "c")})
    await store.aclose()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema'",
            (str(SCHEMA_VERSION + 1),),
        )

    newer = SqliteStore(path)
    with pytest.raises(StateStoreError, match="newer than this ecomsync"):
        await newer.get_links("shop", DataType.ARTICLES, ["A"])
    await newer.aclose()
    with sqlite3.connect(path) as conn:
        (version,) = conn.execute(
            "SELECT value FROM meta WHERE key = 'schema'"
        ).fetchone()
    assert str(SCHEMA_VERSION + 1) == version


async def test_file_from_before_versioning_is_adopted(tmp_path: Path) -> None:
    """A file without a schema version gets the current schema and keeps
    its rows."""
    path = tmp_path / "s.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE links (platform TEXT, data_type TEXT, number TEXT, "
            "platform_id TEXT, checksum TEXT, "
            "PRIMARY KEY (platform, data_type, number))"
        )
        conn.execute(
            "INSERT INTO links VALUES ('shop', ?, 'A', '1', 'c')",
            (DataType.ARTICLES.value,),
        )
    store = SqliteStore(path)
    links = await store.get_links("shop", DataType.ARTICLES, ["A"])
    assert {"A": Link("1", "c")} == links
    assert [] == await store.list_failures("shop", DataType.STOCK)
    await store.aclose()
    assert os.path.exists(path)


class _FailingRollback(sqlite3.Connection):
    """A connection whose next COMMIT and ROLLBACK fail as on a disk that
    went bad (armed by `fail`)."""

    failing: ClassVar[set[str]] = set()

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql in self.failing:
            self.failing.discard(sql)
            raise sqlite3.OperationalError("disk I/O error")
        return super().execute(sql, *args)


@pytest.fixture(name="failing_rollback")
def _failing_rollback(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    connect = sqlite3.connect

    def faulty(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        return connect(*args, factory=_FailingRollback, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", faulty)
    _FailingRollback.failing.clear()
    return _FailingRollback.failing


async def test_failed_rollback_leaves_no_transaction_open(
    tmp_path: Path, failing_rollback: set[str]
) -> None:
    """A write whose COMMIT and then ROLLBACK fail is a StateStoreError
    (it was the bare sqlite3 error), its rows are not kept, the file's
    write lock is let go at once (other processes were locked out until
    this store's next call) and the store's next calls work (the first
    failed: 'cannot start a transaction within a transaction')."""
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    await store.put_links("shop", DataType.ARTICLES, {"A": Link("1", "a")})
    failing_rollback.update({"COMMIT", "ROLLBACK"})

    with pytest.raises(StateStoreError, match="disk I/O error"):
        await store.put_links("shop", DataType.ARTICLES, {"B": Link("2", "b")})
    with contextlib.closing(
        sqlite3.connect(path, timeout=0.5, isolation_level=None)
    ) as other:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    await store.put_links("shop", DataType.ARTICLES, {"C": Link("3", "c")})

    found = await store.get_links("shop", DataType.ARTICLES, ["A", "B", "C"])
    await store.aclose()
    assert {"A": Link("1", "a"), "C": Link("3", "c")} == found


async def test_failed_rollback_in_memory_is_told(
    failing_rollback: set[str],
) -> None:
    """A store in memory whose ROLLBACK failed cannot be opened again
    without losing everything: its calls say so (StateStoreError) instead
    of working on an empty new store or failing on the open
    transaction."""
    store = SqliteStore(":memory:")
    await store.put_links("shop", DataType.ARTICLES, {"A": Link("1", "a")})
    failing_rollback.update({"COMMIT", "ROLLBACK"})

    with pytest.raises(StateStoreError, match="disk I/O error"):
        await store.put_links("shop", DataType.ARTICLES, {"B": Link("2", "b")})
    with pytest.raises(StateStoreError, match="rollback failed"):
        await store.get_links("shop", DataType.ARTICLES, ["A"])
    await store.aclose()


def _file_at(path: Path, version: int) -> Path:
    """A store file at schema *version*, as that version's code left it."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        for step in MIGRATIONS[:version]:
            for statement in step:
                conn.execute(statement)
        conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(version),))
    return path


async def test_links_of_version_6_keep_working(tmp_path: Path) -> None:
    """A file at schema 6 (links without variant lists) is migrated: its
    links read as before, with variants not known, and take them after."""
    path = _file_at(tmp_path / "s.db", 6)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO links VALUES ('shop', ?, 'A', '1', 'c')",
            (DataType.ARTICLES.value,),
        )
    store = SqliteStore(path)
    try:
        (old,) = (
            await store.get_links("shop", DataType.ARTICLES, ["A"])
        ).values()
        await store.put_links(
            "shop", DataType.ARTICLES, {"A": Link("1", "d", variants=("A-S",))}
        )
        new = await store.get_links("shop", DataType.ARTICLES, ["A"])
    finally:
        await store.aclose()
    assert Link("1", "c") == old
    assert old.variants is None
    assert {"A": Link("1", "d", variants=("A-S",))} == new


async def test_a_cancel_of_version_8_takes_a_reason(tmp_path: Path) -> None:
    """A file at schema 8 (a yes/no cancel flag only) is migrated: its
    cancelled run stays cancelled, naming no one; a new cancel keeps its
    reason."""
    # The old run's row as schema 8 held it, written before the migration:
    # taken from a current store's row, less the column 8 lacked.
    donor = SqliteStore(tmp_path / "donor.db")
    try:
        await donor.save_run(a_run("old"))
    finally:
        await donor.aclose()
    with sqlite3.connect(tmp_path / "donor.db") as conn:
        cursor = conn.execute("SELECT * FROM runs WHERE id = 'old'")
        names = [d[0] for d in cursor.description]
        row = dict(zip(names, cursor.fetchone(), strict=True))
    del row["cancel_reason"]
    row["cancel"] = 1
    path = _file_at(tmp_path / "s.db", 8)
    with sqlite3.connect(path) as conn:
        conn.execute(
            f"INSERT INTO runs ({', '.join(row)}) "
            f"VALUES ({', '.join('?' * len(row))})",
            tuple(row.values()),
        )
    store = SqliteStore(path)
    try:
        await store.save_run(a_run("new"))
        await store.request_cancel("new", "ops@host")
        old = (
            await store.cancel_requested("old"),
            await store.cancel_reason("old"),
        )
        new = await store.cancel_reason("new")
    finally:
        await store.aclose()
    assert (True, None) == old
    assert "ops@host" == new


class TestLockedFile:
    async def test_cancel_stops_the_wait(self, tmp_path: Path) -> None:
        """A call waiting for a file another connection locks ends as soon
        as it is cancelled (it waited out the 30 s busy timeout in its
        thread), and the store works once the lock is gone."""
        path = tmp_path / "s.db"
        store = SqliteStore(path)
        await store.put_links("shop", DataType.ARTICLES, {"A": Link("1", "a")})

        with locked(path):
            began = time.monotonic()
            with anyio.move_on_after(0.3) as scope:
                await store.put_links(
                    "shop", DataType.ARTICLES, {"B": Link("2", "b")}
                )
            took = time.monotonic() - began
        await store.put_links("shop", DataType.ARTICLES, {"C": Link("3", "c")})
        found = await store.get_links(
            "shop", DataType.ARTICLES, ["A", "B", "C"]
        )
        await store.aclose()

        assert scope.cancelled_caught
        assert took < 2
        assert {"A", "C"} == set(found)

    async def test_cancel_stops_a_queued_call(self, tmp_path: Path) -> None:
        """Calls queued behind one that waits for the lock end with it when
        cancelled (each waited for the one before it)."""
        path = tmp_path / "s.db"
        store = SqliteStore(path)
        await store.put_links("shop", DataType.ARTICLES, {"A": Link("1", "a")})

        with locked(path):
            began = time.monotonic()
            with anyio.move_on_after(0.3):
                async with anyio.create_task_group() as tg:
                    for n in range(3):
                        tg.start_soon(
                            store.put_links,
                            "shop",
                            DataType.ARTICLES,
                            {f"B{n}": Link("2", "b")},
                        )
            took = time.monotonic() - began
        await store.aclose()

        assert took < 2

    async def test_cleanup_gives_up_at_its_deadline(
        self, tmp_path: Path
    ) -> None:
        """A shielded cleanup step of a cancelled run stops waiting for a
        locked file at the cleanup's deadline, with an error saying so,
        not after the busy timeout."""
        path = tmp_path / "s.db"
        store = SqliteStore(path)
        await store.put_links("shop", DataType.ARTICLES, {"A": Link("1", "a")})

        with locked(path), hurried(0.3):
            began = time.monotonic()
            with (
                anyio.CancelScope(shield=True),
                pytest.raises(StateStoreError, match="cancelled run") as info,
            ):
                await store.put_links(
                    "shop", DataType.ARTICLES, {"B": Link("2", "b")}
                )
            took = time.monotonic() - began
        await store.aclose()

        assert took < 2
        assert str(path) in str(info.value)

    async def test_waits_for_a_short_lock(self, tmp_path: Path) -> None:
        """A lock held for a while (longer than one wait slice) is waited
        for, and the write lands."""
        path = tmp_path / "s.db"
        store = SqliteStore(path)
        await store.put_links("shop", DataType.ARTICLES, {"A": Link("1", "a")})

        async def let_go(lock: contextlib.ExitStack) -> None:
            await anyio.sleep(0.5)
            lock.close()

        with contextlib.ExitStack() as lock:
            lock.enter_context(locked(path))
            async with anyio.create_task_group() as tg:
                tg.start_soon(let_go, lock)
                await store.put_links(
                    "shop", DataType.ARTICLES, {"B": Link("2", "b")}
                )
        found = await store.get_links("shop", DataType.ARTICLES, ["A", "B"])
        await store.aclose()

        assert {"A", "B"} == set(found)

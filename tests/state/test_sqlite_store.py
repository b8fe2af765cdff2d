"""
SqliteStore on its own: opening and migrating one file from many
connections and processes at once, the schema version check, and media
ids many at once.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from ecomsync import DataType, Link, SqliteStore, StateStoreError
from ecomsync.state._sqlite import SCHEMA_VERSION


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

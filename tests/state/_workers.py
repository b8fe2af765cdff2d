"""
What the partitioned-run tests share: the PostgreSQL store and the
worker processes (fixtures), a worker started, its exit waited for, a
query's number, a wait for a condition, a partitioned run submitted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
import psycopg
import pytest

from ecomsync import (
    SyncSpec,
)
from ecomsync._partition import submit_partitioned
from ecomsync._spec import All, DataType
from ecomsync.licensing import PostgresLicensePool
from ecomsync.state._postgres import PostgresStore

from . import _pg_shop


T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


ROOT = Path(__file__).resolve().parents[2]
SPEC = SyncSpec(types={DataType.ARTICLES: All()})


@pytest.fixture(name="store")
async def _store(postgres_dsn: str) -> AsyncIterator[PostgresStore]:
    _pg_shop.create_tables(postgres_dsn)
    store = PostgresStore(postgres_dsn)
    yield store
    await store.aclose()


@pytest.fixture(name="workers")
def _workers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def worker(
    dsn: str, logs: Path, *, stall: bool = False, idle_exit: bool = True
) -> subprocess.Popen[str]:
    env = dict(os.environ, ECOMSYNC_TEST_STALL="1" if stall else "0")
    args = [
        sys.executable,
        "-m",
        "ecomsync._worker",
        "--store",
        dsn,
        "--app",
        "tests.state._pg_shop:make_sync",
        "--licences",
        "2",
        "--heartbeat",
        "0.3",
        "--stale-after",
        "1.5",
        "--poll-interval",
        "0.1",
    ]
    if idle_exit:
        args.append("--exit-when-idle")
    logs.mkdir(exist_ok=True)
    with (logs / f"worker-{time.monotonic_ns()}.log").open("w") as sink:
        return subprocess.Popen(
            args, cwd=ROOT, env=env, text=True, stderr=sink
        )


async def exited(proc: subprocess.Popen[str], logs: Path) -> None:
    code = await anyio.to_thread.run_sync(proc.wait, 60)
    if code != 0:
        text = "\n".join(p.read_text() for p in sorted(logs.iterdir()))
        pytest.fail(f"worker exited with {code}:\n{text[-5000:]}")


def scalar(dsn: str, query: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0] or 0)


async def wait_for(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await anyio.sleep(0.05)


async def submit(store: PostgresStore, size: int = 20) -> str:
    sync = _pg_shop.make_sync(
        store=store, licenses=PostgresLicensePool(store.dsn, size=2)
    )
    return await submit_partitioned(sync, SPEC, partition_size=size)

"""
PostgresLicensePool: licences shared by processes through one database,
freed when a holder dies, never more out than exist.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import psycopg
import pytest

from ecomsync.exceptions import ConfigurationError, NoFreeLicense
from ecomsync.licensing import PostgresLicensePool


pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]


def child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.state._licence_child", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(name="children")
def _children() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


class TestInProcess:
    async def test_lease_and_return(self, postgres_dsn: str) -> None:
        """A lease names its holder while held and is returned after."""
        pool = PostgresLicensePool(postgres_dsn, size=2)
        async with pool.lease("run-a", timeout=1) as lease:
            assert lease.holder == "run-a"
            assert 0 <= lease.slot < 2
            assert await pool.holders() == ("run-a",)
        assert await pool.holders() == ()

    async def test_no_free_license(self, postgres_dsn: str) -> None:
        """With every licence held, a lease waits, then names size and
        holders."""
        pool = PostgresLicensePool(postgres_dsn, size=2)
        async with (
            pool.lease("run-a", timeout=1),
            pool.lease("run-b", timeout=1),
        ):
            started = time.monotonic()
            with pytest.raises(NoFreeLicense) as info:
                async with pool.lease("run-c", timeout=0.5):
                    pass
            assert time.monotonic() - started >= 0.5
        assert info.value.size == 2
        assert sorted(info.value.holders) == ["run-a", "run-b"]
        assert "run-a" in str(info.value)

    async def test_returned_on_error(self, postgres_dsn: str) -> None:
        """A block that raises returns its licence."""
        pool = PostgresLicensePool(postgres_dsn, size=1)
        with pytest.raises(RuntimeError):
            async with pool.lease("run-a", timeout=1):
                raise RuntimeError("boom")
        async with pool.lease("run-b", timeout=0.5):
            pass

    async def test_returned_on_cancel(self, postgres_dsn: str) -> None:
        """A cancelled block returns its licence."""
        pool = PostgresLicensePool(postgres_dsn, size=1)
        with anyio.move_on_after(0.2):
            async with pool.lease("run-a", timeout=1):
                await anyio.sleep(10)
        async with pool.lease("run-b", timeout=0.5):
            assert await pool.holders() == ("run-b",)

    async def test_waiter_gets_freed_licence(self, postgres_dsn: str) -> None:
        """A waiter gets the licence soon after it is returned."""
        pool = PostgresLicensePool(postgres_dsn, size=1)
        got: list[float] = []

        async def wait() -> None:
            async with pool.lease("run-b", timeout=5):
                got.append(time.monotonic())

        async with (
            anyio.create_task_group() as tg,
            pool.lease("run-a", timeout=1),
        ):
            tg.start_soon(wait)
            await anyio.sleep(0.3)
            released = time.monotonic()
        assert got
        assert got[0] - released < 1.5

    async def test_pools_are_separate(self, postgres_dsn: str) -> None:
        """Pools with different names do not share licences."""
        erp_a = PostgresLicensePool(postgres_dsn, size=1, name="erp-a")
        erp_b = PostgresLicensePool(postgres_dsn, size=1, name="erp-b")
        async with erp_a.lease("x", timeout=1), erp_b.lease("y", timeout=1):
            assert await erp_a.holders() == ("x",)
            assert await erp_b.holders() == ("y",)

    async def test_size_mismatch_refused(self, postgres_dsn: str) -> None:
        """A process configured with another size than the database's is
        refused: mixed sizes would hand out too many licences."""
        async with PostgresLicensePool(postgres_dsn, size=2).lease(
            "a", timeout=1
        ):
            pass
        with pytest.raises(ConfigurationError, match="2 licence"):
            async with PostgresLicensePool(postgres_dsn, size=3).lease(
                "b", timeout=1
            ):
                pass

    def test_repr_hides_password(self) -> None:
        """The DSN's password is not in the repr."""
        pool = PostgresLicensePool("postgresql://u:s3cret@h/db", size=1)
        assert "s3cret" not in repr(pool)
        assert pool.size == 1


class TestAcrossProcesses:
    @pytest.mark.slow
    async def test_kill_9_frees_licence(
        self, postgres_dsn: str, children: list[subprocess.Popen[str]]
    ) -> None:
        """A holder killed with SIGKILL gives its licence back at once."""
        pool = PostgresLicensePool(postgres_dsn, size=1)
        holder = child("hold", postgres_dsn, "1", "doomed-run")
        children.append(holder)
        assert holder.stdout is not None
        line = await anyio.to_thread.run_sync(holder.stdout.readline)
        assert line.startswith("held 0"), line
        assert await pool.holders() == ("doomed-run",)
        with pytest.raises(NoFreeLicense, match="doomed-run"):
            async with pool.lease("me", timeout=0.2):
                pass
        os.kill(holder.pid, signal.SIGKILL)
        killed = time.monotonic()
        async with pool.lease("me", timeout=10):
            freed = time.monotonic() - killed
            assert await pool.holders() == ("me",)
        assert freed < 2.0, f"licence came back after {freed:.2f} s"

    @pytest.mark.slow
    async def test_contention(
        self, postgres_dsn: str, children: list[subprocess.Popen[str]]
    ) -> None:
        """Six processes racing for two licences never hold more than
        two at once, and all get their turns."""
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE gauge (n integer)")
            conn.execute("INSERT INTO gauge VALUES (0)")
            conn.execute(
                "CREATE TABLE seen (holder text, slot integer, n integer)"
            )
        # Record the size first, so no child races to set it.
        async with PostgresLicensePool(postgres_dsn, size=2).lease(
            "setup", timeout=1
        ):
            pass
        for i in range(6):
            children.append(child("churn", postgres_dsn, "2", f"w{i}", "15"))
        for proc in children:
            out, _ = await anyio.to_thread.run_sync(proc.communicate, None)
            assert proc.returncode == 0
            assert out.strip() == "done"
        with psycopg.connect(postgres_dsn) as conn:
            rows = conn.execute("SELECT holder, slot, n FROM seen").fetchall()
        assert len(rows) == 6 * 15
        assert max(n for _, _, n in rows) <= 2
        assert {slot for _, slot, _ in rows} == {0, 1}

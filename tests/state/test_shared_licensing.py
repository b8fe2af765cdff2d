"""
The licence pools shared between processes (`FileLicensePool` on one
machine, `PostgresLicensePool` through one database): every handle on
one pool shares its licences, a process configured with another size is
refused, a holder's licence comes back when it dies, and racing
processes never hold more licences than exist.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from ecomsync.exceptions import ConfigurationError, NoFreeLicense
from ecomsync.licensing import FileLicensePool, PostgresLicensePool
from ecomsync.typing import LicensePool


pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]

#: A pool by size: every call a handle on the same licences.
Handles = Callable[[int], LicensePool]


@pytest.fixture(
    name="spec",
    params=["file", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def _spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """
    The shared pool of the test, as the child processes name it.
    """
    if request.param == "file":
        return f"file:{tmp_path / 'pool'}"
    dsn: str = request.getfixturevalue("postgres_dsn")
    return f"postgres:{dsn}"


@pytest.fixture(name="handles")
def _handles(spec: str) -> Handles:
    kind, _, where = spec.partition(":")

    def handle(size: int) -> LicensePool:
        if kind == "file":
            return FileLicensePool(where, size=size)
        return PostgresLicensePool(where, size=size)

    return handle


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


def most_at_once(log: Path) -> tuple[int, int, set[str]]:
    """
    The most holders inside at once in a churn log, how many entries it
    has and the slots entered; every holder leaves the slot it entered.
    """
    inside: dict[str, str] = {}
    slots: set[str] = set()
    most = entries = 0
    for line in log.read_text().splitlines():
        kind, holder, slot = line.split()
        if kind == "in":
            assert holder not in inside
            assert slot not in inside.values(), f"slot {slot} taken twice"
            inside[holder] = slot
            slots.add(slot)
            entries += 1
            most = max(most, len(inside))
        else:
            assert inside.pop(holder) == slot
    return most, entries, slots


class TestHandles:
    async def test_two_handles_share_the_licences(
        self, handles: Handles
    ) -> None:
        """Two pool objects on one pool (two processes' view) share its
        licences."""
        first, second = handles(1), handles(1)

        async with first.lease("run-a", timeout=1):
            with pytest.raises(NoFreeLicense, match="run-a"):
                async with second.lease("run-b", timeout=0.1):
                    pass  # pragma: no cover
        async with second.lease("run-b", timeout=1):
            assert ("run-b",) == await first.holders()

    async def test_size_mismatch_refused(self, handles: Handles) -> None:
        """A process configured with another size than the pool's is
        refused: mixed sizes would hand out too many licences."""
        async with handles(2).lease("a", timeout=1):
            pass

        with pytest.raises(ConfigurationError, match="has 2 licence"):
            async with handles(3).lease("b", timeout=1):
                pass  # pragma: no cover


class TestAcrossProcesses:
    @pytest.mark.slow
    async def test_kill_9_frees_licence(
        self,
        spec: str,
        handles: Handles,
        children: list[subprocess.Popen[str]],
    ) -> None:
        """A holder killed with SIGKILL gives its licence back at once; while
        it lived, another process could not get it."""
        pool = handles(1)
        holder = child("hold", spec, "1", "doomed-run")
        children.append(holder)
        assert holder.stdout is not None
        line = await anyio.to_thread.run_sync(holder.stdout.readline)
        assert line.startswith("held 0"), line
        assert ("doomed-run",) == await pool.holders()
        with pytest.raises(NoFreeLicense, match=r"1 licence.*doomed-run"):
            async with pool.lease("me", timeout=0.2):
                pass  # pragma: no cover

        os.kill(holder.pid, signal.SIGKILL)
        await anyio.to_thread.run_sync(holder.wait)
        killed = time.monotonic()
        async with pool.lease("me", timeout=10):
            freed = time.monotonic() - killed
            assert ("me",) == await pool.holders()

        assert freed < 2.0, f"licence came back after {freed:.2f} s"

    @pytest.mark.slow
    @pytest.mark.parametrize(("processes", "size"), [(2, 1), (6, 2)])
    async def test_contention(
        self,
        tmp_path: Path,
        spec: str,
        handles: Handles,
        children: list[subprocess.Popen[str]],
        processes: int,
        size: int,
    ) -> None:
        """Processes racing for the licences never hold more than exist at
        once, never share a slot, use every slot and all get their
        turns."""
        log = tmp_path / "log"
        # Record the size first, so no child races to set it.
        async with handles(size).lease("setup", timeout=1):
            pass
        for i in range(processes):
            children.append(
                child("churn", spec, str(size), f"w{i}", "25", str(log))
            )
        for proc in children:
            out, _ = await anyio.to_thread.run_sync(proc.communicate, None)
            assert (0, "done") == (proc.returncode, out.strip())

        most, entries, slots = most_at_once(log)

        assert processes * 25 == entries
        assert 1 <= most <= size
        assert {str(slot) for slot in range(size)} == slots

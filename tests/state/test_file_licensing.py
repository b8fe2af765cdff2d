"""
FileLicensePool: licences shared by the processes of one machine as OS
file locks, freed when a holder dies, never more out than exist.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from ecomsync import FileLicensePool
from ecomsync.exceptions import ConfigurationError, LicenseError, NoFreeLicense


pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]


def child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.state._file_licence_child", *args],
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


def most_at_once(log: Path) -> tuple[int, int]:
    """
    The most holders inside at once in a churn log, and how many entries
    it has; every holder leaves the slot it entered.
    """
    inside: dict[str, str] = {}
    most = entries = 0
    for line in log.read_text().splitlines():
        kind, holder, slot = line.split()
        if kind == "in":
            assert holder not in inside
            assert slot not in inside.values(), f"slot {slot} taken twice"
            inside[holder] = slot
            entries += 1
            most = max(most, len(inside))
        else:
            assert inside.pop(holder) == slot
    return most, entries


class TestInProcess:
    async def test_lease_and_return(self, tmp_path: Path) -> None:
        """A lease names its holder while held and is returned after."""
        pool = FileLicensePool(tmp_path / "lic", size=2)

        async with pool.lease("run-a", timeout=1) as lease:
            held = await pool.holders()
            in_use = await pool.in_use()

        assert ("run-a", 0 <= lease.slot < 2) == (lease.holder, True)
        assert (("run-a",), 1) == (held, in_use)
        assert () == await pool.holders()

    async def test_no_free_license(self, tmp_path: Path) -> None:
        """With every licence held, a lease waits, then says how many
        licences exist and which runs hold them."""
        pool = FileLicensePool(tmp_path, size=2)
        async with (
            pool.lease("run-a", timeout=1),
            pool.lease("run-b", timeout=1),
        ):
            started = time.monotonic()
            with pytest.raises(NoFreeLicense) as info:
                async with pool.lease("run-c", timeout=0.3):
                    pass
            waited = time.monotonic() - started

        assert waited >= 0.3
        assert 2 == info.value.size
        assert ["run-a", "run-b"] == sorted(info.value.holders)
        assert "all 2 licence(s) are held by run-" in str(info.value)

    async def test_two_pools_on_one_directory(self, tmp_path: Path) -> None:
        """Two pool objects on one directory (two processes' view) share
        its licences."""
        first = FileLicensePool(tmp_path, size=1)
        second = FileLicensePool(tmp_path, size=1)

        async with first.lease("run-a", timeout=1):
            with pytest.raises(NoFreeLicense, match="run-a"):
                async with second.lease("run-b", timeout=0.1):
                    pass
        async with second.lease("run-b", timeout=1):
            assert ("run-b",) == await first.holders()

    async def test_returned_on_error(self, tmp_path: Path) -> None:
        """A block that raises returns its licence."""
        pool = FileLicensePool(tmp_path, size=1)

        with pytest.raises(RuntimeError):
            async with pool.lease("run-a", timeout=1):
                raise RuntimeError("boom")

        async with pool.lease("run-b", timeout=0.1):
            assert ("run-b",) == await pool.holders()

    async def test_returned_on_cancel(self, tmp_path: Path) -> None:
        """A cancelled block, holding or waiting, returns its licence."""
        pool = FileLicensePool(tmp_path, size=1)
        with anyio.move_on_after(0.1):
            async with pool.lease("run-a", timeout=1):
                await anyio.sleep(10)
        async with pool.lease("run-b", timeout=1):
            with anyio.move_on_after(0.1):
                async with pool.lease("run-c", timeout=10):
                    pytest.fail(
                        "two leases of one licence"
                    )  # pragma: no cover

        async with pool.lease("run-d", timeout=0.1):
            assert ("run-d",) == await pool.holders()

    async def test_waiter_gets_freed_licence(self, tmp_path: Path) -> None:
        """A waiter gets the licence soon after it is returned."""
        pool = FileLicensePool(
            tmp_path, size=1, poll_interval=0.01, max_poll_interval=0.02
        )
        got: list[float] = []

        async def wait() -> None:
            async with pool.lease("run-b", timeout=5):
                got.append(time.monotonic())

        async with (
            anyio.create_task_group() as tg,
            pool.lease("run-a", timeout=1),
        ):
            tg.start_soon(wait)
            await anyio.wait_all_tasks_blocked()
            released = time.monotonic()

        assert released <= got[0] < released + 2.0

    async def test_size_mismatch_refused(self, tmp_path: Path) -> None:
        """A process configured with another size than the directory's is
        refused: mixed sizes would hand out too many licences."""
        async with FileLicensePool(tmp_path, size=2).lease("a", timeout=1):
            pass

        with pytest.raises(ConfigurationError, match="has 2 licence"):
            async with FileLicensePool(tmp_path, size=3).lease("b", timeout=1):
                pass  # pragma: no cover

    async def test_unusable_directory(self, tmp_path: Path) -> None:
        """A path that is a file, not a directory, is a LicenseError
        naming it."""
        path = tmp_path / "file"
        path.write_text("x")

        with pytest.raises(LicenseError, match="file"):
            await FileLicensePool(path, size=1).holders()

    async def test_unreadable_holder(self, tmp_path: Path) -> None:
        """A held slot whose file says nothing readable still counts, as a
        slot of unknown holder."""
        pool = FileLicensePool(tmp_path, size=1)
        async with pool.lease("run-a", timeout=1):
            (tmp_path / "slot-0.lock").write_text("garbage")
            assert ("slot 0 (holder unknown)",) == await pool.holders()

    async def test_holder_text(self, tmp_path: Path) -> None:
        """The lock file names the holding run and process while held and
        is emptied after."""
        pool = FileLicensePool(tmp_path, size=1)
        async with pool.lease("run-a", timeout=1):
            text = json.loads((tmp_path / "slot-0.lock").read_text())

        assert ("run-a", os.getpid()) == (text["holder"], text["pid"])
        assert "" == (tmp_path / "slot-0.lock").read_text()

    def test_repr_and_size(self, tmp_path: Path) -> None:
        """The repr names the directory and the size."""
        pool = FileLicensePool(tmp_path, size=3)

        assert 3 == pool.size
        assert f"<FileLicensePool {str(tmp_path)!r} size=3>" == repr(pool)

    def test_needs_a_licence(self, tmp_path: Path) -> None:
        """A pool of no licences is refused."""
        with pytest.raises(ConfigurationError, match=">= 1"):
            FileLicensePool(tmp_path, size=0)


class TestAcrossProcesses:
    async def test_kill_9_frees_licence(
        self, tmp_path: Path, children: list[subprocess.Popen[str]]
    ) -> None:
        """A holder killed with SIGKILL gives its licence back at once; while
        it lived, another process could not get it."""
        pool = FileLicensePool(tmp_path, size=1)
        holder = child("hold", str(tmp_path), "1", "doomed-run")
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

    @pytest.mark.parametrize(("processes", "size"), [(2, 1), (6, 2)])
    async def test_contention(
        self,
        tmp_path: Path,
        children: list[subprocess.Popen[str]],
        processes: int,
        size: int,
    ) -> None:
        """Processes racing for the licences never hold more than exist at
        once, never share a slot, and all get their turns."""
        log = tmp_path / "log"
        directory = tmp_path / "pool"
        for i in range(processes):
            children.append(
                child(
                    "churn", str(directory), str(size), f"w{i}", "25", str(log)
                )
            )
        for proc in children:
            out, _ = await anyio.to_thread.run_sync(proc.communicate, None)
            assert (0, "done") == (proc.returncode, out.strip())

        most, entries = most_at_once(log)

        assert processes * 25 == entries
        assert 1 <= most <= size

"""
FileLicensePool: licences shared by the processes of one machine as OS
file locks.  What every pool does is in `test_licence_contract.py`, what
the pools shared between processes do in `test_shared_licensing.py`;
here what is the directory's own.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecomsync import FileLicensePool
from ecomsync.exceptions import LicenseError


if sys.platform != "win32":
    import resource


pytestmark = pytest.mark.anyio


class TestDirectory:
    async def test_in_use(self, tmp_path: Path) -> None:
        """The pool counts the licences held right now."""
        pool = FileLicensePool(tmp_path / "lic", size=2)

        async with pool.lease("run-a", timeout=1):
            in_use = await pool.in_use()

        assert (1, 0) == (in_use, await pool.in_use())

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

    def test_repr(self, tmp_path: Path) -> None:
        """The repr names the directory and the size."""
        pool = FileLicensePool(tmp_path, size=3)

        assert f"<FileLicensePool {str(tmp_path)!r} size=3>" == repr(pool)


@contextlib.contextmanager
def _no_file_growth() -> Iterator[None]:
    """
    No file of this process may grow for the block (RLIMIT_FSIZE 0): the
    kernel refuses such writes with EFBIG, as a full disk or a quota does
    with ENOSPC or EDQUOT.
    """
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, limits[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_FSIZE")
class TestFullDisk:
    async def test_lease_held_without_its_holder(self, tmp_path: Path) -> None:
        """A slot file that cannot take its holder's name (a full disk,
        a quota) still gives the licence, held by an unknown holder; it
        raised the bare OSError, so no run got a licence."""
        pool = FileLicensePool(tmp_path, size=1)
        await pool.holders()

        with _no_file_growth():
            lease = pool.lease("run-a", timeout=1)
            await lease.__aenter__()
        try:
            held = await pool.holders()
        finally:
            await lease.__aexit__(None, None, None)

        assert ("slot 0 (holder unknown)",) == held
        assert () == await pool.holders()

    async def test_slot_file_cannot_be_made(self, tmp_path: Path) -> None:
        """A slot file that cannot be opened is a LicenseError naming
        the directory (it was the bare OSError)."""
        pool = FileLicensePool(tmp_path / "lic", size=1)
        await pool.holders()
        (tmp_path / "lic" / "slot-0.lock").mkdir()

        with pytest.raises(LicenseError, match="lic"):
            async with pool.lease("run-a", timeout=1):
                pass

    async def test_pool_record_not_written_leaves_nothing(
        self, tmp_path: Path
    ) -> None:
        """A pool whose size record cannot be written (a full disk, a
        quota) is a LicenseError naming the directory, and each attempt
        leaves no file behind: every run's attempt left an empty
        ``.pool-<uuid>.tmp`` in the directory."""
        path = tmp_path / "lic"
        path.mkdir()
        pool = FileLicensePool(path, size=1)

        with _no_file_growth():
            for _ in range(3):
                with pytest.raises(LicenseError, match="lic"):
                    async with pool.lease("run-a", timeout=1):
                        pass  # pragma: no cover

        assert [] == sorted(p.name for p in path.iterdir())
        async with pool.lease("run-a", timeout=1):
            assert ("run-a",) == await pool.holders()

"""
FileLicensePool: licences shared by the processes of one machine as OS
file locks.  What every pool does is in `test_licence_contract.py`, what
the pools shared between processes do in `test_shared_licensing.py`;
here what is the directory's own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ecomsync import FileLicensePool
from ecomsync.exceptions import LicenseError


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

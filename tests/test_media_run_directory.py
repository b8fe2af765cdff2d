"""
A run's staging directory: cannot be made, ended while staging, retired.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from ecomsync import (
    MediaStaging,
    MediaStagingError,
    SqliteStore,
)
from ecomsync import _staging_fs as fs
from ecomsync.media import RunStaging

from ._backends import both_backends
from ._media import (
    BatchingStore,
    files,
    media_staging,
)


pytestmark = pytest.mark.anyio


_anyio_backend = both_backends

_staging = media_staging


class TestRunDirectory:
    async def test_cannot_make(
        self,
        staging: MediaStaging,
        store: SqliteStore,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A run directory that cannot be made fails the file with a
        MediaStagingError, leaving no lock, entry or byte behind."""
        monkeypatch.setattr(fs.secrets, "token_hex", lambda n: "0" * 2 * n)
        (staging.directory / f"run-{'0' * 32}").write_bytes(b"in the way")

        async with staging.for_run("r1") as run:
            with pytest.raises(MediaStagingError, match="cannot stage"):
                await run.stage(b"cat", filename="a", mime_type="x/y")

        assert [f"run-{'0' * 32}"] == files(staging.directory)
        assert [] == await store.list_pending()
        assert 0 == staging.used_bytes

    async def test_ended_while_staging(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A file still being staged when its run's block is left fails,
        and leaves nothing behind."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        batched = BatchingStore(store)
        await staging.open(batched)
        errors: list[MediaStagingError] = []

        async def late(run: RunStaging) -> None:
            try:
                await run.stage(b"cat", filename="a", mime_type="x/y")
            except MediaStagingError as exc:
                errors.append(exc)

        async with anyio.create_task_group() as tg:
            async with staging.for_run("r1") as run:
                await run.stage(b"dog", filename="b", mime_type="x/y")
                batched.gate = anyio.Event()
                tg.start_soon(late, run)
                # The late file waits for its journal entry.
                await batched.waiting.wait()
            batched.gate.set()

        assert 1 == len(errors)
        assert [] == files(staging.directory)
        assert [] == await store.list_pending()
        assert 0 == staging.used_bytes

    def test_retire_all(self, tmp_path: Path) -> None:
        """Taking staged files away renames each to its spare name or
        deletes it, and reports which are gone and which became spares;
        one that cannot be deleted is kept (and keeps its journal
        entry)."""
        for name in ("kept", "file"):
            (tmp_path / name).write_bytes(b"data")
        (tmp_path / "dir").mkdir()
        spare = str(tmp_path / f".{'1' * 16}.spare")
        files: list[tuple[str, str | None]] = [
            (str(tmp_path / "kept"), spare),
            (str(tmp_path / "file"), None),
            (str(tmp_path / "missing"), str(tmp_path / f".{'2' * 16}.spare")),
            (str(tmp_path / "dir"), None),
        ]

        gone = fs.retire_all(files)

        assert {
            str(tmp_path / "kept"): spare,
            str(tmp_path / "file"): None,
            str(tmp_path / "missing"): None,
        } == gone
        assert [f".{'1' * 16}.spare", "dir"] == sorted(
            p.name for p in tmp_path.iterdir()
        )
        assert b"data" == Path(spare).read_bytes()

    async def test_repr(self, staging: MediaStaging) -> None:
        """The repr names the directory and the budget in use."""
        assert repr(staging).endswith("staging' 0/100 bytes>")

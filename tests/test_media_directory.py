"""
Media staging's directory: created and marked as ecomsync's, a foreign or
unusable one refused, dead runs removed on open and at run start, live runs
and foreign files kept.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from ecomsync import (
    MediaStaging,
    MediaStagingError,
    SqliteStore,
    _staging_run,
)
from ecomsync._contracts import PendingMedia
from ecomsync._staging_fs import MARKER

from ._backends import both_backends
from ._media import (
    SHA_CAT,
    BatchingStore,
    dead_run,
    files,
    media_staging,
)
from .conftest import T0


pytestmark = pytest.mark.anyio


_anyio_backend = both_backends

_staging = media_staging


class TestDirectory:
    async def test_creates_and_marks(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A missing directory is created and marked as ecomsync's."""
        root = tmp_path / "a" / "b"

        await MediaStaging(root, memory_bytes=0).open(store)

        assert [MARKER] == [p.name for p in root.iterdir()]

    async def test_adopts_empty(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """An existing empty directory (mkdtemp) is adopted and marked."""
        await MediaStaging(tmp_path, memory_bytes=0).open(store)

        assert (tmp_path / MARKER).is_file()

    async def test_adopts_ours_without_marker(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A directory holding nothing but run directories and locks of
        ecomsync's, its marker deleted (systemd-tmpfiles ages out a file
        in /tmp that nobody writes), is marked again and its dead runs
        swept (it was refused as foreign: no process could stage until
        an operator emptied it)."""
        root = tmp_path / "staging"
        await MediaStaging(root, memory_bytes=0).open(store)
        dead = dead_run(root, **{SHA_CAT: b"cat"})
        (root / MARKER).unlink()

        removed = await MediaStaging(root, memory_bytes=0).open(store)

        assert (root / MARKER).is_file()
        assert [f"{dead.name}/{SHA_CAT}"] == removed
        assert [] == files(root)

    @pytest.mark.parametrize("what", ["file", "hidden", "directory"])
    async def test_refuses_foreign(
        self, tmp_path: Path, store: SqliteStore, what: str
    ) -> None:
        """A non-empty directory ecomsync did not create (".",
        "/var/tmp") is refused with an error naming it, and nothing in it
        is touched, not even files named like staged ones."""
        root = tmp_path / "var-tmp"
        root.mkdir()
        name = {"file": SHA_CAT, "hidden": ".x", "directory": "run-0"}[what]
        if what == "directory":
            (root / name).mkdir()
        else:
            (root / name).write_bytes(b"precious")

        with pytest.raises(MediaStagingError, match="refusing") as exc:
            await MediaStaging(root, memory_bytes=0).open(store)

        assert str(root) in str(exc.value)
        assert [name] == [p.name for p in root.iterdir()]

    async def test_cwd_refused(
        self,
        tmp_path: Path,
        store: SqliteStore,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """MediaStaging(".") in a directory with files is refused."""
        (tmp_path / "notes.txt").write_text("mine")
        monkeypatch.chdir(tmp_path)

        with pytest.raises(MediaStagingError, match="refusing"):
            await MediaStaging(".", memory_bytes=0).open(store)

        assert ["notes.txt"] == [p.name for p in tmp_path.iterdir()]

    async def test_not_a_directory(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A file where the directory should be is a MediaStagingError."""
        (tmp_path / "f").write_bytes(b"")

        with pytest.raises(MediaStagingError, match="not a directory"):
            await MediaStaging(tmp_path / "f", memory_bytes=0).open(store)

    async def test_unusable_directory(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A directory that cannot be made is a MediaStagingError."""
        blocker = tmp_path / "file"
        blocker.write_bytes(b"")

        with pytest.raises(MediaStagingError, match="cannot use"):
            await MediaStaging(blocker / "sub", memory_bytes=0).open(store)

    async def test_open_removes_dead_runs(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """Opening removes what a run that died left: its files, temp
        files, directory, lock and journal entries; an entry of another
        host or directory stays."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        root = (tmp_path / "staging").resolve()
        tmp = f".{SHA_CAT}.{'0' * 16}.tmp"
        run = dead_run(root, **{SHA_CAT: b"cat", tmp: b"ca"})
        orphan = dead_run(root, **{"b" * 64: b"x"})
        (root / f"{orphan.name}.lock").unlink()
        # Died between locking and making its directory.
        (root / f"run-{'f' * 32}.lock").write_bytes(b"")
        for sha, meta in [
            ("a" * 64, {"directory": str(run), "host": _staging_run.HOST}),
            ("b" * 64, {"directory": str(run), "host": "elsewhere"}),
            (
                "c" * 64,
                {"directory": "/other/run-1", "host": _staging_run.HOST},
            ),
            ("d" * 64, {}),
        ]:
            await store.add_pending(
                PendingMedia(sha256=sha, size=1, registered_at=T0, meta=meta)
            )

        removed = await staging.open(store)

        assert {
            f"{run.name}/{SHA_CAT}",
            f"{run.name}/{tmp}",
            f"{orphan.name}/{'b' * 64}",
        } == set(removed)
        assert [] == files(root)
        assert ["b" * 64, "c" * 64, "d" * 64] == sorted(
            p.sha256 for p in await store.list_pending()
        )

    async def test_run_start_removes_dead_runs(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A run that died while this process kept going (another process
        sharing the directory) is removed when the next run starts; an
        entry whose run directory is gone goes too."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        root = (tmp_path / "staging").resolve()
        run = dead_run(root, **{SHA_CAT: b"cat"})
        for sha, where in [("a" * 64, run), ("b" * 64, root / "run-gone")]:
            await store.add_pending(
                PendingMedia(
                    sha256=sha,
                    size=1,
                    registered_at=T0,
                    meta={"directory": str(where), "host": _staging_run.HOST},
                )
            )

        async with staging.for_run("r1"):
            assert [] == files(root)
            assert [] == await store.list_pending()

    async def test_store_fails_at_run_end(
        self,
        tmp_path: Path,
        store: SqliteStore,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """When the store fails while a run ends, its files and budget are
        still released (a warning says so), and the entries go at the
        next recovery."""
        batched = BatchingStore(store)
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(batched)

        async with staging.for_run("r1") as run:
            await run.stage(b"cat", filename="a", mime_type="x/y")
            await run.stage(b"dog", filename="b", mime_type="x/y")
            batched.fail = True

        assert [] == files(staging.directory)
        assert 0 == staging.used_bytes
        assert "journal entries left for recovery" in caplog.text
        assert 2 == len(await store.list_pending())
        batched.fail = False
        await staging.open(batched)
        assert [] == await store.list_pending()

    async def test_directory_gone(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A staging directory removed under a running process is made
        and marked again when the next run starts (a temporary-files
        cleaner deleted it; see tests/test_staging_faults.py)."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        (tmp_path / "staging" / MARKER).unlink()
        (tmp_path / "staging").rmdir()

        async with staging.for_run("r1") as run:
            staged = await run.stage(b"cat", filename="c", mime_type="x")
            assert b"cat" == staged.path.read_bytes()
        assert (tmp_path / "staging" / MARKER).is_file()
        await staging.aclose()

    async def test_open_keeps_foreign_files(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """Files ecomsync did not write stay, even in its own directory
        and in a dead run's directory (which then stays too)."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        root = tmp_path / "staging"
        (root / "notes.txt").write_text("mine")
        run = dead_run(root, **{"photo.jpg": b"mine", SHA_CAT: b"cat"})
        (run / "link").symlink_to(root / "notes.txt")

        removed = await staging.open(store)

        assert [f"{run.name}/{SHA_CAT}"] == removed
        assert sorted(
            [
                "notes.txt",
                run.name,
                f"{run.name}/link",
                f"{run.name}/photo.jpg",
            ]
        ) == files(root)

    @pytest.mark.parametrize("lock", [True, False])
    async def test_run_directory_symlink_not_followed(
        self, tmp_path: Path, store: SqliteStore, lock: bool
    ) -> None:
        """A symlink named like a dead run's directory (with or without
        its free lock) is not followed: the files named like staged ones
        where it points stay (they were deleted)."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        root = tmp_path / "staging"
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / SHA_CAT).write_bytes(b"precious")
        run = f"run-{'a' * 32}"
        (root / run).symlink_to(elsewhere)
        if lock:
            (root / f"{run}.lock").write_bytes(b"")

        removed = await staging.open(store)

        assert [] == removed
        assert b"precious" == (elsewhere / SHA_CAT).read_bytes()

    async def test_file_named_like_a_run_does_not_stop_the_sweep(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A file (not a directory) named like a run's directory beside a
        free lock stays, and the dead runs after it are swept all the
        same (the sweep stopped there at every run: 'Not a directory')."""
        staging = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await staging.open(store)
        root = tmp_path / "staging"
        odd = f"run-{'0' * 32}"
        (root / odd).write_bytes(b"not ours")
        (root / f"{odd}.lock").write_bytes(b"")
        dead = dead_run(root, **{SHA_CAT: b"cat"})

        removed = await staging.open(store)

        assert [f"{dead.name}/{SHA_CAT}"] == removed
        assert b"not ours" == (root / odd).read_bytes()

    async def test_open_keeps_live_runs(
        self, tmp_path: Path, store: SqliteStore
    ) -> None:
        """A second MediaStaging on the same directory (another process)
        leaves the files and entries of the first one's live run alone."""
        first = MediaStaging(tmp_path / "staging", memory_bytes=0)
        await first.open(store)
        async with first.for_run("r1") as run:
            staged = await run.stage(b"theirs", filename="a", mime_type="x/y")

            await MediaStaging(tmp_path / "staging", memory_bytes=0).open(
                store
            )

            assert staged.path.exists()
            assert [staged.sha256] == [
                p.sha256 for p in await store.list_pending()
            ]

    async def test_default_directory(self) -> None:
        """The default directory is per user under the temp directory."""
        directory = MediaStaging().directory

        assert Path(tempfile.gettempdir()) == directory.parent
        assert directory.name.startswith("ecomsync-staging")

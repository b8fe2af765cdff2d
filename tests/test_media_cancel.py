"""
Media staging cancelled: at every await point of the media path, as an
upload answers, by a sibling upload's fatal error.  After each: no file,
no journal entry, no byte of budget left, and the next run works.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

from ecomsync import (
    AuthenticationError,
    MediaStaging,
    MediaUploaded,
    MemoryErp,
    MemoryPlatform,
    RunStatus,
    SqliteStore,
    StagedMedia,
    Synchronizer,
)
from ecomsync import _staging_fs as fs

from ._backends import both_backends
from ._media_cuts import SPEC, Cut, Wrapped, assert_clean, staged


pytestmark = pytest.mark.anyio

_anyio_backend = both_backends


# -- cancel at every await point -------------------------------------------


class StepWrapped(Wrapped):
    """
    A wrapped store whose class has `update_pending`, so that staging
    takes its one-hop journal steps: cuts before a step and in its thread
    (before the files are taken away).
    """

    async def update_pending(
        self, closing: Callable[[], Any] | None, adding: Any = ()
    ) -> None:
        await self._cut.reached("update_pending")
        if closing is not None:
            closing = self._cut.in_thread("update_pending closing", closing)
        await self._inner.update_pending(closing, adding)


class CutErp(Wrapped):
    @asynccontextmanager
    async def session(self) -> AsyncIterator[Any]:
        async with self._inner.session() as session:
            yield Wrapped(session, self._cut, {"read_media"})


@attrs.define
class CutStaging(MediaStaging):
    """
    A MediaStaging whose budget wait is a cut point.
    """

    cut: Cut | None = None

    async def _wait_budget(self) -> None:
        if self.cut:
            await self.cut.reached("budget wait")
        await super()._wait_budget()


#: Every await point of the media path, and which occurrence to cut at.
POINTS = {
    "read_media": 2,  # the ERP reads the file
    "get_media_id": 2,  # the store: does the platform have it?
    "budget wait": 1,  # staging waits for budget
    "run directory": 1,  # the run's directory is made (a thread)
    "add_pending_many": 2,  # the journal entry, before the write
    "write": 2,  # the file is written (a thread)
    "upload_media": 2,  # the platform uploads it
    "unlink": 1,  # release deletes the file (a thread, shielded)
    "remove_pending_many": 1,  # release closes the entry (shielded)
    "put_media_id": 2,  # the store remembers the platform's id
    "MediaUploaded": 2,  # the event reaches the host
}
#: The same with a store that has `update_pending` (the built-in ones):
#: the journal's adds and closes go in its steps.
STEP_POINTS = {
    **{
        k: v
        for k, v in POINTS.items()
        if k not in {"add_pending_many", "remove_pending_many"}
    },
    "update_pending": 2,  # a step: closes and adds, files taken away
    "update_pending closing": 2,  # in the step's thread
}
CASES = [
    *POINTS,
    *(pytest.param(f"step:{p}", id=f"step-{p}") for p in STEP_POINTS),
]


@pytest.fixture(name="cut_sync")
def _cut_sync(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    erp: MemoryErp,
    platform: MemoryPlatform,
    store: SqliteStore,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Synchronizer, Cut]:
    point = request.param
    steps = point.startswith("step:")
    point = point.removeprefix("step:")
    cut = Cut(point, (STEP_POINTS if steps else POINTS)[point])
    monkeypatch.setattr(
        fs, "new_run_dir", cut.in_thread("run directory", fs.new_run_dir)
    )
    # The files of a journal group are written and fsynced in one thread
    # call (renamed after it, on the event loop's thread).
    monkeypatch.setattr(fs, "settle", cut.in_thread("write", fs.settle))
    monkeypatch.setattr(
        fs, "retire_all", cut.in_thread("unlink", fs.retire_all)
    )
    store_names = {"get_media_id", "add_pending_many", "remove_pending_many"}
    sync = Synchronizer(
        erp=CutErp(erp, cut, set()),  # type: ignore[arg-type]
        platforms={"shop": Wrapped(platform, cut, {"upload_media"})},  # type: ignore[dict-item]
        store=(StepWrapped if steps else Wrapped)(  # type: ignore[arg-type]
            store, cut, store_names | {"put_media_id"}
        ),
        # Room for one file at a time: runs wait for budget.
        staging=CutStaging(
            tmp_path / "staging", max_bytes=8, memory_bytes=0, cut=cut
        ),
        license_timeout=5.0,
    )
    return sync, cut


class TestCancel:
    @pytest.mark.parametrize("cut_sync", CASES, indirect=True)
    async def test_cancel_leaves_nothing(
        self,
        cut_sync: tuple[Synchronizer, Cut],
        store: SqliteStore,
        platform: MemoryPlatform,
    ) -> None:
        """A run cancelled at any await point of the media path leaves no
        file, journal entry or budget, and the next run (one file of
        budget) goes through instead of hanging."""
        sync, cut = cut_sync
        with anyio.fail_after(20), anyio.CancelScope() as scope:
            cut.scope = scope
            async with sync.run(SPEC) as events:
                async for event in events:
                    if isinstance(event, MediaUploaded):
                        await cut.reached("MediaUploaded")

        assert cut.fired
        assert scope.cancelled_caught
        assert isinstance(sync.staging, CutStaging)
        await assert_clean(sync.staging, store)

        cut.scope = None
        with anyio.fail_after(20):
            run = await sync.execute(SPEC)

        assert RunStatus.SUCCEEDED == run.status
        assert 6 == len(platform.attachments)
        await assert_clean(sync.staging, store)


class CancelAfterUpload(MemoryPlatform):
    """
    A MemoryPlatform that cancels the host's scope as its first upload
    answers: the cancel lands between the upload and the store saving
    the media id.
    """

    scope: anyio.CancelScope | None = None
    shas: list[str] | None = None

    async def upload_media(self, media: StagedMedia) -> str:
        media_id = await super().upload_media(media)
        if self.shas is not None:
            self.shas.append(media.sha256)
        if self.scope is not None:
            self.scope.cancel()
            self.scope = None
        return media_id


class TestCancelAfterUpload:
    async def test_uploaded_content_is_remembered(
        self, tmp_path: Path, erp: MemoryErp, store: SqliteStore
    ) -> None:
        """A cancel that strikes as an upload answers still lets the store
        remember the platform's id for that content, so the next run does
        not upload it a second time (a duplicate file in the shop's
        media library, where ids are not derived from content)."""
        platform = CancelAfterUpload()
        sync = staged(erp=erp, platform=platform, store=store, tmp=tmp_path)
        platform.shas = []
        with anyio.fail_after(20), anyio.CancelScope() as scope:
            platform.scope = scope
            await sync.execute(SPEC)
        assert scope.cancelled_caught
        uploaded = list(platform.shas)
        assert uploaded

        remembered = [await store.get_media_id("shop", s) for s in uploaded]
        run = await sync.execute(SPEC)

        assert None not in remembered
        assert RunStatus.SUCCEEDED == run.status
        assert sorted(set(platform.shas)) == sorted(platform.shas)
        assert 6 == len(platform.shas)


class RefusingPlatform(MemoryPlatform):
    """
    A MemoryPlatform whose credentials are refused at the third upload,
    while other uploads are still in flight.
    """

    refuse: bool = True

    async def upload_media(self, media: StagedMedia) -> str:
        self.calls["upload attempts"] += 1
        if self.refuse and self.calls["upload attempts"] == 3:
            raise AuthenticationError("the shop refused the credentials")
        await anyio.sleep(0.05)
        return await super().upload_media(media)


class TestSiblingFailure:
    async def test_refused_mid_upload_then_small_budget(
        self, tmp_path: Path, erp: MemoryErp, store: SqliteStore
    ) -> None:
        """Uploads in flight cancelled by a sibling's fatal error (issue
        13.2) leave no file, entry or budget, and the next run with room
        for one file at a time does not hang."""
        platform = RefusingPlatform()
        sync = staged(erp=erp, platform=platform, store=store, tmp=tmp_path)

        with anyio.fail_after(20), pytest.raises(AuthenticationError):
            await sync.execute(SPEC)

        assert 2 <= sync.staging.peak_bytes // 7  # uploads were in flight
        await assert_clean(sync.staging, store)
        platform.refuse = False
        sync.staging.max_bytes = 8
        with anyio.fail_after(20):
            run = await sync.execute(SPEC)

        assert RunStatus.SUCCEEDED == run.status
        assert 6 == len(platform.attachments)
        await assert_clean(sync.staging, store)

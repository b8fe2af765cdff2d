"""
The lifecycle of the synchroniser and of everything that holds
resources: ``async with``, ``aclose()`` once, use after close refused,
what is closed and what is left to the host.
"""

from __future__ import annotations

import tempfile
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from ecomsync import (
    All,
    Article,
    DataType,
    FileLicensePool,
    LocalLicensePool,
    MediaStaging,
    MemoryErp,
    MemoryPlatform,
    ResourceClosed,
    RunEvents,
    RunStatus,
    Schedule,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync._schedules import _serve_one
from ecomsync.exceptions import ConfigurationError
from ecomsync.typing import SupportsAclose

from ._support import spec


pytestmark = pytest.mark.anyio


@pytest.fixture(name="tmpdir_default")
def _tmpdir_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """
    The system temporary directory, as the default staging sees it, moved
    into this test's own directory (other processes share the real one).
    """
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return temp


def media_run() -> SyncSpec:
    return spec(categories=All(), articles=All())


class TestSynchronizerClose:
    async def test_default_staging_removed(
        self, erp: MemoryErp, platform: MemoryPlatform, tmpdir_default: Path
    ) -> None:
        """The default staging directory a run created is gone once the
        block ends; the host's platform and ERP stay open."""
        async with Synchronizer(erp=erp, platforms={"shop": platform}) as sync:
            record = await sync.execute(media_run())
            assert [] != list(tmpdir_default.iterdir())

        assert RunStatus.SUCCEEDED is record.status
        assert [] == list(tmpdir_default.iterdir())
        assert not platform.closed
        assert not erp.closed

    async def test_default_staging_removed_after_error(
        self, erp: MemoryErp, platform: MemoryPlatform, tmpdir_default: Path
    ) -> None:
        """An exception inside the block still closes: the default staging
        directory is gone and the exception comes out unchanged."""
        sync = Synchronizer(erp=erp, platforms={"shop": platform})

        async def fail() -> None:
            async with sync:
                await sync.execute(media_run())
                raise KeyError("boom")

        with pytest.raises(KeyError, match="boom"):
            await fail()

        assert [] == list(tmpdir_default.iterdir())
        assert sync.closed

    async def test_default_staging_shared_stays(
        self, erp: MemoryErp, platform: MemoryPlatform, tmpdir_default: Path
    ) -> None:
        """The default directory stays while another user holds it; the
        last one to close removes it."""
        other = MediaStaging()
        async with SqliteStore(":memory:") as store:
            await other.open(store)
            async with Synchronizer(
                erp=erp, platforms={"shop": platform}
            ) as sync:
                await sync.execute(media_run())
            assert other.directory.is_dir()

            await other.aclose()

        assert [] == list(tmpdir_default.iterdir())

    async def test_default_staging_with_foreign_file_stays(
        self, erp: MemoryErp, platform: MemoryPlatform, tmpdir_default: Path
    ) -> None:
        """Something not ours in the default directory keeps it, with its
        marker, so that the next process may use it again."""
        async with Synchronizer(erp=erp, platforms={"shop": platform}) as sync:
            await sync.execute(media_run())
            (sync.staging.directory / "notes.txt").write_text("mine")

        assert [".ecomsync-staging", "notes.txt"] == sorted(
            p.name for p in sync.staging.directory.iterdir()
        )

    async def test_made_defaults_closed(
        self, erp: MemoryErp, platform: MemoryPlatform, tmpdir_default: Path
    ) -> None:
        """The store, licence pool and staging it made itself are closed."""
        sync = Synchronizer(erp=erp, platforms={"shop": platform})
        made = [sync.store, sync.licenses, sync.staging]

        await sync.aclose()

        assert [True, True, True] == [
            m.closed  # type: ignore[attr-defined]
            for m in made
        ]

    async def test_passed_in_left_open(
        self,
        erp: MemoryErp,
        platform: MemoryPlatform,
        store: SqliteStore,
        tmp_path: Path,
    ) -> None:
        """What the host passed in is the host's to close: all of it stays
        usable after the synchroniser closed."""
        pool = LocalLicensePool(2)
        staging = MediaStaging(tmp_path / "staging")
        async with Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=store,
            licenses=pool,
            staging=staging,
        ) as sync:
            await sync.execute(media_run())

        assert [False] * 5 == [
            platform.closed,
            erp.closed,
            store.closed,
            pool.closed,
            staging.closed,
        ]
        assert 1 == len(await store.list_runs())
        assert (tmp_path / "staging").is_dir()

    async def test_owns_closes_passed_in(
        self,
        erp: MemoryErp,
        platform: MemoryPlatform,
        tmp_path: Path,
    ) -> None:
        """With owns=True, closing closes the ERP, platforms, store, pool
        and staging passed in."""
        store = SqliteStore(tmp_path / "state.db")
        pool = FileLicensePool(tmp_path / "licences", size=1)
        staging = MediaStaging(tmp_path / "staging")
        async with Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=store,
            licenses=pool,
            staging=staging,
            owns=True,
        ) as sync:
            await sync.execute(media_run())

        assert [True] * 5 == [
            platform.closed,
            erp.closed,
            store.closed,
            pool.closed,
            staging.closed,
        ]
        # A directory the host named stays (empty but for the marker).
        assert [".ecomsync-staging"] == [
            p.name for p in (tmp_path / "staging").iterdir()
        ]

    async def test_owns_skips_what_cannot_close(
        self, platform: MemoryPlatform
    ) -> None:
        """An ERP without aclose (it is optional) is simply not closed."""

        class Plain:
            def session(self) -> object:  # pragma: no cover - never used
                raise AssertionError

        sync = Synchronizer(
            erp=Plain(),  # type: ignore[arg-type]
            platforms={"shop": platform},
            owns=True,
        )

        await sync.aclose()

        assert platform.closed

    async def test_close_errors_after_closing_the_rest(
        self, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """A part that fails to close does not keep the others open; its
        error comes out once everything was tried."""

        class Failing(MemoryPlatform):
            async def _close(self) -> None:
                raise OSError("socket trouble")

        sync = Synchronizer(
            erp=erp,
            platforms={"bad": Failing(), "shop": platform},
            owns=True,
        )

        with pytest.raises(OSError, match="socket trouble"):
            await sync.aclose()

        assert platform.closed
        assert erp.closed
        assert sync.store.closed  # type: ignore[attr-defined]

    async def test_double_close(
        self, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """Closing twice, or leaving a block after aclose, is harmless."""
        async with Synchronizer(erp=erp, platforms={"shop": platform}) as sync:
            await sync.aclose()
        await sync.aclose()

        assert sync.closed

    @pytest.mark.parametrize(
        "use",
        [
            lambda s: s.execute(spec(articles=All())),
            lambda s: s.plan(spec(articles=All())),
            lambda s: s.check(),
            lambda s: s.runs(),
            lambda s: s.cancel("r1"),
            lambda s: s.serve(),
            lambda s: s.add_schedule(
                spec(articles=All()), every=timedelta(minutes=1)
            ),
            lambda s: s.__aenter__(),
        ],
    )
    async def test_use_after_close(
        self, erp: MemoryErp, platform: MemoryPlatform, use: object
    ) -> None:
        """Every use of a closed synchroniser raises ResourceClosed, a
        ConfigurationError and a RuntimeError, naming it."""
        sync = Synchronizer(erp=erp, platforms={"shop": platform})
        await sync.aclose()

        with pytest.raises(ResourceClosed, match=r"<Synchronizer .*closed"):
            await use(sync)  # type: ignore[operator]
        assert issubclass(ResourceClosed, ConfigurationError)
        assert issubclass(ResourceClosed, RuntimeError)

    async def test_resume_after_close(
        self, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """Resuming on a closed synchroniser is refused too."""
        sync = Synchronizer(erp=erp, platforms={"shop": platform})
        await sync.aclose()

        with pytest.raises(ResourceClosed):
            async with sync.resume("r1"):
                pass  # pragma: no cover

    async def test_run_in_progress_is_cancelled(
        self, platform: MemoryPlatform, tmpdir_default: Path
    ) -> None:
        """A run still in progress in another task when the block ends is
        asked to stop and awaited: it ends cancelled, recorded as such,
        before the store and staging close."""
        erp = MemoryErp(
            [
                *(
                    Article(number=f"A-{i}", name=f"A {i}", price=1)
                    for i in range(50)
                )
            ],
            latency=0.01,
        )
        store = SqliteStore(":memory:")
        ended: list[RunStatus] = []

        async def run(sync: Synchronizer, started: anyio.Event) -> None:
            async with sync.run(spec(articles=All())) as events:
                async for _ in events:
                    started.set()
            assert events.summary is not None
            ended.append(events.summary.status)

        async with anyio.create_task_group() as tg:
            async with Synchronizer(
                erp=erp,
                platforms={"shop": platform},
                store=store,
                batch_size=1,
            ) as sync:
                started = anyio.Event()
                tg.start_soon(run, sync, started)
                await started.wait()

            # The run ended, and was recorded so, before the block was
            # left (its host task reads the end of its events later).
            (record,) = await store.list_runs()
            assert RunStatus.CANCELLED is record.status
            assert len(platform.held(DataType.ARTICLES)) < 50

        assert [RunStatus.CANCELLED] == ended
        await store.aclose()

    async def test_serve_ends_on_close(
        self, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """serve() in another task returns once the synchroniser closes."""
        returned = anyio.Event()

        async def serve(sync: Synchronizer) -> None:
            await sync.serve(poll_interval=0.01)
            returned.set()

        async with anyio.create_task_group() as tg:
            async with Synchronizer(
                erp=erp, platforms={"shop": platform}
            ) as sync:
                tg.start_soon(serve, sync)
                await anyio.wait_all_tasks_blocked()
            with anyio.fail_after(5):
                await returned.wait()

        assert returned.is_set()


class TestResources:
    @pytest.mark.parametrize(
        "make",
        [
            lambda p: MemoryErp(),
            lambda p: MemoryPlatform(),
            lambda p: SqliteStore(p / "s.db"),
            lambda p: LocalLicensePool(1),
            lambda p: FileLicensePool(p / "lic", size=1),
            lambda p: MediaStaging(p / "staging"),
        ],
        ids=["erp", "platform", "sqlite", "local", "file", "staging"],
    )
    async def test_async_with_and_double_close(
        self, make: object, tmp_path: Path
    ) -> None:
        """Each is an async context manager that closes on exit; closing
        again is harmless; entering a closed one is refused."""
        thing = make(tmp_path)  # type: ignore[operator]
        assert isinstance(thing, SupportsAclose)

        async with thing as entered:
            assert entered is thing
            assert not thing.closed
        await thing.aclose()

        assert thing.closed
        with pytest.raises(ResourceClosed):
            await thing.__aenter__()

    async def test_store_after_close(self, tmp_path: Path) -> None:
        """A closed store refuses to be used, rather than reopening."""
        store = SqliteStore(tmp_path / "s.db")
        await store.list_runs()
        await store.aclose()

        with pytest.raises(ResourceClosed, match="SqliteStore"):
            await store.list_runs()

    async def test_pools_after_close(self, tmp_path: Path) -> None:
        """A closed licence pool hands out no lease."""
        for pool in [
            LocalLicensePool(1),
            FileLicensePool(tmp_path / "lic", size=1),
        ]:
            await pool.aclose()
            with pytest.raises(ResourceClosed):
                async with pool.lease("r1", timeout=1):
                    pass  # pragma: no cover

    async def test_memory_adapters_after_close(self) -> None:
        """The memory ERP and platform refuse work once closed."""
        erp, platform = MemoryErp(), MemoryPlatform()
        await erp.aclose()
        await platform.aclose()

        with pytest.raises(ResourceClosed, match="MemoryErp"):
            async with erp.session():
                pass  # pragma: no cover
        with pytest.raises(ResourceClosed, match="MemoryPlatform"):
            await platform.push(DataType.ARTICLES, [])

    async def test_staging_after_close(self, tmp_path: Path) -> None:
        """A closed staging neither opens nor stages."""
        staging = MediaStaging(tmp_path / "staging")
        await staging.aclose()

        async with SqliteStore(":memory:") as store:
            with pytest.raises(ResourceClosed):
                await staging.open(store)
        with pytest.raises(ResourceClosed):
            await staging.stage(b"x", filename="x", mime_type="text/plain")
        with pytest.raises(ResourceClosed):
            async with staging.for_run("r1"):
                pass  # pragma: no cover


class TestScheduleOnClose:
    async def test_closed_before_start_stays_due(
        self, sync: Synchronizer, store: SqliteStore
    ) -> None:
        """A schedule claimed just as the synchroniser closed is released
        still due (not re-armed), and nothing is logged as failed."""
        schedule = await sync.add_schedule(
            spec(stock=All()), every=timedelta(hours=1)
        )
        assert await store.claim_schedule(
            schedule.id,
            "me",
            schedule.next_due + timedelta(hours=1),
            now=schedule.next_due,
        )
        await sync.aclose()

        def start(s: Schedule) -> AbstractAsyncContextManager[RunEvents]:
            return sync.run(s.spec)

        await _serve_one(store, sync.clock, start, schedule, "me", None, {})

        (after,) = await store.list_schedules()
        assert schedule.next_due == after.next_due
        assert await store.claim_schedule(
            schedule.id, "other", after.next_due, now=after.next_due
        )

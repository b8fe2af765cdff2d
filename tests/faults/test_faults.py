"""
The fault matrix F1-F14 of reliability-performance.md D.2, each driven
through the engine into the Shopware 6 emulator (in process), each ending
with the D.1 oracles: nothing lost, nothing duplicated, licence back,
staging clean, no secret in the store, no run left running.  F7 (kill -9)
is tests/faults/test_kill_matrix.py; F13 (a paused worker on PostgreSQL)
is tests/state/test_workers.py.
"""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from ecomsync import (
    All,
    Article,
    AuthenticationError,
    DataType,
    EcomsyncError,
    MediaStaging,
    MemoryErp,
    RunStatus,
    SqliteStore,
    StateStoreError,
    Synchronizer,
    SyncSpec,
    Trigger,
)
from ecomsync._http import RetryPolicy, parse_retry_after
from ecomsync.exceptions import RetryableError
from ecomsync.testing.shopware6 import Faults, ShopwareEmulator

from .._push import PUSH
from .conftest import (
    CANARY,
    assert_oracles,
    catalogue,
    catalogue_orders,
    shop,
)


pytestmark = pytest.mark.anyio


async def execute(
    sync: Synchronizer, spec: SyncSpec = PUSH, **kw: Any
) -> RunStatus:
    """Run *spec* to its end (bounded); return the status."""
    with anyio.fail_after(60):
        summary = await sync.execute(spec, **kw)
    return summary.status


def after_requests(
    emu: ShopwareEmulator, n: int, action: Callable[[], None]
) -> Any:
    """The emulator's app, doing *action* once, before its n-th request."""
    seen = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal seen
        if scope["type"] == "http":
            seen += 1
            if seen == n:
                action()
        await emu.app(scope, receive, send)

    return app


async def with_app(
    sync: Synchronizer, emu: ShopwareEmulator, app: Any, **kw: Any
) -> Synchronizer:
    platform = shop(emu, app=app, **kw)
    return Synchronizer(
        erp=sync.erp,
        platforms={"shop": platform},
        store=sync.store,
        licenses=sync.licenses,
        staging=sync.staging,
        batch_size=sync.batch_size,
    )


class TestF1RateLimitStorm:
    @pytest.mark.parametrize(
        "retry_after",
        ["2", "Wed, 21 Oct 2015 07:28:00 GMT", None, "soon", "86400", "-5"],
    )
    async def test_storm_then_through(
        self,
        fsync: Synchronizer,
        emu: ShopwareEmulator,
        retry_after: str | None,
    ) -> None:
        """A 429 storm with any Retry-After form is waited out; the run
        succeeds with nothing lost or duplicated."""
        emu.faults = Faults(
            storm_next=4, storm_status=429, retry_after=retry_after
        )
        assert RunStatus.SUCCEEDED == await execute(fsync)
        await assert_oracles(fsync, emu)

    @pytest.mark.parametrize(
        ("header", "wait"),
        [
            ("2", 2.0),
            ("86400", 60.0),
            ("-5", 0.0),
            ("soon", None),
            (None, None),
            ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ],
    )
    def test_requested_wait_is_clamped(
        self, header: str | None, wait: float | None
    ) -> None:
        """The wait a server asks for is never negative and never longer
        than the policy's cap; garbage means ordinary backoff."""
        policy = RetryPolicy()
        after = parse_retry_after(header)
        backoff = policy.backoff(RetryableError("busy", retry_after=after))
        if wait is None:
            assert backoff is True
        else:
            assert wait == backoff


class TestF2Outage:
    async def test_flapping_503_ends_cleanly_then_heals(
        self, fsync: Synchronizer, emu: ShopwareEmulator
    ) -> None:
        """Half the requests fail with 503: the run ends (succeeded, or
        failed with one typed error), never hangs; once the shop is back
        the next run completes everything."""
        emu.faults = Faults(storm_probability=0.5, storm_status=503)
        try:
            status = await execute(fsync)
        except EcomsyncError:
            status = RunStatus.FAILED
        assert status in (RunStatus.SUCCEEDED, RunStatus.FAILED)
        emu.faults = Faults()
        assert RunStatus.SUCCEEDED == await execute(fsync)
        await assert_oracles(fsync, emu)


class TestF3TimeoutAfterCommit:
    async def test_replayed_writes_duplicate_nothing(
        self, fsync: Synchronizer, emu: ShopwareEmulator
    ) -> None:
        """Writes that committed but answered too late are sent again with
        the same ids: no duplicate entity."""
        emu.faults = Faults(commit_then_timeout=3, hang_s=5.0)
        sync = await with_app(fsync, emu, emu.app, deadline=0.5)
        with suppress(EcomsyncError):
            await execute(sync)
        emu.faults = Faults()
        assert RunStatus.SUCCEEDED == await execute(sync)
        await assert_oracles(sync, emu)


class TestF4Reset:
    async def test_resets_are_retried(
        self, fsync: Synchronizer, emu: ShopwareEmulator
    ) -> None:
        """Dropped connections mid-request are retried."""
        emu.faults = Faults(reset_next=3)
        assert RunStatus.SUCCEEDED == await execute(fsync)
        await assert_oracles(fsync, emu)


class TestF5SlowDrip:
    async def test_deadline_fires_and_the_run_ends(
        self, fsync: Synchronizer, emu: ShopwareEmulator
    ) -> None:
        """An answer that trickles in forever hits the per-request
        deadline: the run ends in bounded time; later it heals."""
        emu.faults = Faults(drip_chunk_bytes=8, drip_interval_ms=100)
        sync = await with_app(fsync, emu, emu.app, deadline=0.3)
        with anyio.fail_after(60):
            try:
                status = await execute(sync)
            except EcomsyncError:
                status = RunStatus.FAILED
        assert RunStatus.FAILED == status
        emu.faults = Faults()
        assert RunStatus.SUCCEEDED == await execute(sync)
        await assert_oracles(sync, emu)


class _WatchedErp:
    """
    An ERP whose connection drops at the *drop_at*-th batch read, and
    which counts the orders it is asked to import.
    """

    def __init__(self, inner: MemoryErp, drop_at: int = 0) -> None:
        self.inner, self.drop_at, self.reads = inner, drop_at, 0
        self.imported: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Any]:
        async with self.inner.session() as session:
            yield _WatchedSession(self, session)


class _WatchedSession:
    def __init__(self, erp: _WatchedErp, inner: Any) -> None:
        self.erp, self.inner = erp, inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def read(self, *args: Any, **kw: Any) -> AsyncIterator[Any]:
        async for batch in self.inner.read(*args, **kw):
            self.erp.reads += 1
            if self.erp.reads == self.erp.drop_at:
                raise RetryableError("ERP connection lost")
            yield batch

    async def import_orders(self, orders: Any) -> Any:
        self.erp.imported.extend(o.number for o in orders)
        return await self.inner.import_orders(orders)


def watched(sync: Synchronizer, erp: _WatchedErp) -> Synchronizer:
    return Synchronizer(
        erp=erp,  # type: ignore[arg-type]
        platforms=sync.platforms,
        store=sync.store,
        licenses=sync.licenses,
        staging=sync.staging,
        batch_size=sync.batch_size,
    )


class TestF6ErpDisconnect:
    async def test_lost_erp_frees_the_licence_and_resumes(
        self, fsync: Synchronizer, emu: ShopwareEmulator, erp: MemoryErp
    ) -> None:
        """The ERP connection drops mid-run: the run fails with the typed
        error, its licence is back at once, nothing half-written is
        recorded, and the next run completes it."""
        flaky = watched(fsync, _WatchedErp(erp, drop_at=3))
        with pytest.raises(RetryableError, match="ERP connection lost"):
            await execute(flaky)
        assert 0 == len(await fsync.licenses.holders())
        (failed,) = await fsync.store.list_runs()
        assert RunStatus.FAILED == failed.status
        assert "ERP connection lost" in (failed.error or "")
        assert RunStatus.SUCCEEDED == await execute(fsync)
        await assert_oracles(fsync, emu)


class TestF8DiskFull:
    async def test_enospc_while_staging(
        self,
        fsync: Synchronizer,
        emu: ShopwareEmulator,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A full disk while staging fails only what it hit (or the run,
        cleanly), leaves nothing on disk, and the next run heals."""
        import os

        real = os.fsync
        hits = 0

        def full(fd: int) -> None:
            nonlocal hits
            hits += 1
            if hits in (2, 3):
                raise OSError(errno.ENOSPC, "No space left on device")
            real(fd)

        monkeypatch.setattr(os, "fsync", full)
        with suppress(EcomsyncError):
            await execute(fsync)
        monkeypatch.setattr(os, "fsync", real)
        assert [] == [
            p.name
            for p in fsync.staging.directory.iterdir()
            if p.name.endswith(".tmp")
        ]
        assert [] == await fsync.store.list_pending()
        assert 0 == fsync.staging.used_bytes
        assert RunStatus.SUCCEEDED == await execute(fsync)
        await assert_oracles(fsync, emu)


class TestF9DuplicateDelivery:
    async def test_orders_imported_once_status_once(
        self, fsync: Synchronizer, emu: ShopwareEmulator, erp: MemoryErp
    ) -> None:
        """Reading the same shop orders again imports none of them a
        second time."""
        orders = catalogue_orders(3)
        for order in orders:
            emu.place(order)
        # pushed after the orders took their stock: the shop holds the
        # ERP's levels, which the oracles compare
        await execute(fsync)
        counting = _WatchedErp(erp)
        sync = watched(fsync, counting)
        spec = SyncSpec(types={DataType.ADDRESSES_AND_ORDERS: All()})
        await execute(sync, spec)
        await execute(sync, spec)
        assert sorted(o.number for o in orders) == sorted(counting.imported)
        await assert_oracles(fsync, emu)


class TestF10ClockSkew:
    async def test_erp_clock_behind_within_overlap(
        self, emu: ShopwareEmulator, tmp_path: Path
    ) -> None:
        """An ERP clock 4 minutes behind ours loses no change: the next
        scheduled run's overlap re-reads it."""
        skew = timedelta(minutes=4)
        erp = MemoryErp(
            catalogue(),
            media={
                f"img-{i}": b"\xff\xd8\xff" + bytes(i) for i in range(1, 13)
            },
            clock=lambda: datetime.now(UTC) - skew,
        )
        platform = shop(emu)
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=SqliteStore(tmp_path / "s.db"),
            staging=MediaStaging(tmp_path / "staging"),
        )
        await execute(sync, trigger=Trigger.SCHEDULED)
        changed = Article(
            number="A-05",
            name="Artikel 5, neu",
            price=Decimal("42.00"),
            categories=("C-2",),
        )
        erp.put(changed)
        await execute(sync, trigger=Trigger.SCHEDULED)
        row = next(
            p
            for p in emu.entities["product"].values()
            if p["productNumber"] == "A-05"
        )
        assert 42.0 == row["price"][0]["gross"]
        await platform.aclose()
        await sync.store.aclose()


class TestF11TokenExpiry:
    async def test_revoked_token_mid_run(
        self, fsync: Synchronizer, emu: ShopwareEmulator
    ) -> None:
        """The shop revokes every token mid-run: one refresh, the run
        goes on."""
        app = after_requests(emu, 10, emu.revoke_tokens)
        sync = await with_app(fsync, emu, app)
        assert RunStatus.SUCCEEDED == await execute(sync)
        await assert_oracles(sync, emu)

    async def test_secret_changed_mid_run(
        self, fsync: Synchronizer, emu: ShopwareEmulator
    ) -> None:
        """The shop's secret changes with uploads in flight: the run stops
        with one AuthenticationError (no group) that shows no secret;
        the token endpoint is asked a bounded number of times."""

        def rotate() -> None:
            emu.client_secret = "rotated-secret"
            emu.revoke_tokens()

        app = after_requests(emu, 8, rotate)
        sync = await with_app(fsync, emu, app)
        with pytest.raises(AuthenticationError) as info:
            await execute(sync)
        assert CANARY not in str(info.value)
        runs = await sync.store.list_runs()
        assert "AuthenticationError" in (runs[0].error or "")
        assert CANARY not in (runs[0].error or "")
        tokens = [r for r in emu.requests if r.path.endswith("/oauth/token")]
        assert len(tokens) <= 2 + sync.platforms["shop"].concurrency  # type: ignore[attr-defined]


class TestF12PoisonRecord:
    async def test_one_bad_article_fails_alone(
        self, fsync: Synchronizer, emu: ShopwareEmulator, erp: MemoryErp
    ) -> None:
        """An article the shop refuses fails alone, with the shop's
        message; the rest of its batch lands."""
        bad = Article(
            number="A-07",
            name="x" * 300,
            price=Decimal("1.00"),
            categories=("C-1",),
        )
        erp.put(bad)
        records = [r for r in catalogue() if r.number != "A-07"]
        summary = await fsync.execute(PUSH)
        failures = [f for f in summary.failures if f.number == "A-07"]
        assert failures
        assert "name" in (failures[0].field or failures[0].message)
        await assert_oracles(fsync, emu, records, failed=frozenset({"A-07"}))


class TestF14StoreFault:
    async def test_read_only_store_ends_failed_then_heals(
        self,
        fsync: Synchronizer,
        emu: ShopwareEmulator,
    ) -> None:
        """The state store starts failing mid-run: the run ends FAILED
        with StateStoreError (one error, no group), no watermark moves;
        once the store works again the next run completes."""
        store = fsync.store

        class ReadOnly:
            calls = 0

            def __getattr__(self, name: str) -> Any:
                return getattr(store, name)

            async def put_links(self, *a: Any, **k: Any) -> None:
                ReadOnly.calls += 1
                if ReadOnly.calls >= 2:
                    raise StateStoreError(
                        "state store: attempt to write a readonly database"
                    )
                await store.put_links(*a, **k)

        broken = Synchronizer(
            erp=fsync.erp,
            platforms=fsync.platforms,
            store=ReadOnly(),  # type: ignore[arg-type]
            licenses=fsync.licenses,
            staging=fsync.staging,
            batch_size=fsync.batch_size,
        )
        with pytest.raises(StateStoreError):
            await execute(broken, trigger=Trigger.SCHEDULED)
        for data_type in (DataType.ARTICLES, DataType.STOCK):
            assert await store.get_watermark("shop", data_type) is None
        assert RunStatus.SUCCEEDED == await execute(
            fsync, trigger=Trigger.SCHEDULED
        )
        await assert_oracles(fsync, emu)

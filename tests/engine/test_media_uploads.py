"""
Media transfer: how uploads after the push queue for the media lanes,
and the lanes themselves (turns first come first served across calls,
a few tasks per call instead of one per file).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import anyio
import httpx
import pytest

from ecomsync import (
    All,
    Article,
    DataType,
    MediaRef,
    MediaStaging,
    MemoryErp,
    SyncSpec,
)
from ecomsync._anyio_util import Demand, Lanes
from ecomsync._contracts import StagedMedia
from ecomsync._media_ids import Deferred
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._push import pushing


pytestmark = pytest.mark.anyio


class _Gate(httpx.AsyncBaseTransport):
    """
    Holds each upload until *width* uploads are in flight together.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, width: int) -> None:
        self.inner = inner
        self.width = width
        self.flight = 0
        self.most = 0
        self.full = anyio.Event()

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        if "/_action/media/" not in request.url.path:
            return await self.inner.handle_async_request(request)
        self.flight += 1
        self.most = max(self.most, self.flight)
        if self.flight >= self.width:
            self.full.set()
        try:
            with anyio.fail_after(10):
                await self.full.wait()
            return await self.inner.handle_async_request(request)
        finally:
            self.flight -= 1


class TestUploadsAfterPush:
    async def test_record_files_upload_together(self, tmp_path: Path) -> None:
        """A record's new files all go up at once after its push, not one
        after the other (so a chunk's uploads queue ahead of the chunks
        answered after it)."""
        emu = ShopwareEmulator(client_id="SWIAUPLOADS", client_secret="s")
        gate = _Gate(httpx.ASGITransport(app=emu.app), width=3)  # type: ignore[arg-type]
        refs = tuple(
            MediaRef(
                key=f"img-{i}", filename=f"a{i}.jpg", mime_type="image/jpeg"
            )
            for i in range(3)
        )
        erp = MemoryErp(
            [
                Article(
                    number="A-1",
                    name="Artikel",
                    price=Decimal("9.99"),
                    media=refs,
                )
            ],
            media={
                f"img-{i}": b"\xff\xd8\xff\xe0" + f"image {i}".encode() * 40
                for i in range(3)
            },
        )
        platform = Shopware6(
            "http://shop.test", emu.client_id, "s", transport=gate
        )
        async with pushing(platform, erp, tmp_path) as sync:
            summary = await sync.execute(
                SyncSpec(types={DataType.ARTICLES: All()})
            )

        assert 1 == summary.counts[DataType.ARTICLES].created
        assert 3 == gate.most


class _Seeing(Shopware6):
    """
    A Shopware6 noting, per upload, whether its staged file is still
    there (held until uploaded).
    """

    seen: list[bool]

    async def upload_media(self, media: StagedMedia) -> str:
        self.seen.append(media.path.is_file())
        return await super().upload_media(media)


class TestSharedWithAFailedRecord:
    async def test_shared_file_held_until_uploaded(
        self, tmp_path: Path
    ) -> None:
        """A file two records share, one of which fails on another file
        of its own, stays staged until its upload for the other record
        (the failed record let go of it twice, once when its file failed
        and once after the push: the file was deleted and its budget
        given back while it still waited for its upload, and a record of
        a chunk in flight meanwhile staged and uploaded it again)."""
        emu = ShopwareEmulator(client_id="SWIASHARED", client_secret="s")

        def ref(key: str) -> MediaRef:
            return MediaRef(
                key=key, filename=f"{key}.jpg", mime_type="image/jpeg"
            )

        erp = MemoryErp(
            [
                Article(
                    number="A-1",
                    name="Eins",
                    price=Decimal("1"),
                    media=(ref("shared"), ref("gone")),
                ),
                Article(
                    number="A-2",
                    name="Zwei",
                    price=Decimal("2"),
                    media=(ref("shared"),),
                ),
            ],
            media={"shared": b"\xff\xd8\xff\xe0" + b"x" * 100},
        )
        platform = _Seeing(
            "http://shop.test",
            emu.client_id,
            "s",
            transport=httpx.ASGITransport(app=emu.app),  # type: ignore[arg-type]
        )
        platform.seen = []
        # On disk: the file's presence at upload is what is checked.
        on_disk = MediaStaging(tmp_path / "staging", memory_bytes=0)
        async with pushing(platform, erp, tmp_path, staging=on_disk) as sync:
            summary = await sync.execute(
                SyncSpec(types={DataType.ARTICLES: All()})
            )

        assert [("A-1", "media.1")] == [
            (f.number, f.field) for f in summary.failures
        ]
        assert [True] == platform.seen


class TestLanes:
    async def test_width_bounds_items_at_once(self) -> None:
        """However many calls run, at most *width* items hold a turn at
        once, and every item is worked once."""
        lanes = Lanes(3)
        flight, most, seen = 0, 0, []

        async def work(item: int, turn: Demand) -> None:
            nonlocal flight, most
            async with turn:
                flight += 1
                most = max(most, flight)
                await anyio.sleep(0.001)
                seen.append(item)
                flight -= 1

        async with anyio.create_task_group() as tg:
            tg.start_soon(lanes.map, list(range(10)), work)
            tg.start_soon(lanes.map, list(range(10, 20)), work)
        assert 3 == most
        assert list(range(20)) == sorted(seen)

    async def test_first_come_first_served_across_calls(self) -> None:
        """A call's items all get their turns before those of a call that
        asked later (not one item of each call in turn)."""
        lanes = Lanes(2)
        order: list[str] = []
        gate = anyio.Event()

        async def work(item: str, turn: Demand) -> None:
            async with turn:
                await gate.wait()
                order.append(item)

        async with anyio.create_task_group() as tg:
            tg.start_soon(lanes.map, ["a1", "a2", "a3", "a4", "a5"], work)
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(lanes.map, ["b1", "b2", "b3"], work)
            await anyio.wait_all_tasks_blocked()

            async def lone() -> None:
                async with lanes.one():  # queues like the others
                    order.append("c")

            tg.start_soon(lone)
            await anyio.wait_all_tasks_blocked()
            gate.set()
        assert ["a1", "a2", "a3", "a4", "a5"] == sorted(order[:5])
        assert ["b1", "b2", "b3"] == sorted(order[5:8])
        assert "c" == order[8]

    async def test_error_cancels_the_call_and_gives_turns_back(self) -> None:
        """An item's error comes out as itself, the call's other items
        stop, and its turns (in use or granted) go to the next call."""
        lanes = Lanes(2)
        started: list[int] = []

        async def work(item: int, turn: Demand) -> None:
            async with turn:
                started.append(item)
                if item == 1:
                    raise ValueError("bad file")
                await anyio.sleep(10)

        with anyio.fail_after(5), pytest.raises(ValueError, match="bad file"):
            await lanes.map([0, 1, 2, 3], work)
        assert [0, 1] == started

        async def quick(item: int, turn: Demand) -> None:
            async with turn:
                started.append(item)

        with anyio.fail_after(5):
            await lanes.map([7, 8, 9], quick)
        assert [7, 8, 9] == sorted(started[2:])

    async def test_cancelled_waiter_gives_its_turn_back(self) -> None:
        """A call cancelled while its items wait for turns leaves the
        line, and one cancelled just after its turn came gives it back."""
        lanes = Lanes(1)
        release = anyio.Event()
        done: list[str] = []

        async def hold(item: str, turn: Demand) -> None:
            async with turn:
                await release.wait()
                done.append(item)

        async with anyio.create_task_group() as tg:
            tg.start_soon(lanes.map, ["first"], hold)
            await anyio.wait_all_tasks_blocked()
            with anyio.move_on_after(0.01):
                await lanes.map(["gone"], hold)  # waits, then is cancelled
            waiting = anyio.CancelScope()

            async def granted_then_cancelled() -> None:
                with waiting:
                    async with lanes.one():
                        done.append("never")

            tg.start_soon(granted_then_cancelled)
            await anyio.wait_all_tasks_blocked()
            release.set()  # "first" ends: its turn goes to the lone one ...
            waiting.cancel()  # ... cancelled before it ran
        with anyio.fail_after(5):
            async with lanes.one():
                done.append("last")
        assert ["first", "last"] == done

    async def test_empty_call(self) -> None:
        """No items: nothing to wait for."""
        lanes = Lanes(2)

        async def work(item: int, turn: Demand) -> None:
            raise AssertionError  # pragma: no cover - never called

        await lanes.map([], work)


class TestDeferred:
    async def test_waiters_wait_for_the_end(self) -> None:
        """A task waiting for an upload another task began returns once
        it is over; after that, waiting returns at once."""
        deferred = Deferred(
            StagedMedia(
                sha256="0" * 64,
                path=Path("/nowhere"),
                size=1,
                filename="a.jpg",
                mime_type="image/jpeg",
            ),
            media_id="m-1",
        )
        deferred.started = True
        woke: list[str | None] = []

        async def waiter() -> None:
            await deferred.wait()
            woke.append(deferred.error)

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            assert [] == woke
            deferred.error = "refused"
            deferred.end()
        assert ["refused", "refused"] == woke
        with anyio.fail_after(1):
            await deferred.wait()


class _BrokenFile(Shopware6):
    """
    A Shopware6 whose own file layer fails with a bare `OSError` on the
    upload of one content (*broken*), after the push.
    """

    broken: bytes

    async def upload_media(self, media: StagedMedia) -> str:
        if await media.aread() == self.broken:
            raise OSError(5, "Input/output error", media.filename)
        return await super().upload_media(media)


class TestUploadOSError:
    async def test_fails_its_record_only(self, tmp_path: Path) -> None:
        """An upload after the push that raises a bare OSError fails its
        record on media.N (in the ledger) instead of ending the run; the
        other record lands with its file."""
        emu = ShopwareEmulator(client_id="SWIAOSERROR", client_secret="s")
        content = {k: b"\xff\xd8\xff\xe0" + k.encode() * 40 for k in "ab"}
        erp = MemoryErp(
            [
                Article(
                    number=f"A-{k}",
                    name=k,
                    price=Decimal("1"),
                    media=(
                        MediaRef(
                            key=k, filename=f"{k}.jpg", mime_type="image/jpeg"
                        ),
                    ),
                )
                for k in "ab"
            ],
            media=content,
        )
        platform = _BrokenFile(
            "http://shop.test",
            emu.client_id,
            "s",
            transport=httpx.ASGITransport(app=emu.app),  # type: ignore[arg-type]
        )
        platform.broken = content["b"]
        async with pushing(platform, erp, tmp_path) as sync:
            summary = await sync.execute(
                SyncSpec(types={DataType.ARTICLES: All()})
            )
            ledger = await sync.store.list_failures("shop", DataType.ARTICLES)

        assert [("A-b", "media.0")] == [
            (f.number, f.field) for f in summary.failures
        ]
        assert "Input/output error" in summary.failures[0].message
        assert [("A-b", "media.0")] == [(f.number, f.field) for f in ledger]
        assert 1 == summary.counts[DataType.ARTICLES].created

"""
Media transfer: how uploads after the push queue for the media limiter.
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
    Synchronizer,
    SyncSpec,
)
from ecomsync.platforms.shopware6 import Shopware6
from ecomsync.state import SqliteStore
from ecomsync.testing.shopware6 import ShopwareEmulator


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
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            store=SqliteStore(tmp_path / "state.db"),
            staging=MediaStaging(tmp_path / "staging"),
        )
        try:
            summary = await sync.execute(
                SyncSpec(types={DataType.ARTICLES: All()})
            )
        finally:
            await platform.aclose()
            await sync.store.aclose()

        assert 1 == summary.counts[DataType.ARTICLES].created
        assert 3 == gate.most

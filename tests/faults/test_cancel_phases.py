"""
The host cancels a run (its cancel scope, or its task) in each phase: an
ERP read, the diff against the store, the write (before and after the
shop answered), a media read and upload, the recording of links and the
watermark.  The run ends cancelled with its licence back and nothing
staged, and the next scheduled run completes it: every record in the
shop once (reliability-performance.md D.1 I1-I8).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import pytest
from anyio.lowlevel import checkpoint

from ecomsync import (
    MemoryErp,
    Record,
    RunStatus,
    Synchronizer,
    Trigger,
)
from ecomsync.testing.shopware6 import ShopwareEmulator

from .._push import PUSH
from .conftest import assert_oracles


pytestmark = pytest.mark.anyio


class Cut:
    """
    Cancels the host's scope at the *n*-th call of *point*.
    """

    def __init__(self, point: str, n: int) -> None:
        self.point, self.n, self.calls = point, n, 0
        self.scope: anyio.CancelScope | None = None

    async def hit(self, point: str) -> None:
        if point != self.point or self.scope is None:
            return
        self.calls += 1
        if self.calls == self.n:
            self.scope.cancel()
            await checkpoint()


class Wrapped:
    """
    *inner* with *names*' coroutine methods passing *cut* before and after.
    """

    def __init__(self, inner: Any, cut: Cut, prefix: str, names: set[str]):
        self._inner, self._cut = inner, cut
        self._prefix, self._names = prefix, names

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self._names:
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            await self._cut.hit(f"{self._prefix}.{name}:before")
            result = await attr(*args, **kwargs)
            await self._cut.hit(f"{self._prefix}.{name}:after")
            return result

        return call


class CutSession(Wrapped):
    """
    An ERP session whose reads pass *cut* at every batch.
    """

    def read(
        self, *args: Any, **kwargs: Any
    ) -> AsyncIterator[Sequence[Record]]:
        async def batches() -> AsyncIterator[Sequence[Record]]:
            async for batch in self._inner.read(*args, **kwargs):
                await self._cut.hit("erp.read")
                yield batch

        return batches()


class CutErp:
    def __init__(self, inner: MemoryErp, cut: Cut) -> None:
        self._inner, self._cut = inner, cut

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def session(self) -> Any:
        opened = self._inner.session()
        cut = self._cut

        class Session:
            async def __aenter__(self) -> CutSession:
                inner = await opened.__aenter__()
                return CutSession(inner, cut, "erp", {"read_media"})

            async def __aexit__(self, *exc: Any) -> bool | None:
                return await opened.__aexit__(*exc)

        return Session()


POINTS = [
    ("erp.read", 2),
    ("erp.read", 5),
    ("store.get_links:after", 3),
    ("platform.push:before", 2),
    ("platform.push:after", 2),
    ("platform.push:after", 4),
    ("erp.read_media:after", 3),
    ("platform.upload_media:after", 4),
    ("store.put_links:before", 3),
    ("store.put_links:after", 3),
    ("store.set_watermark:before", 1),
    ("store.set_watermark:before", 2),
]


@pytest.mark.parametrize(("point", "n"), POINTS)
async def test_cancelled_run_is_completed_by_the_next(
    fsync: Synchronizer,
    emu: ShopwareEmulator,
    point: str,
    n: int,
) -> None:
    """
    Cancelled at *point*: the run ends cancelled, licence free, nothing
    staged; the next scheduled run leaves every record in the shop once.
    """
    cut = Cut(point, n)
    assert isinstance(fsync.erp, MemoryErp)
    sync = Synchronizer(
        erp=CutErp(fsync.erp, cut),
        platforms={
            "shop": Wrapped(
                fsync.platforms["shop"],
                cut,
                "platform",
                {"push", "upload_media"},
            )
        },
        store=Wrapped(
            fsync.store,
            cut,
            "store",
            {"get_links", "put_links", "set_watermark"},
        ),
        licenses=fsync.licenses,
        staging=fsync.staging,
        batch_size=fsync.batch_size,
    )

    with anyio.fail_after(30), anyio.CancelScope() as scope:
        cut.scope = scope
        await sync.execute(PUSH, trigger=Trigger.SCHEDULED)
    cut.scope = None

    assert scope.cancelled_caught
    (run,) = await fsync.store.list_runs()
    assert RunStatus.CANCELLED == run.status
    assert 0 == len(await fsync.licenses.holders())
    with anyio.fail_after(30):
        again = await fsync.execute(PUSH, trigger=Trigger.SCHEDULED)
    assert RunStatus.SUCCEEDED == again.status
    await assert_oracles(fsync, emu)

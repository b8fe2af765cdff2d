"""
What the media fault tests share: the run's spec, the check that nothing
of a run is left, a staging synchroniser, and cuts (a cancel at the n-th
time the run reaches a point) with the wrapper that places them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import attrs

from ecomsync import (
    All,
    DataType,
    MediaStaging,
    MemoryPlatform,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)

from ._media import files


SPEC = SyncSpec(types={DataType.ARTICLES: All()})


async def assert_clean(staging: MediaStaging, store: SqliteStore) -> None:
    """
    Nothing of any run is left: files, journal entries, budget.
    """
    assert [] == files(staging.directory)
    assert [] == await store.list_pending()
    assert (0, 0) == (staging.used_bytes, staging.memory_used_bytes)


def staged(
    *, erp: Any, platform: MemoryPlatform, store: SqliteStore, tmp: Path
) -> Synchronizer:
    """A synchroniser of *erp* and *platform* staging under *tmp*."""
    return Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=store,
        staging=MediaStaging(tmp / "staging", memory_bytes=0),
    )


@attrs.define
class Cut:
    """
    Cancels the host's scope when the run reaches *point* the *nth* time.
    """

    point: str
    nth: int
    scope: anyio.CancelScope | None = None
    hits: Counter[str] = attrs.Factory(Counter)
    fired: bool = False

    def hit(self, name: str) -> bool:
        self.hits[name] += 1
        if (
            self.scope is None
            or name != self.point
            or self.hits[name] != self.nth
        ):
            return False
        self.fired = True
        self.scope.cancel()
        return True

    async def reached(self, name: str) -> None:
        if self.hit(name):
            await anyio.lowlevel.checkpoint()

    def in_thread(self, name: str, fn: Callable[..., Any]) -> Any:
        def call(*args: Any) -> Any:
            if self.scope is not None and name == self.point:
                # Cancel from the worker thread: delivered when it returns.
                anyio.from_thread.run_sync(self.hit, name)
            return fn(*args)

        return call


class Wrapped:
    """
    *inner*, with a cut before each of the async methods *names*.
    """

    def __init__(self, inner: Any, cut: Cut, names: set[str]) -> None:
        self._inner = inner
        self._cut = cut
        self._names = names

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name not in self._names:
            return value

        async def call(*args: Any, **kwargs: Any) -> Any:
            await self._cut.reached(name)
            return await value(*args, **kwargs)

        return call

"""
What the quick runs against an emulator's command line share
(`bench.shopify`, `bench.woocommerce`): the emulator in its own process,
a request counter keyed by method and path, and a first sync followed by
a second one (which must write nothing new) with their wall times.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx

from ecomsync import (
    All,
    DataType,
    MediaStaging,
    RunStatus,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync.typing import Platform

from ._workload import SeededErp, Workload


#: Categories, articles and stock: a first sync's data types.
PUSH = SyncSpec(
    types={
        DataType.CATEGORIES: All(),
        DataType.ARTICLES: All(),
        DataType.STOCK: All(),
    }
)

# A numeric path segment (an id), not a version such as ``2025-01``.
_ID = re.compile(r"/\d+(?=[/.]|$)")


def kind(request: httpx.Request) -> str:
    """
    ``METHOD /path`` with ids as ``{id}``: what requests are counted by.
    """
    return f"{request.method} {_ID.sub('/{id}', request.url.path)}"


class Shop(Platform, Protocol):
    """
    A platform adapter that holds connections until closed.
    """

    async def aclose(self) -> None: ...


class Counting(httpx.AsyncBaseTransport):
    """
    Counts the requests it forwards by `kind`; `first_run_over` keeps
    what the first run sent.
    """

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.kinds: Counter[str] = Counter()
        self.first_kinds: dict[str, int] = {}

    def first_run_over(self) -> None:
        """
        The first run has ended: keep its counts.
        """
        self.first_kinds = dict(self.kinds)

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        self.kinds[kind(request)] += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@contextmanager
def emulator(
    module: str, options: Sequence[str], *, stop_timeout: float = 10
) -> Iterator[str]:
    """
    Run ``python -m module --port=0 *options`` and yield the base URL it
    prints on its first line; terminate it on the way out.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port=0", *options],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"base_url=(\S+)", line)
        if match is None:
            raise RuntimeError(f"the emulator did not start: {line!r}")
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=stop_timeout)
        if proc.stdout is not None:
            proc.stdout.close()


async def twice(
    shop: Shop,
    counting: Counting,
    w: Workload,
    directory: Path,
    *,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """
    A first sync of *w* into *shop* and a second one (*batch_size*, if
    given, instead of the engine's), then close *shop* and *counting*.
    The result has both runs' status and wall time, what the first
    created and failed and the second wrote (nothing, if all is well),
    the first run's requests by kind, and ``ok``: both succeeded.
    """
    store = SqliteStore(directory / "state.db")
    sync = Synchronizer(
        erp=SeededErp(w),
        platforms={"shop": shop},
        store=store,
        staging=MediaStaging(directory / "staging"),
    )
    if batch_size is not None:
        sync.batch_size = batch_size
    try:
        started = time.perf_counter()
        run = await sync.execute(PUSH)
        wall = time.perf_counter() - started
        counting.first_run_over()
        rerun_started = time.perf_counter()
        rerun = await sync.execute(PUSH)
        rerun_wall = time.perf_counter() - rerun_started
    finally:
        await shop.aclose()
        await store.aclose()
        await counting.aclose()
    return {
        "status": run.status.value,
        "rerun_status": rerun.status.value,
        "created": {t.value: c.created for t, c in run.counts.items()},
        "failed": sum(c.failed for c in run.counts.values()),
        "rerun_written": sum(
            c.created + c.updated for c in rerun.counts.values()
        ),
        "wall_s": round(wall, 2),
        "rerun_wall_s": round(rerun_wall, 2),
        "requests": sum(counting.first_kinds.values()),
        "by_kind": dict(sorted(counting.first_kinds.items())),
        "ok": run.status is RunStatus.SUCCEEDED
        and rerun.status is RunStatus.SUCCEEDED,
    }


__all__ = ["PUSH", "Counting", "emulator", "kind", "twice"]

"""
One measured client run, in a fresh process so that CPU time and peak RSS
belong to it alone: ``python -m bench._client CONTENDER --url ... ``.
Prints one JSON line with the measurements.

Contenders:

* ``ecomsync``: a `Synchronizer` with defaults and the `Shopware6`
  adapter with defaults, a SQLite store in a file (so a rerun in a new
  process sees what the first run wrote), the whole catalogue and the
  shop orders.
* ``naive``: `bench._naive`, what a user would write by hand with httpx.
* ``floor-httpx`` / ``floor-aiohttp``: `bench._floor`, a bare client
  replaying exactly T_lb's request set with that transport.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx

from bench._server import CLIENT_ID, CLIENT_SECRET
from bench._workload import SeededErp, Workload


Send = Callable[[httpx.Request], Awaitable[httpx.Response]]


class Counting(httpx.AsyncBaseTransport):
    """
    Counts the requests and request-body bytes that go on the wire.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport | None) -> None:
        self.inner = inner
        self.requests = 0
        self.writes = 0
        self.bytes_up = 0
        self.routes: dict[str, int] = {}
        #: With `record`: (start, end, route) per request, in seconds
        #: since `origin` (``--timeline``).
        self.timeline: list[tuple[float, float, str]] | None = None
        self.origin = 0.0

    def record(self) -> None:
        """
        Keep each request's start, end and route from now on.
        """
        self.timeline = []
        self.origin = time.perf_counter()

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        assert self.inner is not None
        return await self.count(request, self.inner.handle_async_request)

    async def count(
        self, request: httpx.Request, send: Send
    ) -> httpx.Response:
        """
        ``await send(request)``, counted.
        """
        self.requests += 1
        self.bytes_up += len(request.content)
        route = classify(request.method, request.url.path)
        self.routes[route] = self.routes.get(route, 0) + 1
        if route.startswith("write"):
            self.writes += 1
        if self.timeline is None:
            return await send(request)
        if route == "write sync":
            route += " " + _entity(request.content)
        start = time.perf_counter() - self.origin
        try:
            return await send(request)
        finally:
            end = time.perf_counter() - self.origin
            self.timeline.append((start, end, route))

    async def aclose(self) -> None:
        if self.inner is not None:
            await self.inner.aclose()


def counted(
    counting: Counting, limits: httpx.Limits
) -> httpx.AsyncBaseTransport:
    """
    The pool `Shopware6` picks by itself, counting into *counting*:
    aiohttp's (a subclass, so that `HttpClient` still knows its own pool
    and lets it keep the deadline) where it can be used, else httpx's
    wrapped.
    """
    import sniffio

    try:
        import aiohttp  # noqa: F401
        import httpx_aiohttp  # noqa: F401
    except ImportError:
        pass
    else:
        if sniffio.current_async_library() == "asyncio":
            return _counting_pool(counting, limits)
    counting.inner = httpx.AsyncHTTPTransport(limits=limits)
    return counting


def _counting_pool(
    counting: Counting, limits: httpx.Limits
) -> httpx.AsyncBaseTransport:
    from ecomsync._http_aiohttp import AiohttpPool

    class CountingPool(AiohttpPool):
        async def handle_async_request(
            self, request: httpx.Request
        ) -> httpx.Response:
            return await counting.count(request, super().handle_async_request)

    return CountingPool(verify=True, limits=limits)


def _entity(body: bytes) -> str:
    """
    The first entity a Sync request writes (its timeline label).
    """
    at = body.find(b'"entity"')
    if at < 0:
        return "?"
    rest = body[at + 8 : at + 60].lstrip(b": ")
    return rest[1:].split(b'"', 1)[0].decode(errors="replace")


def classify(method: str, path: str) -> str:
    if path.endswith("/oauth/token"):
        return "read token"
    if "/search" in path or method == "GET":
        return "read " + path.rsplit("/", 1)[-1].replace("-", "_")
    if path.endswith("/_action/sync"):
        return "write sync"
    if "/_action/media/" in path:
        return "write upload"
    if "/state/" in path:
        return "write transition"
    return f"write {method} {path.split('/')[2]}"


def _usage() -> dict[str, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_s": r.ru_utime + r.ru_stime,
        "maxrss_mb": r.ru_maxrss / 1024,
    }


async def run_ecomsync(a: argparse.Namespace, w: Workload) -> dict[str, Any]:
    from ecomsync import (
        All,
        DataType,
        MediaStaging,
        Synchronizer,
        SyncSpec,
        Trigger,
    )
    from ecomsync.platforms.shopware6 import Shopware6
    from ecomsync.state import SqliteStore

    kwargs: dict[str, Any] = {}
    if a.concurrency:
        kwargs["concurrency"] = a.concurrency
    conc = a.concurrency or 16
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    counting = Counting(None)
    transport = counted(counting, limits)
    # One process writes the shop (the harness's whole premise): the
    # adapter may say so, and a first sync reads the shop's products once.
    platform = Shopware6(
        a.url,
        CLIENT_ID,
        CLIENT_SECRET,
        transport=transport,
        sole_writer=True,
        **kwargs,
    )
    erp = SeededErp(w, version=a.version)
    # A directory of its own per run, removed after it (a finished run
    # leaves its marker behind; one killed mid-run, staged files too).
    staging = Path(tempfile.mkdtemp(prefix="ecomsync-bench-staging-"))
    try:
        sync = Synchronizer(
            erp,
            {"shop": platform},
            store=SqliteStore(a.store),
            staging=MediaStaging(staging),
        )
        types = [DataType.CATEGORIES, DataType.ARTICLES, DataType.STOCK]
        if w.orders:
            types.append(DataType.ADDRESSES_AND_ORDERS)
        spec = SyncSpec(types={t: All() for t in types})
        if a.timeline:
            counting.record()
        start, cpu = time.perf_counter(), _usage()["cpu_s"]
        trigger = Trigger.SCHEDULED if a.scheduled else Trigger.MANUAL
        summary = await sync.execute(spec, trigger=trigger)
        wall = time.perf_counter() - start
        cpu = _usage()["cpu_s"] - cpu
        await platform.aclose()
        return {
            "timeline": counting.timeline,
            "wall_s": wall,
            "sync_cpu_s": cpu,
            "status": summary.status.value,
            "counts": {
                t.value: [c.created, c.updated, c.unchanged, c.failed]
                for t, c in summary.counts.items()
            },
            "failures": [
                f"{f.number}: {f.message}" for f in summary.failures[:5]
            ],
            "orders_imported": len(erp.imported),
            "requests": counting.requests,
            "write_requests": counting.writes,
            "bytes_up": counting.bytes_up,
            "routes": counting.routes,
        }

    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument(
        "contender",
        choices=[
            "ecomsync",
            "naive",
            "floor-httpx",
            "floor-aiohttp",
            "floor-httpx-aiohttp",
        ],
    )
    p.add_argument("--url", required=True)
    p.add_argument("--articles", type=int, required=True)
    p.add_argument("--images", type=int, default=3)
    p.add_argument("--image-bytes", type=int, default=20_000)
    p.add_argument("--categories", type=int, default=200)
    p.add_argument("--orders", type=int, default=2000)
    p.add_argument("--version", type=int, default=0)
    p.add_argument("--store", default=":memory:")
    p.add_argument("--concurrency", type=int, default=0)
    p.add_argument("--profile", default="")
    p.add_argument(
        "--timeline",
        default="",
        help="ecomsync: write each request's start, end and route (JSON) "
        "to this file; `python -m bench._timeline FILE` reads it",
    )
    p.add_argument(
        "--scheduled",
        action="store_true",
        help="a scheduled run: reads what changed since the last one",
    )
    a = p.parse_args()
    w = Workload(
        articles=a.articles,
        images=a.images,
        image_bytes=a.image_bytes,
        categories=a.categories,
        orders=a.orders,
    )
    profiler = cProfile.Profile() if a.profile else None
    if profiler:
        profiler.enable()
    if a.contender == "ecomsync":
        result = anyio.run(run_ecomsync, a, w)
    elif a.contender.startswith("floor-"):
        from bench._floor import run_floor

        result = anyio.run(
            lambda: run_floor(
                a.url,
                w,
                transport=a.contender.removeprefix("floor-"),
                concurrency=a.concurrency or 16,
            )
        )
    else:
        from bench._naive import run_naive

        result = run_naive(a.url, w)
    if profiler:
        profiler.disable()
        profiler.dump_stats(a.profile + ".prof")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(
            30
        )
        Path(a.profile).write_text(out.getvalue())
    timeline = result.pop("timeline", None)
    if timeline is not None:
        Path(a.timeline).write_text(
            json.dumps({"wall_s": result["wall_s"], "requests": timeline})
        )
    result.update(_usage())
    print(json.dumps(result), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()

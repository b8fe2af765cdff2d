"""
``PYTHONPATH=. python -m bench.woocommerce [--articles N] [--images K]``:
a quick WooCommerce run measured against its own lower bound.

The shop is the WooCommerce emulator's command line
(``python -m ecomsync.testing.woocommerce``) in its own process on
loopback, with the network latency, server time per request and PHP
worker limit of the Shopware benchmark (20 ms, 5 ms, 8 workers; the
WooCommerce emulator models no per-item, per-upload or bandwidth cost).
The client is `Synchronizer` with `WooCommerce` (defaults: batch 100, 8
requests in flight) over plain http, so every request is OAuth-signed,
moving categories, articles with their images, and stock from
`bench._workload.SeededErp`.

The lower bound is what any client needs on WooCommerce: per tree level
of categories one batch per 100 (a child needs its parent's id), one
batch per 100 articles carrying their stock (``manage_stock`` +
``stock_quantity`` in the product), and one media upload per image (the
REST API takes no file bytes; ``images[].src`` would make the shop
download them, which costs the same or more).  Each request costs
latency + base; only the base holds a worker:

    T_lb = max(requests * (latency + base) / concurrency,
               requests * base / workers)

It prints one JSON object: the bound, the measured wall time, the
requests the client sent by kind, and measured / bound.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
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
from ecomsync.platforms.woocommerce import WooCommerce

from ._workload import SeededErp, Workload


KEY, SECRET = "ck_bench", "cs_bench"
WP_USER, WP_PASSWORD = "admin", "emulatorapppassword0000"
PUSH = SyncSpec(
    types={
        DataType.CATEGORIES: All(),
        DataType.ARTICLES: All(),
        DataType.STOCK: All(),
    }
)


def _depths(erp: SeededErp, categories: int) -> list[int]:
    """
    How many categories sit on each level of the seeded tree.
    """
    parent = {}
    for i in range(1, categories + 1):
        c = erp.category(i)
        parent[c.number] = c.parent
    levels: Counter[int] = Counter()
    for first in parent.values():
        depth, up = 0, first
        while up is not None and up in parent:
            depth, up = depth + 1, parent[up]
        levels[depth] += 1
    return [levels[d] for d in sorted(levels)]


def lower_bound(
    w: Workload,
    *,
    latency_ms: float,
    base_ms: float,
    workers: int,
    concurrency: int,
    batch: int = 100,
) -> dict[str, Any]:
    """
    The fewest requests and least time any client needs for a first sync
    of *w*'s categories, articles (stock inside) and images.
    """
    erp = SeededErp(w)
    category_batches = sum(
        math.ceil(n / batch) for n in _depths(erp, w.categories)
    )
    article_batches = math.ceil(w.articles / batch)
    uploads = w.articles * w.images
    requests = category_batches + article_batches + uploads
    base = base_ms / 1000
    latency_term = requests * (latency_ms / 1000 + base) / concurrency
    service_term = requests * base / workers
    return {
        "requests": requests,
        "category_batches": category_batches,
        "article_batches": article_batches,
        "uploads": uploads,
        "t_lb": max(latency_term, service_term),
        "binding": "latency/concurrency"
        if latency_term >= service_term
        else "service/workers",
    }


class _Counting(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.kinds: Counter[str] = Counter()

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        path = re.sub(r"/\d+", "/{id}", request.url.path)
        self.kinds[f"{request.method} {path}"] += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _measure(url: str, w: Workload, directory: Path) -> dict[str, Any]:
    counting = _Counting()
    shop = WooCommerce(
        url,
        KEY,
        SECRET,
        wp_user=WP_USER,
        wp_application_password=WP_PASSWORD,
        transport=counting,
    )
    store = SqliteStore(directory / "state.db")
    sync = Synchronizer(
        erp=SeededErp(w),
        platforms={"shop": shop},
        store=store,
        staging=MediaStaging(directory / "staging"),
    )
    try:
        started = time.perf_counter()
        run = await sync.execute(PUSH)
        wall = time.perf_counter() - started
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
        "failed": sum(c.failed for c in run.counts.values()),
        "wall_s": wall,
        "rerun_wall_s": rerun_wall,
        "requests": sum(counting.kinds.values()),
        "by_kind": dict(sorted(counting.kinds.items())),
        "ok": run.status is RunStatus.SUCCEEDED
        and rerun.status is RunStatus.SUCCEEDED,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m bench.woocommerce")
    p.add_argument("--articles", type=int, default=200)
    p.add_argument("--images", type=int, default=1)
    p.add_argument("--categories", type=int, default=50)
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--base-ms", type=float, default=5.0)
    p.add_argument("--workers", type=int, default=8)
    a = p.parse_args(argv)
    w = Workload(
        articles=a.articles,
        images=a.images,
        categories=a.categories,
        orders=0,
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ecomsync.testing.woocommerce",
            "--port=0",
            f"--consumer-key={KEY}",
            f"--consumer-secret={SECRET}",
            f"--latency-ms={a.latency_ms}",
            f"--base-ms={a.base_ms}",
            f"--workers-limit={a.workers}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"base_url=(\S+)", line)
        if match is None:
            raise RuntimeError(f"the emulator did not start: {line!r}")
        with tempfile.TemporaryDirectory() as tmp:
            measured = anyio.run(_measure, match.group(1), w, Path(tmp))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    bound = lower_bound(
        w,
        latency_ms=a.latency_ms,
        base_ms=a.base_ms,
        workers=a.workers,
        concurrency=WooCommerce.__attrs_attrs__.concurrency.default,  # type: ignore[attr-defined]
    )
    report = {
        "workload": {
            "articles": w.articles,
            "images": w.images,
            "categories": w.categories,
        },
        "lower_bound": bound,
        "measured": measured,
        "ratio": measured["wall_s"] / bound["t_lb"] if bound["t_lb"] else None,
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()

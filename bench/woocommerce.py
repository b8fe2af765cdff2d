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
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from ecomsync.platforms.woocommerce import WooCommerce

from ._emulated import Counting, emulator, twice
from ._workload import SeededErp, Workload


KEY, SECRET = "ck_bench", "cs_bench"
WP_USER, WP_PASSWORD = "admin", "emulatorapppassword0000"


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


async def _measure(url: str, w: Workload, directory: Path) -> dict[str, Any]:
    counting = Counting()
    shop = WooCommerce(
        url,
        KEY,
        SECRET,
        wp_user=WP_USER,
        wp_application_password=WP_PASSWORD,
        transport=counting,
    )
    return await twice(shop, counting, w, directory)


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
    with (
        emulator(
            "ecomsync.testing.woocommerce",
            [
                f"--consumer-key={KEY}",
                f"--consumer-secret={SECRET}",
                f"--latency-ms={a.latency_ms}",
                f"--base-ms={a.base_ms}",
                f"--workers-limit={a.workers}",
            ],
        ) as url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        measured = anyio.run(_measure, url, w, Path(tmp))
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

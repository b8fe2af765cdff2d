"""
``PYTHONPATH=. python -m bench.shopify [--articles N] [--quick]``: a
first sync of N articles (with their categories and stock) against the
Shopify emulator at a Standard plan's bucket, measured against the bound
the bucket sets, with and without bulk operations.

The shop is the emulator's command line (``python -m
ecomsync.testing.shopify``) in its own process on loopback, with
Shopify's Standard plan bucket (platform-apis.md §3.2: 100 points per
second restored, 2,000 points held).  The client is `Synchronizer` with
`Shopify` moving categories, articles and stock from
`bench._workload.SeededErp` (no images: the bucket is what is measured).
Two modes, each on a fresh emulator:

* *direct*: ``bulk_threshold=None``, the engine's default batch of 100:
  one ``productSet`` per article, paced by the bucket;
* *bulk*: batches of 1,000 and ``bulk_threshold=250``: articles and stock
  as bulk mutations, which the bucket does not meter.

The bound is what the bucket allows for the points the run's answers
report as spent (the sum of ``actualQueryCost``; THROTTLED answers spend
nothing), starting from a full bucket:

    T_bucket = max(0, points - maximum) / restore_rate

``points_floor`` is the least any client can spend: a mutation costs 10
points, so one per category, one per article and one per 250 stock
levels.  The target is wall <= 1.2 x T_bucket where the bucket binds.

It prints one JSON object (and writes ``bench/results/shopify.json`` and
``.md`` with ``--write``).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx

from ecomsync.platforms.shopify import Shopify

from ._emulated import Counting, emulator, kind, twice
from ._workload import Workload


TOKEN = "shpat_bench"
RESULTS = Path(__file__).parent / "results"
#: A mutation's cost (Shopify's documented rule; the emulator's too).
MUTATION = 10


class _Metering(Counting):
    """
    Counts requests by kind and sums the points Shopify reports spent.
    """

    def __init__(self) -> None:
        super().__init__()
        self.points = 0
        self.first_points = 0
        self.throttled = 0

    def first_run_over(self) -> None:
        super().first_run_over()
        self.first_points = self.points

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        await response.aclose()
        if request.url.path.endswith("graphql.json"):
            answer = json.loads(body)
            cost = (answer.get("extensions") or {}).get("cost") or {}
            self.points += int(cost.get("actualQueryCost") or 0)
            codes = [
                (e.get("extensions") or {}).get("code")
                for e in answer.get("errors") or ()
                if isinstance(e, dict)
            ]
            self.throttled += "THROTTLED" in codes
        self.kinds[kind(request)] += 1
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=body,
            request=request,
        )


def points_floor(w: Workload) -> int:
    """
    The fewest points any client spends on *w*'s first sync without bulk
    operations: one mutation per category and article, one per 250
    stock levels.
    """
    return MUTATION * (w.categories + w.articles + math.ceil(w.articles / 250))


def bucket_bound(
    points: float, *, maximum: float, restore_rate: float
) -> float:
    """
    Seconds the bucket needs to let *points* through, starting full.
    """
    return max(0.0, points - maximum) / restore_rate


async def _measure(
    url: str, w: Workload, directory: Path, *, bulk: bool
) -> dict[str, Any]:
    metering = _Metering()
    shop = Shopify(
        url,
        TOKEN,
        transport=metering,
        batch_size=1000 if bulk else 250,
        bulk_threshold=250 if bulk else None,
    )
    measured = await twice(
        shop, metering, w, directory, batch_size=1000 if bulk else 100
    )
    # the first run's points: the rerun's reads spend some too
    measured["points"] = metering.first_points
    measured["waited_s"] = round(shop.waited, 2)
    measured["throttled"] = metering.throttled
    measured["bulk_operations"] = shop.bulk_operations
    return measured


def _mode(
    w: Workload, *, bulk: bool, maximum: float, restore_rate: float
) -> dict[str, Any]:
    with (
        emulator(
            "ecomsync.testing.shopify",
            [
                f"--access-token={TOKEN}",
                f"--maximum={maximum}",
                f"--restore-rate={restore_rate}",
            ],
            stop_timeout=30,
        ) as url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        measured = anyio.run(lambda: _measure(url, w, Path(tmp), bulk=bulk))
    bound = bucket_bound(
        measured["points"], maximum=maximum, restore_rate=restore_rate
    )
    measured["bucket_bound_s"] = round(bound, 2)
    measured["ratio"] = (
        round(measured["wall_s"] / bound, 3) if bound > 0 else None
    )
    return measured


def _markdown(report: dict[str, Any]) -> str:
    w, plan = report["workload"], report["plan"]
    out = [
        "# Shopify: a first sync against the bucket",
        "",
        f"{w['articles']:,} articles (one variant each), "
        f"{w['categories']} categories, stock for every article; the "
        "emulator's command line at a Standard plan's bucket "
        f"({plan['maximum']:,.0f} points, {plan['restore_rate']:,.0f} "
        "points/s restored).  Bound: `max(0, points - maximum) / "
        "restore_rate` for the points the answers report spent.  "
        f"Points floor (one 10-point mutation per category and article, one "
        f"per 250 stock levels): {report['points_floor']:,} "
        f"= {report['floor_bound_s']:,.1f} s.",
        "",
        "| mode | wall s | bucket bound s | wall / bound | points | requests "
        "| bulk operations | waited s | THROTTLED | rerun s | rerun writes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("direct", "bulk"):
        m = report[name]
        ratio = "-" if m["ratio"] is None else f"{m['ratio']:.3f}"
        out.append(
            f"| {name} | {m['wall_s']:,.1f} | {m['bucket_bound_s']:,.1f} "
            f"| {ratio} | {m['points']:,} | {m['requests']:,} "
            f"| {m['bulk_operations']} | {m['waited_s']:,.1f} "
            f"| {m['throttled']} | {m['rerun_wall_s']:,.1f} "
            f"| {m['rerun_written']} |"
        )
    out += [
        "",
        f"Bulk over direct: {report['speedup']:.1f}x faster.  Measured "
        f"{report['measured_at']} on the shared 2-core machine (other runs "
        "loading it).",
        "",
    ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m bench.shopify")
    p.add_argument("--articles", type=int, default=10_000)
    p.add_argument("--categories", type=int, default=50)
    p.add_argument("--quick", action="store_true", help="300 articles")
    p.add_argument("--maximum", type=float, default=2000.0)
    p.add_argument("--restore-rate", type=float, default=100.0)
    p.add_argument(
        "--modes", default="direct,bulk", help="direct, bulk or both"
    )
    p.add_argument(
        "--write",
        action="store_true",
        help="write bench/results/shopify.json and .md",
    )
    a = p.parse_args(argv)
    articles = 300 if a.quick else a.articles
    w = Workload(
        articles=articles, images=0, categories=a.categories, orders=0
    )
    report: dict[str, Any] = {
        "workload": {"articles": articles, "categories": a.categories},
        "plan": {"maximum": a.maximum, "restore_rate": a.restore_rate},
        "points_floor": points_floor(w),
        "floor_bound_s": round(
            bucket_bound(
                points_floor(w), maximum=a.maximum, restore_rate=a.restore_rate
            ),
            2,
        ),
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    for mode in a.modes.split(","):
        report[mode] = _mode(
            w,
            bulk=mode == "bulk",
            maximum=a.maximum,
            restore_rate=a.restore_rate,
        )
    if "direct" in report and "bulk" in report:
        report["speedup"] = report["direct"]["wall_s"] / max(
            report["bulk"]["wall_s"], 1e-9
        )
    print(json.dumps(report, indent=2))
    if a.write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "shopify.json").write_text(
            json.dumps(report, indent=2) + "\n"
        )
        (RESULTS / "shopify.md").write_text(_markdown(report))
    return report


if __name__ == "__main__":
    main()

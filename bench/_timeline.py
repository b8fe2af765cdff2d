"""
``python -m bench._timeline FILE [--concurrency 16]``: where the wall time
of a run recorded with ``bench._client ... --timeline FILE`` goes.

Between two request starts or ends the number of requests in flight is
constant; each such stretch is charged to the route of the request that
started last (what the client was doing).  Printed per route: the time
charged, the part of it with fewer than *concurrency* requests in
flight, and the idle slot-seconds (free slots x time); then the
requests in flight over time, one line per bucket.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def analyse(
    requests: list[tuple[float, float, str]], wall: float, concurrency: int
) -> dict[str, Any]:
    """
    Per route: time charged, time under-filled, idle slot-seconds.
    """
    events: list[tuple[float, int, str]] = []
    for start, end, route in requests:
        events.append((start, 1, route))
        events.append((end, -1, route))
    events.append((wall, 0, "end"))
    events.sort(key=lambda e: (e[0], e[1]))
    per: dict[str, list[float]] = {}
    flight, at, label = 0, 0.0, "start"
    for t, step, route in events:
        span = t - at
        if span > 0:
            row = per.setdefault(label, [0.0, 0.0, 0.0])
            row[0] += span
            if flight < concurrency:
                row[1] += span
                row[2] += span * (concurrency - flight) / concurrency
        flight += step
        at = t
        if step == 1:
            label = route
    return {
        route: {"time_s": a, "under_s": b, "idle_slot_s": c}
        for route, (a, b, c) in per.items()
    }


def buckets(
    requests: list[tuple[float, float, str]], wall: float, width: float
) -> list[tuple[float, float, str]]:
    """
    Mean requests in flight per bucket of *width* seconds, and the most
    common route started in it.
    """
    n = int(wall / width) + 1
    load = [0.0] * n
    started: list[dict[str, int]] = [{} for _ in range(n)]
    for start, end, route in requests:
        i = int(start / width)
        started[i][route] = started[i].get(route, 0) + 1
        for i in range(int(start / width), min(n, int(end / width) + 1)):
            overlap = min(end, (i + 1) * width) - max(start, i * width)
            load[i] += max(0.0, overlap) / width
    return [
        (
            i * width,
            load[i],
            max(started[i], key=started[i].__getitem__) if started[i] else "",
        )
        for i in range(n)
    ]


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench._timeline")
    p.add_argument("file", type=Path)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--bucket", type=float, default=0.5)
    a = p.parse_args()
    data = json.loads(a.file.read_text())
    requests = [tuple(r) for r in data["requests"]]
    wall = data["wall_s"]
    per = analyse(requests, wall, a.concurrency)  # type: ignore[arg-type]
    print(f"wall {wall:.2f} s, {len(requests)} requests")
    print(f"{'charged to':<24}{'time s':>9}{'< 16 s':>9}{'idle slot-s':>13}")
    for route, row in sorted(per.items(), key=lambda x: -x[1]["idle_slot_s"]):
        print(
            f"{route:<24}{row['time_s']:>9.2f}{row['under_s']:>9.2f}"
            f"{row['idle_slot_s']:>13.2f}"
        )
    total = sum(r["idle_slot_s"] for r in per.values())
    print(f"{'total':<24}{wall:>9.2f}{'':>9}{total:>13.2f}")
    for t, load, route in buckets(requests, wall, a.bucket):  # type: ignore[arg-type]
        print(f"{t:7.1f} {load:5.1f} {'#' * round(load):<17}{route}")


if __name__ == "__main__":
    main()

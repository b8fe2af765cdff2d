"""
``python -m bench [--quick]``: run the benchmark suite and write
bench/results/ (JSON, markdown table, PNG plot).  See bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench._run import Options, run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke size for CI (about 2 minutes): 100 articles, 1 run",
    )
    p.add_argument("--articles", type=int, help="catalogue size N")
    p.add_argument("--orders", type=int, help="shop orders to import")
    p.add_argument("--runs", type=int, help="repetitions (min/median/max)")
    p.add_argument(
        "--rss",
        help="peak-RSS runs as N:images,... (default "
        "10000:3,50000:3; quick 100:3,400:3)",
    )
    p.add_argument("--no-sweep", action="store_true")
    p.add_argument("--no-tryton", action="store_true")
    p.add_argument("--no-pin", action="store_true", help="no taskset")
    p.add_argument(
        "--workers",
        action="store_true",
        help="only the partitioned-run benchmark: 1, 2 and 4 worker "
        "processes on PostgreSQL (bench/_workers.py, about 3 minutes; "
        "--articles sets its size, default 2,000)",
    )
    p.add_argument(
        "--profile", action="store_true", help="cProfile one ecomsync run"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the results (default: bench/results, or "
        "bench/results/quick with --quick, so a smoke run never "
        "overwrites the full figures)",
    )
    p.add_argument(
        "--report",
        type=Path,
        metavar="RESULTS_JSON",
        help="only rewrite the table and plot from a results.json",
    )
    a = p.parse_args(argv)
    if a.report:
        import json

        from bench._report import write

        write(
            json.loads(a.report.read_text()),
            a.out or Path(__file__).parent / "results",
        )
        return 0
    out = a.out or Path(__file__).parent / "results"
    if a.workers:
        from bench._workers import WorkerOptions, run_workers

        run_workers(
            WorkerOptions.make(
                articles=a.articles or (200 if a.quick else None),
                pin=not a.no_pin,
                out=out / "quick" if a.quick and a.out is None else out,
            )
        )
        return 0
    if a.out is None and a.quick:
        out = out / "quick"
    opts = Options.make(
        quick=a.quick,
        articles=a.articles,
        orders=a.orders,
        runs=a.runs,
        rss=a.rss,
        sweep=not a.no_sweep,
        tryton=not a.no_tryton and not a.quick,
        pin=not a.no_pin,
        profile=a.profile,
        out=out,
    )
    return run(opts)


if __name__ == "__main__":
    sys.exit(main())

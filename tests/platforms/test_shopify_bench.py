"""
The Shopify benchmark in bench/: its bounds, and one tiny run of both
modes against the emulator's command line.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT))

from bench._workload import Workload  # noqa: E402
from bench.shopify import bucket_bound, main, points_floor  # noqa: E402


class TestShopifyBench:
    def test_bounds_by_hand(self) -> None:
        """
        A full bucket lets its maximum through at once, the rest at the
        restore rate; the floor is one mutation per category and article
        and one per 250 stock levels.
        """
        w = Workload(articles=500, images=0, categories=20, orders=0)

        assert 10 * (20 + 500 + 2) == points_floor(w)
        assert pytest.approx(30.0) == bucket_bound(
            5000, maximum=2000, restore_rate=100
        )
        assert 0.0 == bucket_bound(900, maximum=2000, restore_rate=100)

    def test_tiny_run(self) -> None:
        """
        Both modes succeed twice with a quiet rerun; direct is paced with
        no THROTTLED answer; bulk goes as bulk operations and spends fewer
        points.
        """
        report = main(
            [
                "--articles=260",
                "--categories=5",
                "--maximum=1000",
                "--restore-rate=2000",
            ]
        )

        direct, bulk = report["direct"], report["bulk"]
        assert direct["ok"], direct
        assert bulk["ok"], bulk
        assert (0, 0) == (direct["failed"], bulk["failed"])
        assert (0, 0) == (direct["rerun_written"], bulk["rerun_written"])
        assert (0, 0) == (direct["bulk_operations"], direct["throttled"])
        assert 2 == bulk["bulk_operations"]  # articles, stock
        assert bulk["points"] < direct["points"]
        assert direct["points"] >= report["points_floor"]

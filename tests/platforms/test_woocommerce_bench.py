"""
The WooCommerce quick run in bench/: its lower bound, and one tiny run
against the emulator's command line.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT))

from bench._workload import Workload  # noqa: E402
from bench.woocommerce import lower_bound, main  # noqa: E402


class TestWooCommerceBench:
    def test_lower_bound_by_hand(self) -> None:
        """
        Batches of 100 per category level and per 100 articles with their
        stock, one upload per image, priced by latency over concurrency.
        """
        w = Workload(articles=250, images=2, categories=5, orders=0)
        bound = lower_bound(
            w, latency_ms=20, base_ms=5, workers=8, concurrency=16
        )

        # five root categories: one level, one batch; three article
        # batches; 500 uploads
        assert 1 + 3 + 500 == bound["requests"]
        assert pytest.approx(504 * 0.025 / 16) == bound["t_lb"]
        assert "latency/concurrency" == bound["binding"]

    def test_tiny_run(self) -> None:
        """
        A tiny run succeeds twice, uploads each image once and sends no
        fewer requests than the bound.
        """
        report = main(
            [
                "--articles=12",
                "--images=1",
                "--categories=6",
                "--latency-ms=0",
                "--base-ms=0",
            ]
        )

        measured = report["measured"]
        assert measured["ok"], measured
        assert 0 == measured["failed"]
        assert 12 == measured["by_kind"]["POST /wp-json/wp/v2/media"]
        assert measured["requests"] >= report["lower_bound"]["requests"]

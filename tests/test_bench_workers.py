"""
Smoke test of the worker benchmark (bench/_workers.py): a tiny
partitioned run with 1 and 2 worker processes against the emulator
process, on a throwaway PostgreSQL.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from ecomsync.testing._pg import PostgresUnavailable, find_pg_bin


ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from bench._workers import WorkerOptions, run_workers  # noqa: E402


pytestmark = [pytest.mark.slow, pytest.mark.postgres]


class TestWorkerBenchmark:
    def test_tiny_run(self, tmp_path: Path) -> None:
        """1 and 2 workers write every article exactly once and the
        figures, the bound and the report are produced."""
        if find_pg_bin() is None and os.environ.get("CI") != "true":
            pytest.skip("no PostgreSQL server binaries (postgresql-15)")
        opts = WorkerOptions.make(
            articles=24, counts=(1, 2), pin=False, out=tmp_path
        )
        assert opts.partition_size == 3
        try:
            result = run_workers(opts)
        except PostgresUnavailable as exc:
            if os.environ.get("CI") == "true":
                pytest.fail(f"cannot start PostgreSQL in CI: {exc}")
            pytest.skip(f"no PostgreSQL to run the workers on: {exc}")
        [layout] = result["layouts"]
        assert layout["pinned"] is False
        points = layout["points"]
        assert [p["workers"] for p in points] == [1, 2]
        for p in points:
            assert p["run_status"] == "succeeded"
            assert p["partitions"] >= 8
            assert p["partitions_by_state"] == {"done": p["partitions"]}
            assert p["products_written"] == 24
            assert p["product_writes"] == 24
            assert p["most_writes_of_one_product"] == 1
            assert p["products_in_shop"] == 24
            assert p["category_writes"] == 3
            assert p["wall_s"] > 0
            assert p["records_per_s"] > 0
            assert p["requests"] > 24  # at least one upload per article
            assert p["bound"]["t_lb"] > 0
            assert 0 <= p["server_busy"] < 1
        assert layout["limit"]
        saved = json.loads((tmp_path / "workers.json").read_text())
        assert saved["layouts"][0]["points"][1]["workers"] == 2
        table = (tmp_path / "workers.md").read_text()
        assert "| 2 |" in table
        assert "**NO**" not in table

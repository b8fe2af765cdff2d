"""
Smoke tests of the benchmark harness in bench/: the lower bound, the
generated ERP, and one tiny end-to-end run (emulator process, both
contenders, table and plot).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ecomsync import All, DataType, NumberRange, Only


ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from bench._workload import (  # noqa: E402
    Costs,
    SeededErp,
    Workload,
    lower_bound,
)


class TestLowerBound:
    def test_latency_bound_by_hand(self) -> None:
        """10 articles x 1 image: the latency term is summed by hand."""
        w = Workload(articles=10, images=1, categories=10, orders=0)
        c = Costs(bandwidth_bps=1e12, workers=1000)
        b = lower_bound(w, c, concurrency=2)
        # token, the tax and the sales channels, 1 category sync (10
        # items), 1 article sync (10 product rows, media nested: the
        # emulator charges top-level rows), 10 uploads, 1 order search
        latency = 16 * 0.020
        # server time: 15 requests (not the token) pay the base cost,
        # 20 sync items, 10 uploads
        service = 15 * 0.005 + 20 * 0.0005 + 10 * 0.010
        assert b.requests == 16
        assert b.binding == "latency/concurrency"
        assert b.t_lb == pytest.approx((latency + service) / 2)

    def test_bandwidth_binds_on_a_thin_link(self) -> None:
        """With a slow link the bound is the bytes over the bandwidth."""
        w = Workload(articles=100, orders=0)
        b = lower_bound(w, Costs(bandwidth_bps=1e5), concurrency=16)
        assert b.binding == "bytes/bandwidth"
        assert b.t_lb == pytest.approx(100 * 3 * 20_000 / 1e5)

    def test_order_pages_of_500(self) -> None:
        """Orders are read in pages of 500; the last page comes back
        short."""
        w = Workload(articles=0, images=0, categories=0, orders=1000)
        b = lower_bound(w, Costs(), concurrency=16)
        assert 1 + 3 == b.requests

    def test_a_short_last_page_costs_its_look_up(self) -> None:
        """The last page's numbers, if it holds any, are looked up on
        their own (who else holds them); the pages before are looked up
        by the next page's search."""
        w = Workload(articles=0, images=0, categories=0, orders=1001)
        b = lower_bound(w, Costs(), concurrency=16)
        assert 1 + 3 + 1 == b.requests

    def test_grows_with_the_catalogue(self) -> None:
        """Ten times the articles cost about ten times the time."""
        small = lower_bound(Workload(articles=1000), Costs(), concurrency=16)
        large = lower_bound(Workload(articles=10000), Costs(), concurrency=16)
        assert 8 < large.t_lb / small.t_lb < 10.5


class TestSeededErp:
    pytestmark = pytest.mark.anyio

    async def test_selections(self) -> None:
        """All, ranges and Only read in number order, in batches."""
        erp = SeededErp(Workload(articles=25, categories=5))
        async with erp.session() as s:
            batches = [
                b
                async for b in s.read(DataType.ARTICLES, All(), batch_size=10)
            ]
            assert [len(b) for b in batches] == [10, 10, 5]
            ranged = [
                r.number
                async for b in s.read(
                    DataType.STOCK,
                    NumberRange("A-000003", "A-000005"),
                    batch_size=10,
                )
                for r in b
            ]
            assert ranged == ["A-000003", "A-000004", "A-000005"]
            only = [
                r.number
                async for b in s.read(
                    DataType.CATEGORIES,
                    Only(frozenset({"C-002"})),
                    batch_size=5,
                )
                for r in b
            ]
            assert only == ["C-002"]

    async def test_delta(self) -> None:
        """Version 1 changes 1 % of the articles, half with a new image."""
        w = Workload(articles=400)
        before, after = SeededErp(w), SeededErp(w, version=1)
        changed = [
            i for i in range(1, 401) if before.article(i) != after.article(i)
        ]
        assert changed == w.changed()
        assert len(changed) == 4
        new = [
            i
            for i in changed
            if before.article(i).media != after.article(i).media
        ]
        assert new == w.new_image()
        async with after.session() as s:
            ref = after.article(new[0]).media[0]
            assert len(await s.read_media(ref)) == w.image_bytes


@pytest.mark.slow
class TestEndToEnd:
    def test_tiny_run(self, tmp_path: Path) -> None:
        """A tiny run writes the JSON, the table and the plot."""
        path = [str(ROOT), os.environ.get("PYTHONPATH", "")]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, path)))
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench",
                "--articles=5",
                "--orders=5",
                "--runs=1",
                "--rss=5:1,10:1",
                "--no-tryton",
                "--no-pin",
                f"--out={tmp_path}",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads((tmp_path / "results.json").read_text())
        first = result["runs"][0]
        assert first["first"]["status"] == "succeeded"
        assert first["noop"]["write_requests"] == 0
        # One POST per category and per article (stock nested), one
        # upload per image, a token, two look-ups, one page of orders.
        assert 1 + 2 + 200 + 5 + 5 * 3 + 1 == first["naive"]["requests"]
        # The floor replays exactly the bound's request set.
        for floor in ("floor-httpx", "floor-httpx-aiohttp", "floor-aiohttp"):
            assert result["bound"]["requests"] == first[floor]["requests"]
        assert (tmp_path / "results.md").read_text().startswith("# ecomsync")
        assert (tmp_path / "concurrency.png").exists() or not _has_mpl()


def _has_mpl() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True

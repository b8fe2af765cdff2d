"""
ERP read throughput from a live Tryton: the project's server script
(scripts/tryton/tryton_server.py) starts trytond on a copy of its
pristine database, `seed_tryton` fills it with a generated catalogue, and
`TrytonErp` reads the articles back by number range and by changed-since.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import attrs

from bench._run import ROOT, stats


SCRIPT = ROOT / "scripts" / "tryton" / "tryton_server.py"


def _seed(articles: int) -> Any:
    from ecomsync import Article, Category, StockLevel
    from ecomsync.testing._erp_contract import ErpSeed

    categories = tuple(
        Category(number=f"C-{i:03d}", name=f"Kategorie {i}")
        for i in range(1, 21)
    )
    return ErpSeed(
        categories=categories,
        articles=tuple(
            Article(
                number=f"A-{i:06d}",
                name=f"Artikel {i}",
                description=f"Artikel {i} in Werkstattqualität.",
                price=Decimal(199 + i % 9000) / 100,
                categories=(f"C-{i % 20 + 1:03d}",),
            )
            for i in range(1, articles + 1)
        ),
        stock=tuple(
            StockLevel(number=f"A-{i:06d}", quantity=i % 500)
            for i in range(1, articles + 1)
        ),
        order_status=(),
    )


async def _measure(
    info: dict[str, Any], articles: int, repeats: int, log: Callable[..., None]
) -> dict[str, Any]:
    from ecomsync import ChangedSince, DataType, NumberRange
    from ecomsync._spec import Selection
    from ecomsync.erp.tryton import TrytonErp
    from ecomsync.testing._tryton_seed import seed_tryton

    erp = TrytonErp(
        info["url"],
        info["database"],
        info["user"],
        info.get("password")
        or os.environ.get("TRYTON_ADMIN_PASSWORD", "admin"),
    )
    before = datetime.now(UTC) - timedelta(minutes=1)
    start = time.perf_counter()
    seed = _seed(articles)
    async with erp.session() as session:
        # Tryton on SQLite overflows the SQL parser validating hundreds of
        # records in one call: the categories and the first chunk go
        # through seed_tryton, the rest in chunks of the same shape.
        chunk = 25
        first = attrs.evolve(seed, articles=seed.articles[:chunk], stock=())
        await seed_tryton(session.rpc, first)
        await _more_articles(session.rpc, seed.articles[chunk:], chunk)
    log(f"  seeded {articles} articles in {time.perf_counter() - start:.1f} s")
    selections: dict[str, Selection] = {
        "number range (all articles)": NumberRange(
            "A-000001", f"A-{articles:06d}"
        ),
        "changed since (all articles)": ChangedSince(before),
        "number range (first 10 %)": NumberRange(
            "A-000001", f"A-{max(1, articles // 10):06d}"
        ),
    }
    out: dict[str, dict[str, float]] = {}
    for name, selection in selections.items():
        rates = []
        for _ in range(repeats):
            async with erp.session() as session:
                t0 = time.perf_counter()
                read = 0
                async for batch in session.read(
                    DataType.ARTICLES, selection, batch_size=100
                ):
                    read += len(batch)
                rates.append(read / (time.perf_counter() - t0))
        out[name] = stats(rates)
        log(f"  {name}: {read} articles, median {out[name]['median']:.0f}/s")
    return {
        "measured": True,
        "articles": articles,
        "repeats": repeats,
        "throughput": out,
    }


async def _more_articles(rpc: Any, articles: Any, chunk: int) -> None:
    unit = (
        await rpc.model(
            "product.uom", "search", [["symbol", "=", "u"]], 0, 1, None
        )
    )[0]
    rows = await rpc.search_read("product.category", [], ["code"])
    categories = {r["code"]: r["id"] for r in rows}
    for start in range(0, len(articles), chunk):
        await rpc.model(
            "product.template",
            "create",
            [
                {
                    "name": a.name,
                    "type": "goods",
                    "default_uom": unit,
                    "salable": True,
                    "sale_uom": unit,
                    "list_price": a.price,
                    "categories": [
                        ["add", [categories[c] for c in a.categories]]
                    ],
                    "products": [
                        [
                            "create",
                            [
                                {
                                    "suffix_code": a.number,
                                    "description": a.description,
                                }
                            ],
                        ]
                    ],
                }
                for a in articles[start : start + chunk]
            ],
        )


def measure(
    log: Callable[..., None], *, articles: int = 2000, repeats: int = 3
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ecomsync-bench-tryton-") as d:
        log("Tryton: starting the server (first time: installs trytond)")
        done = subprocess.run(
            [sys.executable, str(SCRIPT), "start", d],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if done.returncode:
            return {
                "measured": False,
                "why": "the Tryton server did not start: "
                + done.stderr.strip()[-300:],
            }
        info: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        try:
            result = anyio.run(_measure, info, articles, repeats, log)
            result["version"] = _version(Path(d))
            return result
        finally:
            subprocess.run(
                [sys.executable, str(SCRIPT), "stop", d],
                capture_output=True,
                timeout=60,
                check=False,
            )


def _version(directory: Path) -> str:
    """
    The Tryton series the server script installs.
    """
    del directory
    for line in SCRIPT.read_text().splitlines():
        if line.startswith("SERIES = "):
            return line.split("=", 1)[1].strip().strip('"')
    return "?"

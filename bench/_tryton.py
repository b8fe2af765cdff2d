"""
ERP read throughput from a live Tryton: the project's server script
(scripts/tryton/tryton_server.py) starts trytond on a copy of its
pristine database, `seed_tryton` fills it with a generated catalogue, and
`TrytonErp` reads the articles back by number range and by changed-since.

Each full read by number range is followed by a bare JSON-RPC client
(httpx, no ecomsync) reading the same product fields from the same server
(``search`` for the ids, then ``read`` by 100), with what TrytonErp reads
beside them for an article (the currency, the category numbers, the
images: three calls).  ``versus_bare`` holds,
pair by pair, the wall-clock ``ratio`` (TrytonErp's rate over the bare
client's; issue 14: at least 0.9) and the ``server_cpu_ratio`` (the
Tryton process's CPU seconds per article, bare over TrytonErp), which a
busy machine disturbs far less than wall-clock time.  ``ratio_minimal``
compares with a bare client that reads only the article's own fields
(no template or attribute information): a floor no real reader reaches.

Alone: ``python -m bench._tryton [--articles N] [--repeats R]``.
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
from functools import partial
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
    from ecomsync import ChangedSince, NumberRange
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
    pid = int(info["pid"])
    pairs: dict[str, list[float]] = {
        "erp_rate": [],
        "bare_rate": [],
        "ratio": [],
        "erp_server_cpu_ms_per_article": [],
        "bare_server_cpu_ms_per_article": [],
        "server_cpu_ratio": [],
        "bare_minimal_rate": [],
        "ratio_minimal": [],
    }
    everything = selections["number range (all articles)"]
    for i in range(repeats):
        # the three readers one after another on the same server, in
        # turns, so that none always reads a cold or a warm server
        measured: dict[str, tuple[float, int, float]] = {}

        async def erp_read() -> tuple[float, int]:
            return await _erp_rate(erp, everything)

        readers = [
            ("erp", erp_read),
            ("bare", partial(_bare_rate, info, erp.password)),
            ("minimal", partial(_bare_rate, info, erp.password, _MINIMAL)),
        ]
        for who, reader in readers[i % 3 :] + readers[: i % 3]:
            cpu = _cpu(pid)
            rate, rows = await reader()
            measured[who] = (rate, rows, _cpu(pid) - cpu)
        (rate, read, erp_cpu), (bare, rows, bare_cpu) = (
            measured["erp"],
            measured["bare"],
        )
        assert rows == read, (rows, read)
        pairs["erp_rate"].append(rate)
        pairs["bare_rate"].append(bare)
        pairs["ratio"].append(rate / bare)
        pairs["erp_server_cpu_ms_per_article"].append(1000 * erp_cpu / read)
        pairs["bare_server_cpu_ms_per_article"].append(1000 * bare_cpu / rows)
        pairs["server_cpu_ratio"].append(bare_cpu / erp_cpu)
        pairs["bare_minimal_rate"].append(measured["minimal"][0])
        pairs["ratio_minimal"].append(rate / measured["minimal"][0])
    for name, selection in selections.items():
        if selection is everything:
            out[name] = stats(pairs["erp_rate"])
        else:
            rates = [
                (await _erp_rate(erp, selection))[0] for _ in range(repeats)
            ]
            out[name] = stats(rates)
        log(f"  {name}: median {out[name]['median']:.0f} articles/s")
    compared = {key: stats(values) for key, values in pairs.items()}
    log(
        f"  bare JSON-RPC client: median {compared['bare_rate']['median']:.0f}"
        f"/s; TrytonErp / bare: median {compared['ratio']['median']:.2f} "
        f"(wall), {compared['server_cpu_ratio']['median']:.2f} (server CPU "
        "per article, bare / TrytonErp); against a bare client reading "
        f"only {', '.join(_MINIMAL)}: "
        f"{compared['ratio_minimal']['median']:.2f}"
    )
    return {
        "measured": True,
        "articles": articles,
        "repeats": repeats,
        "throughput": out,
        "versus_bare": compared,
    }


def _cpu(pid: int) -> float:
    """
    CPU seconds (user + system) process *pid* has used so far.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _erp_rate(erp: Any, selection: Any) -> tuple[float, int]:
    """
    Articles per second `TrytonErp` reads for *selection*, batches of 100.
    """
    from ecomsync import DataType

    async with erp.session() as session:
        t0 = time.perf_counter()
        read = 0
        async for batch in session.read(
            DataType.ARTICLES, selection, batch_size=100
        ):
            read += len(batch)
        return read / (time.perf_counter() - t0), read


async def _bare_rate(
    info: dict[str, Any], password: str, fields: list[str] | None = None
) -> tuple[float, int]:
    """
    Articles per second of a bare JSON-RPC client (httpx, one session, no
    ecomsync) reading the same product fields from the same server: one
    ``search`` for the ids, then ``read`` by 100 ids, one after another.
    With the full fields it also reads what TrytonErp reads beside the
    products: the company's currency, the category numbers (one call
    each, first) and the images of the products' templates (one call,
    last).  *fields* (the minimal reader) reads the products alone.
    """
    import base64

    import httpx

    from ecomsync.erp._tryton_rpc import dumps, loads

    url = f"{info['url']}/{info['database']}/rpc/"
    async with httpx.AsyncClient(timeout=120) as client:
        ids = 0

        async def call(method: str, *params: Any, auth: str = "") -> Any:
            nonlocal ids
            ids += 1
            headers = {"Content-Type": "application/json"}
            if auth:
                headers["Authorization"] = auth
            response = await client.post(
                url,
                content=dumps({"id": ids, "method": method, "params": params}),
                headers=headers,
            )
            return loads(response.text)["result"]

        uid, token, *_ = await call(
            "common.db.login", info["user"], {"password": password}, "en"
        )
        auth = (
            "Session "
            + base64.b64encode(
                f"{info['user']}:{uid}:{token}".encode()
            ).decode()
        )
        prefs = await call(
            "model.res.user.get_preferences", True, {}, auth=auth
        )
        context = {
            "company": prefs["company"],
            "language": prefs.get("language"),
            "active_test": False,
        }
        t0 = time.perf_counter()
        found = await call(
            "model.product.product.search",
            [["code", "!=", None]],
            0,
            None,
            None,
            context,
            auth=auth,
        )
        if fields is None:
            # what an article needs beyond its product rows, as
            # TrytonErp reads it: the currency, the category numbers
            await call(
                "model.company.company.read",
                [prefs["company"]],
                ["currency.code"],
                context,
                auth=auth,
            )
            await call(
                "model.product.category.search_read",
                [],
                0,
                None,
                None,
                ["code"],
                context,
                auth=auth,
            )
        rows = 0
        templates: set[int] = set()
        for start in range(0, len(found), 100):
            read = await call(
                "model.product.product.read",
                found[start : start + 100],
                fields or _FIELDS,
                context,
                auth=auth,
            )
            rows += len(read)
            templates.update(row.get("template") or 0 for row in read)
        if fields is None:
            # and the products' images (one call, as TrytonErp's window)
            await call(
                "model.product.image.search_read",
                [["template", "in", sorted(templates)]],
                0,
                None,
                [["sequence", "ASC"], ["id", "ASC"]],
                [
                    "template",
                    "product",
                    "create_date",
                    "write_date",
                    "description",
                ],
                context,
                auth=auth,
            )
        rate = rows / (time.perf_counter() - t0)
        await call("common.db.logout", auth=auth)
        return rate, rows


#: The article's own fields only.
_MINIMAL = ["code", "name", "description", "list_price_used", "categories"]

#: What TrytonErp reads of a product (candidates and full records).
_FIELDS = [
    "code",
    "active",
    "template",
    "template.code",
    "template.active",
    "name",
    "description",
    "list_price_used",
    "categories",
    "attributes",
]


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


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench._tryton")
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        json.dumps(
            measure(
                lambda *a: print(*a, file=sys.stderr, flush=True),
                articles=args.articles,
                repeats=args.repeats,
            ),
            indent=1,
        )
    )

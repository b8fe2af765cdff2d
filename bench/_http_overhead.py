"""
Per-request overhead of ecomsync's HTTP layer (`ecomsync._http.HttpClient`)
on loopback: ``python -m bench._http_overhead [--requests N] [--runs R]``.

The Shopware 6 emulator runs in its own process without injected costs;
the client sends N small GETs (16 in flight by default) through one
`HttpClient` and reports wall time and its own CPU seconds per 1,000
requests (min / median / max of R runs, each in a fresh client process),
for each variant:

- ``httpx``: httpx's own pool (``HttpClient(pool="httpx")``), sniffio
  installed (a core dependency since this measurement);
- ``httpx-no-sniffio``: the same with ``import sniffio`` failing, as on a
  host without trio or sniffio before: httpcore asks ``import sniffio``
  on every lock and pool operation, and each failed import searches
  ``sys.path``;
- ``aiohttp``: httpx's API over aiohttp's pool (``HttpClient(pool=
  "aiohttp")``, the ``aiohttp`` extra: `ecomsync._http_aiohttp.AiohttpPool`),
  which does not scan every idle connection's socket on every request
  (httpx #3215).

``--body BYTES`` sends POSTs of BYTES each instead (a media upload's
shape: a body, a query, a content type).  Prints one JSON object.

Measured 2026-12-04 at a47609d on the shared 2-core machine (load 8-10,
so wall times are noisy; CPU per request is the figure), 4,000 requests
per run, median of 3 runs, client CPU ms per request:

=========== ===== ===== ===== =====
in flight       8    16    32    64
=========== ===== ===== ===== =====
httpx        1.01  1.82  3.21  3.21
no sniffio          3.10
aiohttp      0.31  0.34  0.32  0.36
=========== ===== ===== ===== =====

POSTs of 20 KB at 16 in flight: httpx 2.10, aiohttp 0.37.  The
aiohttp row was 0.60-0.65 before the third pass (d83ada4); before the
fourth (b84f002) 0.415 ms per GET and 0.420 per 20 KB POST, against
0.307 and 0.370 at 8690a0f (8,000 requests, 5 interleaved pairs,
medians): bench/README.md, "Issue 14: fourth pass (client CPU per HTTP
request)".

Before the third pass, a whole first sync (``--sync N``: categories, N
articles of `ecomsync.testing.demo_erp` with their images, stock;
`Synchronizer` and `Shopware6` defaults but the pool), N = 1,000, two
runs each, load 12, took client CPU 13.9 / 15.5 s with httpx's pool,
10.6 / 10.4 s with aiohttp's (-27 %); wall 52 / 59 s against 38 / 49 s.

httpx's cost grows with the connections in flight (its pool checks every
idle connection's socket on every request: the "collapse above 20"); the
aiohttp pool's does not.  Hence sniffio as a core dependency and the
``aiohttp`` extra taken by default on asyncio (`HttpClient(pool="auto")`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any


VARIANTS = ("httpx", "httpx-no-sniffio", "aiohttp")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class _NoSniffio:
    """
    A meta-path finder that makes ``import sniffio`` fail *after* the
    normal search, as it does where sniffio is not installed.
    """

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name == "sniffio":
            import importlib.machinery

            importlib.machinery.PathFinder.find_spec("sniffio_absent", path)
            raise ModuleNotFoundError("No module named 'sniffio'")


def client(
    url: str, variant: str, requests: int, concurrency: int, body: int = 0
) -> None:
    """
    One measured run, in this process; prints wall and CPU as JSON.
    """
    import anyio

    from ecomsync._http import HttpClient

    if variant == "httpx-no-sniffio":
        # ecomsync's own import is bound already; httpcore's fails.
        sys.modules.pop("sniffio", None)
        sys.meta_path.insert(0, _NoSniffio())  # type: ignore[arg-type]
    pool = "aiohttp" if variant == "aiohttp" else "httpx"

    async def main() -> dict[str, float]:
        http = HttpClient(url, concurrency=concurrency, pool=pool)
        assert ("Aiohttp" in type(http.client._transport).__name__) == (
            pool == "aiohttp"
        )
        limiter = anyio.Semaphore(concurrency)

        content = b"\xff" * body

        async def one() -> None:
            async with limiter:
                if body:
                    # A media upload's shape: a body, a query, a type.
                    response = await http.request(
                        "POST",
                        "/api/_action/media/0f0f0f0f/upload",
                        content=content,
                        params={"extension": "jpg", "fileName": "f" * 64},
                        headers={"Content-Type": "image/jpeg"},
                    )
                else:
                    response = await http.request("GET", "/api/_info/version")
                assert response.status_code in (200, 401)

        async with anyio.create_task_group() as tg:  # warm the pool
            for _ in range(concurrency):
                tg.start_soon(one)
        cpu0, start = _cpu(), time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(requests):
                tg.start_soon(one)
        wall, cpu = time.perf_counter() - start, _cpu() - cpu0
        await http.aclose()
        return {"wall_s": wall, "cpu_s": cpu}

    print(json.dumps(anyio.run(main)))


def sync(url: str, pool: str, articles: int) -> None:
    """
    One first full sync through `Shopware6(http_pool=pool)`, in this
    process; prints wall and CPU as JSON.
    """
    import tempfile
    from pathlib import Path

    import anyio

    from ecomsync import (
        All,
        DataType,
        MediaStaging,
        RunStatus,
        SqliteStore,
        Synchronizer,
        SyncSpec,
    )
    from ecomsync.platforms.shopware6 import Shopware6
    from ecomsync.testing import demo_erp

    erp = demo_erp(articles=articles, categories=20, image_bytes=4096)
    types = (DataType.CATEGORIES, DataType.ARTICLES, DataType.STOCK)

    async def main() -> dict[str, float]:
        where = Path(tempfile.mkdtemp())
        shop = Shopware6(
            url,
            "SWIAEMULATOR0000000000000",
            "emulator-secret",
            http_pool=pool,
        )
        synchronizer = Synchronizer(
            erp=erp,
            platforms={"shop": shop},
            store=SqliteStore(where / "state.db"),
            staging=MediaStaging(where / "staging"),
        )
        cpu0, start = _cpu(), time.perf_counter()
        record = await synchronizer.execute(
            SyncSpec(types={t: All() for t in types})
        )
        wall, cpu = time.perf_counter() - start, _cpu() - cpu0
        await shop.aclose()
        await synchronizer.store.aclose()
        assert record.status is RunStatus.SUCCEEDED, record
        return {"wall_s": wall, "cpu_s": cpu}

    print(json.dumps(anyio.run(main)))


def _serve() -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "ecomsync.testing.shopware6", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    url = next(
        p.split("=", 1)[1] for p in line.split() if p.startswith("base_url=")
    )
    return server, url


def _syncs(articles: int, runs: int) -> None:
    found: dict[str, list[dict[str, float]]] = {}
    for _ in range(runs):
        for pool in ("httpx", "aiohttp"):
            server, url = _serve()  # a fresh, empty shop per run
            try:
                out = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "bench._http_overhead",
                        "--sync",
                        str(articles),
                        "--sync-client",
                        url,
                        pool,
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=os.environ,
                )
            finally:
                server.terminate()
                server.wait()
            found.setdefault(pool, []).append(
                json.loads(out.stdout.strip().splitlines()[-1])
            )
    print(
        json.dumps(
            {
                "articles": articles,
                "pools": {
                    pool: {
                        "wall_s": _stats([r["wall_s"] for r in rs]),
                        "cpu_s": _stats([r["cpu_s"] for r in rs]),
                    }
                    for pool, rs in found.items()
                },
            },
            indent=2,
        )
    )


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--requests", type=int, default=4000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument(
        "--body",
        type=int,
        default=0,
        metavar="BYTES",
        help="POST uploads of BYTES each instead of GETs",
    )
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--client", nargs=2, metavar=("URL", "VARIANT"))
    p.add_argument(
        "--sync",
        type=int,
        metavar="N",
        help="measure whole first syncs of N articles per pool instead",
    )
    p.add_argument("--sync-client", nargs=2, metavar=("URL", "POOL"))
    a = p.parse_args()
    if a.client:
        client(a.client[0], a.client[1], a.requests, a.concurrency, a.body)
        return
    if a.sync_client:
        sync(a.sync_client[0], a.sync_client[1], a.sync or 1000)
        return
    if a.sync:
        _syncs(a.sync, a.runs)
        return
    server, url = _serve()
    results: dict[str, Any] = {
        "requests": a.requests,
        "concurrency": a.concurrency,
        "body": a.body,
        "variants": {},
    }
    try:
        for variant in a.variants.split(","):
            runs = []
            for _ in range(a.runs):
                out = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "bench._http_overhead",
                        "--requests",
                        str(a.requests),
                        "--concurrency",
                        str(a.concurrency),
                        "--body",
                        str(a.body),
                        "--client",
                        url,
                        variant,
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=os.environ,
                )
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            per_k = 1000 / a.requests
            results["variants"][variant] = {
                "wall_s_per_1000": _stats([r["wall_s"] * per_k for r in runs]),
                "cpu_s_per_1000": _stats([r["cpu_s"] * per_k for r in runs]),
            }
    finally:
        server.terminate()
        server.wait()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

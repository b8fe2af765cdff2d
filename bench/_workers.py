"""
Partitioned runs on PostgreSQL: throughput of 1, 2 and 4 worker processes
against the Shopware 6 emulator (``python -m bench --workers``).

Per worker count, on a fresh emulator (the default costs, own process,
pinned to core 0) and a fresh database on one throwaway PostgreSQL:

1. submit one partitioned run (categories, then articles) with
   `submit_partitioned`;
2. start *k* ``python -m ecomsync worker --exit-when-idle --licences k``
   processes (pinned to core 1 with the database, like the harness's
   client) whose ``--app`` is `make_sync` (`SeededErp` + `Shopware6`);
3. measure the wall time from their start until the last one exited,
   the requests the emulator saw (counted by a wrapper around its ASGI
   app, which also checks that every product was written exactly once),
   the emulator's CPU busy share, the workers' CPU and both cores'.

T_lb is `bench._workload.lower_bound` for the same workload with
16 x k requests in flight (each worker's `Shopware6` keeps 16): the
latency term falls with k, the emulator's worker pool and the link do
not, so they are where the curve must flatten.

``python -m bench._workers serve [cost options]`` is the emulator process
(`bench._server.build` behind the counting wrapper).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from bench._client import classify
from bench._run import announced
from bench._server import CLIENT_ID, CLIENT_SECRET
from bench._workload import Costs, SeededErp, Workload, lower_bound


if TYPE_CHECKING:
    from ecomsync import Synchronizer
    from ecomsync.typing import LicensePool, StateStore

ROOT = Path(__file__).parent.parent
STATS_PATH = "/__bench/stats"
#: Requests in flight per worker: `Shopware6`'s default.
CONCURRENCY = 16

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@attrs.frozen(kw_only=True)
class WorkerOptions:
    """
    What the worker benchmark runs.
    """

    workload: Workload = attrs.field(
        factory=lambda: Workload(articles=2000, images=1, orders=0)
    )
    partition_size: int = 250
    counts: tuple[int, ...] = (1, 2, 4)
    #: Layouts to measure: pinned (emulator on core 0, PostgreSQL and the
    #: workers on core 1, like the harness) and/or not pinned.
    pins: tuple[bool, ...] = (True, False)
    out: Path = Path(__file__).parent / "results"
    costs: Costs = attrs.field(factory=Costs)

    @classmethod
    def make(
        cls,
        *,
        articles: int | None = None,
        counts: tuple[int, ...] = (1, 2, 4),
        pin: bool = True,
        out: Path | None = None,
    ) -> WorkerOptions:
        n = articles or 2000
        # At least 8 article partitions; the categories (a tree: parents
        # first) in one.
        size = max(1, math.ceil(n / 8))
        return cls(
            workload=Workload(
                articles=n, images=1, orders=0, categories=min(200, size)
            ),
            partition_size=size,
            counts=counts,
            pins=(True, False)
            if pin and (os.cpu_count() or 1) >= 2
            else (False,),
            out=out or Path(__file__).parent / "results",
        )


def log(*args: Any) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *args, file=sys.stderr, flush=True)


# -- the emulator process ---------------------------------------------------


@attrs.define
class Counting:
    """
    ASGI wrapper: counts the requests the emulator sees (by route) and
    the product rows with a product number each Sync writes; answers
    ``GET /__bench/stats`` with them.
    """

    app: ASGIApp
    products: Callable[[], int]
    requests: int = 0
    routes: dict[str, int] = attrs.Factory(dict)
    product_writes: dict[str, int] = attrs.Factory(dict)
    category_writes: int = 0

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if path == STATS_PATH:
            await self._stats(send)
            return
        self.requests += 1
        route = classify(method, path)
        self.routes[route] = self.routes.get(route, 0) + 1
        if not path.endswith("/_action/sync"):
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        self._count(bytes(body))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body)}
            return await receive()

        await self.app(scope, replay, send)

    def _count(self, body: bytes) -> None:
        try:
            payload = json.loads(body)
        except ValueError:
            return
        ops = payload.values() if isinstance(payload, dict) else payload
        for op in ops if isinstance(ops, list) else list(ops):
            if not isinstance(op, dict) or op.get("action") != "upsert":
                continue
            for row in op.get("payload") or ():
                if not isinstance(row, dict):
                    continue
                if op.get("entity") == "product" and "productNumber" in row:
                    number = str(row["productNumber"])
                    self.product_writes[number] = (
                        self.product_writes.get(number, 0) + 1
                    )
                elif op.get("entity") == "category" and "name" in row:
                    self.category_writes += 1

    async def _stats(self, send: Send) -> None:
        writes = list(self.product_writes.values())
        body = json.dumps(
            {
                "requests": self.requests,
                "routes": self.routes,
                "products_written": len(writes),
                "product_writes": sum(writes),
                "most_writes_of_one_product": max(writes, default=0),
                "category_writes": self.category_writes,
                "products_in_shop": self.products(),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def serve(argv: list[str]) -> None:
    """
    ``python -m bench._workers serve``: `bench._server` with `Counting`.
    """
    import uvicorn

    from bench._server import build

    p = argparse.ArgumentParser(prog="python -m bench._workers serve")
    for name in ("latency-ms", "base-ms", "per-item-ms", "per-upload-ms"):
        p.add_argument(f"--{name}", type=float, default=0.0)
    p.add_argument("--bandwidth-bps", type=float, default=0.0)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--orders", type=int, default=0)
    p.add_argument("--articles", type=int, default=1)
    emu = build(p.parse_args(argv))
    app = Counting(emu.app, lambda: len(emu.entities.get("product", {})))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            loop="asyncio",
            http="h11",
            backlog=2048,
        )
    )

    async def run() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            # uvicorn offers no event to wait for.
            while not server.started:  # noqa: ASYNC110
                await anyio.sleep(0.01)
            info = {"url": f"http://127.0.0.1:{port}", "pid": os.getpid()}
            print(json.dumps(info), flush=True)

    anyio.run(run)


# -- the workers' --app ------------------------------------------------------


def workload_from_env() -> Workload:
    return Workload(
        articles=int(os.environ["BENCH_ARTICLES"]),
        images=int(os.environ.get("BENCH_IMAGES", "1")),
        image_bytes=int(os.environ.get("BENCH_IMAGE_BYTES", "20000")),
        categories=int(os.environ.get("BENCH_CATEGORIES", "200")),
        orders=0,
    )


def make_sync(*, store: StateStore, licenses: LicensePool) -> Synchronizer:
    """
    The workers' ``--app``: `SeededErp` and `Shopware6` (defaults) on the
    emulator at ``$BENCH_URL``.
    """
    return build_sync(
        workload_from_env(),
        os.environ["BENCH_URL"],
        store=store,
        licenses=licenses,
    )


def build_sync(
    w: Workload, url: str, *, store: StateStore, licenses: LicensePool
) -> Synchronizer:
    from ecomsync import MediaStaging, Synchronizer
    from ecomsync.platforms.shopware6 import Shopware6

    staging = Path(tempfile.mkdtemp(prefix="ecomsync-bench-staging-"))
    return Synchronizer(
        SeededErp(w),
        {"shop": Shopware6(url, CLIENT_ID, CLIENT_SECRET)},
        store=store,
        licenses=licenses,
        staging=MediaStaging(staging),
    )


# -- the orchestration -------------------------------------------------------


def _env(w: Workload, url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p
    )
    env.update(
        BENCH_URL=url,
        BENCH_ARTICLES=str(w.articles),
        BENCH_IMAGES=str(w.images),
        BENCH_IMAGE_BYTES=str(w.image_bytes),
        BENCH_CATEGORIES=str(w.categories),
    )
    return env


def _taskset(core: int, pinned: bool) -> list[str]:
    return ["taskset", "-c", str(core)] if pinned else []


@contextmanager
def emulator(opts: WorkerOptions, pinned: bool) -> Iterator[dict[str, Any]]:
    w = opts.workload
    cmd = [
        *_taskset(0, pinned),
        sys.executable,
        "-m",
        "bench._workers",
        "serve",
        *opts.costs.args(),
        f"--articles={w.articles}",
    ]
    with announced(cmd, env=_env(w, ""), cwd=ROOT) as info:
        yield info


def stats_of(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + STATS_PATH, timeout=30) as resp:
        result: dict[str, Any] = json.loads(resp.read())
    return result


def cpu_of(pid: int) -> float:
    """
    CPU seconds process *pid* has used so far (0 if unknown).
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def core_times() -> dict[int, tuple[int, int]]:
    """
    Per core: (busy, total) jiffies from /proc/stat.
    """
    out: dict[int, tuple[int, int]] = {}
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            v = [int(x) for x in values]
            idle = v[3] + (v[4] if len(v) > 4 else 0)
            out[int(name[3:])] = (sum(v) - idle, sum(v))
    return out


def core_busy(
    before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]
) -> dict[str, float]:
    out = {}
    for core, (busy, total) in after.items():
        b0, t0 = before.get(core, (0, 0))
        if total > t0:
            out[f"core{core}"] = (busy - b0) / (total - t0)
    return out


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def create_database(server: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + f"/{name}"


async def submit(dsn: str, w: Workload, *, k: int, size: int) -> str:
    from ecomsync import All, DataType, SyncSpec
    from ecomsync._partition import submit_partitioned
    from ecomsync.licensing import PostgresLicensePool
    from ecomsync.state._postgres import PostgresStore

    store = PostgresStore(dsn)
    try:
        sync = build_sync(
            w,
            "http://127.0.0.1:1",  # submitting reads the ERP only
            store=store,
            licenses=PostgresLicensePool(dsn, size=k),
        )
        spec = SyncSpec(
            types={DataType.CATEGORIES: All(), DataType.ARTICLES: All()}
        )
        return await submit_partitioned(sync, spec, partition_size=size)
    finally:
        await store.aclose()


def query(
    dsn: str, sql: str, params: tuple[Any, ...] = ()
) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return list(conn.execute(sql, params).fetchall())


def measure(
    k: int, server: str, opts: WorkerOptions, logs: Path, *, pinned: bool
) -> dict[str, Any]:
    """
    One worker count on a fresh database and a fresh emulator.
    """
    w = opts.workload
    dsn = create_database(server, f"bench_workers_{k}")
    with emulator(opts, pinned) as info:
        run_id = anyio.run(
            lambda: submit(dsn, w, k=k, size=opts.partition_size)
        )
        partitions = query(
            dsn,
            "SELECT phase, count(*) FROM ecomsync.partitions "
            "GROUP BY phase ORDER BY phase",
        )
        log(
            f"{k} worker(s): {sum(n for _, n in partitions)} partitions "
            f"({', '.join(str(n) for _, n in partitions)} per phase)"
        )
        cmd = [
            *_taskset(1, pinned),
            sys.executable,
            "-m",
            "ecomsync",
            "worker",
            "--store",
            dsn,
            "--app",
            "bench._workers:make_sync",
            "--licences",
            str(k),
            "--poll-interval",
            "0.2",
            "--exit-when-idle",
        ]
        env = _env(w, info["url"])
        server_cpu, cpu, cores = (
            cpu_of(info["pid"]),
            children_cpu(),
            core_times(),
        )
        start = time.perf_counter()
        procs = []
        for i in range(k):
            with (logs / f"worker-{k}-{i}.log").open("w") as sink:
                procs.append(
                    subprocess.Popen(
                        cmd, env=env, cwd=ROOT, stderr=sink, text=True
                    )
                )
        try:
            codes = [p.wait(timeout=1800) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        wall = time.perf_counter() - start
        server_cpu = cpu_of(info["pid"]) - server_cpu
        cpu = children_cpu() - cpu
        busy = core_busy(cores, core_times())
        if any(codes):
            text = "\n".join(
                f.read_text()[-3000:] for f in sorted(logs.glob(f"*-{k}-*"))
            )
            raise RuntimeError(f"a worker failed ({codes}):\n{text}")
        seen = stats_of(info["url"])
    states = dict(
        query(
            dsn,
            "SELECT state, count(*) FROM ecomsync.partitions GROUP BY state",
        )
    )
    # Partitions each worker started (its log names each one).
    per_worker = sorted(
        (
            f.read_text().count(" runs partition ")
            for f in logs.glob(f"worker-{k}-*.log")
        ),
        reverse=True,
    )
    status = query(
        dsn, "SELECT status FROM ecomsync.runs WHERE id = %s", (run_id,)
    )[0][0]
    records = w.articles + w.categories
    bound = lower_bound(w, opts.costs, concurrency=CONCURRENCY * k)
    result = {
        "workers": k,
        "licences": k,
        "wall_s": wall,
        "records": records,
        "records_per_s": records / wall,
        "articles_per_s": w.articles / wall,
        "requests": seen["requests"],
        "routes": seen["routes"],
        "products_in_shop": seen["products_in_shop"],
        "products_written": seen["products_written"],
        "product_writes": seen["product_writes"],
        "most_writes_of_one_product": seen["most_writes_of_one_product"],
        "category_writes": seen["category_writes"],
        "server_cpu_s": server_cpu,
        "server_busy": server_cpu / wall,
        "workers_cpu_s": cpu,
        "workers_cpu_ms_per_article": cpu * 1000 / w.articles,
        # Cores the workers (and PostgreSQL) can use.
        "worker_cores": 1 if pinned else (os.cpu_count() or 1),
        "core_busy": busy,
        "partitions": sum(n for _, n in partitions),
        "partitions_by_state": states,
        "partitions_per_worker": per_worker,
        "run_status": status,
        "bound": bound.as_dict(),
        "wall_over_bound": wall / bound.t_lb,
    }
    log(
        f"  wall {wall:.2f} s, {records / wall:.0f} records/s, "
        f"{seen['requests']} requests, emulator busy "
        f"{server_cpu / wall:.2f}, T_lb {bound.t_lb:.2f} s "
        f"({bound.binding})"
    )
    return result


def limit(points: list[dict[str, Any]]) -> str:
    """
    Which limit stops the curve, from the measured figures.
    """
    if not points:
        return "nothing measured"
    last = points[-1]
    bound = last["bound"]
    # The workers cannot finish faster than their CPU time spread over
    # the cores they have.
    cpu_floor = last["workers_cpu_s"] / last["worker_cores"]
    cores = last["core_busy"]
    busiest = max(cores.values(), default=0.0)
    parts = [
        f"at {last['workers']} workers the wall is "
        f"{last['wall_over_bound']:.2f}x T_lb ({bound['t_lb']:.2f} s, "
        f"bound by {bound['binding']}); the emulator process was busy "
        f"{last['server_busy']:.2f} of its core; the workers used "
        f"{last['workers_cpu_s']:.1f} CPU-s on {last['worker_cores']} "
        f"core(s), a floor of {cpu_floor:.1f} s"
    ]
    if last["server_busy"] >= 0.85:
        parts.append("so the emulator's process (the platform) stops it")
    elif last["wall_over_bound"] <= 1.3:
        parts.append(
            "so the platform's limits (T_lb: its worker pool, the link) "
            "stop it"
        )
    elif cpu_floor >= 0.7 * last["wall_s"] or busiest >= 0.9:
        parts.append(
            "so the client side's CPU on this machine stops it, not the "
            "platform: the workers' cores are saturated "
            f"(busiest core {busiest:.2f})"
        )
    else:
        parts.append("so no measured resource is saturated")
    return "; ".join(parts)


@contextmanager
def _affinity(cores: set[int] | None) -> Iterator[None]:
    if cores is None or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def run_workers(opts: WorkerOptions) -> dict[str, Any]:
    """
    Measure every layout and worker count; write workers.json and
    workers.md.
    """
    from bench._run import machine, versions
    from ecomsync.testing._pg import postgres_server

    opts.out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    result: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "workload": attrs.asdict(opts.workload),
        "costs": attrs.asdict(opts.costs),
        "partition_size": opts.partition_size,
        "concurrency_per_worker": CONCURRENCY,
        "layouts": [],
    }
    with tempfile.TemporaryDirectory(prefix="ecomsync-bench-w-") as t:
        for pinned in opts.pins:
            logs = Path(t) / ("pinned" if pinned else "free")
            logs.mkdir()
            log(
                "layout: "
                + (
                    "emulator on core 0, PostgreSQL and workers on core 1"
                    if pinned
                    else "not pinned"
                )
            )
            # PostgreSQL inherits this process's cores.
            with _affinity({1} if pinned else None), postgres_server() as db:
                points = [
                    measure(k, db, opts, logs, pinned=pinned)
                    for k in opts.counts
                ]
            result["layouts"].append(
                {"pinned": pinned, "points": points, "limit": limit(points)}
            )
    result["elapsed_s"] = (datetime.now(UTC) - started).total_seconds()
    write(result, opts.out)
    log(f"results written to {opts.out / 'workers.md'}")
    return result


# -- the report --------------------------------------------------------------


def write(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "workers.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "workers.md").write_text(markdown(result))
    results = out / "results.md"
    link = "[workers.md](workers.md)"
    if results.exists() and link not in results.read_text():
        with results.open("a") as f:
            f.write(
                "\n## Workers on PostgreSQL\n\nThroughput of a partitioned "
                f"run with 1, 2 and 4 worker processes: {link} "
                "(`python -m bench --workers`).\n"
            )


def markdown(result: dict[str, Any]) -> str:
    w, c = result["workload"], result["costs"]
    m = result["machine"]
    layouts = result["layouts"]
    first = layouts[0]["points"] if layouts and layouts[0]["points"] else []
    lines = [
        "# Workers on PostgreSQL",
        "",
        f"Started {result['started']}; generated by "
        "`python -m bench --workers` (bench/_workers.py) in "
        f"{result['elapsed_s']:.0f} s.  Every figure is measured by this "
        "run except T_lb, which is computed (bench/README.md).",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, 1-min load at start "
        f"{m['load_1min_at_start']} (shared with other work: compare "
        "within one table).",
        f"- Workload: {w['articles']:,} articles x {w['images']} image "
        f"({w['image_bytes'] // 1000} KB), {w['categories']} categories; "
        "one partitioned run (categories, then articles) of "
        f"{first[0]['partitions'] if first else 0} partitions of up to "
        f"{result['partition_size']} records.",
        f"- Emulator: latency {c['latency_ms']} ms, base {c['base_ms']} ms, "
        f"{c['per_item_ms']} ms per sync item, {c['per_upload_ms']} ms per "
        f"upload, bandwidth {c['bandwidth_bps'] * 8 / 1e6:.0f} Mbit/s, "
        f"{c['workers']} workers; a fresh emulator and a fresh database "
        "per worker count.",
        "- Workers: `python -m ecomsync worker --exit-when-idle "
        "--licences k`, each with `Shopware6`'s defaults "
        f"({result['concurrency_per_worker']} requests in flight), so "
        "T_lb is computed for 16 x k in flight.  Wall = from starting "
        "the worker processes until the last one exited (their start-up "
        "included).",
        "- Written once: the emulator counted every product row a Sync "
        "carried; yes = each article written exactly once.",
    ]
    for layout in layouts:
        lines += _table(layout, w["articles"])
    return "\n".join(lines) + "\n"


def _table(layout: dict[str, Any], articles: int) -> list[str]:
    points = layout["points"]
    lines = [
        "",
        "## "
        + (
            "Pinned: emulator on core 0, PostgreSQL and all workers on core 1"
            if layout["pinned"]
            else "Not pinned: everything shares all cores"
        ),
        "",
        "| workers | wall (s) | records/s | speed-up | requests | "
        "emulator busy | workers CPU (s) | CPU ms / article | "
        "core busy | T_lb (s) | bound by | wall / T_lb | written once |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|---|",
    ]
    first = points[0]["wall_s"] if points else 1.0
    for p in points:
        b = p["bound"]
        once = (
            p["products_written"] == articles
            and p["most_writes_of_one_product"] == 1
            and p["products_in_shop"] >= articles
        )
        cores = " / ".join(
            f"{v:.2f}" for _, v in sorted(p["core_busy"].items())
        )
        lines.append(
            f"| {p['workers']} | {p['wall_s']:.2f} | "
            f"{p['records_per_s']:.0f} | {first / p['wall_s']:.2f} | "
            f"{p['requests']:,} | {p['server_busy']:.2f} | "
            f"{p['workers_cpu_s']:.1f} | "
            f"{p['workers_cpu_ms_per_article']:.1f} | {cores} | "
            f"{b['t_lb']:.2f} | {b['binding']} | "
            f"{p['wall_over_bound']:.2f} | "
            f"{'yes' if once else '**NO**'} |"
        )
    lines += [
        "",
        f"**What stops the curve:** {layout['limit']}.",
        "",
        "T_lb terms (s): "
        + "; ".join(
            f"k={p['workers']}: latency/concurrency "
            f"{p['bound']['latency_term']:.2f}, service/workers "
            f"{p['bound']['service_term']:.2f}, bytes/bandwidth "
            f"{p['bound']['bytes_term']:.2f}"
            for p in points
        )
        + ".",
        "",
        "Requests by route: "
        + "; ".join(
            f"k={p['workers']}: "
            + ", ".join(f"{r} {n}" for r, n in sorted(p["routes"].items()))
            for p in points
        )
        + ".",
        "",
        "Partitions started per worker: "
        + "; ".join(
            f"k={p['workers']}: {p['partitions_per_worker']}" for p in points
        )
        + ".",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"]:
        serve(args[1:])
        return 0
    p = argparse.ArgumentParser(prog="python -m bench._workers")
    p.add_argument("--articles", type=int, default=None)
    p.add_argument("--counts", default="1,2,4")
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(args)
    run_workers(
        WorkerOptions.make(
            articles=a.articles,
            counts=tuple(int(x) for x in a.counts.split(",")),
            pin=not a.no_pin,
            out=a.out,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

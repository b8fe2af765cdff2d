"""
The orchestration: start the emulator process, run the contenders in
fresh client processes, compute the figures and write the results.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs

from bench._workload import FREE, Costs, Workload, lower_bound


ROOT = Path(__file__).parent.parent


@attrs.frozen(kw_only=True)
class Options:
    quick: bool
    workload: Workload
    runs: int
    rss: tuple[tuple[int, int], ...]  # (articles, images per article)
    sweep: bool
    tryton: bool
    pin: bool
    profile: bool
    out: Path
    costs: Costs = attrs.field(factory=Costs)

    @classmethod
    def make(
        cls,
        *,
        quick: bool,
        articles: int | None,
        orders: int | None,
        runs: int | None,
        rss: str | None,
        **kw: Any,
    ) -> Options:
        if quick:
            n, o, r, sizes = 100, 200, 1, "100:3,400:3"
        else:
            n, o, r, sizes = 10_000, 2000, 3, "10000:3,50000:3"
        return cls(
            quick=quick,
            workload=Workload(
                articles=articles or n, orders=o if orders is None else orders
            ),
            runs=runs or r,
            rss=tuple(
                (int(n), int(i))
                for n, i in (x.split(":") for x in (rss or sizes).split(","))
            ),
            **kw,
        )


def log(*args: Any) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *args, file=sys.stderr, flush=True)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p
    )
    return env


def _pin(core: int, opts: Options) -> list[str]:
    if opts.pin and shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(core)]
    return []


@contextmanager
def emulator(
    costs: Costs, w: Workload, opts: Options
) -> Iterator[dict[str, Any]]:
    """
    The emulator in its own process (pinned to core 0).
    """
    cmd = [
        *_pin(0, opts),
        sys.executable,
        "-m",
        "bench._server",
        *costs.args(),
        f"--orders={w.orders}",
        f"--articles={w.articles}",
    ]
    with announced(cmd, env=_env()) as info:
        yield info


@contextmanager
def announced(
    cmd: list[str], *, env: dict[str, str], cwd: Path | None = None
) -> Iterator[dict[str, Any]]:
    """
    Start a server process that prints one JSON line about itself when it
    is ready; yield that line, stop the process afterwards.
    """
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=cwd
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{cmd[-1]!r}: the process did not start")
        info: dict[str, Any] = json.loads(line)
        yield info
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


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


def client(
    contender: str,
    info: dict[str, Any],
    w: Workload,
    opts: Options,
    *extra: str,
) -> dict[str, Any]:
    """
    One contender run in a fresh process (pinned to core 1).
    """
    cmd = [
        *_pin(1, opts),
        sys.executable,
        "-m",
        "bench._client",
        contender,
        f"--url={info['url']}",
        f"--articles={w.articles}",
        f"--images={w.images}",
        f"--image-bytes={w.image_bytes}",
        f"--categories={w.categories}",
        f"--orders={w.orders}",
        *extra,
    ]
    server = cpu_of(info["pid"])
    done = subprocess.run(
        cmd, capture_output=True, text=True, env=_env(), check=False
    )
    if done.returncode:
        raise RuntimeError(f"{contender} run failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    # How busy the emulator was: near 1.0 means it, not the client or
    # the injected costs, set the pace.
    result["server_cpu_s"] = cpu_of(info["pid"]) - server
    result["server_busy"] = result["server_cpu_s"] / result["wall_s"]
    return result


def stats(values: Sequence[float]) -> dict[str, float]:
    return {
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
    }


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in (
        "ecomsync",
        "httpx",
        "httpcore",
        "anyio",
        "attrs",
        "stamina",
        "uvicorn",
        "starlette",
        "h11",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return {
        "platform": platform.platform(),
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "load_1min_at_start": round(load, 2),
    }


#: The bare transports T_floor is measured with (the faster one counts).
FLOORS = ("floor-httpx", "floor-httpx-aiohttp", "floor-aiohttp")


def rep(opts: Options, index: int, tmp: Path) -> dict[str, Any]:
    """
    One repetition: ecomsync first sync, no-change reruns and 1 % delta
    on one fresh emulator; T_floor's bare clients, each on a fresh one.
    (The naive baseline runs once, alongside: see `run`.)
    """
    w, costs = opts.workload, opts.costs
    store = tmp / f"state-{index}.sqlite"
    out: dict[str, Any] = {}
    with emulator(costs, w, opts) as info:
        log(f"run {index}: ecomsync first full sync, N={w.articles}")
        extra = []
        if opts.profile and index == 0:
            extra.append(f"--profile={opts.out / 'profile.txt'}")
        # Scheduled, so that it leaves the watermarks later scheduled
        # runs read from; without a watermark it reads everything, like a
        # manual run.
        out["first"] = client(
            "ecomsync",
            info,
            w,
            opts,
            f"--store={store}",
            "--scheduled",
            *extra,
        )
        log(f"  wall {out['first']['wall_s']:.2f} s")
        phases = (
            ("noop", "rerun, no changes, manual (All)", ()),
            (
                "noop_scheduled",
                "rerun, no changes, scheduled",
                ("--scheduled",),
            ),
            (
                "delta",
                "rerun, 1 % changed, scheduled",
                ("--scheduled", "--version=1"),
            ),
        )
        for key, what, args in phases:
            out[key] = client(
                "ecomsync", info, w, opts, f"--store={store}", *args
            )
            log(f"  {what}: wall {out[key]['wall_s']:.2f} s")
    for floor in FLOORS:
        with emulator(costs, w, opts) as info:
            log(f"run {index}: {floor}")
            out[floor] = client(floor, info, w, opts)
            log(
                f"  wall {out[floor]['wall_s']:.2f} s, "
                f"{out[floor]['requests']} requests"
            )
    return out


def rss_runs(opts: Options, tmp: Path) -> list[dict[str, Any]]:
    """
    Peak RSS of a first full sync per catalogue size, each in a fresh
    process, on the emulator without costs (memory, not time, is the
    question).
    """
    out = []
    for n, images in opts.rss:
        w = attrs.evolve(opts.workload, articles=n, images=images)
        with emulator(FREE, w, opts) as info:
            log(f"peak RSS: N={n}, {images} images per article")
            r = client(
                "ecomsync",
                info,
                w,
                opts,
                f"--store={tmp / f'rss-{n}.sqlite'}",
            )
        log(f"  {r['maxrss_mb']:.1f} MB in {r['wall_s']:.1f} s")
        out.append(
            {
                "articles": n,
                "images_per_article": images,
                "server_busy": r["server_busy"],
                "maxrss_mb": r["maxrss_mb"],
                "wall_s": r["wall_s"],
                "requests": r["requests"],
                "status": r["status"],
                "counts": r["counts"],
            }
        )
    return out


def sweep(opts: Options) -> list[dict[str, Any]]:
    costs = attrs.evolve(FREE, latency_ms=20.0)
    w = Workload(articles=1, orders=0)
    levels = "1,4,8,16,32,64" if opts.quick else "1,2,4,8,12,16,20,24,32,48,64"
    per = 10 if opts.quick else 40
    with emulator(costs, w, opts) as info:
        log(f"HTTP concurrency sweep: {levels}")
        cmd = [
            *_pin(1, opts),
            sys.executable,
            "-m",
            "bench._sweep",
            f"--url={info['url']}",
            f"--server-pid={info['pid']}",
            f"--levels={levels}",
            f"--per-connection={per}",
        ]
        done = subprocess.run(
            cmd, capture_output=True, text=True, env=_env(), check=False
        )
    if done.returncode:
        raise RuntimeError(f"sweep failed:\n{done.stderr[-4000:]}")
    points: list[dict[str, Any]] = json.loads(
        done.stdout.strip().splitlines()[-1]
    )
    return points


def run(opts: Options) -> int:
    from bench._report import write

    opts.out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    result: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "mode": "quick" if opts.quick else "full",
        "machine": machine(),
        "versions": versions(),
        "workload": attrs.asdict(opts.workload),
        "costs": attrs.asdict(opts.costs),
        "pinned": bool(_pin(0, opts)),
        "defaults": {"batch_size": 100, "concurrency": 16},
    }
    result["bound"] = lower_bound(
        opts.workload, opts.costs, concurrency=16
    ).as_dict()
    result["delta_plan"] = {
        "changed": len(opts.workload.changed()),
        "new_images": len(opts.workload.new_image()),
    }
    with tempfile.TemporaryDirectory(prefix="ecomsync-bench-") as t:
        tmp = Path(t)
        # The naive baseline (once) goes alongside the repetitions, in
        # its own emulator and client processes: sequentially it alone
        # takes about half an hour at N = 10,000, and it is latency-bound
        # (one request at a time, little CPU), so it costs the timed
        # figures little.  The peak-RSS runs come after both: they are
        # not a time, but they keep both cores busy (an emulator without
        # costs), and beside the repetitions they slowed ecomsync's
        # CPU-bound client far more than the floors (1.8x T_floor against
        # 1.3x in the repetitions they did not overlap).
        side: dict[str, Any] = {}

        def naive() -> None:
            with emulator(opts.costs, opts.workload, opts) as info:
                log("naive baseline (once, alongside the repetitions)")
                side["naive"] = client("naive", info, opts.workload, opts)
                log(f"  naive wall {side['naive']['wall_s']:.2f} s")

        thread = threading.Thread(target=naive, daemon=True)
        thread.start()
        result["runs"] = [rep(opts, i, tmp) for i in range(opts.runs)]
        thread.join()
        if "naive" not in side:
            raise RuntimeError("the naive run failed (see log)")
        result["runs"][0]["naive"] = side["naive"]
        result["rss"] = rss_runs(opts, tmp)
    result["sweep"] = sweep(opts) if opts.sweep else []
    if opts.tryton:
        try:
            from bench._tryton import measure

            result["tryton"] = measure(log)
        except Exception as exc:
            log(f"Tryton: {type(exc).__name__}: {exc}")
            result["tryton"] = {
                "measured": False,
                "why": f"{type(exc).__name__}: {str(exc)[:300]}",
            }
    else:
        result["tryton"] = {"measured": False, "why": "skipped (--quick)"}
    result["elapsed_s"] = (datetime.now(UTC) - started).total_seconds()
    write(result, opts.out)
    log(f"results written to {opts.out}")
    return 0


__all__ = ["Options", "math", "run", "stats"]

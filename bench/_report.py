"""
Figures from a result set, and the files: results.json, results.md (the
table the README links) and concurrency.png.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench._run import stats


Row = dict[str, Any]


def _fmt(value: float, digits: int) -> str:
    if isinstance(value, int) or (float(value).is_integer() and digits == 0):
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def _of(phase: str, field: str) -> Callable[[dict[str, Any]], float]:
    return lambda x: float(x[phase][field])


def _share(phase: str) -> Callable[[dict[str, Any]], float]:
    return lambda x: 100 * x[phase]["wall_s"] / x["first"]["wall_s"]


def figures(r: dict[str, Any]) -> list[Row]:
    """
    One row per reported figure: min/median/max over the runs, the target
    and whether it was met.
    """
    runs: list[dict[str, Any]] = r["runs"]
    w = r["workload"]
    n = w["articles"]
    t_lb = r["bound"]["t_lb"]
    changed = r["delta_plan"]["changed"]
    new_images = r["delta_plan"]["new_images"]
    batch = r["defaults"]["batch_size"]
    rows: list[Row] = []

    def add(
        name: str,
        get: Callable[[dict[str, Any]], float],
        digits: int = 2,
        target: str = "",
        ok: Callable[[float], bool] | None = None,
    ) -> None:
        values = [float(get(x)) for x in runs]
        s = stats(values)
        verdict = ""
        if ok is not None:
            verdict = "met" if ok(s["median"]) else "**MISSED**"
        rows.append(
            {
                "figure": name,
                **s,
                "digits": digits,
                "target": target,
                "verdict": verdict,
            }
        )

    # The naive contender runs once per full run (alongside the
    # repetitions); its ratios take each repetition's ecomsync against it.
    naive = runs[0]["naive"]

    def floor(x: dict[str, Any]) -> dict[str, Any]:
        """The faster bare transport of this repetition."""
        return min(
            (x[k] for k in x if k.startswith("floor-")),
            key=lambda f: float(f["wall_s"]),
        )

    add("T_lb, lower bound (s)", lambda _: t_lb)
    add("T_floor, bare client on T_lb's set (s)", lambda x: floor(x)["wall_s"])
    for key in sorted(k for k in runs[0] if k.startswith("floor-")):
        add(
            f"  {key.removeprefix('floor-')}: wall (s)",
            lambda x, key=key: x[key]["wall_s"],
        )
        add(
            f"  {key.removeprefix('floor-')}: client CPU (s)",
            lambda x, key=key: x[key]["sync_cpu_s"],
        )
    add("ecomsync wall, first full sync (s)", lambda x: x["first"]["wall_s"])
    add(
        "ecomsync wall / T_floor",
        lambda x: x["first"]["wall_s"] / floor(x)["wall_s"],
        target="<= 1.2",
        ok=lambda v: v <= 1.2,
    )
    add(
        "ecomsync wall / T_lb",
        lambda x: x["first"]["wall_s"] / t_lb,
        target="<= 1.5",
        ok=lambda v: v <= 1.5,
    )
    add(
        "client CPU s, ecomsync / T_floor's client",
        lambda x: x["first"]["sync_cpu_s"] / floor(x)["sync_cpu_s"],
        target="<= 1.3",
        ok=lambda v: v <= 1.3,
    )
    add("naive wall, first full sync (s, one run)", lambda _: naive["wall_s"])
    add(
        "naive wall / ecomsync wall",
        lambda x: naive["wall_s"] / x["first"]["wall_s"],
        target=">= 12",
        ok=lambda v: v >= 12,
    )
    add(
        "ceiling of that ratio: naive wall / T_lb",
        lambda _: naive["wall_s"] / t_lb,
    )
    add("requests sent, ecomsync", lambda x: x["first"]["requests"], 0)
    add("requests sent, naive", lambda _: naive["requests"], 0)
    add("requests in T_lb's request set", lambda _: r["bound"]["requests"], 0)
    add(
        "requests of a first sync / T_lb's set",
        lambda x: x["first"]["requests"] / r["bound"]["requests"],
        target="1.00",
        ok=lambda v: v <= 1.0,
    )
    add(
        "bytes uploaded, ecomsync (MB)",
        lambda x: x["first"]["bytes_up"] / 1e6,
    )
    add("bytes uploaded, naive (MB)", lambda _: naive["bytes_up"] / 1e6)
    add(
        "image bytes in the workload (MB)",
        lambda _: n * w["images"] * w["image_bytes"] / 1e6,
    )
    add(
        "emulator CPU busy share during ecomsync's sync",
        lambda x: x["first"]["server_busy"],
    )
    add(
        "emulator CPU busy share during naive's sync",
        lambda _: naive["server_busy"],
    )
    add(
        "client CPU s per 1,000 articles, ecomsync (sync only)",
        lambda x: x["first"]["sync_cpu_s"] * 1000 / n,
    )
    add(
        "client CPU s per 1,000 articles, ecomsync (whole process)",
        lambda x: x["first"]["cpu_s"] * 1000 / n,
    )
    add(
        "client CPU s per 1,000 articles, naive (sync only)",
        lambda _: naive["sync_cpu_s"] * 1000 / n,
    )
    for key, what in (
        ("noop", "manual rerun (All), no changes"),
        ("noop_scheduled", "scheduled rerun, no changes"),
    ):
        add(
            f"{what}: write requests",
            _of(key, "write_requests"),
            0,
            target="0",
            ok=lambda v: v == 0,
        )
        add(
            f"{what}: requests (reads)",
            _of(key, "requests"),
            0,
        )
        add(
            f"{what}: wall / first wall (%)",
            _share(key),
            1,
            target="<= 3 %",
            ok=lambda v: v <= 3,
        )
    bound = math.ceil(changed / batch) + new_images
    add(
        f"scheduled rerun, {changed} articles changed ({new_images} with "
        "a new image): requests",
        lambda x: x["delta"]["requests"],
        0,
        target=(
            f"<= {bound} + c, c = requests of the scheduled no-change rerun"
        ),
        ok=lambda v: all(
            x["delta"]["requests"] <= bound + x["noop_scheduled"]["requests"]
            for x in runs
        ),
    )
    add(
        "  of which writes",
        lambda x: x["delta"]["write_requests"],
        0,
        # ceil(changed / batch) Syncs + one upload per new image: 6 at the
        # standard N = 1,000 (10 changed, 5 new images).
        target=f"<= {bound}",
        ok=lambda v: v <= bound,
    )
    return rows


def rss_rows(r: dict[str, Any]) -> tuple[list[Row], str]:
    rows = r["rss"]
    notes = []
    for images in sorted({x["images_per_article"] for x in rows}):
        same = sorted(
            (x for x in rows if x["images_per_article"] == images),
            key=lambda x: x["articles"],
        )
        if len(same) < 2:
            continue
        small, large = same[0], same[-1]
        if small["articles"] == large["articles"]:
            continue
        ratio = large["maxrss_mb"] / small["maxrss_mb"]
        verdict = "met" if ratio <= 1.2 else "**MISSED**"
        notes.append(
            f"Peak RSS at N = {large['articles']:,} / at N = "
            f"{small['articles']:,} ({images} images per article): "
            f"**{ratio:.2f}x** (target <= 1.2: {verdict})"
        )
    return rows, "\n\n".join(notes)


def markdown(r: dict[str, Any]) -> str:
    w, c, b = r["workload"], r["costs"], r["bound"]
    m, v = r["machine"], r["versions"]
    lines = [
        "# ecomsync benchmark results",
        "",
        f"Mode **{r['mode']}**, started {r['started']}, "
        f"{len(r['runs'])} run(s); min / median / max over the runs.  "
        "Generated by `python -m bench`; every figure is measured in this "
        "run except T_lb, which is computed (see bench/README.md).",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}; "
        f"1-min load at start {m['load_1min_at_start']} (shared machine: "
        "compare ratios within one run).  "
        + (
            "Emulator pinned to core 0, client to core 1."
            if r["pinned"]
            else "Not pinned."
        ),
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- Workload: {w['articles']:,} articles x {w['images']} images "
        f"({w['image_bytes'] // 1000} KB each), {w['categories']} "
        f"categories, stock for all, {w['orders']:,} shop orders to "
        "import.",
        f"- Emulator (own process, loopback): latency {c['latency_ms']} ms, "
        f"base {c['base_ms']} ms, {c['per_item_ms']} ms per sync item, "
        f"{c['per_upload_ms']} ms per upload, bandwidth "
        f"{c['bandwidth_bps'] * 8 / 1e6:g} Mbit/s, {c['workers']} workers.",
        f"- T_lb = {b['t_lb']:.2f} s, bound by {b['binding']} "
        f"(latency/concurrency {b['latency_term']:.2f} s at concurrency "
        f"16, service/workers {b['service_term']:.2f} s, bytes/bandwidth "
        f"{b['bytes_term']:.2f} s, requests/rate limit {b['rate_term']:.2f} "
        f"s; {b['requests']:,} requests).",
        "",
        "| figure | min | median | max | target | |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row in figures(r):
        d = row["digits"]
        lines.append(
            f"| {row['figure']} | {_fmt(row['min'], d)} | "
            f"{_fmt(row['median'], d)} | {_fmt(row['max'], d)} | "
            f"{row['target']} | {row['verdict']} |"
        )
    rows, summary = rss_rows(r)
    lines += [
        "",
        "## Peak RSS of a first full sync (fresh process per N)",
        "",
        "On the emulator without costs; `ru_maxrss` of the client process.",
        "",
        "| articles | images each | peak RSS (MB) | wall (s) | requests | "
        "emulator busy | status |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for x in rows:
        lines.append(
            f"| {x['articles']:,} | {x['images_per_article']} | "
            f"{x['maxrss_mb']:.1f} | {x['wall_s']:.1f} | "
            f"{x['requests']:,} | {x['server_busy']:.2f} | {x['status']} |"
        )
    if summary:
        lines += ["", summary]
    lines += ["", "## ERP read throughput (live Tryton)", ""]
    t = r["tryton"]
    if t.get("measured"):
        lines += [
            f"Tryton {t.get('version', '?')} on SQLite, {t['articles']:,} "
            "articles, TrytonErp defaults; articles per second, "
            f"min / median / max of {t['repeats']} reads.",
            "",
            "| selection | min | median | max |",
            "|---|---:|---:|---:|",
        ]
        for name, s in t["throughput"].items():
            lines.append(
                f"| {name} | {s['min']:.0f} | {s['median']:.0f} | "
                f"{s['max']:.0f} |"
            )
        versus = t.get("versus_bare")
        if versus:
            lines += [
                "",
                "Against a bare JSON-RPC client reading the same product "
                "fields from the same server, right after each full read "
                "(min / median / max of the pairs): wall-clock ratio "
                f"{versus['ratio']['min']:.2f} / "
                f"{versus['ratio']['median']:.2f} / "
                f"{versus['ratio']['max']:.2f}; Tryton server CPU per "
                "article, bare over TrytonErp, "
                f"{versus['server_cpu_ratio']['median']:.2f} (median).",
            ]
    else:
        lines.append(f"Not measured: {t.get('why', 'unknown')}.")
    if r["sweep"]:
        lines += [
            "",
            "## HTTP layer: throughput against client concurrency",
            "",
            "One `HttpClient` (one httpx pool) against the emulator with 20 "
            "ms latency and no other cost; ideal = concurrency / 20 ms.  "
            "Plot: [concurrency.png](concurrency.png).",
            "",
            "| concurrency | requests | req/s | ideal req/s | efficiency | "
            "client CPU ms/req | server CPU s |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for p in r["sweep"]:
            lines.append(
                f"| {p['concurrency']} | {p['requests']} | {p['rps']:.0f} | "
                f"{p['ideal_rps']:.0f} | {p['rps'] / p['ideal_rps']:.2f} | "
                f"{p['client_cpu_ms_per_request']:.2f} | "
                f"{p['server_cpu_s']:.2f} |"
            )
    lines += [
        "",
        "## Requests by route (first run)",
        "",
        "| route | first sync | manual rerun, no changes | scheduled rerun, "
        "no changes | scheduled rerun, 1 % changed |",
        "|---|---:|---:|---:|---:|",
    ]
    first = r["runs"][0]
    phases = ("first", "noop", "noop_scheduled", "delta")
    routes = sorted({k for p in phases for k in first[p]["routes"]})
    for route in routes:
        cells = " | ".join(
            f"{first[p]['routes'].get(route, 0):,}" for p in phases
        )
        lines.append(f"| {route} | {cells} |")
    problems = _problems(r)
    if problems:
        lines += ["", "## Problems seen", ""]
        lines += [f"- {p}" for p in problems]
    lines.append("")
    return "\n".join(lines)


def _problems(r: dict[str, Any]) -> list[str]:
    out = []
    for i, x in enumerate(r["runs"]):
        for phase in ("first", "noop", "noop_scheduled", "delta"):
            res = x[phase]
            failed = sum(c[3] for c in res.get("counts", {}).values())
            if res["status"] != "succeeded" or failed:
                out.append(
                    f"run {i} {phase}: status {res['status']}, {failed} "
                    f"records failed: {res.get('failures')}"
                )
        if x["first"].get("orders_imported") != r["workload"]["orders"]:
            out.append(
                f"run {i}: ecomsync imported "
                f"{x['first'].get('orders_imported')} orders"
            )
    return out


def plot(points: Sequence[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cs = [p["concurrency"] for p in points]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax.plot(
        cs, [p["ideal_rps"] for p in points], "--", label="ideal c/latency"
    )
    ax.plot(cs, [p["rps"] for p in points], "o-", label="HttpClient (httpx)")
    ax.axvline(16, color="grey", lw=0.8)
    ax.annotate(
        "default 16",
        (16, 0),
        textcoords="offset points",
        xytext=(4, 8),
        color="grey",
    )
    ax.set_xlabel("client concurrency (requests in flight)")
    ax.set_ylabel("requests per second")
    ax.set_title("ecomsync HTTP layer vs. concurrency (20 ms emulator)")
    ax2 = ax.twinx()
    ax2.plot(
        cs,
        [p["client_cpu_ms_per_request"] for p in points],
        "s:",
        color="tab:red",
        label="client CPU ms/request",
    )
    ax2.set_ylabel("client CPU ms per request", color="tab:red")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(r: dict[str, Any], out: Path) -> None:
    r["figures"] = figures(r)
    (out / "results.json").write_text(json.dumps(r, indent=1) + "\n")
    text = markdown(r)
    if (out / "workers.md").exists():
        # The worker benchmark (`--workers`) runs on its own; keep its link.
        text += (
            "\n## Workers on PostgreSQL\n\n"
            "Throughput of a partitioned run with 1, 2 and 4 worker "
            "processes: [workers.md](workers.md) "
            "(`python -m bench --workers`).\n"
        )
    (out / "results.md").write_text(text)
    if r["sweep"]:
        try:
            plot(r["sweep"], out / "concurrency.png")
        except ImportError:
            print(
                "matplotlib is not installed: no concurrency.png",
                flush=True,
            )

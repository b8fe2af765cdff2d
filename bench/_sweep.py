"""
Throughput of ecomsync's HTTP layer (`ecomsync._http.
HttpClient`, one httpx pool) against client concurrency, on the emulator
with a fixed latency: ``python -m bench._sweep --url ... --server-pid``.
Prints one JSON line: per level the requests, wall, requests/s, the ideal
(concurrency / latency), client CPU seconds and server CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from typing import Any

import anyio
import httpx

from bench._server import CLIENT_ID, CLIENT_SECRET
from ecomsync._http import HttpClient


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cpu_of(pid: int) -> float:
    if not pid:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def level(
    url: str, token: str, c: int, n: int, server: int
) -> dict[str, Any]:
    client = HttpClient(
        url, concurrency=c, headers={"Authorization": f"Bearer {token}"}
    )
    # warm the pool
    async with anyio.create_task_group() as tg:
        for _ in range(c):
            tg.start_soon(client.request, "GET", "/api/_info/version")
    cpu0, srv0 = _cpu_self(), _cpu_of(server)
    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(client.request, "GET", "/api/_info/version")
    wall = time.perf_counter() - start
    cpu, srv = _cpu_self() - cpu0, _cpu_of(server) - srv0
    await client.aclose()
    return {
        "concurrency": c,
        "requests": n,
        "wall_s": wall,
        "rps": n / wall,
        "client_cpu_s": cpu,
        "client_cpu_ms_per_request": 1000 * cpu / n,
        "server_cpu_s": srv,
    }


async def sweep(a: argparse.Namespace) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        r = await http.post(
            f"{a.url}/api/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
        )
        token = r.json()["access_token"]
    out = []
    for c in (int(x) for x in a.levels.split(",")):
        n = max(a.min_requests, c * a.per_connection)
        point = await level(a.url, token, c, n, a.server_pid)
        point["ideal_rps"] = c / (a.latency_ms / 1000)
        out.append(point)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--server-pid", type=int, default=0)
    p.add_argument("--levels", default="1,2,4,8,16,24,32,48,64")
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--per-connection", type=int, default=40)
    p.add_argument("--min-requests", type=int, default=100)
    a = p.parse_args()
    print(json.dumps(anyio.run(sweep, a)), flush=True)


if __name__ == "__main__":
    main()

"""
The emulator process: ``python -m bench._server [cost options]``.

Builds a `ShopwareEmulator` with the given costs, places the shop orders
the sync will import, serves it with uvicorn on a free loopback port and
prints one JSON line ``{"url": ..., "pid": ...}`` once it accepts
connections.  Stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from datetime import UTC, datetime, timedelta

import anyio

from ecomsync.testing.shopware6 import Faults, ShopwareEmulator


CLIENT_ID = "SWIABENCH0000000000000000"
CLIENT_SECRET = "bench-secret"


def build(a: argparse.Namespace) -> ShopwareEmulator:
    emu = ShopwareEmulator(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_ttl=3600,
        keep_media_bytes=False,
        faults=Faults(
            latency_ms=a.latency_ms,
            base_ms=a.base_ms,
            per_item_ms=a.per_item_ms,
            per_upload_ms=a.per_upload_ms,
            bandwidth_bps=a.bandwidth_bps or None,
            workers_limit=a.workers or None,
        ),
    )
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(1, a.orders + 1):
        emu.place_order(
            order_number=str(100000 + i),
            customer={
                "email": f"kunde{i}@example.com",
                "firstName": "Erika",
                "lastName": f"Muster{i}",
                "customerNumber": f"K-{i:05d}",
            },
            lines=[
                {
                    "productNumber": f"A-{(i * 13) % a.articles + 1:06d}",
                    "quantity": 1 + i % 3,
                    "unitPrice": 9.99,
                    "label": "Artikel",
                }
            ],
            created_at=start + timedelta(minutes=i),
        )
    emu.abort_mode = "close"
    return emu


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--base-ms", type=float, default=0.0)
    p.add_argument("--per-item-ms", type=float, default=0.0)
    p.add_argument("--per-upload-ms", type=float, default=0.0)
    p.add_argument("--bandwidth-bps", type=float, default=0.0)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--orders", type=int, default=0)
    p.add_argument("--articles", type=int, default=1)
    a = p.parse_args()

    import uvicorn

    emu = build(a)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        emu.app,
        log_level="warning",
        lifespan="off",
        access_log=False,
        loop="asyncio",
        http="h11",
        backlog=2048,
    )
    server = uvicorn.Server(config)

    async def run() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            while not server.started:
                if tg.cancel_scope.cancel_called:  # pragma: no cover
                    return
                await anyio.sleep(0.01)
            print(
                json.dumps(
                    {"url": f"http://127.0.0.1:{port}", "pid": os.getpid()}
                ),
                flush=True,
            )

    anyio.run(run)
    sys.exit(0)


if __name__ == "__main__":
    main()

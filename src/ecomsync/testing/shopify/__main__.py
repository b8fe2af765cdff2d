"""
Command line: serve the Shopify emulator on loopback.

    python -m ecomsync.testing.shopify --port 8000 --access-token shpat_x

Once it listens it prints one line on standard output, e.g.::

    ecomsync-shopify-emulator ready base_url=http://127.0.0.1:8000 \
graphql=http://127.0.0.1:8000/admin/api/2026-01/graphql.json

GraphQL is under ``{base_url}/admin/api/{version}/graphql.json`` with
the header ``X-Shopify-Access-Token``.  ``--port 0`` picks a free port;
the ready line names it.  The token is not printed.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence
from typing import Any

from .._faults import Faults
from ._emulator import ShopifyEmulator


READY = "ecomsync-shopify-emulator ready"
VERSION = "2026-01"


def ready_line(base_url: str) -> str:
    """
    The line printed once the emulator listens.
    """
    graphql = f"{base_url}/admin/api/{VERSION}/graphql.json"
    return f"{READY} base_url={base_url} graphql={graphql}"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ecomsync.testing.shopify",
        description="Serve a Shopify GraphQL Admin API emulator on loopback. "
        "Prints one ready line with its base URL once it listens.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind")
    p.add_argument(
        "--port", type=int, default=8000, help="port to bind; 0 = a free one"
    )
    p.add_argument(
        "--access-token",
        default="shpat_emulator",
        help="the token X-Shopify-Access-Token must carry",
    )
    p.add_argument(
        "--maximum", type=float, default=2000.0, help="bucket size in points"
    )
    p.add_argument(
        "--restore-rate",
        type=float,
        default=100.0,
        help="points restored per second",
    )
    p.add_argument(
        "--throttle-status",
        type=int,
        choices=(200, 429),
        default=200,
        help="HTTP status of a THROTTLED answer",
    )
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--log-level", default="warning")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    a = _parser().parse_args(argv)

    import uvicorn

    emu = ShopifyEmulator(
        a.access_token,
        maximum=a.maximum,
        restore_rate=a.restore_rate,
        throttle_status=a.throttle_status,
        faults=Faults(latency_ms=a.latency_ms),
    )
    emu.abort_mode = "close"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((a.host, a.port))
    line = ready_line(f"http://{a.host}:{sock.getsockname()[1]}")

    class _Announcing(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                print(line, flush=True)

    config = uvicorn.Config(
        emu.app, log_level=a.log_level, lifespan="off", access_log=False
    )
    try:
        _Announcing(config).run(sockets=[sock])
    finally:
        sock.close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()

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
from collections.abc import Sequence

from .._faults import Faults
from .._serve import emulator_parser, serve_announcing
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
    p = emulator_parser(
        "python -m ecomsync.testing.shopify",
        "Serve a Shopify GraphQL Admin API emulator on loopback. "
        "Prints one ready line with its base URL once it listens.",
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
    return p


def main(argv: Sequence[str] | None = None) -> None:
    a = _parser().parse_args(argv)
    emu = ShopifyEmulator(
        a.access_token,
        maximum=a.maximum,
        restore_rate=a.restore_rate,
        throttle_status=a.throttle_status,
        faults=Faults(latency_ms=a.latency_ms),
    )
    serve_announcing(emu, a, ready_line)


if __name__ == "__main__":
    main()

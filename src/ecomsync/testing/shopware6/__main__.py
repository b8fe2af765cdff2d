"""
Command line: serve the Shopware 6 emulator on loopback, for trying a
client against it, for benchmarks and for conformance tests.

    python -m ecomsync.testing.shopware6 --port 8000 --latency-ms 20 \
        --base-ms 5 --per-item-ms 0.5 --per-upload-ms 10 \
        --bandwidth-kbps 100000 --workers-limit 8

Once it listens it prints one line on standard output, e.g.::

    ecomsync-shopware6-emulator ready base_url=http://127.0.0.1:8000 \
client_id=SWIAEMULATOR0000000000000 client_secret=emulator-secret

``--port 0`` picks a free port; the ready line names it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .._serve import emulator_parser, serve_announcing
from ._emulator import ShopwareEmulator
from ._faults import Faults


READY = "ecomsync-shopware6-emulator ready"


def ready_line(base_url: str, client_id: str, client_secret: str) -> str:
    """
    The line printed once the emulator listens: its base URL (the Admin
    API is under ``/api``) and the integration's credentials.
    """
    return (
        f"{READY} base_url={base_url} client_id={client_id} "
        f"client_secret={client_secret}"
    )


def _parser() -> argparse.ArgumentParser:
    p = emulator_parser(
        "python -m ecomsync.testing.shopware6",
        "Serve a Shopware 6 Admin API emulator on loopback. "
        "Prints one ready line with its base URL and credentials "
        "once it listens.",
    )
    p.add_argument(
        "--client-id",
        default="SWIAEMULATOR0000000000000",
        help="the integration's access key id (OAuth client_id)",
    )
    p.add_argument(
        "--client-secret",
        default="emulator-secret",
        help="the integration's secret access key (OAuth client_secret)",
    )
    p.add_argument(
        "--token-ttl",
        type=int,
        default=600,
        help="access token lifetime in seconds (Shopware: 600)",
    )
    p.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="network latency per request",
    )
    p.add_argument(
        "--base-ms",
        type=float,
        default=0.0,
        help="server time per request (inside the worker limit)",
    )
    p.add_argument(
        "--per-item-ms",
        type=float,
        default=0.0,
        help="server time per written sync item",
    )
    p.add_argument(
        "--per-upload-ms",
        type=float,
        default=0.0,
        help="server time per media upload",
    )
    p.add_argument(
        "--bandwidth-kbps",
        type=float,
        default=None,
        help="shared link capacity in kilobits per second (100000 = "
        "100 Mbit/s); unlimited if omitted",
    )
    p.add_argument(
        "--workers-limit",
        type=int,
        default=None,
        help="requests served at once (PHP-FPM workers); unlimited if omitted",
    )
    p.add_argument(
        "--keep-media-bytes",
        action="store_true",
        help="keep uploaded bytes in memory (default: only hash and size)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> None:
    a = _parser().parse_args(argv)

    import gc

    # The store holds hundreds of thousands of small dicts that live for
    # the whole run; frequent young-generation collections over them cost
    # more than the emulated work.  A separate benchmark process can
    # afford fewer collections.
    gc.set_threshold(100_000, 50, 50)

    emu = ShopwareEmulator(
        client_id=a.client_id,
        client_secret=a.client_secret,
        token_ttl=a.token_ttl,
        keep_media_bytes=a.keep_media_bytes,
        faults=Faults(
            latency_ms=a.latency_ms,
            base_ms=a.base_ms,
            per_item_ms=a.per_item_ms,
            per_upload_ms=a.per_upload_ms,
            bandwidth_bps=(
                a.bandwidth_kbps * 1000 / 8 if a.bandwidth_kbps else None
            ),
            workers_limit=a.workers_limit,
        ),
    )
    serve_announcing(
        emu, a, lambda url: ready_line(url, a.client_id, a.client_secret)
    )


if __name__ == "__main__":
    main()

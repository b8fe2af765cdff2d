"""
Command line: serve the Shopware 6 emulator on loopback for benchmarks.

    python -m ecomsync.testing.shopware6 --port 8000 --latency-ms 20 \
        --base-ms 5 --per-item-ms 0.5 --per-upload-ms 10 \
        --bandwidth-kbps 100000 --workers-limit 8
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ._emulator import ShopwareEmulator
from ._faults import Faults


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m ecomsync.testing.shopware6",
        description="Serve a Shopware 6 Admin API emulator.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--base-ms", type=float, default=0.0)
    p.add_argument("--per-item-ms", type=float, default=0.0)
    p.add_argument("--per-upload-ms", type=float, default=0.0)
    p.add_argument(
        "--bandwidth-kbps",
        type=float,
        default=None,
        help="shared link capacity in kilobits per second (100000 = "
        "100 Mbit/s); unlimited if omitted",
    )
    p.add_argument("--workers-limit", type=int, default=None)
    p.add_argument("--token-ttl", type=int, default=600)
    p.add_argument("--client-id", default="SWIAEMULATOR0000000000000")
    p.add_argument("--client-secret", default="emulator-secret")
    p.add_argument(
        "--keep-media-bytes",
        action="store_true",
        help="keep uploaded bytes in memory (default: only hash and size)",
    )
    p.add_argument("--log-level", default="warning")
    a = p.parse_args(argv)

    import gc

    import uvicorn

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
    emu.abort_mode = "close"
    uvicorn.run(
        emu.app,
        host=a.host,
        port=a.port,
        log_level=a.log_level,
        lifespan="off",
        access_log=False,
    )


if __name__ == "__main__":
    main()

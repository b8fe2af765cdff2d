"""
Command line: serve the WooCommerce emulator on loopback.

    python -m ecomsync.testing.woocommerce --port 8000 \
        --consumer-key ck_x --consumer-secret cs_y

Once it listens it prints one line on standard output, e.g.::

    ecomsync-woocommerce-emulator ready base_url=http://127.0.0.1:8000 \
consumer_key=ck_x permissions=read_write

The REST API is under ``{base_url}/wp-json/wc/v3``; over plain http
clients sign with OAuth 1.0a (as the ``woocommerce`` PyPI client does).
``--port 0`` picks a free port; the ready line names it.  The secret is
not printed.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .._faults import Faults
from .._serve import emulator_parser, serve_announcing
from ._emulator import WooCommerceEmulator


READY = "ecomsync-woocommerce-emulator ready"


def ready_line(base_url: str, consumer_key: str, permissions: str) -> str:
    """
    The line printed once the emulator listens.
    """
    return (
        f"{READY} base_url={base_url} consumer_key={consumer_key} "
        f"permissions={permissions}"
    )


def _parser() -> argparse.ArgumentParser:
    p = emulator_parser(
        "python -m ecomsync.testing.woocommerce",
        "Serve a WooCommerce REST API v3 emulator on loopback. "
        "Prints one ready line with its base URL once it listens.",
    )
    p.add_argument("--consumer-key", default="ck_emulator")
    p.add_argument("--consumer-secret", default="cs_emulator")
    p.add_argument(
        "--permissions",
        choices=("read", "write", "read_write"),
        default="read_write",
        help="the key's permissions",
    )
    p.add_argument(
        "--read-only-key",
        nargs=2,
        metavar=("KEY", "SECRET"),
        help="add a second key with read permission only",
    )
    p.add_argument("--wp-user", default="admin")
    p.add_argument(
        "--wp-application-password",
        default="emulatorapppassword0000",
        help="the WordPress application password for wp/v2/media",
    )
    p.add_argument("--timezone", default="Europe/Berlin")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--base-ms", type=float, default=0.0)
    p.add_argument("--workers-limit", type=int, default=None)
    return p


def main(argv: Sequence[str] | None = None) -> None:
    a = _parser().parse_args(argv)

    emu = WooCommerceEmulator(
        a.consumer_key,
        a.consumer_secret,
        permissions=a.permissions,
        wp_user=a.wp_user,
        wp_application_password=a.wp_application_password,
        timezone=a.timezone,
        faults=Faults(
            latency_ms=a.latency_ms,
            base_ms=a.base_ms,
            workers_limit=a.workers_limit,
        ),
    )
    if a.read_only_key:
        emu.add_key(a.read_only_key[0], a.read_only_key[1], "read")
    serve_announcing(
        emu, a, lambda url: ready_line(url, a.consumer_key, a.permissions)
    )


if __name__ == "__main__":
    main()

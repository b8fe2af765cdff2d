"""
Serving the emulator on loopback with uvicorn, for tests that need a real
socket and for benchmarks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .._serve import serve_app
from ._emulator import ShopwareEmulator


@contextlib.contextmanager
def serve(
    emulator: ShopwareEmulator | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
    startup_timeout: float = 10.0,
) -> Iterator[str]:
    """
    Run *emulator* (a fresh one if omitted) with uvicorn in a background
    thread on *host*; *port* 0 picks a free port.  Yields the base URL,
    e.g. ``"http://127.0.0.1:53122"``; the server stops on exit.

    The emulator's state is shared with the calling thread: inspect it
    after the requests have completed.
    """
    emu = emulator if emulator is not None else ShopwareEmulator()
    # "Shopware 6" names the thread shopware6-emulator:<port>, as before.
    with serve_app(
        emu,
        "Shopware 6",
        host=host,
        port=port,
        log_level=log_level,
        startup_timeout=startup_timeout,
    ) as url:
        yield url

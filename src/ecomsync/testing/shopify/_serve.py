"""
Serving the emulator on loopback with uvicorn, for tests that need a real
socket and for benchmarks.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

from ._emulator import ShopifyEmulator


@contextlib.contextmanager
def serve(
    emulator: ShopifyEmulator | None = None,
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
    import uvicorn

    emu = emulator if emulator is not None else ShopifyEmulator()
    # On a real socket, an injected reset must drop the connection.
    emu.abort_mode = "close"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it Nagle's algorithm and
    # delayed ACKs cost ~40 ms per request on a kept-alive connection.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    config = uvicorn.Config(
        emu.app,
        log_level=log_level,
        lifespan="off",
        access_log=False,
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run,
        kwargs={"sockets": [sock]},
        name=f"shopify-emulator:{bound}",
        daemon=True,
    )
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Shopify emulator did not start")
            time.sleep(0.01)
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout)
        sock.close()

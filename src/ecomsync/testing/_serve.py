"""
Serving an emulator's ASGI app on loopback with uvicorn in a background
thread, for tests that need a real socket and for benchmarks; each
emulator package's ``serve`` is this with its own emulator.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol


class Servable(Protocol):
    """
    An emulator: an ASGI app, and a switch making an injected reset drop
    the connection.
    """

    @property
    def app(self) -> Any: ...

    abort_mode: Any


def loopback_socket(host: str, port: int) -> socket.socket:
    """
    A socket bound to *host* and *port* (0: a free one) for uvicorn.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it Nagle's algorithm and
    # delayed ACKs cost ~40 ms per request on a kept-alive connection.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def run_announcing(
    emu: Servable, sock: socket.socket, line: str, *, log_level: str
) -> None:
    """
    Serve *emu* on *sock* in the foreground until stopped, printing
    *line* on standard output once it listens (a command line's ready
    line); an injected reset drops the connection.
    """
    import uvicorn

    emu.abort_mode = "close"

    class _Announcing(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                print(line, flush=True)

    config = uvicorn.Config(
        emu.app, log_level=log_level, lifespan="off", access_log=False
    )
    try:
        _Announcing(config).run(sockets=[sock])
    finally:
        sock.close()
    sys.stdout.flush()


@contextlib.contextmanager
def serve_app(
    emu: Servable,
    what: str,
    *,
    host: str,
    port: int,
    log_level: str,
    startup_timeout: float,
) -> Iterator[str]:
    """
    Run *emu* with uvicorn on *host* (*port* 0 picks a free port) in a
    thread named after *what*; yields the base URL, stops on exit.
    """
    import uvicorn

    # On a real socket, an injected reset must drop the connection.
    emu.abort_mode = "close"
    sock = loopback_socket(host, port)
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
        name=f"{what.lower().replace(' ', '')}-emulator:{bound}",
        daemon=True,
    )
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the {what} emulator did not start")
            time.sleep(0.01)
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout)
        sock.close()

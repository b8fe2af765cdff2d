"""
Serving an emulator's ASGI app on loopback with uvicorn: in a background
thread, for tests that need a real socket and for benchmarks (each
emulator package's ``serve``, made by `serving`), or in the foreground
from a command line that prints one ready line (`emulator_parser`,
`serve_announcing`).
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar


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


E = TypeVar("E", bound=Servable)
E_contra = TypeVar("E_contra", bound=Servable, contravariant=True)


class Serve(Protocol[E_contra]):
    """
    An emulator package's ``serve``.
    """

    def __call__(
        self,
        emulator: E_contra | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        startup_timeout: float = 10.0,
    ) -> AbstractContextManager[str]: ...


def serving(emulator_class: type[E], what: str) -> Serve[E]:
    """
    The ``serve`` of the emulator package for *emulator_class*; *what*
    names its server thread and its start-up error.
    """

    def serve(
        emulator: E | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        startup_timeout: float = 10.0,
    ) -> Iterator[str]:
        emu = emulator if emulator is not None else emulator_class()
        with serve_app(
            emu,
            what,
            host=host,
            port=port,
            log_level=log_level,
            startup_timeout=startup_timeout,
        ) as url:
            yield url

    serve.__doc__ = f"""
    Run *emulator* (a fresh `{emulator_class.__name__}` if omitted) with
    uvicorn in a background thread on *host*; *port* 0 picks a free port.
    Yields the base URL, e.g. ``"http://127.0.0.1:53122"``; the server
    stops on exit.

    The emulator's state is shared with the calling thread: inspect it
    after the requests have completed.
    """
    # The documented signature names the emulator's class, not E.
    serve.__annotations__ = {
        **serve.__annotations__,
        "emulator": emulator_class | None,
        "return": Iterator[str],
    }
    serve.__qualname__ = "serve"
    return contextlib.contextmanager(serve)


def emulator_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """
    A command line's parser with the options every emulator has:
    ``--host``, ``--port`` and ``--log-level``.
    """
    p = argparse.ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind")
    p.add_argument(
        "--port", type=int, default=8000, help="port to bind; 0 = a free one"
    )
    p.add_argument(
        "--log-level", default="warning", help="uvicorn's log level"
    )
    return p


def serve_announcing(
    emu: Servable,
    args: argparse.Namespace,
    ready_line: Callable[[str], str],
) -> None:
    """
    Serve *emu* on ``args.host`` and ``args.port`` until stopped, printing
    ``ready_line(base_url)`` once it listens.
    """
    sock = loopback_socket(args.host, args.port)
    line = ready_line(f"http://{args.host}:{sock.getsockname()[1]}")
    run_announcing(emu, sock, line, log_level=args.log_level)

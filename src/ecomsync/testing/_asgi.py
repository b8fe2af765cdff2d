"""
The request plumbing every emulator shares: the ASGI types, reading a
request (lifespan answered, body and headers collected), one request's way
through the fault switchboard (latency, a dropped connection, a storm, the
shared link, the worker limit, commit-then-timeout) and sending the answer
(dripped when asked).  What a request *means* stays in each emulator's
``_app``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NoReturn, TypeVar

import anyio
import attrs
import httpx

from ._faults import FaultRuntime, Faults


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


#: (method, path pattern, handler name, whether it writes)
Routes = list[tuple[str, re.Pattern[str], str, bool]]
F = TypeVar("F", bound=Callable[..., Any])


class ConnectionAborted(Exception):
    """
    Raised on a real server after the response started, so that uvicorn
    drops the connection mid-response.
    """


@attrs.frozen
class Incoming:
    """
    One HTTP request as it arrived: *headers* lower-cased, *base_url* the
    scheme and ``Host`` the client used.
    """

    method: str
    path: str
    raw_path: bytes
    query_string: str
    headers: dict[str, str]
    body: bytes
    base_url: str


@attrs.define
class Response:
    """
    An answer on the wire: status, body bytes, headers (``content-length``
    is added when sent) and the batch *items* it carried (for the log).
    """

    status: int
    body: bytes = b""
    headers: list[tuple[bytes, bytes]] = attrs.Factory(list)
    items: int = 0


class EmulatorApp:
    """
    An emulator's ASGI application: reads each HTTP request and hands it
    to `handle`.
    """

    #: The ``Host`` assumed when a request has none.
    default_host = "localhost"

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send
    ) -> None:
        incoming = await receive_http(
            scope, receive, send, default_host=self.default_host
        )
        if incoming is not None:
            await self.handle(incoming, send)

    async def handle(self, incoming: Incoming, send: Send) -> None:
        """
        Answer *incoming* on *send*.
        """
        raise NotImplementedError


def add_route(
    routes: Routes, methods: str, pattern: str, *, writes: bool
) -> Callable[[F], F]:
    """
    A decorator registering its handler in *routes* for each of the
    comma-separated *methods* on paths matching *pattern*.
    """

    def deco(fn: F) -> F:
        rx = re.compile(f"^{pattern}$")
        routes.extend((m, rx, fn.__name__, writes) for m in methods.split(","))
        return fn

    return deco


def find_route(
    routes: Routes, method: str, path: str
) -> tuple[str, bool, dict[str, str]]:
    """
    The handler's name for *method* on *path* (``"unknown"`` if none),
    whether it writes, and the path's parameters.
    """
    for m, rx, name, writes in routes:
        match = rx.match(path)
        if match and m == method:
            return name, writes, match.groupdict()
    return "unknown", False, {}


async def receive_http(
    scope: Scope, receive: Receive, send: Send, *, default_host: str
) -> Incoming | None:
    """
    The HTTP request behind *scope*, body read to the end; ``None`` for a
    lifespan scope (answered here) or any other non-HTTP scope.
    """
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return None
    if scope["type"] != "http":
        return None
    body = bytearray()
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    headers = {
        k.decode("latin-1").lower(): v.decode("latin-1")
        for k, v in scope.get("headers", [])
    }
    path = scope["path"]
    host = headers.get("host", default_host)
    return Incoming(
        method=scope["method"],
        path=path,
        raw_path=scope.get("raw_path") or path.encode(),
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=bytes(body),
        base_url=f"{scope.get('scheme', 'http')}://{host}",
    )


async def drop_connection(send: Send, abort_mode: str) -> NoReturn:
    """
    An injected reset: in process (*abort_mode* ``"raise"``) the client
    sees `httpx.ReadError`; on a real server the response starts and the
    connection is then dropped.
    """
    if abort_mode == "raise":
        raise httpx.ReadError(
            "[Errno 104] Connection reset by peer (injected)"
        )
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [(b"content-length", b"1000")],
        }
    )
    raise ConnectionAborted


def retry_after(faults: Faults) -> list[tuple[bytes, bytes]]:
    """
    The ``Retry-After`` header a storm answer carries, if any.
    """
    if faults.retry_after is None:
        return []
    return [(b"retry-after", faults.retry_after.encode())]


async def through_faults(
    runtime: FaultRuntime,
    send: Send,
    *,
    abort_mode: str,
    request_bytes: int,
    process: Callable[[], Awaitable[Response]],
    storm: Callable[[Faults], Response],
    on_reset: Callable[[], None],
    auth: bool = False,
    writes: bool = False,
) -> Response:
    """
    One request's way through the switchboard: the network's latency, an
    injected reset (*on_reset* logs it, then the connection drops), a
    storm (answered by *storm*) or *process* within the worker limit
    after the server's base time, with the request and the answer paid
    for on the shared link, and a
    committed write (*writes*) held back when commit-then-timeout says so.
    *auth* marks the token endpoint, which storms spare unless asked.
    """
    f = runtime.faults
    if f.latency_ms:
        await anyio.sleep(f.latency_ms / 1000)
    if runtime.take_reset():
        on_reset()
        await drop_connection(send, abort_mode)
    if runtime.take_storm(auth=auth):
        resp = storm(f)
    else:
        await runtime.transfer(request_bytes)

        async def serve() -> Response:
            if f.base_ms:
                await anyio.sleep(f.base_ms / 1000)
            return await process()

        if runtime.limiter is not None:
            async with runtime.limiter:
                resp = await serve()
        else:
            resp = await serve()
        if writes and resp.status < 400 and runtime.take_hang():
            # The write is committed; now the answer gets lost.
            await anyio.sleep(f.hang_s)
    await runtime.transfer(len(resp.body))
    return resp


async def send_response(send: Send, resp: Response, faults: Faults) -> None:
    """
    Send *resp* with its ``content-length``; trickled in chunks when
    *faults* drip.
    """
    body = resp.body
    headers = [*resp.headers, (b"content-length", str(len(body)).encode())]
    await send(
        {
            "type": "http.response.start",
            "status": resp.status,
            "headers": headers,
        }
    )
    chunk = faults.drip_chunk_bytes
    if chunk <= 0 or not body:
        await send({"type": "http.response.body", "body": body})
        return
    for i in range(0, len(body), chunk):
        if i:
            await anyio.sleep(faults.drip_interval_ms / 1000)
        await send(
            {
                "type": "http.response.body",
                "body": body[i : i + chunk],
                "more_body": i + chunk < len(body),
            }
        )

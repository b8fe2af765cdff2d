"""
httpx's transport API over aiohttp's connection pool (the ``aiohttp``
extra: aiohttp and ``httpx-aiohttp``, whose exception map it uses).

The same wire behaviour as ``httpx_aiohttp.AiohttpTransport`` with less
client CPU per request, and one fix:

- headers go to aiohttp as the ``str`` pairs it keeps anyway, decoded once
  from httpx's raw bytes (``request.headers`` would be decoded item by
  item, each time working out the encoding again);
- the URL goes to aiohttp already encoded (httpx encoded it), so yarl
  does not parse and quote it a second time;
- a response body is read in one piece instead of 16 KB chunks through
  an async generator;
- aiohttp's exceptions are mapped only when one is raised (httpx-aiohttp's
  generator-based context manager cost every request), and failures of
  an open connection are not taken for failures to connect: httpx-aiohttp
  maps every ``ClientConnectionError`` (a server that disconnected after
  it got the request, a reset, a read timeout before aiohttp 3.10) to
  ``httpx.ConnectTimeout``, which says the request was never sent, so a
  write whose answer was lost would be sent again;
- aiohttp's own cookie jar is a dummy: httpx's client keeps the cookies
  (``AiohttpTransport`` kept a second jar that sent a server's cookies
  again after the host had cleared ``client.cookies``);
- a request may carry its deadline (the `DEADLINE` extension, seconds):
  aiohttp's own ``total`` timeout then bounds the wait for a connection,
  the request and the whole answer, body included, and a request that
  outlives it fails with a bare `TimeoutError` (what an anyio deadline
  raises), so `ecomsync._http.HttpClient` needs no cancel scope of its
  own per request over this pool.

aiohttp is imported when the first pool is made, so the core does not
need it; its objects are typed `Any` here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import math
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import httpx


__all__ = ["DEADLINE", "KEEPS_ROWS", "AiohttpPool", "bytes_headers"]

#: The request extension holding the seconds the whole exchange may take
#: (`AiohttpPool`).
DEADLINE = "ecomsync.deadline"


def _keeps_rows() -> bool:
    """
    Whether httpx keeps its headers as `bytes_headers` fills them in (a
    private list of ``(key, lower key, value)`` and an encoding found
    lazily); else `bytes_headers` uses httpx's constructor.
    """
    made = httpx.Headers([(b"A", b"b")])
    return (
        getattr(made, "_list", None) == [(b"A", b"a", b"b")]
        and getattr(made, "_encoding", False) is None
    )


#: Whether httpx keeps its headers as `bytes_headers` fills them in.
KEEPS_ROWS = _keeps_rows()


def bytes_headers(rows: Iterable[tuple[bytes, bytes]]) -> httpx.Headers:
    """
    ``httpx.Headers(rows)`` for pairs that are bytes already, built in one
    pass: httpx's constructor calls two normalisers per pair (~5 us for a
    request's 8 headers, ~1 us of it here).
    """
    if not KEEPS_ROWS:  # pragma: no cover - another httpx
        return httpx.Headers(list(rows))
    headers = httpx.Headers.__new__(httpx.Headers)
    headers._list = [(key, key.lower(), value) for key, value in rows]
    headers._encoding = None
    return headers


class _Body(httpx.AsyncByteStream):
    """
    An aiohttp response's body for httpx, read in one piece.

    *plain*: the answer has no ``Content-Encoding``, so its bytes are its
    content and `read_into` may hand them to the response directly.
    *cookies*: it has a ``Set-Cookie`` or ``Set-Cookie2`` header.  Both
    hold for the httpx response whose `headers` these are (the pool's
    own; a transport wrapping the pool may answer with other headers).
    """

    def __init__(
        self,
        response: Any,
        errors: Any,
        plain: bool = False,
        cookies: bool = True,
    ) -> None:
        self._response = response
        self._errors = errors
        self.plain = plain
        self.cookies = cookies
        self.headers: httpx.Headers | None = None

    async def read_into(self, response: httpx.Response) -> None:
        """
        ``await response.aread()`` for an unread *response* whose stream
        this is and which is `plain`: the same content and state (read,
        consumed, closed, connection released), without httpx's three
        async generators and context managers per answer (about a tenth
        of a request's client CPU in the HTTP layer).  Errors as
        ``aread`` raises them (httpx's, with the request).
        """
        try:
            try:
                body: bytes = await self._response.read()
            except Exception:
                with self._errors():
                    raise
        except httpx.RequestError as exc:
            exc.request = response.request
            raise
        # What `aread` leaves: httpx.Response keeps these as plain
        # attributes (tests/test_http.py compares both ways).
        response.is_stream_consumed = True
        response._num_bytes_downloaded = len(body)
        response._content = body
        response.is_closed = True
        try:
            await self.aclose()
        except httpx.RequestError as exc:
            exc.request = response.request
            raise

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            body: bytes = await self._response.read()
        except Exception:
            with self._errors():
                raise
        if body:
            yield body

    async def aclose(self) -> None:
        try:
            await self._response.__aexit__(None, None, None)
        except Exception:
            with self._errors():
                raise


class AiohttpPool(httpx.AsyncBaseTransport):
    """
    httpx's transport API over one `aiohttp.ClientSession` (created on the
    first request: it needs the running loop).

    Args:
        verify: TLS verification, as httpx's ``verify``.
        limits: ``max_connections`` (``None``: unbounded) and
            ``keepalive_expiry`` are used.

    Raises:
        ImportError: aiohttp or ``httpx-aiohttp`` is not installed.
    """

    def __init__(self, *, verify: bool, limits: httpx.Limits) -> None:
        self._aiohttp: Any = importlib.import_module("aiohttp")
        self._yarl: Any = importlib.import_module("yarl")
        self._theirs: Any = importlib.import_module(
            "httpx_aiohttp.transport"
        ).map_aiohttp_exceptions
        self._ssl: ssl.SSLContext = httpx.create_ssl_context(verify=verify)
        self._limits = limits
        self._session: Any = None
        # aiohttp's timeout object per distinct httpx timeout.
        self._timeouts: dict[tuple[Any, ...], Any] = {}

    @contextlib.contextmanager
    def _errors(self, until: float | None = None) -> Iterator[None]:
        """
        aiohttp's exception leaving the block as httpx's, ``from`` it; a
        timeout once the loop's clock reached *until* (the request's
        deadline) as a bare `TimeoutError`, as anyio's deadline ends it.
        """
        try:
            yield
        except Exception as exc:
            if (
                until is not None
                and isinstance(exc, TimeoutError)
                and asyncio.get_running_loop().time() >= until
            ):
                raise TimeoutError from exc
            mapped = self._mapped(exc)
            if mapped is None:
                with self._theirs():
                    raise
            raise mapped from exc

    def _mapped(self, exc: Exception) -> httpx.TransportError | None:
        """
        httpx's exception for a failure of aiohttp's that says whether the
        request may have been sent; ``None``: httpx-aiohttp's map decides.
        """
        aiohttp = self._aiohttp
        text = str(exc)
        # Making the connection (refused, DNS, TLS): nothing was sent.
        if isinstance(exc, aiohttp.ClientConnectorError):
            return httpx.ConnectError(text)
        connect = getattr(aiohttp, "ConnectionTimeoutError", None)
        if connect is not None and isinstance(exc, connect):
            return httpx.ConnectTimeout(text)
        # On an open connection: the request may have been sent.
        if isinstance(exc, aiohttp.ServerTimeoutError):
            return httpx.ReadTimeout(text)
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return httpx.RemoteProtocolError(text)
        if isinstance(exc, aiohttp.ClientConnectionError):
            return httpx.ReadError(text)
        return None

    def _new_session(self) -> Any:
        aiohttp = self._aiohttp
        connector = aiohttp.TCPConnector(
            # httpx's None is unbounded, as aiohttp's 0 (not its 100).
            limit=self._limits.max_connections or 0,
            keepalive_timeout=self._limits.keepalive_expiry,
            ssl=self._ssl,
        )
        return aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar()
        )

    def _timeout(self, request: httpx.Request) -> Any:
        extensions = request.extensions
        given = extensions.get("timeout") or {}
        key = (
            given.get("connect"),
            given.get("read"),
            given.get("pool"),
            extensions.get(DEADLINE),
        )
        timeout = self._timeouts.get(key)
        if timeout is None:
            timeout = self._aiohttp.ClientTimeout(
                total=key[3],
                sock_connect=key[0],
                sock_read=key[1],
                connect=key[2],
                # The deadline to the moment, as anyio's: aiohttp rounds
                # a total of 5 s or more up to the loop's next second.
                ceil_threshold=math.inf,
            )
            self._timeouts[key] = timeout
        return timeout

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        session = self._session
        if session is None:
            session = self._session = self._new_session()
        deadline = request.extensions.get(DEADLINE)
        errors = self._errors
        if deadline is not None:
            until = asyncio.get_running_loop().time() + deadline
            errors = functools.partial(self._errors, until)
        headers = request.headers
        # httpx's own rows where it keeps them (`KEEPS_ROWS`), not the
        # copy `headers.raw` makes.
        rows = (
            headers._list
            if KEEPS_ROWS
            else [(k, b"", v) for k, v in headers.raw]
        )
        try:
            # ASCII, as nearly every request's headers are: what
            # `headers.encoding` finds after decoding them all once more.
            pairs = [
                (k.decode("ascii"), v.decode("ascii")) for k, _, v in rows
            ]
        except UnicodeDecodeError:
            encoding = headers.encoding
            raw = headers.raw
            pairs = [(k.decode(encoding), v.decode(encoding)) for k, v in raw]
        data: Any
        try:
            data = request.content or None
        except httpx.RequestNotRead:
            # A streamed body: aiohttp does the chunking itself.
            data = request.stream
            pairs = [p for p in pairs if p[0].lower() != "transfer-encoding"]
        try:
            response = await session.request(
                request.method,
                self._yarl.URL(str(request.url), encoded=True),
                headers=pairs,
                data=data,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=self._timeout(request),
                server_hostname=request.extensions.get("sni_hostname"),
            )
        except Exception:
            # httpx-aiohttp's map, entered only on a failure.
            with errors():
                raise
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        # aiohttp's headers answer these without httpx's linear scans.
        given = response.headers
        body = _Body(
            response,
            errors,
            plain="Content-Encoding" not in given,
            cookies="Set-Cookie" in given or "Set-Cookie2" in given,
        )
        answer = httpx.Response(
            status_code=response.status,
            headers=bytes_headers(response.raw_headers),
            stream=body,
            request=request,
            extensions=extensions,
        )
        body.headers = answer.headers
        return answer

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

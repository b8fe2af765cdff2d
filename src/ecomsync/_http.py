"""
The one HTTP layer of *ecomsync*: every platform adapter and the Tryton
client go through it.

Pieces, each usable alone:

- `transport_errors`: a context manager that bounds a request by a
  **deadline** (`anyio.fail_after`: httpx's timeouts are inactivity
  timeouts, so a server that drips one byte every few seconds never trips
  them) and translates httpx's exceptions into the error tree with
  ``raise ... from exc``: resets, timeouts and refused connections become
  `RetryableError`, anything else `SyncError`.  A *write* whose fate is
  unknown (the connection broke after it was sent) becomes `MaybeApplied`,
  a `RetryableError` the retry policy repeats only after the caller
  looked and did not find the write (``RetryPolicy.call(confirm=...)``);
- `parse_retry_after` / `retry_after`: the ``Retry-After`` header in both
  forms (delta-seconds and HTTP date), never negative;
- `status_error`: the `RetryableError` for an answer that means "try again
  later" (429, 502, 503, 504 by default), carrying the server's wait;
- `RetryPolicy`: the one retry policy (stamina: capped, jittered
  exponential backoff; a server's wait replaces the backoff, clamped so a
  hostile or buggy server cannot park a run for hours);
- `HttpClient`: one `httpx.AsyncClient` with all of the above and a
  concurrency cap (`anyio.CapacityLimiter`, default 16: httpx degrades
  sharply above about 20 concurrent requests on one client and core).
  Its connection pool is httpx's own, or aiohttp's under httpx's API
  (`AiohttpPool`, the ``aiohttp`` extra) when that is installed and
  the loop is asyncio: about a quarter of the client CPU per request,
  because httpcore's pool checks every idle connection's socket on every
  request (httpx #3215) and aiohttp's does not.  A request goes straight
  to the transport where ``client.send`` would add nothing (no auth,
  event hooks or redirects to follow: a host that sets them on
  `HttpClient.client` gets httpx's path); there, over aiohttp's pool,
  the deadline is aiohttp's own timer, not a cancel scope per request;

Statuses that are not retryable are returned to the caller, which knows
what a 400 or 401 means on its platform.  Nothing here knows about
credentials: adapters pass their ``Authorization`` header per request, and
no header value, query string or URL user info ever ends up in a message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import (
    Callable,
    Mapping,
)
from datetime import timedelta
from typing import Any, TypeVar

import anyio
import attrs
import httpx
import sniffio

from . import _instrument
from ._closing import AsyncResource
from ._http_aiohttp import DEADLINE, AiohttpPool, _Body
from ._http_errors import (
    AMBIGUOUS_STATUSES,
    RETRYABLE_STATUSES,
    MaybeApplied,
    RetryPolicy,
    _Translating,
    describe,
    parse_retry_after,
    retry_after,
    status_error,
    transport_errors,
)
from ._http_request import build_request


__all__ = [
    "AMBIGUOUS_STATUSES",
    "IDEMPOTENT",
    "POOLS",
    "RETRYABLE_STATUSES",
    "HttpClient",
    "MaybeApplied",
    "RetryPolicy",
    "aiohttp_pool",
    "build_request",
    "describe",
    "parse_retry_after",
    "retry_after",
    "status_error",
    "transport_errors",
]

T = TypeVar("T")

#: Methods whose requests do the same sent twice as once (RFC 9110 9.2.2):
#: `HttpClient.request` repeats them after any transient failure.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

#: `HttpClient` connection pools: ``"auto"`` is aiohttp's where it can be
#: used (the ``aiohttp`` extra installed, running on asyncio), else httpx's.
POOLS = frozenset({"auto", "httpx", "aiohttp"})

# -- the client --------------------------------------------------------------


def aiohttp_pool(
    *, verify: bool, limits: httpx.Limits
) -> httpx.AsyncBaseTransport | None:
    """
    httpx's API over aiohttp's connection pool, or ``None`` where it
    cannot be used: the ``aiohttp`` extra not installed, or not on asyncio
    (aiohttp is asyncio-only; trio keeps httpx's pool).
    """
    try:
        if sniffio.current_async_library() != "asyncio":
            return None
        from ._http_aiohttp import AiohttpPool

        return AiohttpPool(verify=verify, limits=limits)
    except (ImportError, sniffio.AsyncLibraryNotFoundError):
        return None


def _observe(
    request: httpx.Request,
    response: httpx.Response | None,
    failure: str | None,
    started: float,
) -> None:
    """
    Tell the current instrumentation about one attempt: method, scheme,
    host and port only (a path or query may carry a credential).
    """
    instrumentation = _instrument.current()
    if instrumentation is _instrument.NOTHING:
        return  # the no-op default: nothing to compute
    status = None if response is None else response.status_code
    if failure is None and status is not None and status >= 400:
        failure = str(status)
    _instrument.guarded(
        "request",
        instrumentation.request,
        method=request.method,
        scheme=request.url.scheme,
        host=request.url.host,
        port=request.url.port,
        status=status,
        error=failure,
        duration=time.monotonic() - started,
        sent=int(request.headers.get("content-length", 0)),
    )


class _Cookies(httpx.Cookies):
    """
    httpx's cookie jar, skipping the jar for an answer without a cookie:
    httpx hands every response to `http.cookiejar` (two compatibility
    wrappers, a `urllib.request.Request` parsing the URL again, every
    header looked up), about a tenth of a request's client CPU, though
    only ``Set-Cookie`` and ``Set-Cookie2`` headers change the jar.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


def _cookie_jar(client: httpx.AsyncClient) -> None:
    # httpx keeps the jar in `_cookies` and replaces it (with a plain
    # `httpx.Cookies`) when a host assigns `client.cookies`; a future
    # httpx without that attribute keeps its own.
    jar = getattr(client, "_cookies", None)
    if type(jar) is httpx.Cookies:
        cookies = _Cookies()
        cookies.jar = jar.jar
        client._cookies = cookies


def _direct(client: httpx.AsyncClient, request: httpx.Request) -> bool:
    """
    Whether `client.send` would only pass *request* to the transport and
    read the answer: no auth (neither the client's nor user info in the
    URL), no event hooks, no redirects to follow, an open client.
    """
    hooks = client.event_hooks
    return not (
        client.auth is not None
        or client.follow_redirects
        or hooks["request"]
        or hooks["response"]
        or client.is_closed
        or request.url.userinfo
    )


_HTTPX_LOG = logging.getLogger("httpx")


async def _send(
    client: httpx.AsyncClient,
    transport: httpx.AsyncBaseTransport,
    request: httpx.Request,
) -> httpx.Response:
    """
    ``await client.send(request)`` for a request `_direct` accepts, without
    the auth, redirect and hook layers (a generator and three coroutines
    per request): the transport's answer, read, with the request, cookies,
    ``elapsed`` and httpx's log record as `client.send` gives them.
    """
    started = time.perf_counter()
    try:
        response = await transport.handle_async_request(request)
    except httpx.RequestError as exc:
        exc.request = request
        raise
    response.request = request
    stream = response.stream
    headers = response.headers
    # The pool's own answer: its flags say what the headers hold.
    ours = (
        stream if type(stream) is _Body and stream.headers is headers else None
    )
    try:
        if ours is not None and ours.plain and not response.is_stream_consumed:
            await ours.read_into(response)
        else:
            await response.aread()
    except BaseException:
        await response.aclose()
        raise
    response.elapsed = timedelta(seconds=time.perf_counter() - started)
    if (
        ours.cookies
        if ours is not None
        else "set-cookie" in headers or "set-cookie2" in headers
    ):
        client.cookies.extract_cookies(response)
    _HTTPX_LOG.info(
        'HTTP Request: %s %s "%s %d %s"',
        request.method,
        request.url,
        response.http_version,
        response.status_code,
        response.reason_phrase,
    )
    return response


def log_extra(**more: object) -> dict[str, object]:
    """
    The ``extra`` of an adapter's log record: the fields of the run it
    works for (``run_id``, ``platform``, ``data_type``), then *more*.
    """
    return _instrument.fields(**more)


@attrs.define(repr=False)
class HttpClient(AsyncResource):
    """
    A retrying, deadline-bound, concurrency-capped HTTP client.

    Args:
        base_url: Prefix of every request path.
        transport: Replace the network (``httpx.ASGITransport``,
            ``httpx.MockTransport``); ``None`` uses real sockets.
        concurrency: Requests in flight at once, at most.
        deadline: Seconds one attempt may take in total, body included.
        policy: When to retry.
        timeout: httpx's own (inactivity) timeouts.
        headers: Sent with every request.
        verify: TLS verification (on by default).
        retry_after_hint: Reads the wait from a retryable answer that
            has no ``Retry-After`` header (some platforms put it in the
            body).
        pool: Real sockets only: ``"httpx"`` (httpx's own pool),
            ``"aiohttp"`` (aiohttp's, if it can be used) or ``"auto"``
            (aiohttp's where it can be used, else httpx's).  Chosen on
            the first request, when the event loop is known.
    """

    base_url: str
    transport: httpx.AsyncBaseTransport | None = None
    concurrency: int = 16
    deadline: float = 60.0
    policy: RetryPolicy = attrs.field(factory=RetryPolicy)
    timeout: httpx.Timeout = attrs.field(
        factory=lambda: httpx.Timeout(30.0, connect=10.0)
    )
    headers: Mapping[str, str] = attrs.field(factory=dict)
    verify: bool = True
    retry_after_hint: Callable[[httpx.Response], timedelta | None] | None = (
        None
    )
    pool: str = attrs.field(default="auto")
    _client: httpx.AsyncClient | None = attrs.field(init=False, default=None)
    # The transport handed to the httpx client, called directly where
    # `client.send` would add nothing (`_direct`); None: httpx's own pool,
    # which may route through proxies from the environment.
    _transport: httpx.AsyncBaseTransport | None = attrs.field(
        init=False, default=None
    )
    _limiter: anyio.CapacityLimiter | None = attrs.field(
        init=False, default=None
    )
    _closed: bool = attrs.field(init=False, default=False)
    #: Requests sent (each attempt), for `SupportsRequestCount`.
    sent: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.pool not in POOLS:
            raise ValueError(f"pool must be one of {sorted(POOLS)}")

    def __repr__(self) -> str:
        return f"<HttpClient {self.base_url!r} cap={self.concurrency}>"

    @property
    def client(self) -> httpx.AsyncClient:
        """
        The httpx client (created on first use: the pool depends on the
        event loop).  After `aclose`: `ResourceClosed`.
        """
        if self._closed:
            self._ensure_open()
        if self._client is None:
            kwargs: dict[str, Any] = {}
            transport = self.transport
            if transport is None:
                limits = httpx.Limits(
                    max_connections=self.concurrency,
                    max_keepalive_connections=self.concurrency,
                )
                if self.pool != "httpx":
                    transport = aiohttp_pool(verify=self.verify, limits=limits)
                if transport is None:
                    kwargs = {"verify": self.verify, "limits": limits}
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=self.timeout,
                headers=dict(self.headers),
                transport=transport,
                **kwargs,
            )
            self._transport = transport
            _cookie_jar(self._client)
        return self._client

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        """
        The concurrency cap (created lazily: it needs an event loop).
        """
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.concurrency)
        return self._limiter

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
        retry: bool = True,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """
        Send one request, retrying transient failures.

        Returns the response for every status that is not retryable (the
        caller judges 4xx answers).  Raises `RetryableError` once the
        attempts are used up, `SyncError` for anything else that went
        wrong in transport.

        *idempotent* says whether sending the request twice does what
        sending it once does (``None``: by its method, `IDEMPOTENT`).  A
        request that is not is repeated only after failures that prove it
        never reached the server (no connection, 429, a 503 with
        ``Retry-After``); after one it may have landed (a reset or timeout
        after sending, 502, 504, a bare 503 a proxy gives after the origin
        got it) it raises `MaybeApplied`, which the caller resolves, with
        ``policy.call(confirm=...)`` for one.
        """
        if idempotent is None:
            idempotent = method.upper() in IDEMPOTENT

        async def attempt() -> httpx.Response:
            return await self._attempt(
                method,
                url,
                json=json,
                content=content,
                params=params,
                headers=headers,
                deadline=deadline,
                write=not idempotent,
            )

        if not retry:
            return await attempt()
        return await self.policy.call(attempt)

    async def _attempt(
        self,
        method: str,
        url: str,
        *,
        json: Any,
        content: bytes | None,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        deadline: float | None,
        write: bool,
    ) -> httpx.Response:
        client = self.client
        request = build_request(
            client,
            method,
            url,
            json=json,
            content=content,
            params=params,
            headers=headers,
        )
        transport = self._transport
        if transport is not None and not _direct(client, request):
            transport = None
        if deadline is None:
            deadline = self.deadline
        # aiohttp's pool bounds the attempt by itself (its timer covers the
        # wait for a connection, the request and the whole body, as for
        # any aiohttp client), which costs less than a cancel scope of
        # ours per request.
        pooled = isinstance(transport, AiohttpPool)
        if pooled:
            request.extensions[DEADLINE] = deadline
        limiter = self.limiter
        try:
            # A free slot is taken without `acquire`'s two checkpoints (an
            # event-loop turn per request); the request checkpoints anyway.
            limiter.acquire_nowait()
        except anyio.WouldBlock:
            await limiter.acquire()
        self.sent += 1
        started = time.monotonic()
        response: httpx.Response | None = None
        failure: str | None = None
        try:
            with _Translating(request, deadline, write, armed=not pooled):
                if transport is None:
                    response = await client.send(request)
                    await response.aread()
                else:
                    response = await _send(client, transport, request)
        except Exception as exc:
            cause = exc.__cause__
            failure = type(cause if cause is not None else exc).__name__
            raise
        finally:
            limiter.release()
            _observe(request, response, failure, started)
        assert response is not None
        if response.status_code not in RETRYABLE_STATUSES:
            return response
        error = status_error(
            describe(request),
            response,
            write=write,
            hint=self.retry_after_hint,
        )
        assert error is not None
        raise error

    async def _close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

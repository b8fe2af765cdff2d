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
  a `RetryableError` the retry policy does not repeat on its own;
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
  (``httpx-aiohttp``, the ``aiohttp`` extra) when that is installed and
  the loop is asyncio: about a quarter of the client CPU per request,
  because httpcore's pool checks every idle connection's socket on every
  request (httpx #3215) and aiohttp's does not;
- `check_url`: refuses a base URL that carries credentials.

Statuses that are not retryable are returned to the caller, which knows
what a 400 or 401 means on its platform.  Nothing here knows about
credentials: adapters pass their ``Authorization`` header per request, and
no header value, query string or URL user info ever ends up in a message.
"""

from __future__ import annotations

import importlib
import re
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
from ._http_errors import (
    AMBIGUOUS_STATUSES,
    RETRYABLE_STATUSES,
    MaybeApplied,
    RetryPolicy,
    describe,
    parse_retry_after,
    retry_after,
    status_error,
    transport_errors,
)
from .exceptions import ConfigurationError


__all__ = [
    "AMBIGUOUS_STATUSES",
    "POOLS",
    "RETRYABLE_STATUSES",
    "HttpClient",
    "MaybeApplied",
    "RetryPolicy",
    "aiohttp_pool",
    "build_request",
    "check_url",
    "describe",
    "parse_retry_after",
    "public_url",
    "retry_after",
    "status_error",
    "transport_errors",
]

T = TypeVar("T")

#: `HttpClient` connection pools: ``"auto"`` is aiohttp's where it can be
#: used (the ``aiohttp`` extra installed, running on asyncio), else httpx's.
POOLS = frozenset({"auto", "httpx", "aiohttp"})

# -- configuration -----------------------------------------------------------


def check_url(url: str, *, what: str) -> str:
    """
    *url* if it is an absolute http(s) URL without user info.

    Raises:
        ConfigurationError: Naming *what* but never echoing the URL when it
            carries credentials (those have their own parameters).
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise ConfigurationError(f"{what}: not a valid URL") from None
    if parsed.userinfo:
        raise ConfigurationError(
            f"{what}: the URL carries user info (user:password@); pass "
            "credentials in their own parameters, never in the URL"
        )
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(
            f"{what}: {url!r} is not an absolute http(s) URL"
        )
    return url


def public_url(url: str) -> str:
    """
    *url* without user info, query string or fragment: safe for messages.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid URL>"
    return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))


# -- the client --------------------------------------------------------------


def aiohttp_pool(
    *, verify: bool, limits: httpx.Limits
) -> httpx.AsyncBaseTransport | None:
    """
    httpx's API over aiohttp's connection pool, or ``None`` where it
    cannot be used: ``httpx-aiohttp`` not installed, or not on asyncio
    (aiohttp is asyncio-only; trio keeps httpx's pool).
    """
    try:
        if sniffio.current_async_library() != "asyncio":
            return None
        module: Any = importlib.import_module("httpx_aiohttp")
    except (ImportError, sniffio.AsyncLibraryNotFoundError):
        return None
    transport: httpx.AsyncBaseTransport = module.AiohttpTransport(
        verify=verify, limits=limits
    )
    return transport


#: A relative path whose segments need no escaping or normalising, and a
#: query value that needs no escaping: `build_request` joins them to the
#: base URL without httpx's URL parser.
_PLAIN_PATH = re.compile(r"(?:/[A-Za-z0-9_~-][A-Za-z0-9_.~-]*)*/?")
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.~-]*")


def build_request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    json: Any = None,
    content: bytes | None = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Request:
    """
    ``client.build_request(...)``, the same request, built without parsing
    URLs where that is safe: httpx parses the URL three times per request
    (the path, the path joined to the base, the query added), checking
    every character each time, about 70 us of a request's client CPU.

    A path of plain segments (letters, digits, ``_~-``, dots inside) with
    plain query values is joined to the client's already parsed base URL;
    anything else, or a client holding cookies, goes through httpx.
    """
    ref = getattr(client.base_url, "_uri_reference", None)
    # httpx keeps the base URL's path with a trailing slash ("" is "/").
    base_path = (getattr(ref, "path", None) or "/") if ref else ""
    if (
        ref is not None
        and ref.query is None
        and base_path.endswith("/")
        and _PLAIN_PATH.fullmatch(url)
        and all(
            _PLAIN_VALUE.fullmatch(k) and _PLAIN_VALUE.fullmatch(v)
            for k, v in (params or {}).items()
        )
        and not client.cookies
    ):
        query = (
            "&".join(f"{k}={v}" for k, v in params.items()) if params else None
        )
        # httpx.URL() would parse "": an empty instance, then its parts.
        joined = httpx.URL.__new__(httpx.URL)
        joined._uri_reference = ref._replace(
            path=base_path + url.lstrip("/"), query=query, fragment=None
        )
        merged = httpx.Headers(client.headers)
        if headers:
            merged.update(headers)
        return httpx.Request(
            method,
            joined,
            json=json,
            content=content,
            headers=merged,
            extensions={"timeout": client.timeout.as_dict()},
        )
    return client.build_request(
        method, url, json=json, content=content, params=params, headers=headers
    )


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
    _limiter: anyio.CapacityLimiter | None = attrs.field(
        init=False, default=None
    )
    _closed: bool = attrs.field(init=False, default=False)

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
    ) -> httpx.Response:
        """
        Send one request, retrying transient failures.

        Returns the response for every status that is not retryable (the
        caller judges 4xx answers).  Raises `RetryableError` once the
        attempts are used up, `SyncError` for anything else that went
        wrong in transport.
        """

        async def attempt() -> httpx.Response:
            return await self._attempt(
                method,
                url,
                json=json,
                content=content,
                params=params,
                headers=headers,
                deadline=deadline,
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
        what = describe(request)
        async with self.limiter:
            started = time.monotonic()
            response: httpx.Response | None = None
            failure: str | None = None
            try:
                with transport_errors(
                    what,
                    deadline=self.deadline if deadline is None else deadline,
                ):
                    response = await client.send(request)
                    await response.aread()
            except Exception as exc:
                cause = exc.__cause__
                failure = type(cause if cause is not None else exc).__name__
                raise
            finally:
                _observe(request, response, failure, started)
        assert response is not None
        error = status_error(what, response, hint=self.retry_after_hint)
        if error is not None:
            raise error
        return response

    async def _close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

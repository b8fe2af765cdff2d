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

import email.utils
import importlib
import math
import re
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
)
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import anyio
import attrs
import httpx
import sniffio
import stamina

from . import _instrument
from ._closing import AsyncResource
from .exceptions import ConfigurationError, RetryableError, SyncError


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

#: Answers that mean "try again later".
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

#: Answers after which a write may already have been applied.
AMBIGUOUS_STATUSES = frozenset({500, 502, 504})


class MaybeApplied(RetryableError):
    """
    Transient, but the request may have been applied (a write whose
    connection broke after sending, or a 500/502/504 to a write).

    `RetryPolicy` does not repeat it: only the caller knows whether the
    write is idempotent or has to be looked up first.
    """


# -- Retry-After -------------------------------------------------------------


def parse_retry_after(
    value: str | None, *, now: datetime | None = None
) -> timedelta | None:
    """
    The wait a ``Retry-After`` header asks for, or ``None`` if absent or
    unreadable.  Accepts delta-seconds and HTTP dates; never negative.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return timedelta(seconds=max(0.0, seconds))


def retry_after(
    response: httpx.Response, *, now: datetime | None = None
) -> timedelta | None:
    """
    The wait *response*'s ``Retry-After`` header asks for, if any.
    """
    return parse_retry_after(response.headers.get("retry-after"), now=now)


# -- error map ---------------------------------------------------------------


def describe(request: httpx.Request) -> str:
    """
    ``METHOD /path`` of *request*: never the query string or user info,
    which may carry credentials.
    """
    return f"{request.method} {request.url.path}"


@contextmanager
def transport_errors(
    what: str, *, deadline: float | None = None, write: bool = False
) -> Iterator[None]:
    """
    Bound the block by *deadline* seconds and translate transport failures.

    Args:
        what: Names the request in messages (``"POST /api/_action/sync"``,
            ``"Tryton model.product.search"``); must not contain secrets.
        deadline: Seconds the whole block may take; ``None``: no bound.
        write: The request changes data: a failure after it may have been
            sent raises `MaybeApplied` instead of `RetryableError`.

    Raises:
        RetryableError: The server could not be reached (always safe to
            repeat), or timed out, reset or broke the connection.
        MaybeApplied: Like the above for a *write* that may have landed.
        SyncError: Any other httpx error (bad URL scheme, too many
            redirects, undecodable body ...).
    """
    unsure = MaybeApplied if write else RetryableError
    bound = nullcontext() if deadline is None else anyio.fail_after(deadline)
    try:
        with bound:
            yield
    except TimeoutError as exc:
        raise unsure(
            f"{what}: no complete answer within {deadline:g} s"
        ) from exc
    except httpx.ConnectError as exc:
        raise RetryableError(
            f"{what}: cannot connect ({_reason(exc, type(exc).__name__)})"
        ) from exc
    except httpx.ConnectTimeout as exc:
        raise RetryableError(
            f"{what}: cannot connect ({_reason(exc, 'timed out')})"
        ) from exc
    except httpx.TimeoutException as exc:
        raise unsure(f"{what}: timed out ({type(exc).__name__})") from exc
    except (
        httpx.NetworkError,
        httpx.RemoteProtocolError,
        httpx.ProxyError,
    ) as exc:
        raise unsure(
            f"{what}: connection failed ({_reason(exc, type(exc).__name__)})"
        ) from exc
    except httpx.HTTPError as exc:
        raise SyncError(f"{what}: {type(exc).__name__}") from exc


def _reason(exc: httpx.TransportError, default: str) -> str:
    # The operating system's words (``ConnectionRefusedError: Connection
    # refused``, ``gaierror: Name or service not known``), from the
    # innermost OS error (pools wrap it in their own): they name no URL.
    found: OSError | None = None
    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.strerror:
            found = cause
        cause = cause.__cause__ or cause.__context__
    if found is not None:
        return f"{type(found).__name__}: {found.strerror}"
    text = str(exc)
    if isinstance(exc, httpx.ConnectError) and text and "://" not in text:
        return text
    return default


def status_error(
    what: str,
    response: httpx.Response,
    *,
    statuses: frozenset[int] = RETRYABLE_STATUSES,
    write: bool = False,
    hint: Callable[[httpx.Response], timedelta | None] | None = None,
) -> RetryableError | None:
    """
    The error for an answer that means "try again later", else ``None``.

    Args:
        what: Names the request in the message.
        response: The answer.
        statuses: The statuses that are transient on this server.
        write: The request changed data: an `AMBIGUOUS_STATUSES` answer
            gives `MaybeApplied`.
        hint: Reads the wait from an answer without ``Retry-After`` (some
            platforms put it in the body).
    """
    status = response.status_code
    if status not in statuses:
        return None
    message = f"{what}: HTTP {status}"
    if write and status in AMBIGUOUS_STATUSES:
        return MaybeApplied(message)
    wait = retry_after(response)
    if wait is None and hint is not None:
        wait = hint(response)
    return RetryableError(message, retry_after=wait)


# -- retry policy ------------------------------------------------------------


@attrs.frozen
class RetryPolicy:
    """
    How often and how long to retry a `RetryableError` (never
    `MaybeApplied`, never anything else).

    Args:
        attempts: Tries, the first included.
        timeout: Seconds all attempts may take together; ``None``: no bound.
        wait_initial: First backoff in seconds.
        wait_max: Longest backoff in seconds.
        max_retry_after: Upper bound for a server's requested wait.

    ``stamina.set_testing`` switches the waits off in tests.
    """

    attempts: int = 5
    timeout: float | None = 300.0
    wait_initial: float = 0.2
    wait_max: float = 10.0
    max_retry_after: float = 60.0

    def backoff(self, exc: Exception) -> bool | float:
        """
        stamina's *on*: ``False`` (do not retry), ``True`` (retry with
        backoff) or the seconds the server asked for, clamped.
        """
        if not isinstance(exc, RetryableError) or isinstance(
            exc, MaybeApplied
        ):
            return False
        if exc.retry_after is None:
            return True
        return min(exc.retry_after.total_seconds(), self.max_retry_after)

    def attempts_of(self) -> AsyncIterator[stamina.Attempt]:
        """
        ``async for attempt in policy.attempts_of(): with attempt: ...``
        """
        return stamina.retry_context(
            on=self.backoff,
            attempts=self.attempts,
            timeout=self.timeout,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
        )

    async def call(self, func: Callable[[], Awaitable[T]]) -> T:
        """
        Await ``func()``, retrying as the policy says.
        """
        async for attempt in self.attempts_of():
            with attempt:
                return await func()
        raise AssertionError("unreachable")  # pragma: no cover


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
        joined = httpx.URL()
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
    status = None if response is None else response.status_code
    if failure is None and status is not None and status >= 400:
        failure = str(status)
    _instrument.guarded(
        "request",
        _instrument.current().request,
        method=request.method,
        scheme=request.url.scheme,
        host=request.url.host,
        port=request.url.port,
        status=status,
        error=failure,
        duration=time.monotonic() - started,
        sent=int(request.headers.get("content-length", 0)),
    )


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

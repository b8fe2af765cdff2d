"""
The HTTP layer platform adapters share.

`HttpClient` wraps one `httpx.AsyncClient` and adds what talking to a shop
over a long run needs:

- **retries** with stamina (capped, jittered exponential backoff) on
  `RetryableError`: 429 and 502/503/504 answers, connection resets and
  timeouts.  A ``Retry-After`` header (seconds or an HTTP date) replaces
  the backoff, clamped to *max_retry_after* so a hostile or buggy server
  cannot park a run for hours;
- a **deadline per attempt** with `anyio.fail_after`: httpx's timeouts
  are inactivity timeouts, so a server that drips one byte every few
  seconds never trips them;
- a **concurrency cap** per client (`anyio.CapacityLimiter`, default 16):
  httpx degrades sharply above about 20 concurrent requests on one
  client and core, so adapters that fan out stay under it;
- **error translation** at the boundary: httpx exceptions become
  `ecomsync.exceptions` with ``raise ... from exc``;
- an injectable *transport* (`httpx.ASGITransport` for in-process
  emulators, `httpx.MockTransport` for unit tests).

Statuses that are not retryable are returned to the caller, which knows
what a 400 or 401 means on its platform.  Nothing here knows about
credentials: adapters pass their ``Authorization`` header per request,
and no header value ever ends up in an exception message.

.. versionadded:: 26.1.0
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import attrs
import httpx
import stamina

from ..exceptions import RetryableError, SyncError


__all__ = [
    "RETRYABLE_STATUSES",
    "HttpClient",
    "parse_retry_after",
]

#: Answers that mean "try again later".
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


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


def _describe(request: httpx.Request) -> str:
    # Method and path only: query strings may carry credentials.
    return f"{request.method} {request.url.path}"


@attrs.define(repr=False)
class HttpClient:
    """
    A retrying, deadline-bound, concurrency-capped HTTP client.

    Args:
        base_url: Prefix of every request path.
        transport: Replace the network (``httpx.ASGITransport``,
            ``httpx.MockTransport``); ``None`` uses real sockets.
        concurrency: Requests in flight at once, at most.
        deadline: Seconds one attempt may take in total, body included.
        attempts: Tries per request, the first included.
        retry_timeout: Seconds all attempts of one request may take.
        max_retry_after: Upper bound in seconds for a server's
            ``Retry-After``.
        timeout: httpx's own (inactivity) timeouts.
        headers: Sent with every request.
        verify: TLS verification (on by default).
        retry_after_hint: Reads the wait from a retryable answer that
            has no ``Retry-After`` header (some platforms put it in the
            body).

    .. versionadded:: 26.1.0
    """

    base_url: str
    transport: httpx.AsyncBaseTransport | None = None
    concurrency: int = 16
    deadline: float = 60.0
    attempts: int = 5
    retry_timeout: float = 300.0
    max_retry_after: float = 60.0
    timeout: httpx.Timeout = attrs.field(
        factory=lambda: httpx.Timeout(30.0, connect=10.0)
    )
    headers: Mapping[str, str] = attrs.field(factory=dict)
    verify: bool = True
    retry_after_hint: Callable[[httpx.Response], timedelta | None] | None = (
        None
    )
    _client: httpx.AsyncClient = attrs.field(init=False)
    _limiter: anyio.CapacityLimiter | None = attrs.field(
        init=False, default=None
    )

    def __attrs_post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        kwargs: dict[str, Any] = {}
        if self.transport is not None:
            kwargs["transport"] = self.transport
        else:
            kwargs["verify"] = self.verify
            kwargs["limits"] = httpx.Limits(
                max_connections=self.concurrency,
                max_keepalive_connections=self.concurrency,
            )
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=self.timeout,
            headers=dict(self.headers),
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"<HttpClient {self.base_url!r} cap={self.concurrency}>"

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        """
        The concurrency cap (created lazily: it needs an event loop).
        """
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.concurrency)
        return self._limiter

    def _backoff(self, exc: Exception) -> bool | float:
        if not isinstance(exc, RetryableError):
            return False
        if exc.retry_after is None:
            return True
        return min(exc.retry_after.total_seconds(), self.max_retry_after)

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
        if not retry:
            return await self._attempt(
                method,
                url,
                json=json,
                content=content,
                params=params,
                headers=headers,
                deadline=deadline,
            )
        async for attempt in stamina.retry_context(
            on=self._backoff,
            attempts=self.attempts,
            timeout=self.retry_timeout,
            wait_initial=0.2,
            wait_max=10.0,
        ):
            with attempt:
                return await self._attempt(
                    method,
                    url,
                    json=json,
                    content=content,
                    params=params,
                    headers=headers,
                    deadline=deadline,
                )
        raise AssertionError("unreachable")  # pragma: no cover

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
        request = self._client.build_request(
            method,
            url,
            json=json,
            content=content,
            params=params,
            headers=headers,
        )
        what = _describe(request)
        limit = self.deadline if deadline is None else deadline
        async with self.limiter:
            try:
                with anyio.fail_after(limit):
                    response = await self._client.send(request)
                    await response.aread()
            except TimeoutError as exc:
                raise RetryableError(
                    f"{what}: no complete answer within {limit:g} s"
                ) from exc
            except httpx.TimeoutException as exc:
                raise RetryableError(f"{what}: timed out ({exc})") from exc
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                raise RetryableError(
                    f"{what}: connection failed ({type(exc).__name__})"
                ) from exc
            except httpx.HTTPError as exc:
                raise SyncError(
                    f"{what}: {type(exc).__name__}: {exc}"
                ) from exc
        if response.status_code in RETRYABLE_STATUSES:
            wait = parse_retry_after(response.headers.get("retry-after"))
            if wait is None and self.retry_after_hint is not None:
                wait = self.retry_after_hint(response)
            raise RetryableError(
                f"{what}: HTTP {response.status_code}", retry_after=wait
            )
        return response

    async def aclose(self) -> None:
        """
        Close the connections.
        """
        await self._client.aclose()

"""
What the one HTTP layer (`_http`) makes of failures: httpx's exceptions and
"try again later" answers translated into the error tree, the
``Retry-After`` header in both forms, and the one retry policy.  Pure
functions and a policy object; `_http` re-exports every name, so callers
import them from there.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TypeVar

import anyio
import attrs
import httpx
import stamina

from .exceptions import RetryableError, SyncError


__all__ = [
    "AMBIGUOUS_STATUSES",
    "RETRYABLE_STATUSES",
    "MaybeApplied",
    "RetryPolicy",
    "describe",
    "parse_retry_after",
    "retry_after",
    "status_error",
    "transport_errors",
]

T = TypeVar("T")


#: Answers that mean "try again later".
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

#: Answers after which a write may already have been applied.
AMBIGUOUS_STATUSES = frozenset({500, 502, 504})


class MaybeApplied(RetryableError):
    """
    Transient, but the request may have been applied (a write whose
    connection broke after sending, or a 500/502/504, or a 503 without
    ``Retry-After``, to a write).

    `RetryPolicy` does not repeat it on its own: only the caller knows
    whether the write landed (``RetryPolicy.call(confirm=...)`` looks
    before each repeat).
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


def transport_errors(
    what: str | httpx.Request,
    *,
    deadline: float | None = None,
    write: bool = False,
) -> AbstractContextManager[None]:
    """
    Bound the block by *deadline* seconds and translate transport failures.

    Args:
        what: Names the request in messages (``"POST /api/_action/sync"``,
            ``"Tryton model.product.search"``); must not contain secrets.
            A request is named by `describe`, only if a message needs it.
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
    return _Translating(what, deadline, write)


class _Translating:
    """
    `transport_errors`: a cancel scope with the deadline (what
    ``anyio.fail_after`` makes, without its two generator-based context
    managers: about a tenth of a request's client CPU in the HTTP layer)
    and the translation of what leaves the block.  Not *armed*: the
    block keeps the deadline by itself (`ecomsync._http_aiohttp`'s pool)
    and raises a bare `TimeoutError` when it ran out; no cancel scope.
    """

    __slots__ = ("_armed", "_deadline", "_scope", "_what", "_write")

    def __init__(
        self,
        what: str | httpx.Request,
        deadline: float | None,
        write: bool,
        *,
        armed: bool = True,
    ) -> None:
        self._what = what
        self._deadline = deadline
        self._write = write
        self._armed = armed
        self._scope: anyio.CancelScope | None = None

    def __enter__(self) -> None:
        if self._deadline is not None and self._armed:
            scope = anyio.CancelScope(
                deadline=anyio.current_time() + self._deadline
            )
            scope.__enter__()
            self._scope = scope

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        scope, self._scope = self._scope, None
        swallowed = False
        if scope is not None:
            swallowed = bool(scope.__exit__(exc_type, exc, tb))
            if (
                scope.cancelled_caught
                and anyio.current_time() >= scope.deadline
            ):
                # anyio.fail_after's condition and exception.
                exc, swallowed = TimeoutError(), False
        if isinstance(exc, Exception):
            what = self._what
            if not isinstance(what, str):
                what = describe(what)
            _translate(exc, what, self._deadline, self._write)
        return swallowed


def _translate(
    exc: Exception, what: str, deadline: float | None, write: bool
) -> None:
    # Raises the error tree's exception for *exc*; returns for anything
    # that is not a transport failure, which then propagates as it is.
    unsure = MaybeApplied if write else RetryableError
    if isinstance(exc, TimeoutError):
        raise unsure(_late(what, deadline)) from exc
    if isinstance(exc, httpx.ConnectError):
        raise RetryableError(
            f"{what}: cannot connect ({_reason(exc, type(exc).__name__)})"
        ) from exc
    if isinstance(exc, httpx.PoolTimeout):
        # waited for a connection of the pool: nothing was sent
        raise RetryableError(
            f"{what}: no free connection (timed out)"
        ) from exc
    if isinstance(exc, httpx.ConnectTimeout):
        raise RetryableError(
            f"{what}: cannot connect ({_reason(exc, 'timed out')})"
        ) from exc
    if isinstance(exc, httpx.TimeoutException):
        raise unsure(f"{what}: timed out ({type(exc).__name__})") from exc
    if isinstance(
        exc, (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError)
    ):
        raise unsure(
            f"{what}: connection failed ({_reason(exc, type(exc).__name__)})"
        ) from exc
    if isinstance(exc, httpx.HTTPError):
        raise SyncError(f"{what}: {type(exc).__name__}") from exc


def _late(what: str, deadline: float | None) -> str:
    if deadline is None:
        return f"{what}: timed out (TimeoutError)"
    return f"{what}: no complete answer within {deadline:g} s"


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
        write: The request changed data: an `AMBIGUOUS_STATUSES` answer,
            or a 503 without ``Retry-After``, gives `MaybeApplied`.
        hint: Reads the wait from an answer without ``Retry-After`` (some
            platforms put it in the body).
    """
    status = response.status_code
    if status not in statuses:
        return None
    message = f"{what}: HTTP {status}"
    wait = retry_after(response)
    if write and (
        status in AMBIGUOUS_STATUSES or (status == 503 and wait is None)
    ):
        # A bare 503 is what proxies answer after the origin got the
        # request (Varnish first_byte_timeout, Envoy reset, Heroku H12);
        # with Retry-After it is the server refusing to take it now.
        return MaybeApplied(message)
    if wait is None and hint is not None:
        wait = hint(response)
    return RetryableError(message, retry_after=wait)


# -- retry policy ------------------------------------------------------------


@attrs.frozen
class RetryPolicy:
    """
    How often and how long to retry a `RetryableError` (a `MaybeApplied`
    only where the caller looked and found the write not landed: see
    `call`; never anything else).

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
        return self._attempts(self.timeout, self.backoff)

    def _confirming(self, exc: Exception) -> bool | float:
        # `backoff` for a write whose caller can look whether it landed:
        # a `MaybeApplied` is retried too (after the look).
        if isinstance(exc, MaybeApplied):
            return True
        return self.backoff(exc)

    def _attempts(
        self, timeout: float | None, on: Callable[[Exception], bool | float]
    ) -> AsyncIterator[stamina.Attempt]:
        return stamina.retry_context(
            on=on,
            attempts=self.attempts,
            timeout=timeout,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
        )

    async def call(
        self,
        func: Callable[[], Awaitable[T]],
        *,
        confirm: Callable[[], Awaitable[T | None]] | None = None,
    ) -> T:
        """
        Await ``func()``, retrying as the policy says.

        Args:
            func: One attempt.  A write that is not idempotent raises
                `MaybeApplied` where it may have landed (an
                `HttpClient.request` with ``idempotent=False`` does).
            confirm: Looks whether a write that raised `MaybeApplied`
                landed, before it is sent again: its answer (found: the
                write is not sent again) or ``None`` (not there: send it
                again).  Without *confirm* a `MaybeApplied` is not
                retried; with it, only after ``confirm()`` found nothing.

        The first attempt runs outside stamina's retry loop (entering it
        costs about a tenth of a request's client CPU); after a failure
        the policy retries, the loop is entered and handed that failure
        as its first attempt, so attempts, backoff, ``Retry-After``,
        ``timeout`` (less the time the first attempt took) and stamina's
        testing mode and retry hooks are exactly those of the loop alone.
        """
        on = self.backoff if confirm is None else self._confirming
        started = time.monotonic()
        try:
            return await func()
        except Exception as exc:
            if on(exc) is False:
                raise
            first: Exception | None = exc
        # Whether the last attempt may have landed: look before sending.
        unsure = isinstance(first, MaybeApplied)
        timeout = self.timeout
        if timeout is not None:
            # A positive rest: 0 would mean "no retries" with a warning.
            timeout = max(timeout - (time.monotonic() - started), 1e-9)
        async for attempt in self._attempts(timeout, on):
            with attempt:
                if first is not None:
                    failed, first = first, None
                    raise failed
                if unsure and confirm is not None:
                    found = await confirm()  # a failed look: look again
                    if found is not None:
                        return found
                    unsure = False
                try:
                    return await func()
                except MaybeApplied:
                    unsure = True
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

"""
The GraphQL transport of the Vendure adapter: auth, retries, deadlines
and the translation of Vendure's errors into ecomsync's.

Nothing here knows about records; `_catalog`, `_orders` and the other writers
speak GraphQL through `GraphQL.request`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import anyio
import attrs
import httpx
import stamina

from ...exceptions import (
    AuthenticationError,
    ConfigurationError,
    RetryableError,
    SyncError,
)


JSON = dict[str, Any]

_LOGIN = """
mutation Login($u: String!, $p: String!) {
  login(username: $u, password: $p, rememberMe: true) {
    __typename
    ... on CurrentUser { id }
    ... on ErrorResult { errorCode message }
  }
}"""

_RETRY_STATUS = frozenset({429, 502, 503, 504})
#: Statuses after which a mutation may already have been applied.
_AMBIGUOUS_STATUS = frozenset({500, 502, 504})


class GraphQLFailure(SyncError):
    """
    Vendure answered, but with GraphQL errors for the whole document.

    Attributes:
        errors: The ``errors`` list of the response.
    """

    def __init__(self, errors: list[JSON]) -> None:
        self.errors = errors
        super().__init__("; ".join(error_message(e) for e in errors))


def error_message(error: Mapping[str, Any]) -> str:
    """
    A GraphQL error as one line: message and code, no variables.
    """
    message = str(error.get("message", "unknown error"))
    code = (error.get("extensions") or {}).get("code")
    return f"{message} ({code})" if code else message


def _retry_after(response: httpx.Response) -> timedelta | None:
    value = response.headers.get("retry-after", "")
    try:
        return timedelta(seconds=float(value))
    except ValueError:
        return None


class RetryableNotHere(RetryableError):
    """
    Transient, but a mutation may have been applied: not retried inside
    the adapter (the next push looks records up again before writing).
    """


def _wait_for(exc: Exception) -> bool | float:
    """
    stamina's *on*: retry transient errors, honouring ``Retry-After``.
    """
    if not isinstance(exc, RetryableError) or isinstance(
        exc, RetryableNotHere
    ):
        return False
    if exc.retry_after is not None:
        return min(exc.retry_after.total_seconds(), 30.0)
    return True


@attrs.define(repr=False)
class GraphQL:
    """
    One Vendure Admin API endpoint with its credentials.

    Exactly one of *api_key* and *username*/*password* is used; the
    API key wins.  Credentials never leave this object except as request
    headers.
    """

    url: str
    client: httpx.AsyncClient
    api_key: str | None = attrs.field(default=None, repr=False)
    username: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)
    channel_token: str | None = attrs.field(default=None, repr=False)
    deadline: float = 60.0
    attempts: int = 4
    limiter: anyio.CapacityLimiter = attrs.field(
        factory=lambda: anyio.CapacityLimiter(8)
    )
    _token: str | None = attrs.field(default=None, init=False, repr=False)
    _login_lock: anyio.Lock = attrs.field(factory=anyio.Lock, init=False)

    def __repr__(self) -> str:
        how = "api-key" if self.api_key else "login"
        return f"<Vendure GraphQL {self.url} auth={how}>"

    # -- public ---------------------------------------------------------

    async def request(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        mutation: bool = False,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> tuple[JSON, list[JSON]]:
        """
        Send one GraphQL document; return ``(data, errors)``.

        Transient failures are retried (a mutation only where it cannot
        have been applied); a response with errors but no data raises
        `GraphQLFailure`; refused credentials raise
        `AuthenticationError`.
        """
        if not self.api_key:
            await self._ensure_login()
        async for attempt in stamina.retry_context(
            on=_wait_for, attempts=self.attempts, timeout=None
        ):
            with attempt:
                body = await self._send(query, variables, mutation, files)
        data = body.get("data") or {}
        errors: list[JSON] = list(body.get("errors") or [])
        if errors and self._forbidden(errors) and not data:
            if self.api_key:
                raise AuthenticationError(
                    "Vendure refused the API key (FORBIDDEN): is it valid "
                    "and does its role have the permissions listed in "
                    "docs/vendure.md?"
                )
            # the session may have expired: log in again, once
            self._token = None
            await self._ensure_login()
            body = await self._send(query, variables, mutation, files)
            data = body.get("data") or {}
            errors = list(body.get("errors") or [])
            if errors and self._forbidden(errors) and not data:
                raise AuthenticationError(
                    "Vendure refused the request (FORBIDDEN) for the "
                    "logged-in administrator: missing permissions"
                )
        if errors and not any(v is not None for v in data.values()):
            raise GraphQLFailure(errors)
        return data, errors

    async def query(
        self, query: str, variables: Mapping[str, Any] | None = None
    ) -> JSON:
        """
        A read: the data, or `GraphQLFailure` on any error.
        """
        data, errors = await self.request(query, variables)
        if errors:
            raise GraphQLFailure(errors)
        return data

    # -- internals ------------------------------------------------------

    @staticmethod
    def _forbidden(errors: list[JSON]) -> bool:
        return any(
            (e.get("extensions") or {}).get("code") == "FORBIDDEN"
            for e in errors
        )

    def _headers(self) -> dict[str, str]:
        headers = {"Apollo-Require-Preflight": "true"}
        if self.api_key:
            headers["vendure-api-key"] = self.api_key
        elif self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if self.channel_token:
            headers["vendure-token"] = self.channel_token
        return headers

    async def _ensure_login(self) -> None:
        if self._token:
            return
        async with self._login_lock:
            if self._token:
                return
            if not self.username or not self.password:
                raise ConfigurationError(
                    "Vendure needs an api_key or a username and password"
                )
            body = await self._send(
                _LOGIN,
                {"u": self.username, "p": self.password},
                mutation=True,
                files=None,
                authenticated=False,
            )
            result = (body.get("data") or {}).get("login") or {}
            if result.get("__typename") != "CurrentUser":
                raise AuthenticationError(
                    "Vendure refused the login: "
                    f"{result.get('errorCode') or 'no result'}"
                )
            if not self._token:
                raise ConfigurationError(
                    "Vendure sent no vendure-auth-token header: enable "
                    "the 'bearer' token method (authOptions.tokenMethod)"
                )

    async def _send(
        self,
        query: str,
        variables: Mapping[str, Any] | None,
        mutation: bool,
        files: Mapping[str, tuple[str, bytes, str]] | None,
        *,
        authenticated: bool = True,
    ) -> JSON:
        payload = {"query": query, "variables": dict(variables or {})}
        headers = self._headers() if authenticated else {}
        try:
            async with self.limiter:
                with anyio.fail_after(self.deadline):
                    if files:
                        mapping = {
                            str(i): [path] for i, path in enumerate(files)
                        }
                        parts = {
                            str(i): spec
                            for i, spec in enumerate(files.values())
                        }
                        response = await self.client.post(
                            self.url,
                            data={
                                "operations": json.dumps(payload),
                                "map": json.dumps(mapping),
                            },
                            files=parts,
                            headers=headers,
                        )
                    else:
                        response = await self.client.post(
                            self.url, json=payload, headers=headers
                        )
        except TimeoutError as exc:
            if mutation:
                # it may have been applied: the caller looks up again
                raise RetryableNotHere(
                    f"Vendure did not answer within {self.deadline:.0f} s"
                ) from exc
            raise RetryableError(
                f"Vendure did not answer within {self.deadline:.0f} s"
            ) from exc
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise RetryableError(
                f"cannot connect to Vendure: {type(exc).__name__}"
            ) from exc
        except httpx.TransportError as exc:
            message = f"Vendure connection failed: {type(exc).__name__}"
            if mutation:
                raise RetryableNotHere(message) from exc
            raise RetryableError(message) from exc
        finally:
            # cookies would take precedence over the bearer token
            self.client.cookies.clear()
        return self._decode(response, mutation)

    def _decode(self, response: httpx.Response, mutation: bool) -> JSON:
        token = response.headers.get("vendure-auth-token")
        if token and not self.api_key:
            self._token = token
        status = response.status_code
        if status in (401, 403):
            raise AuthenticationError(
                f"Vendure refused the credentials (HTTP {status})"
            )
        if status in _RETRY_STATUS or status >= 500:
            message = f"Vendure answered HTTP {status}"
            if mutation and status in _AMBIGUOUS_STATUS:
                raise RetryableNotHere(message, retry_after=None)
            raise RetryableError(message, retry_after=_retry_after(response))
        try:
            body = response.json()
        except ValueError as exc:
            raise SyncError(
                f"Vendure answered HTTP {status} without JSON"
            ) from exc
        if not isinstance(body, dict):
            raise SyncError(f"Vendure answered HTTP {status}: not an object")
        if status != 200 and not body.get("errors"):
            raise SyncError(f"Vendure answered HTTP {status}")
        return body

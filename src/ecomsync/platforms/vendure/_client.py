"""
The GraphQL transport of the Vendure adapter: auth, and the translation
of Vendure's answers into ecomsync's errors.  Deadlines, the transport
error map, ``Retry-After`` and the retry policy are the shared ones of
`ecomsync._http`.

Nothing here knows about records; `_catalog`, `_orders` and the other writers
speak GraphQL through `GraphQL.request`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import attrs
import httpx

from ..._http import (
    RETRYABLE_STATUSES,
    RetryPolicy,
    status_error,
    transport_errors,
)
from ...exceptions import (
    AuthenticationError,
    ConfigurationError,
    ResourceClosed,
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

#: Answers worth another try: the shared ones and every 5xx (a 500, a
#: 502/504 or a bare 503 to a mutation becomes `MaybeApplied`, repeated
#: only after the writer looked and did not find its effect).
_RETRY_STATUS = RETRYABLE_STATUSES | frozenset(range(500, 600))


class GraphQLFailure(SyncError):
    """
    Vendure answered, but with GraphQL errors for the whole document.

    Attributes:
        errors: The ``errors`` list of the response.
    """

    def __init__(self, errors: list[JSON]) -> None:
        self.errors = errors
        super().__init__("; ".join(error_message(e) for e in errors))


#: Vendure's answer to a list ``take`` above its ``adminListQueryLimit``
#: (ListQueryBuilder.parseTakeSkipParams throws
#: ``error.list-query-limit-exceeded``; i18n/messages/en.json).
_TAKE_REFUSED = "Cannot take more than "


def error_message(error: Mapping[str, Any]) -> str:
    """
    A GraphQL error as one line: message and code, no variables; a list
    refused for its size names the server setting to change.
    """
    message = str(error.get("message", "unknown error"))
    code = (error.get("extensions") or {}).get("code")
    line = f"{message} ({code})" if code else message
    if message.startswith(_TAKE_REFUSED):
        # Every list ecomsync reads asks 1,000 rows a page (Vendure's
        # default limit): one refused means every one is.
        line += (
            ": the server's apiOptions.adminListQueryLimit is below the "
            "1,000 rows ecomsync reads a page; set it to 1000 or more "
            "(Vendure's default)"
        )
    return line


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
    policy: RetryPolicy = attrs.field(
        factory=lambda: RetryPolicy(
            attempts=4, timeout=None, max_retry_after=30.0
        )
    )
    limiter: anyio.CapacityLimiter = attrs.field(
        factory=lambda: anyio.CapacityLimiter(8)
    )
    #: Requests sent (each attempt, logins too), for the adapter's
    #: ``requests_sent``.
    sent: int = attrs.field(default=0, init=False)
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
        retry: bool = True,
        channel: str | None = None,
        idempotent: bool = False,
        confirm: Callable[[], Awaitable[JSON | None]] | None = None,
    ) -> tuple[JSON, list[JSON]]:
        """
        Send one GraphQL document; return ``(data, errors)``; in the
        channel with the token *channel* instead of the adapter's.

        Transient failures are retried (nothing without *retry*): a
        mutation that may have been applied (`MaybeApplied`) only if it
        is *idempotent* (it sets absolute values: sending it twice leaves
        what sending it once does) or after *confirm* looked for its
        effect and found nothing (if found, *confirm* answers the ``data``
        the mutation would have, and it is not sent again); a response with
        errors but no data raises
        `GraphQLFailure`; refused credentials raise
        `AuthenticationError`; after the adapter's ``aclose()``,
        `ResourceClosed`.
        """
        if self.client.is_closed:
            raise ResourceClosed(
                f"the Vendure adapter for {self.url} is closed (aclose() "
                "was called, or its `async with` block ended)"
            )
        if not self.api_key:
            await self._ensure_login()
        unsure = mutation and not idempotent

        async def send() -> JSON:
            return await self._send(
                query, variables, unsure, files, channel=channel
            )

        async def look() -> JSON | None:
            assert confirm is not None
            data = await confirm()
            return None if data is None else {"data": data}

        if retry:
            body = await self.policy.call(
                send, confirm=None if confirm is None else look
            )
        else:
            body = await send()
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
            body = await send()
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
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        retry: bool = True,
        channel: str | None = None,
    ) -> JSON:
        """
        A read: the data, or `GraphQLFailure` on any error.
        """
        data, errors = await self.request(
            query, variables, retry=retry, channel=channel
        )
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

    def _headers(self, channel: str | None = None) -> dict[str, str]:
        headers = {"Apollo-Require-Preflight": "true"}
        if self.api_key:
            headers["vendure-api-key"] = self.api_key
        elif self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if channel or self.channel_token:
            headers["vendure-token"] = channel or self.channel_token or ""
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
            # A login only opens a session: repeating it is safe, also
            # where the answer was lost (a bare 503 from a proxy).
            body = await self.policy.call(
                lambda: self._send(
                    _LOGIN,
                    {"u": self.username, "p": self.password},
                    mutation=False,
                    files=None,
                    authenticated=False,
                )
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
        channel: str | None = None,
    ) -> JSON:
        payload = {"query": query, "variables": dict(variables or {})}
        headers = self._headers(channel) if authenticated else {}
        try:
            async with self.limiter:
                self.sent += 1
                with transport_errors(
                    "Vendure", deadline=self.deadline, write=mutation
                ):
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
        error = status_error(
            "Vendure", response, statuses=_RETRY_STATUS, write=mutation
        )
        if error is not None:
            raise error
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

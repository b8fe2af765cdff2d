"""
Talking to the Shopware 6 Admin API: OAuth tokens, errors, Sync and search.

Private: `ecomsync.platforms.shopware6.Shopware6` is the public face.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import anyio
import attrs
import httpx

from ..._http import HttpClient, log_extra
from ..._urls import public_url
from ...exceptions import AuthenticationError, SyncError
from .._answers import field_of, odd_answer, require_json, rows_of


log = logging.getLogger("ecomsync.platforms.shopware6")

#: Shopware's maximum page size (``shopware.api.max_limit``).
MAX_LIMIT = 500

#: Refresh a token this long before Shopware says it expires.
_TOKEN_MARGIN = 30.0


@attrs.frozen
class ApiProblem:
    """
    One entry of Shopware's ``errors`` list.
    """

    status: str
    code: str
    detail: str
    pointer: str | None = None
    #: ``meta.parameters``: the values Shopware put into its message.
    parameters: dict[str, Any] = attrs.field(factory=dict, eq=False)


class ShopwareApiError(SyncError):
    """
    Shopware answered a request with a 4xx/5xx that is not about auth.
    """

    def __init__(
        self, what: str, status: int, problems: Sequence[ApiProblem]
    ) -> None:
        self.status = status
        self.problems = tuple(problems)
        details = "; ".join(
            f"{p.code}: {p.detail}" if p.code else p.detail
            for p in self.problems
        )
        super().__init__(f"{what}: HTTP {status}: {details or 'no detail'}")

    def has_code(self, code: str) -> bool:
        return any(p.code == code for p in self.problems)


def problems_of(response: httpx.Response) -> list[ApiProblem]:
    """
    Shopware's ``{"errors": [...]}`` body as `ApiProblem` s.
    """
    try:
        body = response.json()
    except ValueError:
        return [
            ApiProblem(
                status=str(response.status_code),
                code="",
                detail=response.text[:500],
            )
        ]
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return [ApiProblem(str(response.status_code), "", str(body)[:500])]
    found = []
    for error in errors:
        if not isinstance(error, dict):
            continue
        source = error.get("source")
        pointer = source.get("pointer") if isinstance(source, dict) else None
        meta = error.get("meta")
        params = meta.get("parameters") if isinstance(meta, dict) else None
        found.append(
            ApiProblem(
                status=str(error.get("status", response.status_code)),
                code=str(error.get("code") or ""),
                detail=str(error.get("detail") or error.get("title") or ""),
                pointer=pointer if isinstance(pointer, str) else None,
                parameters=params if isinstance(params, dict) else {},
            )
        )
    return found


def _throttle_hint(response: httpx.Response) -> timedelta | None:
    # FRAMEWORK__AUTH_THROTTLED carries the wait in meta.parameters.seconds
    # and sets no Retry-After header.
    for problem in _raw_errors(response):
        meta = problem.get("meta")
        params = meta.get("parameters") if isinstance(meta, dict) else None
        if isinstance(params, dict) and "seconds" in params:
            try:
                return timedelta(seconds=float(params["seconds"]))
            except (TypeError, ValueError):
                return None
    return None


def _raw_errors(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    return [e for e in errors if isinstance(e, dict)]


def _privileges(detail: str) -> str:
    """
    Shopware's missing-privilege detail, a JSON text such as
    ``{"message":"Missing privilege","missingPrivileges":["product:read"]}``,
    as words; any other detail as it is.
    """
    try:
        data = json.loads(detail)
    except ValueError:
        return detail
    missing = data.get("missingPrivileges") if isinstance(data, dict) else None
    if not isinstance(missing, list) or not missing:
        return detail
    names = ", ".join(str(m) for m in missing)
    return f"missing privilege {names}"


def url_entity(entity: str) -> str:
    """
    The URL spelling of an entity name: ``order_delivery`` →
    ``order-delivery``.
    """
    return entity.replace("_", "-")


@attrs.define(repr=False)
class AdminApi:
    """
    An authenticated Admin API client.
    """

    url: str
    client_id: str
    client_secret: str = attrs.field(repr=False)
    http: HttpClient
    _token: str | None = attrs.field(init=False, default=None)
    _expires: float = attrs.field(init=False, default=0.0)
    _lock: anyio.Lock | None = attrs.field(init=False, default=None)

    @classmethod
    def create(
        cls,
        url: str,
        client_id: str,
        client_secret: str,
        *,
        concurrency: int,
        request_deadline: float,
        transport: httpx.AsyncBaseTransport | None,
        pool: str = "auto",
    ) -> AdminApi:
        http = HttpClient(
            base_url=url.rstrip("/"),
            transport=transport,
            concurrency=concurrency,
            deadline=request_deadline,
            headers={"Accept": "application/json"},
            retry_after_hint=_throttle_hint,
            pool=pool,
        )
        return cls(url, client_id, client_secret, http)

    def __repr__(self) -> str:
        url = public_url(self.url)
        return f"<AdminApi {url!r} client_id={self.client_id!r}>"

    # -- auth ---------------------------------------------------------

    async def token(self, *, stale: str | None = None) -> str:
        """
        A valid access token: fetched when there is none, when it is about
        to expire, or when *stale* (a token Shopware refused) is current.
        """
        if self._fresh(stale):
            assert self._token is not None
            return self._token  # no lock for the common case
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if not self._fresh(stale):
                await self._fetch_token()
            assert self._token is not None
            return self._token

    def _fresh(self, stale: str | None) -> bool:
        return (
            self._token is not None
            and self._token != stale
            and time.monotonic() < self._expires
        )

    async def _fetch_token(self) -> None:
        response = await self.http.request(
            "POST",
            "/api/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
            idempotent=True,  # one more token
        )
        if response.status_code in (400, 401, 403):
            reasons = "; ".join(
                p.detail for p in problems_of(response) if p.detail
            )
            # The secret is never part of the message, only the key id.
            raise AuthenticationError(
                f"Shopware at {public_url(self.url)} refused the integration "
                f"credentials (access key id {self.client_id!r}): "
                f"HTTP {response.status_code}"
                + (f": {reasons}" if reasons else "")
            )
        if response.status_code >= 400:
            raise ShopwareApiError(
                "POST /api/oauth/token",
                response.status_code,
                problems_of(response),
            )
        require_json("Shopware", "POST /api/oauth/token", response)
        body = response.json()
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthenticationError(
                f"Shopware at {public_url(self.url)} returned no access token"
            )
        ttl = float(body.get("expires_in") or 600)
        margin = min(_TOKEN_MARGIN, ttl / 10)
        self._token = token
        self._expires = time.monotonic() + ttl - margin
        log.debug(
            "fetched a Shopware access token valid for %g s",
            ttl,
            extra=log_extra(),
        )

    # -- requests -----------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """
        One authenticated request; 4xx/5xx become exceptions.

        A 401 with code ``9`` (token expired or revoked) fetches a new
        token and tries once more.  *idempotent* as `HttpClient.request`
        takes it: a POST or PATCH is not, unless the caller says so.
        """
        stale: str | None = None
        for _ in range(2):
            token = await self.token(stale=stale)
            response = await self.http.request(
                method,
                path,
                json=json,
                content=content,
                params=params,
                headers={
                    **(headers or {}),
                    "Authorization": f"Bearer {token}",
                },
                idempotent=idempotent,
            )
            if (
                response.status_code == 401
                and stale is None
                and any(p.code == "9" for p in problems_of(response))
            ):
                log.debug(
                    "Shopware refused the access token; refreshing",
                    extra=log_extra(),
                )
                stale = token
                continue
            break
        what = f"{method} {path}"
        if response.status_code == 401:
            raise AuthenticationError(
                f"Shopware at {public_url(self.url)} refused the access "
                f"token for {what} even after a refresh"
            )
        if response.status_code == 403:
            details = "; ".join(
                _privileges(p.detail) for p in problems_of(response)
            )
            raise AuthenticationError(
                f"the Shopware integration lacks a privilege for {what}: "
                f"{details}"
            )
        if response.status_code >= 400:
            raise ShopwareApiError(
                what, response.status_code, problems_of(response)
            )
        require_json("Shopware", what, response)
        return response

    async def sync(
        self, operations: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """
        One Sync API request: every operation in one transaction.

        *operations* carry a ``key``; empty payloads are dropped.
        """
        body = {
            op["key"]: {k: v for k, v in op.items() if k != "key"}
            for op in operations
            if op.get("payload") or op.get("criteria")
        }
        if not body:
            return {}
        # upserts and deletes by the ids ecomsync chose
        response = await self.call(
            "POST", "/api/_action/sync", json=body, idempotent=True
        )
        if not response.content:
            return {}
        data = response.json()
        return data if isinstance(data, dict) else {}

    async def search(
        self, entity: str, criteria: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """
        One page of ``POST /api/search/{entity}``.
        """
        rows, _ = await self.listing(entity, criteria)
        return rows

    async def listing(
        self, entity: str, criteria: Mapping[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """
        One page of ``POST /api/search/{entity}`` with its
        ``aggregations`` (by name; empty without any).
        """
        path = f"/api/search/{url_entity(entity)}"
        response = await self.call(
            "POST", path, json=criteria, idempotent=True
        )
        what = f"POST {path}"
        body = response.json()
        if not isinstance(body, dict):
            raise odd_answer("Shopware", what, "not an object")
        rows = rows_of(
            "Shopware", what, field_of("Shopware", what, body, "data", list)
        )
        # Rows have every field unless the criteria include only some.
        included = (criteria.get("includes") or {}).get(entity)
        if included is None or "id" in included:
            for i, row in enumerate(rows):
                field_of("Shopware", what, row, "id", str, where=f"data.{i}")
        aggregations = body.get("aggregations")
        return (
            rows,
            aggregations if isinstance(aggregations, dict) else {},
        )

    async def aclose(self) -> None:
        await self.http.aclose()

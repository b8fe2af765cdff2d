"""
Tryton's JSON-RPC over httpx: typed values, session login, error mapping.

Everything Tryton-specific about the wire lives here; `_tryton_session`
speaks in models and domains.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import httpx

from .._http import retry_after, transport_errors
from .._urls import public_url
from ..exceptions import (
    AuthenticationError,
    RetryableError,
    SyncError,
)


class TrytonError(SyncError):
    """
    Tryton refused a call: a user error (validation, access, constraint),
    a warning that needs acknowledging, or a server-side exception.

    The message is Tryton's own (its message and description), prefixed by
    the method that was called.

    Attributes:
        kind: ``"UserError"``, ``"UserWarning"`` or ``"ServerError"``
            (an unexpected exception on the server), or ``"HTTP <code>"``.
        message: Tryton's message.
        description: Tryton's longer description, may be empty.
        warning: The warning's name (``kind == "UserWarning"``): what has
            to be acknowledged to get past it.
        method: The RPC method that failed.

    .. versionadded:: 26.1.0
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        description: str = "",
        warning: str | None = None,
        method: str = "",
    ) -> None:
        self.kind = kind
        self.message = message
        self.description = description
        self.warning = warning
        self.method = method
        text = message
        if description and description not in message:
            text = f"{message} ({description})"
        label = "Tryton warning" if kind == "UserWarning" else "Tryton"
        super().__init__(
            f"{label}: {text}" + (f" [{method}]" if method else "")
        )

    @property
    def text(self) -> str:
        """
        Tryton's message with its description, without the method.
        """
        if self.description and self.description not in self.message:
            return f"{self.message} ({self.description})"
        return self.message


# -- Tryton's JSON flavour: Decimal/date/datetime/bytes as tagged dicts ----


def _encode(value: object) -> object:
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # Tryton works in naive UTC
            value = value.astimezone(UTC).replace(tzinfo=None)
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, date):
        return {
            "__class__": "date",
            "year": value.year,
            "month": value.month,
            "day": value.day,
        }
    if isinstance(value, bytes | bytearray):
        return {
            "__class__": "bytes",
            "base64": base64.b64encode(value).decode(),
        }
    if isinstance(value, tuple | frozenset | set):
        return list(value)
    raise TypeError(f"cannot send {type(value).__name__} to Tryton")


def _decode(data: dict[str, Any]) -> Any:
    kind = data.get("__class__")
    if kind == "Decimal":
        return Decimal(data["decimal"])
    if kind == "datetime":  # naive UTC on the wire; aware UTC here
        return datetime(
            data["year"],
            data["month"],
            data["day"],
            data.get("hour", 0),
            data.get("minute", 0),
            data.get("second", 0),
            data.get("microsecond", 0),
            tzinfo=UTC,
        )
    if kind == "date":
        return date(data["year"], data["month"], data["day"])
    if kind == "bytes":
        return base64.b64decode(data["base64"])
    if kind == "timedelta":
        return timedelta(seconds=data["seconds"])
    return data


def dumps(value: object) -> str:
    return json.dumps(value, default=_encode)


def loads(text: str) -> Any:
    return json.loads(text, object_hook=_decode)


def error_from_payload(method: str, error: Any) -> SyncError:
    """
    The ecomsync error for a JSON-RPC ``error`` member.
    """
    if (
        isinstance(error, list)
        and len(error) == 2
        and isinstance(error[0], str)
        and isinstance(error[1], list | str)
    ):
        kind, args = error
        if kind == "UserError" and isinstance(args, list) and args:
            return TrytonError(
                "UserError",
                str(args[0]),
                description=str(args[1] or "") if len(args) > 1 else "",
                method=method,
            )
        if kind == "UserWarning" and isinstance(args, list) and len(args) > 1:
            return TrytonError(
                "UserWarning",
                str(args[1]),
                description=str(args[2] or "") if len(args) > 2 else "",
                warning=str(args[0]),
                method=method,
            )
        if kind == "ConcurrencyException":
            return RetryableError(
                f"Tryton: {args if isinstance(args, str) else args[0]}"
                f" [{method}]"
            )
        if kind == "LoginException":
            return AuthenticationError(
                f"Tryton asks for more login data ({method})"
            )
        # An unexpected server exception: [str(exc), traceback]
        return TrytonError("ServerError", kind, description="", method=method)
    return TrytonError("ServerError", str(error), method=method)


@attrs.define
class Rpc:
    """
    One Tryton connection: an httpx client, a session and the user context.
    """

    url: str
    database: str
    client: httpx.AsyncClient
    timeout: float
    context: dict[str, Any] = attrs.field(factory=dict)
    user_id: int | None = None
    _auth: str | None = attrs.field(default=None, repr=False)
    _next_id: int = 0

    @property
    def endpoint(self) -> str:
        return f"{self.url.rstrip('/')}/{self.database}/rpc/"

    async def call(self, method: str, *params: object) -> Any:
        """
        Call *method* with *params*; return the result or raise.
        """
        self._next_id += 1
        body = dumps({"id": self._next_id, "method": method, "params": params})
        headers = {"Content-Type": "application/json"}
        if self._auth:
            headers["Authorization"] = self._auth
        what = f"Tryton {method} at {public_url(self.url)}"
        with transport_errors(what, deadline=self.timeout):
            response = await self.client.post(
                self.endpoint, content=body, headers=headers
            )
        return self._result(method, response)

    def _result(self, method: str, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 401:
            if method == "common.db.login":
                raise AuthenticationError(
                    f"Tryton refused the login of the configured user on "
                    f"database {self.database!r}"
                )
            raise AuthenticationError(
                f"Tryton refused the session ({method}): logged out or expired"
            )
        if status == 429:
            raise RetryableError(
                f"Tryton: too many requests ({method})",
                retry_after=retry_after(response),
            )
        if status >= 500:
            raise RetryableError(f"Tryton: HTTP {status} on {method}")
        if status == 403:
            raise TrytonError(
                "HTTP 403",
                f"{method} may not be called over RPC by this user",
                method=method,
            )
        if status != 200:
            raise TrytonError(
                f"HTTP {status}", f"unexpected HTTP {status}", method=method
            )
        try:
            data = loads(response.text)
        except ValueError as exc:
            raise TrytonError(
                "ServerError", "answer is not JSON", method=method
            ) from exc
        if not isinstance(data, dict):
            raise TrytonError(
                "ServerError", "answer is not a JSON object", method=method
            )
        if data.get("error") is not None:
            raise error_from_payload(method, data["error"])
        return data.get("result")

    async def login(self, user: str, password: str) -> None:
        result = await self.call(
            "common.db.login", user, {"password": password}, "en"
        )
        user_id, token = result[0], result[1]
        credentials = f"{user}:{user_id}:{token}".encode()
        self.user_id = int(user_id)
        self._auth = f"Session {base64.b64encode(credentials).decode()}"
        preferences = await self.call(
            "model.res.user.get_preferences", True, {}
        )
        self.context = {
            key: preferences[key]
            for key in ("company", "language")
            if preferences.get(key) is not None
        }

    async def logout(self) -> None:
        if self._auth is None:
            return
        try:
            await self.call("common.db.logout")
        finally:
            self._auth = None

    async def model(
        self,
        name: str,
        method: str,
        *args: object,
        context: dict[str, Any] | None = None,
    ) -> Any:
        """
        ``model.<name>.<method>(*args, context)``: the context goes last.
        """
        ctx = {**self.context, **(context or {})}
        return await self.call(f"model.{name}.{method}", *args, ctx)

    async def search_read(
        self,
        name: str,
        domain: list[Any],
        fields: list[str],
        *,
        order: list[list[str]] | None = None,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        rows = await self.model(
            name,
            "search_read",
            domain,
            0,
            None,
            order,
            fields,
            context=context,
        )
        return list(rows)

    async def read(
        self,
        name: str,
        ids: list[int],
        fields: list[str],
        *,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        if not ids:
            return []
        return list(
            await self.model(name, "read", ids, fields, context=context)
        )

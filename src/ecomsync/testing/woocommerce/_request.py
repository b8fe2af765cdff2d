"""
Requests and responses as the emulator's handlers see them, the route
table the handlers register in, and WordPress' argument validation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs

from .._asgi import Routes, add_route
from ._auth import ApiKey, php_query
from ._errors import WpError, invalid_param
from ._wp import (
    ORDER_STATUSES,
    PRODUCT_STATUSES,
    PRODUCT_TYPES,
)


WC = "/wc/v3"


@attrs.frozen
class RequestRecord:
    """
    One request as the emulator saw it: *route* is the handler's name;
    *items* the batch items it carried.  No query string (it may carry
    credentials).
    """

    method: str
    path: str
    route: str
    status: int
    items: int = 0


@attrs.define
class Request:
    method: str
    route: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str]
    base_url: str
    key: ApiKey | None = None

    def json(self) -> Any:
        if not self.body.strip():
            return {}
        ctype = self.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" in ctype:
            return php_query(self.body.decode("latin-1"))
        try:
            return json.loads(self.body)
        except ValueError:
            raise WpError(
                400,
                "rest_invalid_json",
                "Invalid JSON body passed.",
            ) from None

    def arg(self, name: str) -> Any:
        """
        ``WP_REST_Request::get_param``: JSON body over query.
        """
        body = self.json()
        if isinstance(body, dict) and name in body:
            return body[name]
        return self.query.get(name)


@attrs.define
class Response:
    status: int
    body: Any
    headers: dict[str, str] = attrs.Factory(dict)
    items: int = 0


ROUTES: Routes = []


def route(
    methods: str, pattern: str, *, writes: bool = False
) -> Callable[[Any], Any]:
    """
    Register a handler for each of the comma-separated *methods*;
    *writes* marks requests that commit-then-timeout may hold back.
    """
    return add_route(ROUTES, methods, pattern, writes=writes)


EDIT = "POST,PUT,PATCH"


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def validate(
    data: Any, schema: dict[str, tuple[str, tuple[str, ...]]]
) -> None:
    """
    ``rest_validate_value_from_schema`` for the top-level arguments a
    single-item create/update takes (batch items are not validated).
    """
    if not isinstance(data, dict):
        return
    for name, (kind, enum) in schema.items():
        if name not in data or (data[name] is None and kind != "string"):
            continue
        value = data[name]
        ok = {
            "string": isinstance(value, str),
            "integer": (isinstance(value, int) and not isinstance(value, bool))
            or (
                isinstance(value, str) and value.strip().lstrip("-").isdigit()
            ),
            "boolean": isinstance(value, bool)
            or value in (0, 1, "0", "1", "true", "false", ""),
            "array": isinstance(value, list),
            "object": isinstance(value, dict),
        }[kind]
        if not ok:
            raise invalid_param(
                name, f"{name} is not of type {kind}.", "rest_invalid_type"
            )
        if enum and value not in enum:
            raise invalid_param(
                name,
                f"{name} is not one of {', '.join(enum)}.",
                "rest_not_in_enum",
            )


PRODUCT_SCHEMA: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": ("string", ()),
    "sku": ("string", ()),
    "type": ("string", PRODUCT_TYPES),
    "status": ("string", PRODUCT_STATUSES),
    "regular_price": ("string", ()),
    "sale_price": ("string", ()),
    "description": ("string", ()),
    "manage_stock": ("boolean", ()),
    "stock_quantity": ("integer", ()),
    "categories": ("array", ()),
    "images": ("array", ()),
    "attributes": ("array", ()),
}
VARIATION_SCHEMA = {
    k: v
    for k, v in PRODUCT_SCHEMA.items()
    if k not in ("name", "type", "categories", "images")
} | {"image": ("object", ())}
CATEGORY_SCHEMA: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": ("string", ()),
    "slug": ("string", ()),
    "parent": ("integer", ()),
    "description": ("string", ()),
}
ORDER_SCHEMA: dict[str, tuple[str, tuple[str, ...]]] = {
    "status": ("string", ORDER_STATUSES),
    "set_paid": ("boolean", ()),
}

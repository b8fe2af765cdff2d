"""
The HTTP surface: an ASGI callable routing ``/wp-json/wc/v3/...`` (pretty
permalinks) and ``?rest_route=/wc/v3/...`` (plain permalinks) and
``/wp-json/wp/v2/media`` to the handlers below, through authentication,
the key's permissions, argument validation, and the fault switchboard
shared with the Shopware emulator (`ecomsync.testing.shopware6.Faults`).
"""

from __future__ import annotations

import base64
import hmac
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import anyio
import attrs
import httpx

from ._auth import ApiKey, check_permissions, php_query
from ._errors import WpError, invalid_param, no_route
from ._shop import (
    BATCH_LIMIT,
    ORDER_STATUSES,
    PRODUCT_STATUSES,
    PRODUCT_TYPES,
    Row,
    in_window,
    parse_date_param,
)


if TYPE_CHECKING:
    from ._emulator import WooCommerceEmulator


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

WC = "/wc/v3"


class ConnectionAborted(Exception):
    """
    Raised on a real server after the response started, so that uvicorn
    drops the connection.
    """


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


_ROUTES: list[tuple[str, re.Pattern[str], str, bool]] = []


def route(
    methods: str, pattern: str, *, writes: bool = False
) -> Callable[[Any], Any]:
    def deco(fn: Any) -> Any:
        for m in methods.split(","):
            _ROUTES.append(
                (m, re.compile(f"^{pattern}$"), fn.__name__, writes)
            )
        return fn

    return deco


_EDIT = "POST,PUT,PATCH"


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def _validate(
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
}


class App:
    """
    ASGI application over one `WooCommerceEmulator`.
    """

    def __init__(self, emulator: WooCommerceEmulator) -> None:
        self.emu = emulator

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        await self._http(scope, receive, send)

    async def _http(  # noqa: PLR0915 - one request, start to end
        self, scope: Scope, receive: Receive, send: Send
    ) -> None:
        emu = self.emu
        rt = emu.fault_runtime
        f = rt.faults
        body = bytearray()
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1")
            for k, v in scope.get("headers", [])
        }
        method = scope["method"]
        raw_query = scope.get("query_string", b"").decode("latin-1")
        query = php_query(raw_query)
        path = scope["path"]
        raw_path = scope.get("raw_path") or path.encode()
        scheme = scope.get("scheme", "http")
        host = headers.get("host", "localhost")
        base_url = f"{scheme}://{host}"
        if query.get("rest_route"):
            api_route = query["rest_route"]
        elif path.startswith("/wp-json/"):
            api_route = path[len("/wp-json") :]
        else:
            api_route = ""
        api_route = api_route.rstrip("/") or "/"
        req = Request(
            method=method,
            route=api_route,
            query=query,
            headers=headers,
            body=bytes(body),
            params={},
            base_url=base_url,
        )
        name, writes = "unknown", False
        for m, rx, fn, w in _ROUTES:
            match = rx.match(api_route)
            if match and m == method:
                name, writes = fn, w
                req.params = match.groupdict()
                break
        if f.latency_ms:
            await anyio.sleep(f.latency_ms / 1000)
        if rt.take_reset():
            emu.record(RequestRecord(method, path, name, 0))
            if emu.abort_mode == "raise":
                raise httpx.ReadError(
                    "[Errno 104] Connection reset by peer (injected)"
                )
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-length", b"1000")],
                }
            )
            raise ConnectionAborted
        if rt.take_storm(auth=False):
            resp = Response(
                f.storm_status,
                {
                    "code": "emulator_injected_status",
                    "message": "Injected by the emulator's fault switchboard.",
                    "data": {"status": f.storm_status},
                },
            )
            if f.retry_after is not None:
                resp.headers["Retry-After"] = f.retry_after
        else:
            url = base_url + raw_path.decode("latin-1")
            if rt.limiter is not None:
                async with rt.limiter:
                    resp = await self._process(name, req, url)
            else:
                resp = await self._process(name, req, url)
            if writes and resp.status < 400 and rt.take_hang():
                await anyio.sleep(f.hang_s)
        emu.record(RequestRecord(method, path, name, resp.status, resp.items))
        await self._send(send, resp, f.drip_chunk_bytes, f.drip_interval_ms)

    @staticmethod
    async def _send(
        send: Send, resp: Response, chunk: int, interval_ms: float
    ) -> None:
        data = json.dumps(
            resp.body, separators=(",", ":"), ensure_ascii=False
        ).encode()
        headers = [
            (k.lower().encode(), v.encode()) for k, v in resp.headers.items()
        ]
        headers += [
            (b"content-type", b"application/json; charset=UTF-8"),
            (b"content-length", str(len(data)).encode()),
        ]
        await send(
            {
                "type": "http.response.start",
                "status": resp.status,
                "headers": headers,
            }
        )
        if chunk <= 0:
            await send({"type": "http.response.body", "body": data})
            return
        for i in range(0, len(data), chunk):
            if i:
                await anyio.sleep(interval_ms / 1000)
            await send(
                {
                    "type": "http.response.body",
                    "body": data[i : i + chunk],
                    "more_body": i + chunk < len(data),
                }
            )

    async def _process(self, name: str, req: Request, url: str) -> Response:
        f = self.emu.fault_runtime.faults
        if f.base_ms:
            await anyio.sleep(f.base_ms / 1000)
        try:
            if name == "unknown":
                raise no_route()
            if name == "media_upload":
                self._wp_auth(req)
            elif name not in ("index", "media_get", "media_list"):
                req.key = self._wc_auth(req, url)
            handler = getattr(App, name)
            resp: Response = await handler(self, req)
        except WpError as e:
            return Response(e.status, e.body(), dict(e.headers))
        return resp

    def _wc_auth(self, req: Request, url: str) -> ApiKey | None:
        ctype = req.headers.get("content-type", "")
        form = (
            php_query(req.body.decode("latin-1"))
            if "application/x-www-form-urlencoded" in ctype
            else {}
        )
        key = self.emu.auth.authenticate(
            method=req.method,
            is_ssl=req.base_url.startswith("https:"),
            url=url.split("?", 1)[0],
            query=req.query,
            form=form,
            authorization=req.headers.get("authorization", ""),
            now=int(time.time()),
        )
        if key is not None:
            check_permissions(key, req.method)
        return key

    def _wp_auth(self, req: Request) -> None:
        """
        WordPress application passwords (``wp_authenticate_application_
        password``): WooCommerce keys do not reach ``wp/v2`` routes
        (``WC_REST_Authentication::is_request_to_rest_api``).
        """
        header = req.headers.get("authorization", "")
        if header[:6].lower() != "basic ":
            raise WpError(
                401,
                "rest_cannot_create",
                "Sorry, you are not allowed to create posts as this user.",
            )
        try:
            user, _, password = (
                base64.b64decode(header[6:].strip()).decode().partition(":")
            )
        except (ValueError, UnicodeDecodeError):
            user = password = ""
        known = self.emu.wp_users.get(user)
        if known is None:
            raise WpError(
                401,
                "invalid_username",
                "Unknown username. Check again or try your email address.",
            )
        if not hmac.compare_digest(known, password.replace(" ", "")):
            raise WpError(
                401,
                "incorrect_password",
                "The provided password is an invalid application password.",
            )

    def _require(self, req: Request, action: str) -> None:
        # wc_rest_check_post_permissions / wc_rest_check_product_term_
        # permissions: anonymous requests are refused by the route.
        if req.key is None:
            messages = {
                "read": (
                    "woocommerce_rest_cannot_view",
                    "Sorry, you cannot list resources.",
                ),
                "create": (
                    "woocommerce_rest_cannot_create",
                    "Sorry, you are not allowed to create resources.",
                ),
                "edit": (
                    "woocommerce_rest_cannot_edit",
                    "Sorry, you are not allowed to edit this resource.",
                ),
                "batch": (
                    "woocommerce_rest_cannot_batch",
                    "Sorry, you are not allowed to batch manipulate this "
                    "resource.",
                ),
                "delete": (
                    "woocommerce_rest_cannot_delete",
                    "Sorry, you are not allowed to delete this resource.",
                ),
            }
            code, message = messages[action]
            raise WpError(401, code, message)

    # -- collections -------------------------------------------------------

    def _page(self, req: Request, rows: list[Row]) -> Response:
        """
        ``get_collection_params`` (``per_page`` 1..100, ``page`` >= 1,
        ``offset``) and the total headers of ``get_items``.
        """
        per_page = self._int_arg(req, "per_page", 10, 1, 100)
        page = self._int_arg(req, "page", 1, 1, None)
        offset_raw = req.query.get("offset")
        start = (page - 1) * per_page
        if offset_raw not in (None, ""):
            start = self._int_arg(req, "offset", 0, None, None)
        total = len(rows)
        pages = math.ceil(total / per_page) if total else 0
        resp = Response(200, rows[start : start + per_page])
        resp.headers["X-WP-Total"] = str(total)
        resp.headers["X-WP-TotalPages"] = str(pages)
        base = f"{req.base_url}/wp-json{req.route}"
        links = []
        query = {
            k: v
            for k, v in req.query.items()
            if not k.startswith("oauth_")
            and k not in ("consumer_key", "consumer_secret")
        }
        if page > 1:
            links.append(
                f"<{base}?{urlencode({**query, 'page': page - 1})}>; "
                'rel="prev"'
            )
        if page < pages:
            links.append(
                f"<{base}?{urlencode({**query, 'page': page + 1})}>; "
                'rel="next"'
            )
        if links:
            resp.headers["Link"] = ", ".join(links)
        return resp

    @staticmethod
    def _int_arg(
        req: Request,
        name: str,
        default: int,
        low: int | None,
        high: int | None,
    ) -> int:
        raw = req.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid_param(
                name, f"{name} is not of type integer.", "rest_invalid_type"
            ) from None
        if low is not None and high is not None and not low <= value <= high:
            raise invalid_param(
                name,
                f"{name} must be between {low} (inclusive) and {high} "
                "(inclusive)",
                "rest_out_of_bounds",
            )
        if low is not None and high is None and value < low:
            raise invalid_param(
                name,
                f"{name} must be greater than or equal to {low}",
                "rest_out_of_bounds",
            )
        return value

    @staticmethod
    def _order(
        req: Request, rows: list[Row], default: str, fields: dict[str, str]
    ) -> list[Row]:
        orderby = req.query.get("orderby", default)
        if orderby not in fields:
            raise invalid_param(
                "orderby",
                f"orderby is not one of {', '.join(fields)}.",
                "rest_not_in_enum",
            )
        direction = req.query.get(
            "order", "desc" if default == "date" else "asc"
        )
        if direction not in ("asc", "desc"):
            raise invalid_param(
                "order", "order is not one of asc, desc.", "rest_not_in_enum"
            )
        column = fields[orderby]
        return sorted(
            rows,
            key=lambda r: (
                r.get(column)
                if column != "name"
                else str(r.get(column)).lower(),
                r["id"],
            ),
            reverse=direction == "desc",
        )

    @staticmethod
    def _include(req: Request, rows: list[Row]) -> list[Row]:
        include = req.query.get("include")
        if include:
            wanted = {
                int(x) for x in include.split(",") if x.strip().isdigit()
            }
            rows = [r for r in rows if r["id"] in wanted]
        exclude = req.query.get("exclude")
        if exclude:
            unwanted = {
                int(x) for x in exclude.split(",") if x.strip().isdigit()
            }
            rows = [r for r in rows if r["id"] not in unwanted]
        return rows

    def _dates(self, req: Request, rows: list[Row]) -> list[Row]:
        """
        ``after``/``before`` on the creation date, ``modified_after``/
        ``modified_before`` on the modification date; the site's local
        columns unless ``dates_are_gmt``.
        """
        gmt = _bool(req.query.get("dates_are_gmt", "false"))
        suffix = "_gmt" if gmt else ""
        for column, lo, hi in (
            ("date_created", "after", "before"),
            ("date_modified", "modified_after", "modified_before"),
        ):
            after = req.query.get(lo)
            before = req.query.get(hi)
            if not after and not before:
                continue
            a = parse_date_param(lo, after) if after else None
            b = parse_date_param(hi, before) if before else None
            tz = self.emu.shop.timezone
            rows = [
                r
                for r in rows
                if in_window(
                    r[column + suffix], after=a, before=b, tz=tz, gmt=gmt
                )
            ]
        return rows

    # -- index ------------------------------------------------------------

    @route("GET", WC)
    async def index(self, req: Request) -> Response:
        return Response(
            200,
            {
                "namespace": "wc/v3",
                "routes": sorted(
                    {rx.pattern.strip("^$") for _, rx, _, _ in _ROUTES}
                ),
            },
        )

    # -- products ---------------------------------------------------------

    def _product_json(self, row: Row) -> Row:
        return dict(row)

    @route("GET", f"{WC}/products")
    async def products_list(self, req: Request) -> Response:
        self._require(req, "read")
        shop = self.emu.shop
        sku = req.query.get("sku")
        if sku:
            # prepare_objects_query: comma-separated exact SKUs; variations
            # are included when searching by SKU.
            wanted = {s.strip() for s in sku.split(",") if s.strip()}
            rows = [
                r
                for r in shop.products.values()
                if r["sku"] and r["sku"] in wanted
            ]
        else:
            rows = [
                r for r in shop.products.values() if r["type"] != "variation"
            ]
        search_sku = req.query.get("search_sku")
        if search_sku:
            rows = [
                r
                for r in shop.products.values()
                if search_sku.lower() in r["sku"].lower()
            ]
        if req.query.get("type"):
            rows = [r for r in rows if r["type"] == req.query["type"]]
        if req.query.get("category"):
            cat = (
                int(req.query["category"])
                if req.query["category"].isdigit()
                else -1
            )
            rows = [
                r for r in rows if any(c["id"] == cat for c in r["categories"])
            ]
        status = req.query.get("status", "any")
        if status != "any":
            rows = [r for r in rows if r["status"] == status]
        rows = self._include(req, rows)
        rows = self._dates(req, rows)
        rows = self._order(
            req,
            rows,
            "date",
            {
                "date": "date_created_gmt",
                "id": "id",
                "title": "name",
                "slug": "slug",
                "modified": "date_modified_gmt",
                "include": "id",
                "price": "price",
            },
        )
        return self._page(req, [self._product_json(r) for r in rows])

    @route("POST", f"{WC}/products", writes=True)
    async def products_create(self, req: Request) -> Response:
        self._require(req, "create")
        data = req.json()
        _validate(data, PRODUCT_SCHEMA)
        row = self.emu.shop.create_product(data)
        return self._created(
            req, f"/products/{row['id']}", self._product_json(row)
        )

    def _created(self, req: Request, path: str, body: Row) -> Response:
        return Response(
            201, body, {"Location": f"{req.base_url}/wp-json{WC}{path}"}
        )

    @route("GET", rf"{WC}/products/(?P<id>\d+)")
    async def products_get(self, req: Request) -> Response:
        self._require(req, "read")
        return Response(
            200,
            self._product_json(
                self.emu.shop.get_product(int(req.params["id"]))
            ),
        )

    @route(_EDIT, rf"{WC}/products/(?P<id>\d+)", writes=True)
    async def products_update(self, req: Request) -> Response:
        self._require(req, "edit")
        data = req.json()
        _validate(data, PRODUCT_SCHEMA)
        row = self.emu.shop.update_product(int(req.params["id"]), data)
        return Response(200, self._product_json(row))

    @route("DELETE", rf"{WC}/products/(?P<id>\d+)", writes=True)
    async def products_delete(self, req: Request) -> Response:
        self._require(req, "delete")
        row = self.emu.shop.delete_product(int(req.params["id"]))
        return Response(200, self._product_json(row))

    @route(_EDIT, f"{WC}/products/batch", writes=True)
    async def products_batch(self, req: Request) -> Response:
        self._require(req, "batch")
        shop = self.emu.shop
        return self._batch(
            req,
            create=lambda d: self._product_json(shop.create_product(d)),
            update=lambda i, d: self._product_json(shop.update_product(i, d)),
            delete=lambda i: self._product_json(shop.delete_product(i)),
        )

    # -- variations -------------------------------------------------------

    def _parent(self, req: Request) -> Row:
        parent = self.emu.shop.products.get(int(req.params["pid"]))
        if parent is None or parent["type"] == "variation":
            raise WpError(
                404, "woocommerce_rest_product_invalid_id", "Invalid ID."
            )
        return parent

    @route("GET", rf"{WC}/products/(?P<pid>\d+)/variations")
    async def variations_list(self, req: Request) -> Response:
        self._require(req, "read")
        parent = self._parent(req)
        rows = [self.emu.shop.products[i] for i in parent["variations"]]
        rows = self._order(
            req,
            rows,
            "date",
            {
                "date": "date_created_gmt",
                "id": "id",
                "menu_order": "id",
                "include": "id",
            },
        )
        return self._page(req, [dict(r) for r in rows])

    @route("POST", rf"{WC}/products/(?P<pid>\d+)/variations", writes=True)
    async def variations_create(self, req: Request) -> Response:
        self._require(req, "create")
        parent = self._parent(req)
        data = req.json()
        _validate(data, VARIATION_SCHEMA)
        row = self.emu.shop.create_product(data, parent=parent)
        return self._created(
            req, f"/products/{parent['id']}/variations/{row['id']}", dict(row)
        )

    @route("GET", rf"{WC}/products/(?P<pid>\d+)/variations/(?P<id>\d+)")
    async def variations_get(self, req: Request) -> Response:
        self._require(req, "read")
        parent = self._parent(req)
        return Response(
            200,
            dict(
                self.emu.shop.get_product(int(req.params["id"]), parent=parent)
            ),
        )

    @route(
        _EDIT,
        rf"{WC}/products/(?P<pid>\d+)/variations/(?P<id>\d+)",
        writes=True,
    )
    async def variations_update(self, req: Request) -> Response:
        self._require(req, "edit")
        parent = self._parent(req)
        data = req.json()
        _validate(data, VARIATION_SCHEMA)
        row = self.emu.shop.update_product(
            int(req.params["id"]), data, parent=parent
        )
        return Response(200, dict(row))

    @route(
        "DELETE",
        rf"{WC}/products/(?P<pid>\d+)/variations/(?P<id>\d+)",
        writes=True,
    )
    async def variations_delete(self, req: Request) -> Response:
        self._require(req, "delete")
        parent = self._parent(req)
        return Response(
            200,
            dict(
                self.emu.shop.delete_product(
                    int(req.params["id"]), parent=parent
                )
            ),
        )

    @route(_EDIT, rf"{WC}/products/(?P<pid>\d+)/variations/batch", writes=True)
    async def variations_batch(self, req: Request) -> Response:
        self._require(req, "batch")
        parent = self._parent(req)
        shop = self.emu.shop
        return self._batch(
            req,
            create=lambda d: dict(shop.create_product(d, parent=parent)),
            update=lambda i, d: dict(shop.update_product(i, d, parent=parent)),
            delete=lambda i: dict(shop.delete_product(i, parent=parent)),
        )

    # -- categories -------------------------------------------------------

    @route("GET", f"{WC}/products/categories")
    async def categories_list(self, req: Request) -> Response:
        self._require(req, "read")
        rows = list(self.emu.shop.categories.values())
        if req.query.get("parent") not in (None, ""):
            parent = (
                int(req.query["parent"])
                if req.query["parent"].isdigit()
                else -1
            )
            rows = [r for r in rows if r["parent"] == parent]
        if req.query.get("slug"):
            rows = [r for r in rows if r["slug"] == req.query["slug"]]
        if req.query.get("search"):
            needle = req.query["search"].lower()
            rows = [r for r in rows if needle in r["name"].lower()]
        rows = self._include(req, rows)
        rows = self._order(
            req,
            rows,
            "name",
            {
                "name": "name",
                "id": "id",
                "slug": "slug",
                "include": "id",
                "count": "count",
            },
        )
        return self._page(req, [dict(r) for r in rows])

    @route("POST", f"{WC}/products/categories", writes=True)
    async def categories_create(self, req: Request) -> Response:
        self._require(req, "create")
        data = req.json()
        _validate(data, CATEGORY_SCHEMA)
        row = self.emu.shop.create_category(data)
        return self._created(
            req, f"/products/categories/{row['id']}", dict(row)
        )

    @route("GET", rf"{WC}/products/categories/(?P<id>\d+)")
    async def categories_get(self, req: Request) -> Response:
        self._require(req, "read")
        row = self.emu.shop.categories.get(int(req.params["id"]))
        if row is None:
            raise WpError(
                404,
                "woocommerce_rest_term_invalid",
                "Resource does not exist.",
            )
        return Response(200, dict(row))

    @route(_EDIT, rf"{WC}/products/categories/(?P<id>\d+)", writes=True)
    async def categories_update(self, req: Request) -> Response:
        self._require(req, "edit")
        data = req.json()
        _validate(data, CATEGORY_SCHEMA)
        return Response(
            200,
            dict(
                self.emu.shop.update_category(
                    int(req.params["id"]), data or {"_": 1}
                )
            ),
        )

    @route("DELETE", rf"{WC}/products/categories/(?P<id>\d+)", writes=True)
    async def categories_delete(self, req: Request) -> Response:
        self._require(req, "delete")
        force = _bool(req.arg("force") or False)
        return Response(
            200,
            dict(
                self.emu.shop.delete_category(
                    int(req.params["id"]), force=force
                )
            ),
        )

    @route(_EDIT, f"{WC}/products/categories/batch", writes=True)
    async def categories_batch(self, req: Request) -> Response:
        self._require(req, "batch")
        shop = self.emu.shop
        return self._batch(
            req,
            create=lambda d: dict(shop.create_category(d)),
            update=lambda i, d: dict(shop.update_category(i, d or {"_": 1})),
            delete=lambda i: dict(shop.delete_category(i, force=True)),
        )

    # -- batch --------------------------------------------------------------

    def _batch(
        self,
        req: Request,
        *,
        create: Callable[[dict[str, Any]], Row],
        update: Callable[[int, dict[str, Any]], Row],
        delete: Callable[[int], Row],
    ) -> Response:
        """
        ``WC_REST_Controller::batch_items``: at most `BATCH_LIMIT` items
        over create, update and delete together (413 otherwise); each item
        on its own, no rollback; a failed item answers ``{"id", "error"}``
        in its place under HTTP 200.  Deletes are forced, id 0 skipped.
        """
        data = req.json()
        if not isinstance(data, dict):
            data = {}
        total = sum(
            len(data[k])
            for k in ("create", "update", "delete")
            if isinstance(data.get(k), list)
        )
        if total > BATCH_LIMIT:
            raise WpError(
                413,
                "woocommerce_rest_request_entity_too_large",
                f"Unable to accept more than {BATCH_LIMIT} items for this "
                "request.",
            )
        out: dict[str, list[Row]] = {}

        def failed(item_id: int, e: WpError) -> Row:
            return {
                "id": item_id,
                "error": {
                    "code": e.code,
                    "message": e.message,
                    "data": {"status": e.status, **e.data},
                },
            }

        for item in data.get("create") or []:
            try:
                out.setdefault("create", []).append(
                    create(item if isinstance(item, dict) else {})
                )
            except WpError as e:
                out["create"].append(failed(0, e))
        for item in data.get("update") or []:
            item_id = (
                int(item.get("id", 0) or 0) if isinstance(item, dict) else 0
            )
            try:
                body = (
                    {k: v for k, v in item.items() if k != "id"}
                    if isinstance(item, dict)
                    else {}
                )
                out.setdefault("update", []).append(update(item_id, body))
            except WpError as e:
                out["update"].append(failed(item_id, e))
        for raw in data.get("delete") or []:
            try:
                item_id = int(raw)
            except (TypeError, ValueError):
                item_id = 0
            if item_id == 0:
                continue
            try:
                out.setdefault("delete", []).append(delete(item_id))
            except WpError as e:
                out["delete"].append(failed(item_id, e))
        return Response(200, out, items=total)

    # -- orders -----------------------------------------------------------

    @route("GET", f"{WC}/orders")
    async def orders_list(self, req: Request) -> Response:
        self._require(req, "read")
        rows = list(self.emu.shop.orders.values())
        status = req.query.get("status", "any")
        if status != "any":
            wanted = set(status.split(","))
            bad = wanted - {*ORDER_STATUSES, "any", "trash"}
            if bad:
                raise invalid_param(
                    "status",
                    "status[0] is not one of any, "
                    f"{', '.join(ORDER_STATUSES)}, trash.",
                    "rest_not_in_enum",
                )
            rows = [r for r in rows if r["status"] in wanted]
        if req.query.get("customer"):
            rows = [
                r
                for r in rows
                if str(r["customer_id"]) == req.query["customer"]
            ]
        rows = self._include(req, rows)
        rows = self._dates(req, rows)
        rows = self._order(
            req,
            rows,
            "date",
            {
                "date": "date_created_gmt",
                "id": "id",
                "include": "id",
                "modified": "date_modified_gmt",
                "title": "number",
                "slug": "number",
            },
        )
        return self._page(req, [dict(r) for r in rows])

    @route("POST", f"{WC}/orders", writes=True)
    async def orders_create(self, req: Request) -> Response:
        """
        ``WC_REST_Orders_Controller::create_item`` (a subset): addresses,
        status, currency, ``line_items`` by ``product_id``/``variation_id``
        or ``sku``, priced from the product.
        """
        self._require(req, "create")
        data = req.json()
        _validate(data, ORDER_SCHEMA)
        if not isinstance(data, dict):
            data = {}
        if data.get("id"):
            raise WpError(
                400,
                "woocommerce_rest_shop_order_exists",
                "Cannot create existing shop_order.",
            )
        shop = self.emu.shop
        lines = []
        for item in data.get("line_items") or []:
            if not isinstance(item, dict):
                continue
            pid = int(item.get("variation_id") or item.get("product_id") or 0)
            if not pid and item.get("sku"):
                pid = shop.product_by_sku(str(item["sku"]))
            product = shop.products.get(pid)
            if product is None:
                raise WpError(
                    400,
                    "woocommerce_rest_invalid_product_id",
                    "Product ID provided does not match this product.",
                )
            lines.append(
                {
                    "sku": product["sku"],
                    "name": product["name"],
                    "quantity": int(item.get("quantity") or 1),
                    "price": product["price"] or "0",
                }
            )
        total = sum(
            (Decimal(str(line["price"])) * line["quantity"] for line in lines),
            Decimal(0),
        )
        order_id = self.emu.place_order(
            status=str(data.get("status") or "pending"),
            billing=data.get("billing") or {},
            shipping=data.get("shipping") or None,
            lines=lines,
            total=f"{total:.2f}",
            currency=str(data.get("currency") or "EUR"),
            customer_id=int(data.get("customer_id") or 0),
        )
        return self._created(
            req, f"/orders/{order_id}", dict(shop.orders[order_id])
        )

    @route("GET", rf"{WC}/orders/(?P<id>\d+)")
    async def orders_get(self, req: Request) -> Response:
        self._require(req, "read")
        row = self.emu.shop.orders.get(int(req.params["id"]))
        if row is None:
            raise WpError(
                404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."
            )
        return Response(200, dict(row))

    @route(_EDIT, rf"{WC}/orders/(?P<id>\d+)", writes=True)
    async def orders_update(self, req: Request) -> Response:
        self._require(req, "edit")
        data = req.json()
        _validate(data, ORDER_SCHEMA)
        return Response(
            200, dict(self.emu.shop.update_order(int(req.params["id"]), data))
        )

    @route(_EDIT, f"{WC}/orders/batch", writes=True)
    async def orders_batch(self, req: Request) -> Response:
        self._require(req, "batch")
        shop = self.emu.shop

        def create(_: dict[str, Any]) -> Row:
            raise WpError(
                400,
                "woocommerce_rest_emulator_unsupported",
                "The emulator does not create orders through the API.",
            )

        def delete(i: int) -> Row:
            row = shop.orders.pop(i, None)
            if row is None:
                raise WpError(
                    404,
                    "woocommerce_rest_shop_order_invalid_id",
                    "Invalid ID.",
                )
            return row

        return self._batch(
            req,
            create=create,
            update=lambda i, d: dict(shop.update_order(i, d)),
            delete=delete,
        )

    @route("GET", rf"{WC}/orders/(?P<id>\d+)/notes")
    async def notes_list(self, req: Request) -> Response:
        self._require(req, "read")
        order_id = int(req.params["id"])
        if order_id not in self.emu.shop.orders:
            raise WpError(
                404, "woocommerce_rest_order_invalid_id", "Invalid order ID."
            )
        notes = sorted(
            self.emu.shop.notes.get(order_id, []), key=lambda n: -n["id"]
        )
        kind = req.query.get("type", "any")
        if kind == "customer":
            notes = [n for n in notes if n["customer_note"]]
        elif kind == "internal":
            notes = [n for n in notes if not n["customer_note"]]
        return Response(200, notes)

    @route("POST", rf"{WC}/orders/(?P<id>\d+)/notes", writes=True)
    async def notes_create(self, req: Request) -> Response:
        self._require(req, "create")
        data = req.json()
        note = data.get("note") if isinstance(data, dict) else None
        if not isinstance(note, str) or not note:
            raise WpError(
                400,
                "rest_missing_callback_param",
                "Missing parameter(s): note",
                params=["note"],
            )
        order_id = int(req.params["id"])
        row = self.emu.shop.add_note(
            order_id,
            note,
            customer_note=_bool(data.get("customer_note", False)),
            author="API" if not data.get("added_by_user") else "admin",
        )
        return self._created(req, f"/orders/{order_id}/notes/{row['id']}", row)

    # -- customers ----------------------------------------------------------

    @route("GET", f"{WC}/customers")
    async def customers_list(self, req: Request) -> Response:
        self._require(req, "read")
        rows = list(self.emu.shop.customers.values())
        if req.query.get("email"):
            rows = [
                r
                for r in rows
                if r["email"].lower() == req.query["email"].lower()
            ]
        rows = self._include(req, rows)
        rows = self._order(
            req,
            rows,
            "name",
            {
                "name": "last_name",
                "id": "id",
                "include": "id",
                "registered_date": "date_created_gmt",
            },
        )
        return self._page(req, [dict(r) for r in rows])

    @route("GET", rf"{WC}/customers/(?P<id>\d+)")
    async def customers_get(self, req: Request) -> Response:
        self._require(req, "read")
        row = self.emu.shop.customers.get(int(req.params["id"]))
        if row is None:
            raise WpError(
                404, "woocommerce_rest_invalid_id", "Invalid resource ID."
            )
        return Response(200, dict(row))

    # -- WordPress media ------------------------------------------------------

    @route("POST", "/wp/v2/media", writes=True)
    async def media_upload(self, req: Request) -> Response:
        """
        ``WP_REST_Attachments_Controller::create_item`` with a raw body:
        ``Content-Disposition`` names the file, ``Content-Type`` its type.
        """
        if not req.body:
            raise WpError(400, "rest_upload_no_data", "No data supplied.")
        disposition = req.headers.get("content-disposition", "")
        match = re.search(
            r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', disposition
        )
        if not match:
            raise WpError(
                400,
                "rest_upload_no_content_disposition",
                "No Content-Disposition supplied.",
            )
        mime = (
            req.headers.get("content-type", "application/octet-stream")
            .split(";")[0]
            .strip()
        )
        if mime not in self.emu.allowed_mime_types:
            raise WpError(
                500,
                "rest_upload_sideload_error",
                "Sorry, you are not allowed to upload this file type.",
            )
        attachment = self.emu.shop.add_media(req.body, match.group(1), mime)
        return Response(
            201,
            self.emu.media_json(attachment),
            {
                "Location": f"{req.base_url}/wp-json/wp/v2/media/"
                f"{attachment.id}"
            },
        )

    @route("GET", "/wp/v2/media")
    async def media_list(self, req: Request) -> Response:
        """
        Attachments whose title (the file name without extension)
        contains ``search``.
        """
        needle = req.query.get("search", "").lower()
        rows = [
            self.emu.media_json(a)
            for a in self.emu.shop.media.values()
            if needle in a.filename.rsplit(".", 1)[0].lower()
        ]
        return self._page(req, rows)

    @route("GET", r"/wp/v2/media/(?P<id>\d+)")
    async def media_get(self, req: Request) -> Response:
        attachment = self.emu.shop.media.get(int(req.params["id"]))
        if attachment is None:
            raise WpError(404, "rest_post_invalid_id", "Invalid post ID.")
        return Response(200, self.emu.media_json(attachment))

"""
The HTTP surface: an ASGI callable routing ``/wp-json/wc/v3/...`` (pretty
permalinks) and ``?rest_route=/wc/v3/...`` (plain permalinks) and
``/wp-json/wp/v2/media`` to the resource routes (``_catalogue_routes``,
``_order_routes``, sharing ``_routes``), through authentication,
the key's permissions, argument validation, and the fault switchboard
shared with the other emulators (`Faults`, in ``ecomsync.testing._faults``).
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from typing import TYPE_CHECKING

import anyio
import httpx

from ._auth import ApiKey, check_permissions, php_query
from ._catalogue_routes import CatalogueRoutes
from ._errors import WpError, no_route
from ._order_routes import OrderRoutes
from ._request import (
    ROUTES,
    WC,
    ConnectionAborted,
    Receive,
    Request,
    RequestRecord,
    Response,
    Scope,
    Send,
    route,
)


if TYPE_CHECKING:
    from ._emulator import WooCommerceEmulator


__all__ = ["App"]


class App(CatalogueRoutes, OrderRoutes):
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
        for m, rx, fn, w in ROUTES:
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

    # -- index ------------------------------------------------------------

    @route("GET", WC)
    async def index(self, req: Request) -> Response:
        return Response(
            200,
            {
                "namespace": "wc/v3",
                "routes": sorted(
                    {rx.pattern.strip("^$") for _, rx, _, _ in ROUTES}
                ),
            },
        )

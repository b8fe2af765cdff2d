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

from .._asgi import (
    EmulatorApp,
    Incoming,
    Send,
    find_route,
    retry_after,
    send_response,
    through_faults,
)
from .._asgi import Response as Wire
from .._faults import Faults
from ._auth import ApiKey, check_permissions, php_query
from ._catalogue_routes import CatalogueRoutes
from ._errors import WpError, no_route
from ._order_routes import OrderRoutes
from ._request import (
    ROUTES,
    WC,
    Request,
    RequestRecord,
    Response,
    route,
)


if TYPE_CHECKING:
    from ._emulator import WooCommerceEmulator


__all__ = ["App"]


def _wire(resp: Response) -> Wire:
    """
    A handler's answer as sent: compact JSON, WordPress' content type.
    """
    data = json.dumps(
        resp.body, separators=(",", ":"), ensure_ascii=False
    ).encode()
    headers = [
        (k.lower().encode(), v.encode()) for k, v in resp.headers.items()
    ]
    headers.append((b"content-type", b"application/json; charset=UTF-8"))
    return Wire(resp.status, data, headers, resp.items)


def _storm(faults: Faults) -> Wire:
    """
    The answer of an injected 429/503.
    """
    status = faults.storm_status
    resp = _wire(
        Response(
            status,
            {
                "code": "emulator_injected_status",
                "message": "Injected by the emulator's fault switchboard.",
                "data": {"status": status},
            },
        )
    )
    resp.headers += retry_after(faults)
    return resp


class App(EmulatorApp, CatalogueRoutes, OrderRoutes):
    """
    ASGI application over one `WooCommerceEmulator`.
    """

    def __init__(self, emulator: WooCommerceEmulator) -> None:
        self.emu = emulator

    async def handle(self, incoming: Incoming, send: Send) -> None:
        emu = self.emu
        rt = emu.fault_runtime
        method, path = incoming.method, incoming.path
        query = php_query(incoming.query_string)
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
            headers=incoming.headers,
            body=incoming.body,
            params={},
            base_url=incoming.base_url,
        )
        name, writes, req.params = find_route(ROUTES, method, api_route)
        url = incoming.base_url + incoming.raw_path.decode("latin-1")

        async def process() -> Wire:
            return _wire(await self._process(name, req, url))

        wire = await through_faults(
            rt,
            send,
            abort_mode=emu.abort_mode,
            request_bytes=len(incoming.body),
            process=process,
            storm=_storm,
            on_reset=lambda: emu.record(RequestRecord(method, path, name, 0)),
            writes=writes,
        )
        emu.record(RequestRecord(method, path, name, wire.status, wire.items))
        await send_response(send, wire, rt.faults)

    async def _process(self, name: str, req: Request, url: str) -> Response:
        try:
            if name == "unknown":
                raise no_route()
            if name.startswith("media_"):
                self._wp_access(name, req)
            elif name != "index":
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

    def _wp_user(self, req: Request) -> str | None:
        """
        The WordPress user of an application password
        (``wp_authenticate_application_password``), ``None`` without
        Basic credentials; a wrong user or password is 401 on every
        ``wp/v2`` route, reads too (``rest_application_password_check_
        errors``).  WooCommerce keys do not reach ``wp/v2`` routes
        (``WC_REST_Authentication::is_request_to_rest_api``).
        """
        header = req.headers.get("authorization", "")
        if header[:6].lower() != "basic ":
            return None
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
        return user

    def _wp_access(self, name: str, req: Request) -> None:
        """
        Uploading media needs a user; media are public to read, but a
        listing with ``context=edit`` needs a user who may edit them
        (``WP_REST_Posts_Controller::get_items_permissions_check``).
        """
        user = self._wp_user(req)
        if user is not None:
            return
        if name == "media_upload":
            raise WpError(
                401,
                "rest_cannot_create",
                "Sorry, you are not allowed to create posts as this user.",
            )
        if name == "media_delete":
            raise WpError(
                401,
                "rest_cannot_delete",
                "Sorry, you are not allowed to delete this post.",
            )
        if name == "media_list" and req.query.get("context") == "edit":
            raise WpError(
                401,
                "rest_forbidden_context",
                "Sorry, you are not allowed to edit posts in this post type.",
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

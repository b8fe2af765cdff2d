"""
The ASGI app: the GraphQL endpoint behind the access-token check, the
fake staged-upload target, bulk result files, faults and the request log.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from typing import TYPE_CHECKING, Any

import attrs

from .._asgi import (
    EmulatorApp,
    Incoming,
    Response,
    Send,
    retry_after,
    send_response,
    through_faults,
)
from .._faults import Faults


if TYPE_CHECKING:
    from ._emulator import ShopifyEmulator

_GRAPHQL = re.compile(r"^/admin/api/(\d{4}-\d{2}|unstable)/graphql\.json$")
_BAD_TOKEN = {
    "errors": "[API] Invalid API key or access token (unrecognized login or "
    "wrong password)"
}


def _is_mutation(body: bytes) -> bool:
    """
    Whether *body* is a GraphQL mutation: the writes commit-then-timeout
    may hold back (a query changes nothing).
    """
    if b"mutation" not in body:
        return False
    try:
        query = json.loads(body).get("query")
    except (ValueError, AttributeError):
        return False
    return isinstance(query, str) and query.lstrip().startswith("mutation")


@attrs.frozen
class RequestRecord:
    """
    One request as the emulator saw it: method, path, HTTP status, the
    GraphQL operation's requested cost (None outside GraphQL) and its
    top-level error code, if any.  The token is never recorded.
    """

    method: str
    path: str
    status: int
    cost: int | None = None
    error_code: str | None = None


class App(EmulatorApp):
    default_host = "shop.example"

    def __init__(self, emu: ShopifyEmulator) -> None:
        self.emu = emu

    async def handle(self, incoming: Incoming, send: Send) -> None:
        method, path = incoming.method, incoming.path

        async def process() -> Response:
            return _response(
                *self._route(
                    method,
                    path,
                    incoming.headers,
                    incoming.body,
                    incoming.base_url,
                )
            )

        def storm(faults: Faults) -> Response:
            status = faults.storm_status
            self._log(method, path, status)
            resp = _response(
                status,
                {
                    "errors": "Exceeded API rate limit"
                    if status == 429
                    else "Internal Server Error"
                },
            )
            resp.headers += retry_after(faults)
            return resp

        rt = self.emu.fault_runtime
        resp = await through_faults(
            rt,
            send,
            abort_mode=self.emu.abort_mode,
            request_bytes=len(incoming.body),
            process=process,
            storm=storm,
            on_reset=lambda: self._log(method, path, 0),
            writes=_is_mutation(incoming.body),
        )
        await send_response(send, resp, rt.faults)

    def _log(
        self,
        method: str,
        path: str,
        status: int,
        cost: int | None = None,
        code: str | None = None,
    ) -> None:
        self.emu.requests.append(
            RequestRecord(method, path, status, cost, code)
        )

    def _route(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        base: str,
    ) -> tuple[int, Any, str]:
        shop = self.emu.shop
        m = _GRAPHQL.match(path)
        if m and method == "POST":
            token = headers.get("x-shopify-access-token")
            if token not in self.emu.tokens:
                self._log(method, path, 401)
                return 401, _BAD_TOKEN, ""
            try:
                payload = json.loads(body or b"null")
            except ValueError:
                payload = None
            status, answer = self.emu.graphql(
                token, payload, version=m[1], base_url=base
            )
            errors = answer.get("errors")
            code = (
                errors[0].get("extensions", {}).get("code")
                if isinstance(errors, list) and errors
                else None
            )
            cost = (
                (answer.get("extensions") or {})
                .get("cost", {})
                .get("requestedQueryCost")
            )
            self._log(method, path, status, cost, code)
            return status, answer, ""
        if path == "/_staged/upload" and method == "POST":
            fields = _multipart(headers.get("content-type", ""), body)
            key = fields.get("key", b"")
            if key.decode() not in shop.staged or "file" not in fields:
                self._log(method, path, 400)
                return (
                    400,
                    b"<Error><Code>InvalidArgument</Code></Error>",
                    "application/xml",
                )
            shop.staged[key.decode()] = fields["file"]
            self._log(method, path, 201)
            return (
                201,
                b"<PostResponse><Key>" + key + b"</Key></PostResponse>",
                "application/xml",
            )
        if path.startswith("/_staged/"):
            name = path[len("/_staged/") :]
            return self._staged(method, path, name, body)
        return self._bulk_file(method, path)

    def _staged(
        self, method: str, path: str, key: str, body: bytes
    ) -> tuple[int, Any, str]:
        shop = self.emu.shop
        if key not in shop.staged:
            self._log(method, path, 404)
            return (
                404,
                b"<Error><Code>NoSuchKey</Code></Error>",
                "application/xml",
            )
        if method == "PUT":
            shop.staged[key] = body
            self._log(method, path, 200)
            return 200, b"", "text/plain"
        data = shop.staged[key]
        self._log(method, path, 200 if data is not None else 404)
        return (
            (200, data, "application/octet-stream")
            if data is not None
            else (404, b"", "text/plain")
        )

    def _bulk_file(self, method: str, path: str) -> tuple[int, Any, str]:
        bulk = re.match(r"^/_bulk/(\d+)\.jsonl$", path)
        data = self.emu.bulk_file(int(bulk[1])) if bulk else None
        if data and method == "GET":
            self._log(method, path, 200)
            return 200, data, "application/jsonl"
        self._log(method, path, 404)
        return 404, {"errors": "Not Found"}, ""


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """
    The fields of a multipart/form-data body (S3's POST policy form).
    """
    if not content_type.startswith("multipart/form-data"):
        return {}
    raw = f"Content-Type: {content_type}\r\n\r\n".encode() + body
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    out: dict[str, bytes] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if name:
            out[str(name)] = payload if isinstance(payload, bytes) else b""
    return out


def _response(status: int, answer: Any, ctype: str = "") -> Response:
    """
    A route's answer on the wire: bytes as they are with *ctype*, anything
    else as JSON.
    """
    if isinstance(answer, bytes):
        return Response(status, answer, [(b"content-type", ctype.encode())])
    return Response(
        status,
        json.dumps(answer).encode(),
        [(b"content-type", b"application/json; charset=utf-8")],
    )

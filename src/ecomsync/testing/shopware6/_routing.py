"""
The emulator's request plumbing: `Request` (the ASGI types, `Response`
and the fault gate are shared, in ``ecomsync.testing._asgi``), the route
table `route` fills, and the answers every route shares (no route,
unknown entity, invalid uuid, JSON:API framing).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import attrs

from .._asgi import Response, Routes, add_route
from ._errors import ApiError
from ._faults import FaultRuntime
from ._schema import ENTITIES, ID_RE


if TYPE_CHECKING:
    from ._app import App


SEGMENT = r"[A-Za-z0-9_.-]+"


@attrs.define
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str]
    base_url: str
    runtime: FaultRuntime

    def json(self, *, default: Any = None) -> Any:
        if not self.body.strip():
            return default
        try:
            return json.loads(self.body)
        except ValueError:
            raise ApiError.one(
                400,
                "FRAMEWORK__INVALID_REQUEST_BODY",
                "The JSON payload is malformed.",
            ) from None

    @property
    def json_api(self) -> bool:
        # Shopware's default format is JSON:API; simple JSON only when
        # asked for (§1.1).
        return "application/json" not in self.headers.get("accept", "")

    async def pay(self, *, items: int = 0, uploads: int = 0) -> None:
        f = self.runtime.faults
        ms = items * f.per_item_ms + uploads * f.per_upload_ms
        if ms > 0:
            await anyio.sleep(ms / 1000)


def json_response(status: int, data: Any, items: int = 0) -> Response:
    return Response(
        status,
        json.dumps(data, separators=(",", ":")).encode(),
        [(b"content-type", b"application/json")],
        items,
    )


def no_content(location: str | None = None, items: int = 0) -> Response:
    headers = [(b"location", location.encode())] if location else []
    return Response(204, b"", headers, items)


Handler = Callable[["App", Request], Awaitable[Response]]
ROUTES: Routes = []


H = TypeVar("H", bound=Handler)


def route(
    method: str, pattern: str, *, writes: bool = False
) -> Callable[[H], H]:
    """
    Register a handler; *writes* marks requests that commit-then-timeout
    may hold back.
    """
    return add_route(ROUTES, method, pattern, writes=writes)


def no_route(req: Request) -> ApiError:
    """
    Symfony's RouterListener: a 404 NotFoundHttpException, rendered by
    ErrorResponseFactory with the exception code "0".
    """
    return ApiError(
        404,
        [
            {
                "code": "0",
                "status": "404",
                "title": "Not Found",
                "detail": f'No route found for "{req.method} '
                f'{req.base_url}{req.path}"',
            }
        ],
    )


def entity_name(req: Request) -> str:
    """
    The entity of a generic route; ApiRouteLoader registers routes for
    the known entities only, so another name finds no route.
    """
    name = req.params["entity"].replace("-", "_")
    if name not in ENTITIES:
        raise no_route(req)
    return name


def check_id(value: str) -> str:
    if not ID_RE.match(value):
        raise ApiError.one(
            400,
            "FRAMEWORK__INVALID_UUID",
            f'The string "{value}" is not a valid uuid.',
            parameters={"input": value},
        )
    return value


def jsonapi(entity: str, data: dict[str, Any]) -> dict[str, Any]:
    attrs_ = {k: v for k, v in data.items() if k not in ("id", "apiAlias")}
    return {
        "id": data.get("id"),
        "type": entity,
        "attributes": attrs_,
        "relationships": {},
    }

"""
The HTTP surface of the emulator: a plain ASGI callable that routes
Admin API requests to `ShopwareEmulator`, answers in Shopware's simple
JSON (or a minimal JSON:API when the client forgets
``Accept: application/json``) and runs every request through the cost
model and fault switchboard of `._faults`.  Request plumbing lives in
`._routing`, the search endpoints' logic in `._search`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .._asgi import (
    EmulatorApp,
    Incoming,
    Response,
    Send,
    find_route,
    retry_after,
    send_response,
    through_faults,
)
from . import _search
from ._criteria import Resolver, render
from ._emulator import RequestRecord
from ._errors import ApiError, database_error, error
from ._faults import Faults
from ._routing import (
    ROUTES,
    SEGMENT,
    Handler,
    Request,
    check_id,
    entity_name,
    json_response,
    jsonapi,
    no_content,
    no_route,
    route,
)
from ._schema import ENTITIES


if TYPE_CHECKING:
    from ._emulator import ShopwareEmulator


_SYNC_ACTIONS = ("upsert", "delete")


def _storm(faults: Faults) -> Response:
    """
    The answer of an injected 429/503.
    """
    resp = json_response(
        faults.storm_status,
        {
            "errors": [
                error(
                    faults.storm_status,
                    "EMULATOR__INJECTED_STATUS",
                    "Injected by the emulator's fault switchboard.",
                )
            ]
        },
    )
    resp.headers += retry_after(faults)
    return resp


class App(EmulatorApp):
    """
    ASGI application over one `ShopwareEmulator`.
    """

    def __init__(self, emulator: ShopwareEmulator) -> None:
        self.emu = emulator

    async def handle(self, incoming: Incoming, send: Send) -> None:
        emu = self.emu
        rt = emu.fault_runtime
        method = incoming.method
        path = incoming.path.rstrip("/") or "/"
        req = Request(
            method=method,
            path=path,
            query=dict(parse_qsl(incoming.query_string)),
            headers=incoming.headers,
            body=incoming.body,
            params={},
            base_url=incoming.base_url,
            runtime=rt,
        )
        name, writes, req.params = find_route(ROUTES, method, path)
        size = len(incoming.body)
        resp = await through_faults(
            rt,
            send,
            abort_mode=emu.abort_mode,
            request_bytes=size,
            process=lambda: self._process(name, req),
            storm=_storm,
            on_reset=lambda: emu.record(
                RequestRecord(method, path, name, 0, 0, size, 0)
            ),
            auth=name == "token",
            writes=writes,
        )
        emu.record(
            RequestRecord(
                method,
                path,
                name,
                resp.status,
                resp.items,
                size,
                len(resp.body),
            )
        )
        await send_response(send, resp, rt.faults)

    async def _process(self, name: str, req: Request) -> Response:
        try:
            if name == "unknown":
                raise no_route(req)
            if name != "token":
                self.emu.check_token(req.headers.get("authorization"))
            handler: Handler = getattr(App, name)
            return await handler(self, req)
        except ApiError as e:
            resp = json_response(e.status, {"errors": e.errors})
            resp.headers += [
                (k.encode(), v.encode()) for k, v in e.headers.items()
            ]
            return resp

    # -- auth ------------------------------------------------------------

    @route("POST", "/api/oauth/token")
    async def token(self, req: Request) -> Response:
        ctype = req.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" in ctype:
            data: Any = dict(parse_qsl(req.body.decode()))
        else:
            data = req.json(default={})
        if not isinstance(data, dict):
            data = {}

        def invalid_request(param: str) -> ApiError:
            return ApiError.one(
                400,
                "3",
                f"Check the `{param}` parameter",
                title=(
                    "The request is missing a required parameter, includes "
                    "an invalid parameter value, includes a parameter more "
                    "than once, or is otherwise malformed."
                ),
            )

        grant = data.get("grant_type")
        if not grant:
            raise invalid_request("grant_type")
        if grant != "client_credentials":
            raise ApiError.one(
                400,
                "2",
                "Check that all required parameters have been provided",
                title=(
                    "The authorization grant type is not supported by the "
                    "authorization server."
                ),
            )
        cid, secret = data.get("client_id"), data.get("client_secret")
        if not isinstance(cid, str) or not cid:
            raise invalid_request("client_id")
        token = self.emu.issue_token(cid, str(secret or ""))
        return json_response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": self.emu.token_ttl,
                "access_token": token,
            },
        )

    @route("GET", "/api/_info/version")
    async def version(self, req: Request) -> Response:
        return json_response(200, {"version": "6.6.10.0"})

    # -- sync ------------------------------------------------------------

    @route("POST", "/api/_action/sync", writes=True)
    async def sync(self, req: Request) -> Response:
        payload = req.json(default=None)
        if isinstance(payload, dict):
            pairs = list(payload.items())
        elif isinstance(payload, list):
            pairs = [(str(i), op) for i, op in enumerate(payload)]
        else:
            raise _invalid_sync(
                "Invalid payload format. Expected an array of operations."
            )
        ops: list[tuple[str, Any, Any, list[Any], Any]] = []
        errors = []
        for pos, op in pairs:
            if not isinstance(op, dict):
                raise _invalid_sync(
                    "Invalid payload format. Expected an array of operations."
                )
            key = str(op.get("key", pos))
            entity, action = op.get("entity"), op.get("action")
            if not isinstance(entity, str) or not entity:
                errors.append(
                    f'Missing "entity" argument for operation with key '
                    f'"{key}". It needs to be a non-empty string.'
                )
            if action not in _SYNC_ACTIONS:
                errors.append(
                    f'Missing or invalid "action" argument for operation '
                    f'with key "{key}". Supported actions are '
                    f"[{', '.join(_SYNC_ACTIONS)}]"
                )
            items, criteria = op.get("payload"), op.get("criteria")
            if not items and not criteria:
                errors.append(
                    f'Missing "payload"|"criteria" argument for operation '
                    f'with key "{key}". It needs to be a non-empty array.'
                )
            elif items is not None and not isinstance(items, list):
                errors.append(
                    f'Invalid "payload" argument for operation with key '
                    f'"{key}". It needs to be an array.'
                )
            ops.append((key, entity, action, items or [], criteria))
        if errors:
            raise ApiError(
                400,
                [
                    error(400, "FRAMEWORK__INVALID_SYNC_OPERATION", e)
                    for e in errors
                ],
            )
        for key, entity, action, _, criteria in ops:
            if entity not in ENTITIES:
                # DefinitionInstanceRegistry::getByEntityName: a
                # ShopwareHttpException without its own status, so 500.
                raise ApiError.one(
                    500,
                    "FRAMEWORK__DEFINITION_NOT_FOUND",
                    f'Definition for entity "{entity}" does not exist.',
                    parameters={"entityName": entity},
                )
            # SyncService::handleCriteriaDelete (6.5.2 to 6.6.7): only a
            # delete reads its criteria, and only for a mapping entity
            # (MappingEntityDefinition); an upsert ignores them.
            if (
                action == "delete"
                and criteria
                and (
                    not ENTITIES[entity].criteria_delete
                    or not isinstance(criteria, list)
                )
            ):
                raise ApiError.one(
                    400,
                    "API_INVALID_SYNC_CRITERIA_EXCEPTION",
                    f'Sync operation {key}, with action "delete", requires '
                    "a criteria with at least one filter and can only be "
                    "applied for mapping entities",
                    pointer=f"/{key}",
                )
        # Foreign keys given as {"resolver": ...} are resolved against
        # committed data before the write (SyncFkResolver).
        # Skip the walk (a copy of the payload) when nothing asks for it.
        if b'"resolver"' in req.body:
            for key, _, _, items, _ in ops:
                for i, item in enumerate(items):
                    items[i] = self._resolve(item, f"/{key}/{i}")

        n_items = sum(len(items) or 1 for *_, items, _ in ops)
        await req.pay(items=n_items)
        w = self.emu.writer()
        # SyncService::loopOperations turns each delete's criteria into the
        # primary keys it matches before anything is written (its payload,
        # if any, is replaced): a row an earlier operation of the same
        # request adds is not deleted.
        found = {
            n: w.criteria_payload(
                ENTITIES[str(op[1])], op[4], f"/{op[0]}/criteria"
            )
            for n, op in enumerate(ops)
            if op[2] == "delete" and op[4]
        }
        for n, (key, entity, action, items, _) in enumerate(ops):
            d = ENTITIES[str(entity)]
            for i, item in enumerate(found.get(n, items)):
                if action == "upsert":
                    w.upsert(d, item, f"/{key}/{i}")
                else:
                    w.delete(d, item, f"/{key}/{i}")
        # EntityWriter::sync extracts every operation, then throws the
        # violations of all of them at once; only then do the statements
        # run (Writer.check_database), in one transaction.
        w.commit()
        return json_response(200, w.result(), items=n_items)

    def _resolve(self, value: Any, ptr: str) -> Any:
        if isinstance(value, list):
            return [
                self._resolve(v, f"{ptr}/{i}") for i, v in enumerate(value)
            ]
        if not isinstance(value, dict):
            return value
        if "resolver" in value and "value" in value:
            if value["resolver"] != "product.number":
                raise ApiError.one(
                    400,
                    "API_RESOLVER_NOT_FOUND_EXCEPTION",
                    f'Foreign key resolver for key "{value["resolver"]}" '
                    "not found",
                    pointer=ptr,
                )
            found = self.emu.store.find(
                "product", "productNumber", value["value"]
            )
            if found:
                return found[0]
            if value.get("nullOnMissing"):
                return None
            raise ApiError.one(
                404,
                "FRAMEWORK__API_INVALID_SYNC_RESOLVERS",
                "Unable to resolve foreign keys: product.number "
                f"{value['value']!r}",
                pointer=ptr,
                parameters={
                    "resolver": "product.number",
                    "value": value["value"],
                },
            )
        return {k: self._resolve(v, f"{ptr}/{k}") for k, v in value.items()}

    @route("POST", f"/api/search/(?P<entity>{SEGMENT})")
    async def search(self, req: Request) -> Response:
        entity = entity_name(req)
        found = _search.search(self.emu.store, entity, req.json(default={}))
        return json_response(200, _search.listing(entity, found, req.json_api))

    @route("POST", f"/api/search-ids/(?P<entity>{SEGMENT})")
    async def search_ids(self, req: Request) -> Response:
        entity = entity_name(req)
        total, _, keys, _ = _search.search(
            self.emu.store, entity, req.json(default={})
        )
        return json_response(200, {"total": total, "data": keys})

    # -- media -----------------------------------------------------------

    @route("POST", f"/api/_action/media/(?P<id>{SEGMENT})/upload", writes=True)
    async def upload(self, req: Request) -> Response:
        await req.pay(uploads=1)
        media_id = req.params["id"]
        self.emu.upload_media(
            media_id,
            req.body,
            extension=req.query.get("extension"),
            file_name=req.query.get("fileName"),
            content_type=req.headers.get("content-type", ""),
            base_url=req.base_url,
        )
        return no_content(f"{req.base_url}/api/media/{media_id}", items=1)

    # -- state machines --------------------------------------------------

    @route(
        "POST",
        "/api/_action/(?P<entity>order|order_delivery|order_transaction)"
        f"/(?P<id>{SEGMENT})/state/(?P<transition>{SEGMENT})",
        writes=True,
    )
    async def transition(self, req: Request) -> Response:
        body = req.json(default={})
        body = body if isinstance(body, dict) else {}
        # sendMail defaults to true: only an explicit false suppresses it.
        send_mail = body.get("sendMail", True) is not False
        skip = req.headers.get("sw-skip-trigger-flow", "").lower() in (
            "1",
            "true",
        )
        comment = body.get("internalComment")
        state = self.emu.transition(
            req.params["entity"].replace("-", "_"),
            req.params["id"],
            req.params["transition"],
            send_mail=send_mail,
            skip_flow=skip,
            internal_comment=comment if isinstance(comment, str) else None,
        )
        res = Resolver(self.emu.store)
        data = render("state_machine_state", state, {}, {}, res)
        # OrderActionController: `new JsonResponse($toPlace->
        # jsonSerialize())`, the entity itself whatever the Accept header.
        data["_uniqueIdentifier"] = data.get("id")
        data["extensions"] = []
        return json_response(200, data)

    @route(
        "POST",
        f"/api/_action/state-machine/(?P<entity>{SEGMENT})"
        f"/(?P<id>{SEGMENT})/state/(?P<transition>{SEGMENT})",
        writes=True,
    )
    async def state_machine_transition(self, req: Request) -> Response:
        return await self.transition(req)

    @route(
        "GET",
        f"/api/_action/state-machine/(?P<entity>{SEGMENT})"
        f"/(?P<id>{SEGMENT})/state",
    )
    async def available(self, req: Request) -> Response:
        return json_response(
            200,
            {
                "transitions": self.emu.available_transitions(
                    req.params["entity"].replace("-", "_"), req.params["id"]
                )
            },
        )

    # -- generic CRUD ----------------------------------------------------

    @route("GET", f"/api/(?P<entity>{SEGMENT})")
    async def list_rows(self, req: Request) -> Response:
        entity = entity_name(req)
        criteria = _search.query_criteria(req.query)
        found = _search.search(self.emu.store, entity, criteria)
        return json_response(200, _search.listing(entity, found, req.json_api))

    def _read(self, entity: str, rid: str, api: bool) -> Response:
        row = self.emu.store.get(entity, check_id(rid))
        if row is None:
            raise _not_found(entity, rid)
        data = render(entity, row, {}, {}, Resolver(self.emu.store))
        return json_response(
            200, {"data": jsonapi(entity, data) if api else data}
        )

    @route("GET", f"/api/(?P<entity>{SEGMENT})/(?P<id>{SEGMENT})")
    async def read_row(self, req: Request) -> Response:
        entity = entity_name(req)
        return self._read(entity, req.params["id"], req.json_api)

    def _single_write(
        self, req: Request, entity: str, rid: str | None
    ) -> Response:
        body = req.json(default=None)
        if isinstance(body, list):
            raise ApiError.one(
                400,
                "FRAMEWORK__INVALID_REQUEST_BODY",
                "Only single write operations are supported. Please send "
                "the entities one by one or use the /sync api endpoint.",
            )
        if not isinstance(body, dict):
            raise ApiError.one(
                400,
                "FRAMEWORK__INVALID_REQUEST_BODY",
                "The request body has to be a JSON object.",
            )
        d = ENTITIES[entity]
        if rid is not None:
            body["id"] = check_id(rid)
        elif isinstance(body.get("id"), str) and self.emu.store.get(
            entity, body["id"]
        ):
            # POST is an insert; MySQL rejects the duplicate key.
            raise database_error(
                1062, f"Duplicate entry for key '{entity}.PRIMARY'"
            )
        w = self.emu.writer()
        key = w.upsert(d, body, "/0")
        w.commit()
        assert key is not None
        if req.query.get("_response") in ("basic", "detail", "true"):
            return self._read(entity, key, req.json_api)
        url = req.params["entity"]
        return no_content(f"{req.base_url}/api/{url}/{key}", items=1)

    @route("POST", f"/api/(?P<entity>{SEGMENT})", writes=True)
    async def create_row(self, req: Request) -> Response:
        return self._single_write(req, entity_name(req), None)

    @route(
        "PATCH", f"/api/(?P<entity>{SEGMENT})/(?P<id>{SEGMENT})", writes=True
    )
    async def update_row(self, req: Request) -> Response:
        entity = entity_name(req)
        return self._single_write(req, entity, req.params["id"])

    @route(
        "DELETE",
        f"/api/(?P<entity>{SEGMENT})/(?P<id>{SEGMENT})",
        writes=True,
    )
    async def delete_row(self, req: Request) -> Response:
        entity = entity_name(req)
        rid = check_id(req.params["id"])
        row = self.emu.store.get(entity, rid)
        if row is None:
            raise _not_found(entity, rid)
        w = self.emu.writer()
        w.cascade_delete(ENTITIES[entity], rid, row)
        w.commit()
        return no_content(items=1)


def _invalid_sync(detail: str) -> ApiError:
    return ApiError.one(400, "FRAMEWORK__INVALID_SYNC_OPERATION", detail)


def _not_found(entity: str, rid: str) -> ApiError:
    return ApiError.one(
        404,
        "FRAMEWORK__RESOURCE_NOT_FOUND",
        f"The {entity} resource with the following primary key was not "
        f"found: id({rid})",
        parameters={"type": entity, "primaryKey": f"id({rid})"},
    )

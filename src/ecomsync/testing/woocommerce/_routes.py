"""
What every resource's routes share: permissions, collections (paging,
ordering, ``include``, date windows), created answers and the batch
endpoint's per-item handling.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ._errors import WpError, invalid_param
from ._request import (
    WC,
    Request,
    Response,
    as_bool,
)
from ._wp import (
    BATCH_LIMIT,
    Row,
    in_window,
    parse_date_param,
)


if TYPE_CHECKING:
    from ._emulator import WooCommerceEmulator


class Routes:
    """
    The helpers the resource routes share; `App` wires them to a
    `WooCommerceEmulator`.
    """

    emu: WooCommerceEmulator

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
        gmt = as_bool(req.query.get("dates_are_gmt", "false"))
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

    def _listing(
        self,
        req: Request,
        rows: list[Row],
        default: str,
        fields: dict[str, str],
        *,
        dates: bool = False,
        render: Callable[[Row], Row] = dict,
    ) -> Response:
        """
        A collection: ``include``/``exclude``, the date windows when
        *dates*, ``orderby`` among *fields* (*default* first), a page of
        rows rendered by *render*.
        """
        rows = self._include(req, rows)
        if dates:
            rows = self._dates(req, rows)
        rows = self._order(req, rows, default, fields)
        return self._page(req, [render(r) for r in rows])

    @staticmethod
    def _found(
        req: Request, rows: Mapping[int, Row], code: str, message: str
    ) -> Response:
        """
        The row the route's ``id`` names, or a 404 with *code*.
        """
        row = rows.get(int(req.params["id"]))
        if row is None:
            raise WpError(404, code, message)
        return Response(200, dict(row))

    def _created(self, req: Request, path: str, body: Row) -> Response:
        return Response(
            201, body, {"Location": f"{req.base_url}/wp-json{WC}{path}"}
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

"""
The order routes (orders, their notes, customers) and WordPress' media
endpoint.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from ._errors import WpError, invalid_param
from ._request import (
    EDIT,
    ORDER_SCHEMA,
    WC,
    Request,
    Response,
    as_bool,
    route,
    validate,
)
from ._routes import Routes
from ._wp import (
    ORDER_STATUSES,
    Row,
)


class OrderRoutes(Routes):
    """
    ``/orders`` with notes, ``/customers`` and ``/wp/v2/media``.
    """

    # -- orders -----------------------------------------------------------

    @route("GET", f"{WC}/orders")
    async def orders_list(self, req: Request) -> Response:
        self._require(req, "read")
        rows = list(self.emu.shop.orders.values())
        status = req.query.get("status", "any")
        if status == "any":
            # WP_Query's "any" leaves out the statuses excluded from
            # search (trash); HPOS's lists the order statuses, without it
            rows = [r for r in rows if r["status"] != "trash"]
        else:
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
        if req.query.get("search"):
            rows = [r for r in rows if _found_by(r, req.query["search"])]
        return self._listing(
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
            dates=True,
        )

    @route("POST", f"{WC}/orders", writes=True)
    async def orders_create(self, req: Request) -> Response:
        """
        ``WC_REST_Orders_Controller::create_item`` (a subset): addresses,
        status, currency, ``line_items`` by ``product_id``/``variation_id``
        or ``sku``, priced from the product; ``set_paid`` completes its
        payment, and its stock moves with its status, as a checkout's.
        """
        self._require(req, "create")
        data = req.json()
        validate(data, ORDER_SCHEMA)
        row = self._create_order(data if isinstance(data, dict) else {})
        return self._created(req, f"/orders/{row['id']}", dict(row))

    def _create_order(self, data: dict[str, Any]) -> Row:
        """
        The order *data* asks for, made as ``POST /orders`` (and a batch's
        ``create``) makes it.
        """
        if data.get("id"):
            raise WpError(
                400,
                "woocommerce_rest_shop_order_exists",
                "Cannot create existing shop_order.",
            )
        # WC_Abstract_Order::set_status: "wc-" dropped, an unknown status
        # (a batch item is not validated) taken as pending
        status = str(data.get("status") or "pending").removeprefix("wc-")
        if status not in ORDER_STATUSES:
            status = "pending"
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
        ships, fees = _shipping_lines(data), _fee_lines(data)
        refused = _coupon_error(data)
        if refused is not None:
            # calculate_totals saved the order (pending, its status set
            # later) before calculate_coupons refused: WooCommerce answers
            # the error and keeps the order
            status = "pending"
        # WC_Abstract_Order::calculate_totals: the items, the shipping and
        # the fees, and their taxes, of which the emulator has none (no
        # tax rates)
        shipping = sum((_money(x["total"]) for x in ships), Decimal(0))
        total = sum(
            (Decimal(str(line["price"])) * line["quantity"] for line in lines),
            shipping + sum((_money(f["total"]) for f in fees), Decimal(0)),
        )
        order_id = self.emu.place_order(
            status=status,
            billing=data.get("billing") or {},
            shipping=data.get("shipping") or None,
            lines=lines,
            total=f"{total:.2f}",
            currency=str(data.get("currency") or "EUR"),
            customer_id=int(data.get("customer_id") or 0),
            shipping_total=f"{shipping:.2f}",
            fee_lines=fees,
        )
        row = shop.orders[order_id]
        row["created_via"] = "rest-api"
        row["shipping_lines"] = [
            {"id": order_id * 100 + 80 + n, **ship}
            for n, ship in enumerate(ships, start=1)
        ]
        if data.get("transaction_id"):
            row["transaction_id"] = str(data["transaction_id"])
        if refused is not None:
            raise refused
        # WC_REST_Orders_V2_Controller::save_object: a new order with
        # set_paid is paid after its save, whatever its status
        # (WC_Order::payment_complete: date_paid, processing, stock)
        if as_bool(data.get("set_paid")):
            shop.payment_complete(row, str(data.get("transaction_id") or ""))
        return row

    @route("GET", rf"{WC}/orders/(?P<id>\d+)")
    async def orders_get(self, req: Request) -> Response:
        self._require(req, "read")
        return self._found(
            req,
            self.emu.shop.orders,
            "woocommerce_rest_shop_order_invalid_id",
            "Invalid ID.",
        )

    @route(EDIT, rf"{WC}/orders/(?P<id>\d+)", writes=True)
    async def orders_update(self, req: Request) -> Response:
        self._require(req, "edit")
        data = req.json()
        validate(data, ORDER_SCHEMA)
        return Response(
            200, dict(self.emu.shop.update_order(int(req.params["id"]), data))
        )

    @route(EDIT, f"{WC}/orders/batch", writes=True)
    async def orders_batch(self, req: Request) -> Response:
        self._require(req, "batch")
        shop = self.emu.shop

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
            create=lambda d: dict(self._create_order(d)),
            update=lambda i, d: dict(shop.update_order(i, d)),
            delete=delete,
        )

    @route("GET", rf"{WC}/orders/(?P<id>\d+)/refunds")
    async def refunds_list(self, req: Request) -> Response:
        """
        ``WC_REST_Order_Refunds_Controller::get_items``: the order's
        refunds, newest first unless ``orderby`` says otherwise (the
        collection parameters of ``WC_REST_CRUD_Controller``), paged.
        """
        self._require(req, "read")
        order_id = int(req.params["id"])
        if order_id not in self.emu.shop.orders:
            raise WpError(
                404, "woocommerce_rest_invalid_order_id", "Invalid order ID."
            )
        rows = list(self.emu.shop.refunds.get(order_id, []))
        return self._listing(
            req,
            rows,
            "date",
            {
                "date": "date_created_gmt",
                "id": "id",
                "include": "id",
                "modified": "date_created_gmt",
                "title": "id",
                "slug": "id",
            },
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
            customer_note=as_bool(data.get("customer_note", False)),
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
        return self._listing(
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

    @route("GET", rf"{WC}/customers/(?P<id>\d+)")
    async def customers_get(self, req: Request) -> Response:
        self._require(req, "read")
        return self._found(
            req,
            self.emu.shop.customers,
            "woocommerce_rest_invalid_id",
            "Invalid resource ID.",
        )

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
        contains ``search``, and whose slug is one of ``slug`` (a comma
        separated list), where given.
        """
        needle = req.query.get("search", "").lower()
        slugs = {s for s in req.query.get("slug", "").split(",") if s}
        rows = [
            self.emu.media_json(a)
            for a in self.emu.shop.media.values()
            if needle in a.filename.rsplit(".", 1)[0].lower()
            and (not slugs or a.slug in slugs)
        ]
        return self._page(req, rows)

    @route("DELETE", r"/wp/v2/media/(?P<id>\d+)", writes=True)
    async def media_delete(self, req: Request) -> Response:
        """
        ``WP_REST_Attachments_Controller::delete_item``: attachments are
        not trashed, so only ``force=true`` deletes one.
        """
        attachment = self.emu.shop.media.get(int(req.params["id"]))
        if attachment is None:
            raise WpError(404, "rest_post_invalid_id", "Invalid post ID.")
        if req.query.get("force") not in ("true", "1"):
            raise WpError(
                501,
                "rest_trash_not_supported",
                "The post does not support trashing. Set 'force=true' to "
                "delete.",
            )
        previous = self.emu.media_json(attachment)
        del self.emu.shop.media[attachment.id]
        return Response(200, {"deleted": True, "previous": previous})

    @route("GET", r"/wp/v2/media/(?P<id>\d+)")
    async def media_get(self, req: Request) -> Response:
        attachment = self.emu.shop.media.get(int(req.params["id"]))
        if attachment is None:
            raise WpError(404, "rest_post_invalid_id", "Invalid post ID.")
        return Response(200, self.emu.media_json(attachment))


def _found_by(row: Row, term: str) -> bool:
    """
    Whether ``search=term`` lists the order, as ``wc_order_search``
    (``WC_Order_Data_Store_CPT::search_orders``) finds it: a numeric
    term is an order id; else the term within (``LIKE %term%``) one of
    the search fields: the billing and shipping address indexes, the
    billing last name and email, and the number a numbering plugin gave
    (its ``_order_number`` meta, which Sequential Order Numbers adds to
    ``woocommerce_shop_order_search_fields``).  When nothing is found,
    WordPress searches the order posts' titles; no number is there.
    """
    term = term.strip()
    if term.isdigit() and int(term) == row["id"]:
        return True
    billing, shipping = row.get("billing") or {}, row.get("shipping") or {}
    number = str(row.get("number") or "")
    fields = [
        " ".join(str(v) for v in billing.values()),
        " ".join(str(v) for v in shipping.values()),
        str(billing.get("last_name") or ""),
        str(billing.get("email") or ""),
        number if number != str(row["id"]) else "",
    ]
    return any(term.lower() in f.lower() for f in fields)


def _money(value: Any) -> Decimal:
    """
    An amount as ``wc_format_decimal`` reads it: what is no number is 0.
    """
    try:
        amount = Decimal(str(value if value not in (None, "") else 0))
    except InvalidOperation:
        return Decimal(0)
    return amount if amount.is_finite() else Decimal(0)


def _shipping_lines(data: dict[str, Any]) -> list[Row]:
    """
    The ``shipping_lines`` of a new order as ``WC_REST_Orders_V2_
    Controller::prepare_shipping_lines`` takes them: a ``method_id``
    each, the ``total`` (net) as given, no tax (the emulator has no tax
    rates).
    """
    rows = []
    for item in data.get("shipping_lines") or []:
        if not isinstance(item, dict):
            continue
        if not item.get("method_id"):
            raise WpError(
                400,
                "woocommerce_rest_invalid_shipping_item",
                "Shipping method ID is required.",
            )
        rows.append(
            {
                "method_title": str(item.get("method_title") or ""),
                "method_id": str(item["method_id"]),
                "instance_id": str(item.get("instance_id") or ""),
                "total": f"{_money(item.get('total')):.2f}",
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": [],
            }
        )
    return rows


def _fee_lines(data: dict[str, Any]) -> list[Row]:
    """
    The ``fee_lines`` of a new order as ``prepare_fee_lines`` takes
    them: a ``name`` each, the ``total`` (net, negative for a discount)
    as given, no tax.
    """
    rows = []
    for item in data.get("fee_lines") or []:
        if not isinstance(item, dict):
            continue
        if not item.get("name"):
            raise WpError(
                400,
                "woocommerce_rest_invalid_fee_item",
                "Fee name is required.",
            )
        rows.append(
            {
                "name": str(item["name"]),
                "total": f"{_money(item.get('total')):.2f}",
                "total_tax": "0.00",
            }
        )
    return rows


def _coupon_error(data: dict[str, Any]) -> WpError | None:
    """
    The error ``WC_REST_Orders_Controller::calculate_coupons`` answers
    ``coupon_lines`` with where the shop has no such coupon
    (``WC_Discounts::validate_coupon_exists``): the emulator has none.
    """
    for item in data.get("coupon_lines") or []:
        if not isinstance(item, dict):
            continue
        if item.get("id"):
            return WpError(
                400,
                "woocommerce_rest_coupon_item_id_readonly",
                "Coupon item ID is readonly.",
            )
        # wc_format_coupon_code: the filters wc_sanitize_coupon_code and
        # wc_strtolower
        code = str(item.get("code") or "").strip().lower()
        if not code:
            return WpError(
                400,
                "woocommerce_rest_invalid_coupon",
                "Coupon code is required.",
            )
        return WpError(
            400,
            "woocommerce_rest_invalid_coupon",
            f'Coupon "{code}" does not exist!',
        )
    return None

"""
`WooCommerceEmulator`: the shop's data (`Shop`), its API keys, the fault
switchboard and the request log, behind one ASGI app.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ..._model import Order, OrderState
from .._faults import Faults, FaultSwitch
from ._app import App
from ._auth import ApiKey, Authenticator
from ._order_stock import move_order_stock
from ._request import RequestRecord
from ._shop import Attachment, Row, Shop


#: The ERP's order states as WooCommerce statuses (for `place`).
_STATUS_OF = {
    OrderState.OPEN: "processing",
    OrderState.IN_PROGRESS: "processing",
    OrderState.SHIPPED: "completed",
    OrderState.COMPLETED: "completed",
    OrderState.CANCELLED: "cancelled",
}

#: ``get_allowed_mime_types`` (a selection of WordPress' defaults).
ALLOWED_MIME_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/bmp",
        "image/tiff",
        "image/x-icon",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/msword",
        "application/zip",
        "video/mp4",
        "audio/mpeg",
    }
)


class WooCommerceEmulator(FaultSwitch):
    """
    An emulated WooCommerce shop with the REST API v3 under
    ``/wp-json/wc/v3`` and WordPress' media endpoint
    ``/wp-json/wp/v2/media``.

    Args:
        consumer_key: The first API key's consumer key (``ck_...``).
        consumer_secret: Its consumer secret (``cs_...``).
        permissions: Its permissions (``read``, ``write`` or
            ``read_write``); more keys with `add_key`.
        wp_user: A WordPress user name that may upload media ...
        wp_application_password: ... with this application password.
        timezone: The site's time zone (``date_*`` fields are in it,
            ``date_*_gmt`` in UTC).
        manage_stock: The ``woocommerce_manage_stock`` option.
        faults: Costs and failures (`Faults`, shared with the Shopware
            emulator).

    Over ``http://`` clients authenticate with OAuth 1.0a, over
    ``https://`` (in process: an ``https`` base URL) with HTTP Basic, as
    WooCommerce does.  Inspect ``shop`` (`Shop`), ``requests`` (the
    request log) after a test.
    """

    def __init__(
        self,
        consumer_key: str = "ck_emulator",
        consumer_secret: str = "cs_emulator",  # noqa: S107 - an emulator
        *,
        permissions: str = "read_write",
        wp_user: str = "admin",
        wp_application_password: str = "emulatorapppassword0000",  # noqa: S107
        timezone: str = "Europe/Berlin",
        manage_stock: bool = True,
        keep_media_bytes: bool = False,
        faults: Faults | None = None,
    ) -> None:
        self.shop = Shop(
            timezone=ZoneInfo(timezone),
            manage_stock=manage_stock,
            keep_media_bytes=keep_media_bytes,
        )
        self.auth = Authenticator()
        self.auth.add(ApiKey(consumer_key, consumer_secret, permissions))
        self.wp_users = {wp_user: wp_application_password.replace(" ", "")}
        self.allowed_mime_types = ALLOWED_MIME_TYPES
        self.requests: deque[RequestRecord] = deque(maxlen=100_000)
        self.abort_mode: Literal["raise", "close"] = "raise"
        self._switch_faults(faults)
        self.app = App(self)

    def __repr__(self) -> str:
        return (
            f"<WooCommerceEmulator products={len(self.shop.products)} "
            f"orders={len(self.shop.orders)}>"
        )

    def add_key(
        self,
        consumer_key: str,
        consumer_secret: str,
        permissions: str = "read_write",
    ) -> None:
        """
        Add another REST API key.
        """
        self.auth.add(ApiKey(consumer_key, consumer_secret, permissions))

    def record(self, entry: RequestRecord) -> None:
        self.requests.append(entry)

    def media_json(self, attachment: Attachment) -> Row:
        """
        An attachment as ``wp/v2/media`` answers it.
        """
        local, gmt = datetime.now(UTC), datetime.now(UTC)
        return {
            "id": attachment.id,
            "date": local.replace(tzinfo=None, microsecond=0).isoformat(),
            "date_gmt": gmt.replace(tzinfo=None, microsecond=0).isoformat(),
            "slug": attachment.slug,
            "status": "inherit",
            "type": "attachment",
            "title": {
                "raw": attachment.filename,
                "rendered": attachment.filename,
            },
            "media_type": "image" if attachment.is_image else "file",
            "mime_type": attachment.mime_type,
            "source_url": attachment.source_url,
            "media_details": {"filesize": attachment.size},
        }

    # -- seeding ------------------------------------------------------------

    def place_order(
        self,
        *,
        number: str | None = None,
        status: str = "processing",
        billing: dict[str, str] | None = None,
        shipping: dict[str, str] | None = None,
        lines: list[dict[str, Any]] | None = None,
        total: str = "0.00",
        currency: str = "EUR",
        customer_id: int = 0,
        created_at: datetime | None = None,
        modified_at: datetime | None = None,
        shipping_total: str = "0.00",
        shipping_tax: str = "0.00",
        discount_total: str = "0.00",
        discount_tax: str = "0.00",
        fee_lines: list[dict[str, Any]] | None = None,
    ) -> int:
        """
        Put an order into the shop as a customer's checkout would; returns
        its id.  *lines* hold ``sku``, ``name``, ``quantity``, ``price``
        and optionally WooCommerce's own line amounts (``subtotal``,
        ``subtotal_tax``: before coupons; ``total``, ``total_tax``: after
        them; all net, as WooCommerce keeps them), which default to
        *price* times *quantity* with no tax.  The order's
        *shipping_total*, *discount_total* (coupons) and their taxes are
        WooCommerce's fields as given, net; *fee_lines* are rows
        (``name``, ``total``, ``total_tax``) as WooCommerce lists them.
        *total* is taken as given, like the rest.
        """
        shop = self.shop
        # WooCommerce's order number is the order id (filter
        # woocommerce_order_number); a free numeric number becomes the id.
        if number and number.isdigit():
            order_id = shop.take_post_id(int(number))
        else:
            order_id = shop.next_post_id()
        blank = dict.fromkeys(
            [
                "first_name",
                "last_name",
                "company",
                "address_1",
                "address_2",
                "city",
                "state",
                "postcode",
                "country",
            ],
            "",
        )
        row: Row = {
            "id": order_id,
            "parent_id": 0,
            "number": number or str(order_id),
            "order_key": f"wc_order_{order_id:013d}",
            "created_via": "checkout",
            "status": status,
            "currency": currency,
            "prices_include_tax": True,
            "customer_id": customer_id,
            "customer_note": "",
            "billing": {**blank, "email": "", "phone": "", **(billing or {})},
            "shipping": {**blank, "phone": "", **(shipping or billing or {})},
            "payment_method": "bacs",
            "payment_method_title": "Direct bank transfer",
            "transaction_id": "",
            "line_items": [],
            "shipping_lines": [],
            "fee_lines": [
                {
                    "id": order_id * 100 + 50 + n,
                    "name": str(fee.get("name", "Fee")),
                    "tax_class": "",
                    "tax_status": "taxable",
                    "total": str(fee.get("total", "0.00")),
                    "total_tax": str(fee.get("total_tax", "0.00")),
                    "taxes": [],
                    "meta_data": [],
                }
                for n, fee in enumerate(fee_lines or [], start=1)
            ],
            "coupon_lines": [],
            "tax_lines": [],
            "refunds": [],
            "meta_data": [],
            "total": total,
            "total_tax": "0.00",
            "shipping_total": shipping_total,
            "shipping_tax": shipping_tax,
            "discount_total": discount_total,
            "discount_tax": discount_tax,
            "date_completed": None,
            "date_completed_gmt": None,
            "date_paid": None,
            "date_paid_gmt": None,
        }
        row["shipping"].pop("email", None)
        for i, line in enumerate(lines or [], start=1):
            sku = str(line.get("sku", ""))
            product_id = shop.product_by_sku(sku) if sku else 0
            variation_id = 0
            if product_id and shop.products[product_id]["parent_id"]:
                variation_id = product_id
                product_id = shop.products[product_id]["parent_id"]
            price = Decimal(str(line.get("price", "0")))
            qty = int(line.get("quantity", 1))
            row["line_items"].append(
                {
                    "id": order_id * 100 + i,
                    "name": str(line.get("name", sku)),
                    "product_id": product_id,
                    "variation_id": variation_id,
                    "quantity": qty,
                    "tax_class": "",
                    "subtotal": str(
                        line.get("subtotal", f"{price * qty:.2f}")
                    ),
                    "subtotal_tax": str(line.get("subtotal_tax", "0.00")),
                    "total": str(line.get("total", f"{price * qty:.2f}")),
                    "total_tax": str(line.get("total_tax", "0.00")),
                    "sku": sku,
                    "price": float(price),
                    "meta_data": [],
                }
            )
        moment = created_at or datetime.now(UTC)
        shop.stamp(row, created=True, at=moment)
        if modified_at is not None:
            shop.stamp(row, created=False, at=modified_at)
        shop.orders[order_id] = row
        # a checkout paid, or an order made with this status: its stock
        # moves as the status says
        move_order_stock(shop, row, status)
        return order_id

    def refund(
        self,
        order_id: int,
        lines: Mapping[str, int] | None = None,
        *,
        shipping: bool = False,
        amount: str | None = None,
        reason: str = "",
        at: datetime | None = None,
    ) -> int:
        """
        Refund an order as ``wc_create_refund`` does (the merchant's
        refund in the admin); returns the refund's id.

        *lines* are units per SKU: each refunded line item comes back
        with a negative ``quantity`` and its share of the line's
        ``total`` and ``total_tax`` (after coupons) as negative
        ``subtotal``/``total`` and taxes, rounded to the cent, and
        ``_refunded_item_id`` in its ``meta_data`` (the order's line item
        it refunds); *shipping* refunds the order's shipping likewise
        (``shipping_lines``).  *amount* is the money refunded (by
        default what those lines and shipping come to; alone it is a
        refund of money without items).  The order keeps its line items
        and lists the refund in ``refunds`` (``id``, ``reason``,
        ``total`` negative, newest first); it is ``refunded`` once
        refunds reach its total; its modification date moves.  More
        units than a line has left, or a SKU the order lacks, raise
        `ValueError`.
        """
        shop = self.shop
        order = shop.orders.get(order_id)
        if order is None:
            raise ValueError(f"no order {order_id}")
        cent = Decimal("0.01")
        taken: dict[int, int] = {}
        for refund in shop.refunds.get(order_id, []):
            for item in refund["line_items"]:
                origin = int(item["meta_data"][0]["value"])
                taken[origin] = taken.get(origin, 0) - int(item["quantity"])
        items: list[Row] = []
        for sku, units in (lines or {}).items():
            line = next(
                (li for li in order["line_items"] if li["sku"] == sku), None
            )
            left = 0 if line is None else line["quantity"]
            left -= 0 if line is None else taken.get(line["id"], 0)
            if line is None or not 0 < units <= left:
                raise ValueError(
                    f"order {order_id} has no {units} of {sku} to refund"
                )
            share = Decimal(units) / line["quantity"]
            net = (Decimal(line["total"]) * share).quantize(cent)
            tax = (Decimal(line["total_tax"]) * share).quantize(cent)
            items.append(
                {
                    "id": shop.next_post_id(),
                    "name": line["name"],
                    "product_id": line["product_id"],
                    "variation_id": line["variation_id"],
                    "quantity": -units,
                    "tax_class": line["tax_class"],
                    "subtotal": f"{-net:.2f}",
                    "subtotal_tax": f"{-tax:.2f}",
                    "total": f"{-net:.2f}",
                    "total_tax": f"{-tax:.2f}",
                    "taxes": [],
                    "meta_data": [
                        {
                            "id": shop.next_post_id(),
                            "key": "_refunded_item_id",
                            "value": str(line["id"]),
                            "display_key": "_refunded_item_id",
                            "display_value": str(line["id"]),
                        }
                    ],
                    "sku": line["sku"],
                    "price": float(net / units),
                }
            )
        ships: list[Row] = []
        if shipping:
            ships.append(
                {
                    "id": shop.next_post_id(),
                    "method_title": "Shipping",
                    "method_id": "flat_rate",
                    "total": f"{-Decimal(order['shipping_total']):.2f}",
                    "total_tax": f"{-Decimal(order['shipping_tax']):.2f}",
                    "taxes": [],
                    "meta_data": [],
                }
            )
        if amount is None:
            money = sum(
                (
                    -Decimal(x["total"]) - Decimal(x["total_tax"])
                    for x in (*items, *ships)
                ),
                Decimal(0),
            )
        else:
            money = Decimal(amount)
        refund_id = shop.next_post_id()
        moment = at or datetime.now(UTC)
        row: Row = {
            "id": refund_id,
            "amount": f"{money:.2f}",
            "reason": reason,
            "refunded_by": 1,
            "refunded_payment": False,
            "meta_data": [],
            "line_items": items,
            "shipping_lines": ships,
            "tax_lines": [],
            "fee_lines": [],
        }
        shop.stamp(row, created=True, at=moment)
        del row["date_modified"], row["date_modified_gmt"]
        shop.refunds.setdefault(order_id, []).insert(0, row)
        order["refunds"].insert(
            0, {"id": refund_id, "reason": reason, "total": f"{-money:.2f}"}
        )
        refunded = sum(
            (-Decimal(r["total"]) for r in order["refunds"]), Decimal(0)
        )
        if refunded >= Decimal(order["total"]):
            order["status"] = "refunded"
        shop.stamp(order, created=False, at=moment)
        return refund_id

    def place(
        self, order: Order, *, created_at: datetime | None = None
    ) -> int:
        """
        `place_order` for an ecomsync `Order`.
        """

        def address(a: Any, email: str = "") -> dict[str, str]:
            data = {
                "first_name": a.first_name,
                "last_name": a.last_name,
                "company": a.company,
                "address_1": a.street,
                "city": a.city,
                "postcode": a.zip_code,
                "country": a.country,
                "phone": a.phone,
            }
            if email:
                data["email"] = email
            return data

        return self.place_order(
            number=order.number,
            status=_STATUS_OF[order.state],
            billing=address(order.billing, order.customer.email),
            shipping=address(order.shipping),
            lines=[
                {
                    "sku": line.article_number,
                    "name": line.name,
                    "quantity": line.quantity,
                    "price": line.unit_price,
                }
                for line in order.lines
            ],
            total=f"{order.total:.2f}",
            currency=order.currency,
            created_at=created_at or order.ordered_at,
            shipping_total=f"{order.shipping_total:.2f}",
            discount_total=f"{order.discount_total:.2f}",
        )

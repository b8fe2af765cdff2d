"""
The emulated shop's data and the rules WooCommerce applies when it is
written: product categories (``term_exists``), orders and their notes
here; products and variations (SKU uniqueness, images, stock) in
``_product_rules``; the tables, ids, clocks and media attachments in
``_state``; WordPress' conventions in ``_wp``.  Every rule names the
WooCommerce or WordPress source it follows.  The HTTP surface is in
``_app``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from ._errors import WpError, invalid_param
from ._order_stock import PAYABLE, move_order_stock, needs_payment
from ._product_rules import ProductRules
from ._request import as_bool
from ._state import Attachment
from ._wp import (
    BATCH_LIMIT,
    ORDER_STATUSES,
    Row,
    as_int,
    collate,
    sanitize_title,
    wp_dates,
)


__all__ = ["BATCH_LIMIT", "Attachment", "Row", "Shop"]


#: Characters in ``wp_terms.name`` (``varchar(200)``).
TERM_NAME_LENGTH = 200


@attrs.define
class Shop(ProductRules):
    """
    The data of one emulated WooCommerce shop.

    ``products`` holds products and variations (``type == "variation"``,
    with ``parent_id``) by id, as WordPress keeps both as posts;
    ``categories`` the ``product_cat`` terms; ``orders``, ``notes`` (by
    order id), ``customers`` and ``media`` (attachments) likewise.
    """

    def __attrs_post_init__(self) -> None:
        self._term_id += 1
        self.categories[self._term_id] = {
            "id": self._term_id,
            "name": "Uncategorized",
            "slug": "uncategorized",
            "parent": 0,
            "description": "",
            "display": "default",
            "image": None,
            "menu_order": 0,
            "count": 0,
        }

    # -- categories (WC_REST_Product_Categories_Controller) -------------

    def create_category(self, data: Mapping[str, Any]) -> Row:
        """
        ``WC_REST_Terms_Controller::create_item`` → ``wp_insert_term``: a
        name equal to a sibling's (same parent), with no slug or the same
        slug, is ``term_exists`` with the existing ``resource_id``; a slug
        taken elsewhere is made unique (``wp_unique_term_slug``).
        """
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise WpError(
                400, "empty_term_name", "A name is required for this term."
            )
        name = name.strip()
        if len(name) > TERM_NAME_LENGTH:
            # wp_insert_term: $wpdb->insert fails on a value longer than
            # its column (wp_terms.name varchar(200)).
            raise WpError(
                400,
                "db_insert_error",
                "Could not insert term into the database.",
            )
        parent = as_int(data.get("parent", 0))
        if parent and parent not in self.categories:
            raise WpError(
                400,
                "woocommerce_rest_term_invalid",
                "Parent resource does not exist.",
            )
        slug_given = bool(data.get("slug"))
        slug = sanitize_title(str(data.get("slug") or name))
        for term in self.categories.values():
            if (
                term["parent"] == parent
                and collate(term["name"]) == collate(name)
                and (not slug_given or term["slug"] == slug)
            ):
                raise WpError(
                    400,
                    "term_exists",
                    "A term with the name provided already exists with "
                    "this parent.",
                    resource_id=term["id"],
                )
        slug = self._unique_slug(slug)
        self._term_id += 1
        row: Row = {
            "id": self._term_id,
            "name": name,
            "slug": slug,
            "parent": parent,
            "description": str(data.get("description") or ""),
            "display": str(data.get("display") or "default"),
            "image": None,
            "menu_order": as_int(data.get("menu_order", 0)),
            "count": 0,
        }
        self.categories[row["id"]] = row
        self._category_image(row, data)
        return row

    def update_category(self, term_id: int, data: Mapping[str, Any]) -> Row:
        row = self.categories.get(term_id)
        if row is None:
            raise WpError(
                400 if data else 404,
                "woocommerce_rest_term_invalid",
                "Resource does not exist.",
            )
        if "parent" in data:
            parent = as_int(data["parent"])
            if parent and parent not in self.categories:
                raise WpError(
                    400,
                    "woocommerce_rest_term_invalid",
                    "Parent resource does not exist.",
                )
            up = parent
            while up:
                if up == term_id:
                    raise WpError(
                        400,
                        "woocommerce_rest_term_invalid",
                        "A term cannot be its own ancestor.",
                    )
                up = self.categories[up]["parent"]
            row["parent"] = parent
        name = str(data.get("name") or "").strip() or row["name"]
        if len(name) <= TERM_NAME_LENGTH:
            # wp_update_term does not check its $wpdb->update of name and
            # slug: with a name over wp_terms.name's 200 characters both
            # stay as they were, without an error.
            row["name"] = name
            if data.get("slug"):
                slug = sanitize_title(str(data["slug"]))
                if slug != row["slug"]:
                    row["slug"] = self._unique_slug(slug)
        for field in ("description", "display"):
            if field in data:
                row[field] = str(data[field] or "")
        if "menu_order" in data:
            row["menu_order"] = as_int(data["menu_order"])
        self._category_image(row, data)
        return row

    def delete_category(self, term_id: int, *, force: bool) -> Row:
        row = self.categories.get(term_id)
        if row is None:
            raise WpError(
                404,
                "woocommerce_rest_term_invalid",
                "Resource does not exist.",
            )
        if not force:
            raise WpError(
                501,
                "woocommerce_rest_trash_not_supported",
                "Resource does not support trashing.",
            )
        if row["slug"] == "uncategorized":
            raise WpError(
                500,
                "woocommerce_rest_cannot_delete",
                "The resource cannot be deleted.",
            )
        del self.categories[term_id]
        for term in self.categories.values():
            if term["parent"] == term_id:
                term["parent"] = row["parent"]
        return row

    def _category_image(self, row: Row, data: Mapping[str, Any]) -> None:
        # WC_REST_Product_Categories_Controller::update_term_meta_fields:
        # ``isset( $request['image'] )`` is false for null, so a null
        # image leaves the term's image as it is; an image without id
        # and src (``{}``, ``{"id": 0}``) deletes it.
        image = data.get("image")
        if image is None:
            return
        if not isinstance(image, Mapping) or not (
            as_int(image.get("id", 0)) or image.get("src")
        ):
            row["image"] = None
            return
        attachment = self._image(image, 0)
        row["image"] = self._image_json(attachment, 0)

    def _unique_slug(self, slug: str) -> str:
        taken = {t["slug"] for t in self.categories.values()}
        if slug not in taken:
            return slug
        n = 2
        while f"{slug}-{n}" in taken:
            n += 1
        return f"{slug}-{n}"

    # -- orders (WC_REST_Orders_Controller) -------------------------------

    def update_order(self, order_id: int, data: Mapping[str, Any]) -> Row:
        row = self.orders.get(order_id)
        if row is None:
            raise WpError(
                400, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."
            )
        if "status" in data:
            status = str(data["status"]).removeprefix("wc-")
            if status not in ORDER_STATUSES:
                raise invalid_param(
                    "status",
                    f"status is not one of {', '.join(ORDER_STATUSES)}.",
                    "rest_not_in_enum",
                )
            self.set_status(row, status)
        for field in ("customer_note", "transaction_id", "payment_method"):
            if field in data:
                row[field] = str(data[field])
        if "meta_data" in data:
            meta = {m["key"]: m for m in row["meta_data"]}
            for m in data["meta_data"] or []:
                if isinstance(m, dict) and "key" in m:
                    meta[m["key"]] = {"id": len(meta) + 1, **m}
            row["meta_data"] = list(meta.values())
        # WC_REST_Orders_V2_Controller::save_object: after the save,
        # set_paid completes the payment of an order that needs one
        if as_bool(data.get("set_paid")) and needs_payment(row):
            self.payment_complete(row, str(data.get("transaction_id") or ""))
        self.stamp(row, created=False)
        return row

    def set_status(self, row: Row, status: str) -> None:
        """
        Turn the order *row* to *status* as ``WC_Order::set_status`` and
        its save do: a note, the stock moved, ``date_completed``.
        """
        if status != row["status"]:
            self.add_note(
                int(row["id"]),
                f"Order status changed from {row['status']} to {status}.",
                customer_note=False,
                author="system",
            )
            # woocommerce_order_status_<status> fires on a change only
            move_order_stock(self, row, status)
        row["status"] = status
        if status == "completed" and not row.get("date_completed"):
            row["date_completed"], row["date_completed_gmt"] = wp_dates(
                datetime.now(UTC), self.timezone
            )

    def payment_complete(self, row: Row, transaction_id: str = "") -> None:
        """
        ``WC_Order::payment_complete``: an ``on-hold``, ``pending``,
        ``failed`` or ``cancelled`` order takes *transaction_id* and its
        ``date_paid`` and turns ``processing`` (``completed`` where no
        line needs processing); its stock moves as the status says
        (``woocommerce_payment_complete`` runs
        ``wc_maybe_reduce_stock_levels``, which reduces each line once).
        Any other order is left as it is.
        """
        if row["status"] not in PAYABLE:
            return
        if transaction_id:
            row["transaction_id"] = transaction_id
        if not row.get("date_paid_gmt"):
            row["date_paid"], row["date_paid_gmt"] = wp_dates(
                datetime.now(UTC), self.timezone
            )
        status = "processing" if self._needs_processing(row) else "completed"
        self.set_status(row, status)

    def _needs_processing(self, row: Row) -> bool:
        """
        ``WC_Order::needs_processing``: a line item whose product is
        not both virtual and downloadable (a product gone is skipped).
        """
        for line in row.get("line_items") or []:
            pid = int(line.get("variation_id") or line.get("product_id") or 0)
            product = self.products.get(pid)
            if product is None:
                continue
            if not (product.get("virtual") and product.get("downloadable")):
                return True
        return False

    def add_note(
        self,
        order_id: int,
        note: str,
        *,
        customer_note: bool,
        author: str = "WooCommerce",
    ) -> Row:
        if order_id not in self.orders:
            raise WpError(
                404, "woocommerce_rest_order_invalid_id", "Invalid order ID."
            )
        local, gmt = wp_dates(datetime.now(UTC), self.timezone)
        row = {
            "id": self.next_post_id(),
            "author": author,
            "date_created": local,
            "date_created_gmt": gmt,
            "note": note,
            "customer_note": customer_note,
        }
        self.notes.setdefault(order_id, []).append(row)
        return row

    def shift(self, row: Row, at: datetime) -> None:
        """
        Set a row's created and modified dates to *at* (tests).
        """
        self.stamp(row, created=True, at=at)

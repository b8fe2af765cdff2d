"""
The emulated shop's data and the rules WooCommerce applies when it is
written: products and variations (SKU uniqueness, images, stock),
product categories (``term_exists``), orders and their notes, customers,
and WordPress media attachments.  Every rule names the WooCommerce or
WordPress source it follows.  The HTTP surface is in `._app`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from ._errors import WpError, invalid_param


Row = dict[str, Any]

#: ``WC_REST_Controller::check_batch_limit`` (filter
#: ``woocommerce_rest_batch_items_limit``, default 100).
BATCH_LIMIT = 100

#: ``WC_REST_Orders_Controller`` (v2) order statuses, ``wc_get_order_statuses``
ORDER_STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
)
PRODUCT_TYPES = ("simple", "grouped", "external", "variable")
PRODUCT_STATUSES = ("draft", "pending", "private", "publish", "future")

_SLUG_DROP = re.compile(r"[^a-z0-9 _-]")
_SLUG_DASH = re.compile(r"[\s_-]+")


def sanitize_title(text: str) -> str:
    """
    Roughly WordPress' ``sanitize_title_with_dashes``: accents removed,
    lower case, anything but letters, digits and dashes dropped.
    """
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    plain = _SLUG_DROP.sub("", plain.lower().replace("ß", "ss"))
    return _SLUG_DASH.sub("-", plain).strip("-")


def collate(text: str) -> str:
    """
    A value as MySQL's ``utf8mb4_unicode_520_ci`` compares it (WordPress'
    default collation): case and accents ignored, trailing spaces too.
    """
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return plain.casefold().rstrip(" ")


def money(value: Any) -> str:
    """
    ``wc_format_decimal``: a price as WooCommerce stores and answers it
    (a string; empty for no price).
    """
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return ""
    if not number.is_finite():
        return ""
    # wc_format_decimal keeps trailing zeros (trim_zeros is false).
    text = str(value).strip()
    return text if "e" not in text.lower() else format(number, "f")


def _date(at: datetime, tz: tzinfo) -> tuple[str, str]:
    local = at.astimezone(tz).replace(tzinfo=None, microsecond=0)
    gmt = at.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    return local.isoformat(), gmt.isoformat()


@attrs.define
class Attachment:
    """
    A WordPress media attachment (``wp/v2/media``).
    """

    id: int
    filename: str
    mime_type: str
    sha256: str
    size: int
    source_url: str
    content: bytes | None = attrs.field(default=None, repr=False)

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")


@attrs.define
class Shop:
    """
    The data of one emulated WooCommerce shop.

    ``products`` holds products and variations (``type == "variation"``,
    with ``parent_id``) by id, as WordPress keeps both as posts;
    ``categories`` the ``product_cat`` terms; ``orders``, ``notes`` (by
    order id), ``customers`` and ``media`` (attachments) likewise.
    """

    timezone: tzinfo = attrs.field(factory=lambda: ZoneInfo("Europe/Berlin"))
    manage_stock: bool = True
    keep_media_bytes: bool = False
    #: URLs an ``images[].src`` may be sideloaded from, with their bytes;
    #: any other URL fails as an unreachable remote image.
    remote_files: dict[str, tuple[bytes, str]] = attrs.field(factory=dict)
    products: dict[int, Row] = attrs.field(factory=dict)
    categories: dict[int, Row] = attrs.field(factory=dict)
    orders: dict[int, Row] = attrs.field(factory=dict)
    notes: dict[int, list[Row]] = attrs.field(factory=dict)
    customers: dict[int, Row] = attrs.field(factory=dict)
    media: dict[int, Attachment] = attrs.field(factory=dict)
    base_url: str = "http://shop.test"
    _post_id: int = 100
    _term_id: int = 14  # 15 is "Uncategorized", made below

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

    # -- ids and clocks -------------------------------------------------

    def next_post_id(self) -> int:
        self._post_id += 1
        return self._post_id

    def stamp(
        self, row: Row, *, created: bool, at: datetime | None = None
    ) -> None:
        moment = at or datetime.now(UTC)
        local, gmt = _date(moment, self.timezone)
        if created:
            row["date_created"], row["date_created_gmt"] = local, gmt
        row["date_modified"], row["date_modified_gmt"] = local, gmt

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
        parent = _int(data.get("parent", 0))
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
            "menu_order": _int(data.get("menu_order", 0)),
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
            parent = _int(data["parent"])
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
        if "name" in data and str(data["name"]).strip():
            row["name"] = str(data["name"]).strip()
        if data.get("slug"):
            slug = sanitize_title(str(data["slug"]))
            if slug != row["slug"]:
                row["slug"] = self._unique_slug(slug)
        for field in ("description", "display"):
            if field in data:
                row[field] = str(data[field] or "")
        if "menu_order" in data:
            row["menu_order"] = _int(data["menu_order"])
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
        if "image" not in data:
            return
        image = data["image"]
        if not image:
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

    # -- products (WC_REST_Products_Controller) ---------------------------

    def create_product(
        self, data: Mapping[str, Any], *, parent: Row | None = None
    ) -> Row:
        """
        ``WC_REST_CRUD_Controller::create_item``: an ``id`` in the body is
        ``woocommerce_rest_{post_type}_exists``; otherwise the product is
        built (``prepare_object_for_database``) and saved, or nothing is.
        """
        post_type = "product_variation" if parent else "product"
        if data.get("id"):
            raise WpError(
                400,
                f"woocommerce_rest_{post_type}_exists",
                f"Cannot create existing {post_type}.",
            )
        row: Row = {
            "id": 0,
            "name": "" if parent else "Product",
            "slug": "",
            "type": "variation" if parent else "simple",
            "status": "publish",
            "sku": "",
            "global_unique_id": "",
            "price": "",
            "regular_price": "",
            "sale_price": "",
            "description": "",
            "short_description": "",
            "categories": [],
            "images": [],
            "attributes": [],
            "variations": [],
            "manage_stock": False,
            "stock_quantity": None,
            "stock_status": "instock",
            "meta_data": [],
            "downloadable": False,
            "downloads": [],
            "parent_id": parent["id"] if parent else 0,
        }
        self._apply_product(row, data, creating=True)
        row["id"] = self.next_post_id()
        if not row["slug"] and not parent:
            row["slug"] = sanitize_title(row["name"]) or str(row["id"])
        self.stamp(row, created=True)
        self.products[row["id"]] = row
        if parent:
            parent["variations"].append(row["id"])
        return row

    def update_product(
        self,
        product_id: int,
        data: Mapping[str, Any],
        *,
        parent: Row | None = None,
    ) -> Row:
        """
        ``WC_REST_CRUD_Controller::update_item``: an unknown id is 400
        ``woocommerce_rest_{post_type}_invalid_id``.
        """
        post_type = "product_variation" if parent else "product"
        row = self.products.get(product_id)
        if row is None or (
            parent is not None and row["parent_id"] != parent["id"]
        ):
            raise WpError(
                400, f"woocommerce_rest_{post_type}_invalid_id", "Invalid ID."
            )
        draft = {
            **row,
            "categories": list(row["categories"]),
            "images": list(row["images"]),
        }
        self._apply_product(draft, data, creating=False)
        row.update(draft)
        self.stamp(row, created=False)
        return row

    def get_product(
        self, product_id: int, *, parent: Row | None = None
    ) -> Row:
        post_type = "product_variation" if parent else "product"
        row = self.products.get(product_id)
        if row is None or (
            parent is not None and row["parent_id"] != parent["id"]
        ):
            raise WpError(
                404, f"woocommerce_rest_{post_type}_invalid_id", "Invalid ID."
            )
        return row

    def delete_product(
        self, product_id: int, *, parent: Row | None = None
    ) -> Row:
        row = self.get_product(product_id, parent=parent)
        del self.products[product_id]
        for child in [
            p for p in self.products.values() if p["parent_id"] == product_id
        ]:
            del self.products[child["id"]]
        if row["parent_id"] and row["parent_id"] in self.products:
            self.products[row["parent_id"]]["variations"].remove(product_id)
        return row

    def product_by_sku(self, sku: str, *, exclude: int = 0) -> int:
        """
        ``wc_get_product_id_by_sku`` (``is_existing_sku``): products and
        variations, compared in the table's collation.
        """
        key = collate(sku)
        for row in self.products.values():
            if (
                row["id"] != exclude
                and row["sku"]
                and collate(row["sku"]) == key
            ):
                return int(row["id"])
        return 0

    def _apply_product(  # noqa: PLR0915 - prepare_object_for_database
        self, row: Row, data: Mapping[str, Any], *, creating: bool
    ) -> None:
        for field in ("name", "description", "short_description", "slug"):
            if field in data and data[field] is not None:
                row[field] = str(data[field])
        if "type" in data and row["type"] != "variation":
            if data["type"] not in PRODUCT_TYPES:
                raise invalid_param(
                    "type",
                    f"type is not one of {', '.join(PRODUCT_TYPES)}.",
                    "rest_not_in_enum",
                )
            row["type"] = data["type"]
        if "status" in data:
            row["status"] = str(data["status"])
        if "sku" in data:
            # WC_Product::set_sku: wc_clean, then unique among products
            # and variations, else product_invalid_sku with the owner.
            sku = str(data["sku"] or "").strip()
            if sku:
                owner = self.product_by_sku(sku, exclude=row["id"])
                if owner:
                    n = 2
                    while self.product_by_sku(f"{sku}-{n}"):
                        n += 1
                    raise WpError(
                        400,
                        "product_invalid_sku",
                        "Invalid or duplicated SKU.",
                        resource_id=owner,
                        unique_sku=f"{sku}-{n}",
                    )
            row["sku"] = sku
        if "global_unique_id" in data:
            row["global_unique_id"] = str(data["global_unique_id"] or "")
        for field in ("regular_price", "sale_price"):
            if field in data:
                row[field] = money(data[field])
        row["price"] = row["sale_price"] or row["regular_price"]
        if "categories" in data and row["type"] != "variation":
            # wp_set_object_terms skips term ids that do not exist.
            ids = []
            for entry in data["categories"] or []:
                term_id = _int(
                    entry.get("id") if isinstance(entry, dict) else 0
                )
                if term_id in self.categories and term_id not in ids:
                    ids.append(term_id)
            row["categories"] = [
                {
                    "id": i,
                    "name": self.categories[i]["name"],
                    "slug": self.categories[i]["slug"],
                }
                for i in ids
            ]
        if "attributes" in data:
            row["attributes"] = [
                dict(a)
                for a in data["attributes"] or []
                if isinstance(a, dict)
            ]
        if "meta_data" in data:
            row["meta_data"] = [
                dict(m) for m in data["meta_data"] or [] if isinstance(m, dict)
            ]
        if "downloadable" in data:
            row["downloadable"] = bool(data["downloadable"])
        if "downloads" in data:
            row["downloads"] = [
                dict(d) for d in data["downloads"] or [] if isinstance(d, dict)
            ]
        # Stock (prepare_object_for_database): stock_quantity only counts
        # while stock is managed, and only with woocommerce_manage_stock.
        if "manage_stock" in data:
            row["manage_stock"] = bool(data["manage_stock"])
        if "stock_status" in data:
            row["stock_status"] = str(data["stock_status"])
        if self.manage_stock:
            if row["manage_stock"]:
                if "stock_quantity" in data:
                    row["stock_quantity"] = _int(data["stock_quantity"])
                elif "inventory_delta" in data:
                    row["stock_quantity"] = (
                        row["stock_quantity"] or 0
                    ) + _int(data["inventory_delta"])
                if row["type"] != "variable":
                    row["stock_status"] = (
                        "instock"
                        if (row["stock_quantity"] or 0) > 0
                        else "outofstock"
                    )
            else:
                row["stock_quantity"] = None
        if "images" in data:
            row["images"] = self._product_images(
                data["images"], row["type"] == "variation"
            )
        elif "image" in data and row["type"] == "variation":
            row["images"] = self._product_images(
                [data["image"]] if data["image"] else [], True
            )

    def _product_images(self, images: Any, variation: bool) -> list[Row]:
        """
        ``WC_REST_Products_Controller::set_product_images``: the list
        replaces all images; index 0 is the featured image, the rest the
        gallery; an entry without ``id`` is downloaded again into a new
        attachment; failure aborts the whole item.
        """
        result = []
        for position, image in enumerate(images or []):
            if not isinstance(image, dict):
                continue
            attachment = self._image(image, position)
            result.append(self._image_json(attachment, position, image))
            if variation:
                break
        return result

    def _image(self, image: Mapping[str, Any], position: int) -> Attachment:
        attachment_id = _int(image.get("id", 0))
        if attachment_id:
            found = self.media.get(attachment_id)
            if found is None or not found.is_image:
                raise WpError(
                    400,
                    "woocommerce_product_invalid_image_id",
                    f"#{attachment_id} is an invalid image ID.",
                )
            return found
        src = str(image.get("src") or "")
        remote = self.remote_files.get(src)
        if remote is None:
            raise WpError(
                400,
                "woocommerce_product_image_upload_error",
                f"Error getting remote image {src}. Error: A valid URL "
                "was not provided.",
            )
        content, mime = remote
        name = src.rsplit("/", 1)[-1] or "image"
        return self.add_media(content, name, mime)

    def _image_json(
        self,
        attachment: Attachment,
        position: int,
        image: Mapping[str, Any] | None = None,
    ) -> Row:
        image = image or {}
        return {
            "id": attachment.id,
            "src": attachment.source_url,
            "name": str(image.get("name") or attachment.filename),
            "alt": str(image.get("alt") or ""),
        }

    # -- media (WP_REST_Attachments_Controller) ---------------------------

    def add_media(
        self, content: bytes, filename: str, mime_type: str
    ) -> Attachment:
        attachment_id = self.next_post_id()
        name = re.sub(r"[^A-Za-z0-9._-]", "-", filename) or "file"
        attachment = Attachment(
            id=attachment_id,
            filename=name,
            mime_type=mime_type,
            sha256=hashlib.sha256(content).hexdigest(),
            size=len(content),
            source_url=f"{self.base_url}/wp-content/uploads/{attachment_id}/{name}",
            content=content if self.keep_media_bytes else None,
        )
        self.media[attachment_id] = attachment
        return attachment

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
            if status != row["status"]:
                self.add_note(
                    order_id,
                    f"Order status changed from {row['status']} to {status}.",
                    customer_note=False,
                    author="system",
                )
            row["status"] = status
            if status == "completed" and not row.get("date_completed"):
                row["date_completed"], row["date_completed_gmt"] = _date(
                    datetime.now(UTC), self.timezone
                )
        for field in ("customer_note", "transaction_id", "payment_method"):
            if field in data:
                row[field] = str(data[field])
        if "meta_data" in data:
            meta = {m["key"]: m for m in row["meta_data"]}
            for m in data["meta_data"] or []:
                if isinstance(m, dict) and "key" in m:
                    meta[m["key"]] = {"id": len(meta) + 1, **m}
            row["meta_data"] = list(meta.values())
        self.stamp(row, created=False)
        return row

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
        local, gmt = _date(datetime.now(UTC), self.timezone)
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


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def parse_date_param(name: str, value: str) -> datetime:
    """
    ``rest_parse_date`` for a ``date-time`` argument; naive results are
    interpreted by the caller in the column's time zone.
    """
    text = value.strip().replace(" ", "T")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise invalid_param(
            name, "Invalid date.", "rest_invalid_date"
        ) from None


def in_window(
    column: str,
    *,
    after: datetime | None,
    before: datetime | None,
    tz: tzinfo,
    gmt: bool,
) -> bool:
    """
    ``WP_Date_Query`` on one column (``after``/``before`` exclusive, as
    WooCommerce does not set ``inclusive``).
    """
    value = datetime.fromisoformat(column)
    zone = UTC if gmt else tz

    def local(d: datetime) -> datetime:
        if d.tzinfo is not None:
            d = d.astimezone(zone).replace(tzinfo=None)
        return d

    if after is not None and not value > local(after):
        return False
    return before is None or value < local(before)


def day(n: int) -> timedelta:
    return timedelta(days=n)

"""
WooCommerce's rules for products and variations: SKU uniqueness,
images (replaced as a list, sideloaded or attached by id), stock only
when managed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._errors import WpError, invalid_param
from ._state import Attachment, ShopState
from ._wp import (
    PRODUCT_TYPES,
    Row,
    as_int,
    collate,
    money,
    sanitize_text_field,
    sanitize_title,
)


class ProductRules(ShopState):
    """
    ``WC_REST_Products_Controller`` and its variations controller over
    the shop's tables.
    """

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
            "tax_status": "taxable",
            "tax_class": "parent" if parent else "",
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
        row = self._product(product_id, parent, status=400)
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
        """
        ``WC_REST_CRUD_Controller::get_item``: an unknown id is 404
        ``woocommerce_rest_{post_type}_invalid_id``.
        """
        return self._product(product_id, parent, status=404)

    def _product(
        self, product_id: int, parent: Row | None, *, status: int
    ) -> Row:
        """
        The product *product_id* (a variation of *parent*, if given), or
        ``woocommerce_rest_{post_type}_invalid_id`` with *status*.
        """
        post_type = "product_variation" if parent else "product"
        row = self.products.get(product_id)
        if row is None or (
            parent is not None and row["parent_id"] != parent["id"]
        ):
            raise WpError(
                status,
                f"woocommerce_rest_{post_type}_invalid_id",
                "Invalid ID.",
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
        variations, compared in the table's collation; a product in the
        trash holds no SKU (``posts.post_status != 'trash'``).
        """
        key = collate(sku)
        for row in self.products.values():
            if (
                row["id"] != exclude
                and row["status"] != "trash"
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
        if "tax_status" in data:
            if data["tax_status"] not in ("taxable", "shipping", "none", ""):
                raise WpError(
                    400,
                    "product_invalid_tax_status",
                    "Invalid product tax status.",
                )
            row["tax_status"] = data["tax_status"] or "taxable"
        if "tax_class" in data:
            # WC_Product::set_tax_class: "standard" is "", and a class
            # the shop does not have becomes "" without a word
            # (variations also take "parent").
            slug = sanitize_title(str(data["tax_class"] or ""))
            slug = "" if slug == "standard" else slug
            valid = ["", *self.tax_classes]
            if row["type"] == "variation":
                valid.append("parent")
            row["tax_class"] = slug if slug in valid else ""
        if "sku" in data:
            # WC_Product::set_sku: wc_clean, then unique among products
            # and variations, else product_invalid_sku with the owner.
            sku = sanitize_text_field(str(data["sku"] or ""))
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
            # WC_Product::set_global_unique_id: every character but
            # digits, hyphens and X dropped without a word, then the
            # format checked (X only as an ISBN-10's last character), then
            # unique among products and variations.
            gtin = re.sub(
                r"[^0-9Xx\-]", "", str(data["global_unique_id"] or "")
            )
            if gtin and not re.fullmatch(r"[0-9\-]*[0-9Xx]?", gtin):
                raise WpError(
                    400,
                    "product_invalid_global_unique_id_format",
                    "Invalid GTIN, UPC, EAN, or ISBN. The letter X is only "
                    "valid as the final ISBN-10 check digit.",
                )
            if gtin and any(
                other["id"] != row["id"]
                and other.get("global_unique_id") == gtin
                for other in self.products.values()
            ):
                raise WpError(
                    400,
                    "product_invalid_global_unique_id",
                    "Invalid or duplicated GTIN, UPC, EAN or ISBN.",
                )
            row["global_unique_id"] = gtin
        for field in ("regular_price", "sale_price"):
            if field in data:
                row[field] = money(data[field])
        row["price"] = row["sale_price"] or row["regular_price"]
        if "categories" in data and row["type"] != "variation":
            # wp_set_object_terms skips term ids that do not exist.
            ids = []
            for entry in data["categories"] or []:
                term_id = as_int(
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
            row["attributes"] = self._attributes(row, data["attributes"])
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
                    row["stock_quantity"] = as_int(data["stock_quantity"])
                elif "inventory_delta" in data:
                    row["stock_quantity"] = (
                        row["stock_quantity"] or 0
                    ) + as_int(data["inventory_delta"])
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

    def _attributes(self, row: Row, given: Any) -> list[Row]:
        """
        Custom attributes keyed by ``sanitize_title(name)``: a product's
        later attribute of a key replaces the earlier
        (``WC_Product::set_attributes``); a variation keeps only those
        its parent has as variation attributes, of a key other than ""
        (the variations controller skips the rest).
        """
        keyed: dict[str, Row] = {}
        for a in given or []:
            if isinstance(a, dict):
                keyed[sanitize_title(str(a.get("name") or ""))] = dict(a)
        if row["parent_id"]:
            parent = self.products.get(row["parent_id"]) or {}
            kept = {
                sanitize_title(str(a.get("name") or ""))
                for a in parent.get("attributes") or []
                if a.get("variation")
            }
            # "" is skipped (`! $attribute_name`), though a parent keeps it
            keyed = {k: a for k, a in keyed.items() if k and k in kept}
        return list(keyed.values())

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
        attachment_id = as_int(image.get("id", 0))
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

"""
The emulated shop's data and the catalogue mutations (productSet,
collections, files) with Shopify's ``userErrors``; what a productSet
input is checked against before it is written is in ``_product_set``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ._inventory import stock_variant
from ._product_set import (
    file_number,
    metafields,
    option_combo,
    product_set_errors,
    title_handle,
)
from ._views import (
    Row,
    check_input,
    connection,
    gid,
    now_iso,
    parse_gid,
    refused,
    user_error,
)


class Shop:
    """
    Products, variants, collections, files, locations, inventory levels,
    orders with fulfillment orders, staged uploads and bulk operations;
    every id is a GID.  Rows are plain dicts, readable in tests.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self._ids = itertools.count(1001)
        self.products: dict[int, Row] = {}
        self.variants: dict[int, Row] = {}
        self.collections: dict[int, Row] = {}
        self.files: dict[int, Row] = {}
        self._file_names: dict[str, int] = {}
        self.locations: dict[int, Row] = {}
        # (inventory item number, location number) -> {"available": n, ...}
        self.levels: dict[tuple[int, int], dict[str, int]] = {}
        #: Inventory items Shopify does not track ("Track quantity" off):
        #: their quantities are kept but the shop sells them without limit.
        self.untracked: set[int] = set()
        self.orders: dict[int, Row] = {}
        self.customers: dict[int, Row] = {}
        self.fulfillment_orders: dict[int, Row] = {}
        #: staged upload key -> bytes (None until uploaded)
        self.staged: dict[str, bytes | None] = {}
        self.bulk_operations: dict[int, Row] = {}
        self.idempotency: dict[str, Row] = {}
        # indexes, so that a catalogue of 10,000 products stays linear
        self._by_handle: dict[str, int] = {}
        self._by_metafield: dict[tuple[str, str, str], int] = {}
        self._by_item: dict[int, int] = {}
        self._suffixes: dict[str, int] = {}
        #: GID of the primary location (``location`` without an id).
        self.primary_location = self.add_location("Warehouse")
        #: The currency the shop sells in (``shop { currencyCode }``),
        #: in which its products' prices are.
        self.currency = "EUR"

    def next_id(self) -> int:
        return next(self._ids)

    def now(self) -> str:
        return now_iso(self.clock)

    # -- locations --------------------------------------------------------

    def add_location(self, name: str, *, primary: bool = False) -> str:
        """
        Add an active location named *name*; its GID.  *primary* makes it
        the shop's primary location (Settings > Locations > default).
        It stocks nothing until an item is activated there, as in
        Shopify.
        """
        n = self.next_id()
        self.locations[n] = {
            "id": gid("Location", n),
            "name": name,
            "isActive": True,
        }
        if primary:
            self.primary_location = gid("Location", n)
        return gid("Location", n)

    def sorted_locations(self, key: str, reverse: bool) -> list[Row]:
        """
        The locations as ``locations(sortKey:, reverse:)`` lists them
        (``NAME`` by default, ties by id).
        """
        rows = sorted(
            self.locations.items(),
            key=lambda kv: (
                (kv[1]["name"].casefold(), kv[0])
                if key == "NAME"
                else (kv[0],)
            ),
        )
        listed = [row for _, row in rows]
        return listed[::-1] if reverse else listed

    # -- views ------------------------------------------------------------

    def product_view(self, n: int) -> Row:
        p = self.products[n]
        view = {k: v for k, v in p.items() if not k.startswith("_")}
        view["variants"] = connection(
            lambda: [self.variant_view(v) for v in p["_variants"]]
        )
        view["collections"] = connection(
            lambda: [
                self.collections[c]
                for c in p["_collections"]
                if c in self.collections
            ]
        )
        view["metafields"] = connection(lambda: list(p["_metafields"]))
        view["media"] = connection(
            lambda: [self.file_view(f) for f in p["_media"] if f in self.files]
        )

        def metafield(_info: Any, namespace: str, key: str) -> Row | None:
            for m in p["_metafields"]:
                if m["namespace"] == namespace and m["key"] == key:
                    return dict(m)
            return None

        view["metafield"] = metafield
        return view

    def variant_view(self, n: int) -> Row:
        v = self.variants[n]
        view = {k: val for k, val in v.items() if not k.startswith("_")}
        view["inventoryItem"] = self.item_view(v["_item"])
        view["product"] = lambda _info: self.product_view(v["_product"])
        return view

    def variant_of_item(self, item: int) -> int | None:
        """
        The variant that inventory item *item* belongs to, if any.
        """
        n = self._by_item.get(item)
        return n if n in self.variants else None

    def item_view(self, item: int) -> Row:
        n = self.variant_of_item(item)
        variant = self.variants[n] if n is not None else {}

        def levels() -> list[Row]:
            return [
                self.level_view(item, loc)
                for loc in self.locations
                if (item, loc) in self.levels
            ]

        return {
            "id": gid("InventoryItem", item),
            "sku": variant.get("sku"),
            "tracked": item not in self.untracked,
            "inventoryLevels": connection(levels),
        }

    def level_view(self, item: int, loc: int) -> Row:
        """
        The inventory level of *item* at *loc* (where it is stocked).
        """
        q = self.levels[(item, loc)]
        return {
            "id": gid("InventoryLevel", item * 100000 + loc),
            "location": self.locations[loc],
            "quantities": lambda _info, names: [
                {"name": nm, "quantity": q.get(nm, 0)} for nm in names
            ],
        }

    def file_view(self, n: int) -> Row:
        f = self.files[n]
        if f["fileStatus"] == "PROCESSING" and f["_reads"] > 0:
            f["fileStatus"] = "READY" if f["_ok"] else "FAILED"
        f["_reads"] += 1
        return {k: v for k, v in f.items() if k == "__typename" or k[0] != "_"}

    # -- collections ------------------------------------------------------

    def collection_write(self, data: Row, *, create: bool) -> Row:
        if create:
            if not (data.get("title") or "").strip():
                return refused(
                    "collection", ["title"], "Title can't be blank", "BLANK"
                )
            n = self.next_id()
            row: Row = {"id": gid("Collection", n), "descriptionHtml": ""}
        else:
            n = parse_gid(data.get("id") or "", "Collection") or 0
            if n not in self.collections:
                return refused(
                    "collection",
                    ["id"],
                    "Collection does not exist",
                    "NOT_FOUND",
                )
            row = self.collections[n]
        handle = (
            data.get("handle")
            or row.get("handle")
            or title_handle(data.get("title") or "")
        )
        if any(
            c["handle"] == handle and c is not row
            for c in self.collections.values()
        ):
            return refused(
                "collection",
                ["handle"],
                "Handle has already been taken",
                "TAKEN",
            )
        for key in ("title", "descriptionHtml"):
            if data.get(key) is not None:
                row[key] = data[key]
        if data.get("metafields") is not None:
            # An owner's update creates or updates the metafields it
            # names and leaves the others (deleting one takes
            # metafieldsDelete; shopify.dev "Manage metafields").
            given = metafields(data["metafields"])
            named = {(m["namespace"], m["key"]) for m in given}
            row["_metafields"] = [
                m
                for m in row.get("_metafields") or ()
                if (m["namespace"], m["key"]) not in named
            ] + given
        row["handle"] = handle
        row["updatedAt"] = self.now()
        self.collections[n] = row
        return {"collection": row, "userErrors": []}

    def metafields_delete(self, identifiers: list[Row]) -> Row:
        """
        ``metafieldsDelete``: each metafield named by owner, namespace and
        key is deleted; one that does not exist gives ``null``.
        """
        deleted: list[Row | None] = []
        for ident in identifiers:
            owner = self._owner(str(ident["ownerId"]))
            key = (ident["namespace"], ident["key"])
            held = owner.get("_metafields") if owner is not None else None
            if (
                owner is None
                or not held
                or key not in {(m["namespace"], m["key"]) for m in held}
            ):
                deleted.append(None)
                continue
            owner["_metafields"] = [
                m for m in held if (m["namespace"], m["key"]) != key
            ]
            deleted.append(dict(ident))
        return {"deletedMetafields": deleted, "userErrors": []}

    def _owner(self, owner_id: str) -> Row | None:
        n = parse_gid(owner_id, "Collection")
        if n is not None:
            return self.collections.get(n)
        n = parse_gid(owner_id, "Product")
        return self.products.get(n) if n is not None else None

    # -- productSet -------------------------------------------------------

    def find_product(self, ident: Row) -> tuple[int | None, list[Row]]:
        """
        The product an identifier names (None: create), or userErrors.
        """
        if ident.get("id"):
            n = parse_gid(ident["id"], "Product")
            if n is None or n not in self.products:
                return None, [
                    user_error(
                        ["identifier", "id"],
                        "Product does not exist",
                        "PRODUCT_DOES_NOT_EXIST",
                    )
                ]
            return n, []
        if ident.get("handle"):
            return self._by_handle.get(ident["handle"]), []
        cid = ident.get("customId")
        if cid:
            ns = cid.get("namespace") or "app"
            found = self._by_metafield.get((ns, cid["key"], cid["value"]))
            return found, []
        return None, [
            user_error(["identifier"], "An identifier is required", "INVALID")
        ]

    def product_set(self, data: Row, identifier: Row | None) -> Row:
        for name in (
            "variants",
            "collections",
            "metafields",
            "files",
            "productOptions",
        ):
            check_input(f"input.{name}", data.get(name))
        if identifier is not None:
            n, errs = self.find_product(identifier)
        elif data.get("id"):
            n, errs = self.find_product({"id": data["id"]})
            errs = [dict(e, field=["input", "id"]) for e in errs]
        else:
            n, errs = None, []
        if errs:
            return {"product": None, "userErrors": errs}
        existing = self.products.get(n) if n is not None else None
        errs = product_set_errors(
            data,
            existing,
            n,
            handles=self._by_handle,
            collections=self.collections,
            locations=self.locations,
            files=self.files,
        )
        if errs:
            return {"product": None, "userErrors": errs}
        if n is None:
            n = self.next_id()
            existing = {
                "id": gid("Product", n),
                "title": "",
                "handle": "",
                "descriptionHtml": "",
                "status": "ACTIVE",
                "vendor": None,
                "productType": None,
                "tags": [],
                "createdAt": self.now(),
                "options": [],
                "_variants": [],
                "_collections": [],
                "_metafields": [],
                "_media": [],
            }
            self.products[n] = existing
            cid = (identifier or {}).get("customId")
            if cid and not any(
                m["key"] == cid["key"] for m in data.get("metafields") or ()
            ):
                existing["_metafields"].append(
                    {
                        "namespace": cid.get("namespace") or "app",
                        "key": cid["key"],
                        "type": "single_line_text_field",
                        "value": cid["value"],
                    }
                )
            if (identifier or {}).get("handle") and not data.get("handle"):
                existing["handle"] = identifier["handle"]  # type: ignore[index]
        assert existing is not None
        self._apply(n, existing, data)
        return {"product": self.product_view(n), "userErrors": []}

    def _apply(self, n: int, p: Row, data: Row) -> None:
        for key in (
            "title",
            "descriptionHtml",
            "status",
            "vendor",
            "productType",
            "tags",
        ):
            if key in data and data[key] is not None:
                p[key] = data[key]
        if data.get("handle"):
            p["handle"] = data["handle"]
        if not p["handle"]:
            p["handle"] = self._free_handle(title_handle(p["title"]), n)
        if data.get("productOptions") is not None:
            p["options"] = [
                {
                    "id": gid("ProductOption", self.next_id()),
                    "name": o.get("name"),
                    "position": i + 1,
                    "optionValues": [
                        {"name": v.get("name")} for v in o.get("values") or ()
                    ],
                }
                for i, o in enumerate(data["productOptions"])
            ]
        if data.get("variants") is not None:
            self._set_variants(n, p, data["variants"])
        if data.get("collections") is not None:
            p["_collections"] = [
                parse_gid(c, "Collection") for c in data["collections"]
            ]
        if data.get("metafields") is not None:
            p["_metafields"] = metafields(data["metafields"])
        if data.get("files") is not None:
            p["_media"] = [self._file_ref(f) for f in data["files"]]
        p["updatedAt"] = self.now()
        self._index(n, p)

    def _set_variants(self, n: int, p: Row, variants: list[Row]) -> None:
        old = {self.variants[v]["_combo"]: v for v in p["_variants"]}
        keep: list[int] = []
        for v in variants:
            combo = option_combo(v)
            vn = parse_gid(v.get("id") or "", "ProductVariant")
            if vn not in p["_variants"]:
                vn = old.get(combo)
            new = vn is None
            if vn is None:
                vn, item = self.next_id(), self.next_id()
                self._by_item[item] = vn
                self.variants[vn] = {
                    "id": gid("ProductVariant", vn),
                    "price": "0.00",
                    "compareAtPrice": None,
                    "barcode": None,
                    "taxable": True,
                    "sku": None,
                    "_item": item,
                    "_product": n,
                }
            row = self.variants[vn]
            row["_combo"] = combo
            row["selectedOptions"] = [
                {"name": o.get("optionName"), "value": o.get("name")}
                for o in v["optionValues"]
            ]
            row["title"] = " / ".join(
                o.get("name") or "" for o in v["optionValues"]
            )
            sku = v.get("sku", (v.get("inventoryItem") or {}).get("sku"))
            for key, value in (
                ("sku", sku),
                ("price", v.get("price")),
                ("barcode", v.get("barcode")),
                ("compareAtPrice", v.get("compareAtPrice")),
                ("taxable", v.get("taxable")),
            ):
                if value is None:
                    continue
                if key == "sku":
                    row[key] = str(value)
                elif key in ("barcode", "taxable"):
                    row[key] = value
                else:
                    # Money is kept in the currency's subunit (Liquid's
                    # variant.price): a finer amount is rounded.
                    row[key] = str(
                        Decimal(str(value)).quantize(
                            Decimal("0.01"), ROUND_HALF_UP
                        )
                    )
            tracked = (v.get("inventoryItem") or {}).get("tracked")
            if tracked is not None:
                (self.untracked.discard if tracked else self.untracked.add)(
                    row["_item"]
                )
            stock_variant(self, row["_item"], v, new=new)
            keep.append(vn)
        kept = set(keep)
        for vn in p["_variants"]:
            if vn not in kept:
                self._drop_variant(vn)
        p["_variants"] = keep

    def _drop_variant(self, vn: int) -> None:
        item = self.variants.pop(vn)["_item"]
        self._by_item.pop(item, None)
        for loc in self.locations:
            self.levels.pop((item, loc), None)

    def _index(self, n: int, p: Row, *, drop: bool = False) -> None:
        """
        Take product *n* out of the handle and metafield indexes, and put
        it back in with its current values unless *drop*.
        """
        if self._by_handle.get(p.get("_indexed_handle", "")) == n:
            del self._by_handle[p["_indexed_handle"]]
        for key in p.get("_indexed_fields", ()):
            if self._by_metafield.get(key) == n:
                del self._by_metafield[key]
        if drop:
            return
        p["_indexed_handle"] = p["handle"]
        self._by_handle.setdefault(p["handle"], n)
        p["_indexed_fields"] = [
            (m["namespace"], m["key"], m["value"]) for m in p["_metafields"]
        ]
        for key in p["_indexed_fields"]:
            self._by_metafield.setdefault(key, n)

    def delete_product(self, n: int) -> None:
        """
        Remove product *n* with its variants and inventory levels.
        """
        p = self.products.pop(n)
        self._index(n, p, drop=True)
        for vn in p["_variants"]:
            if vn in self.variants:
                self._drop_variant(vn)

    def _free_handle(self, base: str, n: int) -> str:
        """
        *base*, or the first ``base-i`` no other product holds (counting
        on from the last one given, so many equal titles stay linear).
        """
        base = base or "product"
        handle, i = base, self._suffixes.get(base, 1)
        while self._by_handle.get(handle, n) != n:
            handle = f"{base}-{i}"
            i += 1
        self._suffixes[base] = i
        return handle

    # -- files ------------------------------------------------------------

    def _file_ref(self, f: Row) -> int:
        """
        An existing file named by ``id``, else a new one from its source.
        """
        n = file_number(f.get("id") or "")
        return n if n in self.files else self.add_file(f)

    def add_file(self, f: Row) -> int:
        """
        A file record: PROCESSING until read once, then READY (FAILED for
        a staged target that was never uploaded).
        """
        n = self.next_id()
        self._put_file(n, f, f.get("filename") or source_name(f))
        return n

    def file_named(self, filename: str) -> int | None:
        """
        The file called *filename* (the ``filename:`` of a files query).
        """
        n = self._file_names.get(filename)
        return n if n in self.files else None

    def replace_file(self, n: int, f: Row) -> None:
        """
        File *n* with new content from *f*'s source, under its id and
        name (``duplicateResolutionMode: REPLACE``).
        """
        self._put_file(n, f, self.files[n]["_filename"])

    def _put_file(self, n: int, f: Row, filename: str) -> None:
        source = f.get("originalSource") or ""
        key = (
            source.split("/_staged/", 1)[1] if "/_staged/" in source else None
        )
        ok = key is None or self.staged.get(key) is not None
        image = (f.get("contentType") or "IMAGE") == "IMAGE"
        self.files[n] = {
            "id": gid("MediaImage" if image else "GenericFile", n),
            "__typename": "MediaImage" if image else "GenericFile",
            "alt": f.get("alt"),
            "fileStatus": "PROCESSING",
            "createdAt": self.now(),
            "originalSource": source,
            "url": source if not image else None,
            "mimeType": None,
            "_ok": ok,
            "_reads": 0,
            "_filename": filename,
        }
        if self.file_named(filename) is None:  # new, or the old one deleted
            self._file_names[filename] = n


def source_name(f: Row) -> str:
    """
    The file name of a ``FileCreateInput``'s source: its URL's last part.
    """
    source = str(f.get("originalSource") or "")
    return source.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]

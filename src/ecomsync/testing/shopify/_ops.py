"""
The root fields: queries, inventory, orders (fulfillment, cancellation),
staged uploads and bulk operations, bound onto the schema's types.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from graphql import GraphQLResolveInfo, GraphQLSchema
from graphql.execution.values import get_directive_values

from ._files import delete_files
from ._product_set import file_number
from ._shop import source_name
from ._views import Row, check_input, gid, page, parse_gid, refused


if TYPE_CHECKING:
    from ._emulator import ShopifyEmulator

#: ``sku:'VALUE'`` in a query; inside the quotes a backslash escapes the
#: next character (Shopify's search syntax).
_SKU = re.compile(r"sku:'((?:[^'\\]|\\.)*)'")
_ESCAPED = re.compile(r"\\(.)")
#: ``filename:NAME`` or ``filename:'NAME'`` in a files query.
_FILENAME = re.compile(r"filename:(?:'([^']*)'|([^\s']+))")


def _extension(name: str) -> str:
    return name.rpartition(".")[2].lower() if "." in name else ""


def _with_uuid(name: str) -> str:
    """
    *name* with a UUID appended before its extension (APPEND_UUID).
    """
    stem, dot, ext = name.rpartition(".")
    if not dot:
        return f"{name}_{uuid.uuid4()}"
    return f"{stem}_{uuid.uuid4()}.{ext}"


_NAME = re.compile(r"name:'([^']*)'")
_FILTER = re.compile(r"(updated_at|created_at):(>=|<=|>|<)'?([^' ]+)'?")


def _filtered(rows: list[Row], query: str | None) -> list[Row]:
    """
    Shopify's search syntax, the part a sync needs: ``updated_at:>='T'``
    (and ``created_at``), several terms joined by AND.
    """
    names = set(_NAME.findall(query or ""))
    if names:
        rows = [r for r in rows if r.get("name") in names]
    for m in _FILTER.finditer(query or ""):
        key = "updatedAt" if m[1] == "updated_at" else "createdAt"
        op, value = m[2], m[3].replace("+00:00", "Z")
        rows = [
            r
            for r in rows
            if {
                ">=": r[key] >= value,
                "<=": r[key] <= value,
                ">": r[key] > value,
                "<": r[key] < value,
            }[op]
        ]
    return rows


def _sorted(
    rows: list[Row], sort_key: str | None, reverse: bool | None
) -> list[Row]:
    key = {"UPDATED_AT": "updatedAt", "CREATED_AT": "createdAt"}.get(
        sort_key or "ID", "_n"
    )
    return sorted(rows, key=lambda r: (r[key], r["_n"]), reverse=bool(reverse))


def searched(
    rows: Callable[[], Iterable[tuple[int, Row]]],
    view: Callable[[int], Row] | None,
    *,
    sort: str | None = None,
) -> Callable[..., Row]:
    """
    A connection resolver over *rows* (number, row) with Shopify's
    ``query``, ``sortKey`` and ``reverse``; *view* shows a row by number.
    """

    def resolve(
        _o: Any,
        _i: Any,
        first: int | None = None,
        after: str | None = None,
        query: str | None = None,
        sortKey: str | None = None,
        reverse: bool | None = None,
    ) -> Row:
        found = [dict(r, _n=n) for n, r in rows()]
        found = _sorted(_filtered(found, query), sortKey or sort, reverse)
        return page(
            [view(r["_n"]) if view else r for r in found], first, after
        )

    return resolve


def listed(rows: Callable[[], list[Row]]) -> Callable[..., Row]:
    """
    A connection resolver over *rows* as they are.
    """

    def resolve(
        _o: Any,
        _i: Any,
        first: int | None = None,
        after: str | None = None,
        **_: Any,
    ) -> Row:
        return page(rows(), first, after)

    return resolve


def bind(schema: GraphQLSchema, emu: ShopifyEmulator) -> None:  # noqa: PLR0915
    """
    Attach the emulator's resolvers to *schema*'s root fields.
    """
    shop = emu.shop
    q, m = schema.query_type, schema.mutation_type
    assert q is not None
    assert m is not None

    def on(
        kind: Any, name: str
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            kind.fields[name].resolve = fn
            return fn

        return deco

    def by_gid(
        table: dict[int, Row],
        kind: str,
        view: Callable[[int], Row] | None = None,
    ) -> Callable[..., Any]:
        def resolve(_o: Any, _i: Any, id: str) -> Row | None:
            n = parse_gid(id, kind)
            if n is None or n not in table:
                return None
            return view(n) if view else table[n]

        return resolve

    q.fields["product"].resolve = by_gid(
        shop.products, "Product", shop.product_view
    )
    q.fields["productVariant"].resolve = by_gid(
        shop.variants, "ProductVariant", shop.variant_view
    )
    q.fields["collection"].resolve = by_gid(shop.collections, "Collection")
    q.fields["order"].resolve = by_gid(shop.orders, "Order", emu.order_view)

    @on(q, "productByIdentifier")
    def _pbi(_o: Any, _i: Any, identifier: Row) -> Row | None:
        n, errs = shop.find_product(identifier)
        return shop.product_view(n) if n is not None and not errs else None

    q.fields["products"].resolve = searched(
        shop.products.items, shop.product_view
    )
    q.fields["orders"].resolve = searched(shop.orders.items, emu.order_view)
    q.fields["customers"].resolve = searched(
        shop.customers.items, None, sort="UPDATED_AT"
    )
    q.fields["collections"].resolve = listed(
        lambda: list(shop.collections.values())
    )

    @on(q, "shop")
    def _shop(_o: Any, _i: Any) -> Row:
        return {"currencyCode": shop.currency}

    @on(q, "locations")
    def _locations(
        _o: Any,
        _i: Any,
        first: int | None = None,
        after: str | None = None,
        sortKey: str = "NAME",
        reverse: bool = False,
        **_: Any,
    ) -> Row:
        # Shopify's default sort key is NAME, not creation: the first
        # location listed need not be the shop's primary one.
        return page(shop.sorted_locations(sortKey, reverse), first, after)

    @on(q, "location")
    def _location(_o: Any, _i: Any, id: str | None = None) -> Row | None:
        n = parse_gid(id or shop.primary_location, "Location")
        return shop.locations.get(n) if n is not None else None

    @on(q, "files")
    def _files(
        _o: Any,
        _i: Any,
        first: int | None = None,
        after: str | None = None,
        query: str | None = None,
    ) -> Row:
        named = _FILENAME.search(query or "")
        if named is None:
            return page([shop.file_view(n) for n in shop.files], first, after)
        n = shop.file_named(named.group(1) or named.group(2))
        return page([] if n is None else [shop.file_view(n)], first, after)

    @on(q, "productVariants")
    def _variants(
        _o: Any,
        _i: Any,
        first: int | None = None,
        after: str | None = None,
        query: str | None = None,
    ) -> Row:
        wanted = {
            _ESCAPED.sub(r"\1", sku) for sku in _SKU.findall(query or "")
        }
        rows = [
            shop.variant_view(n)
            for n, v in shop.variants.items()
            if not wanted or v.get("sku") in wanted
        ]
        return page(rows, first, after)

    @on(q, "inventoryItem")
    def _item(_o: Any, _i: Any, id: str) -> Row | None:
        n = parse_gid(id, "InventoryItem")
        if n is None or shop.variant_of_item(n) is None:
            return None
        return shop.item_view(n)

    @on(q, "node")
    def _node(_o: Any, _i: Any, id: str) -> Row | None:
        n = file_number(id)
        return shop.file_view(n) if n in shop.files else None

    @on(q, "nodes")
    def _nodes(_o: Any, _i: Any, ids: list[str]) -> list[Row | None]:
        # null in the place of an id that names nothing (Relay's nodes)
        check_input("ids", ids)
        return [_node(_o, _i, i) for i in ids]

    @on(q, "job")
    def _job(_o: Any, _i: Any, id: str) -> Row | None:
        return emu.job(id)

    @on(q, "bulkOperation")
    def _bulk(_o: Any, _i: Any, id: str) -> Row | None:
        n = parse_gid(id, "BulkOperation")
        return emu.poll_bulk(n) if n in shop.bulk_operations else None

    @on(q, "currentBulkOperation")
    def _current(_o: Any, _i: Any, type: str = "QUERY") -> Row | None:
        ops = [n for n, b in shop.bulk_operations.items() if b["type"] == type]
        return emu.poll_bulk(max(ops)) if ops else None

    # -- mutations --------------------------------------------------------

    @on(m, "productSet")
    def _product_set(
        _o: Any,
        _i: Any,
        input: Row,
        identifier: Row | None = None,
        synchronous: bool = True,
    ) -> Row:
        return shop.product_set(input, identifier)

    @on(m, "productDelete")
    def _product_delete(_o: Any, _i: Any, input: Row) -> Row:
        n = parse_gid(input["id"], "Product")
        if n is None or n not in shop.products:
            return refused(
                "deletedProductId",
                ["id"],
                "Product does not exist",
                "NOT_FOUND",
            )
        shop.delete_product(n)
        return {"deletedProductId": input["id"], "userErrors": []}

    @on(m, "collectionCreate")
    def _cc(_o: Any, _i: Any, input: Row) -> Row:
        return shop.collection_write(input, create=True)

    @on(m, "collectionUpdate")
    def _cu(_o: Any, _i: Any, input: Row) -> Row:
        return shop.collection_write(input, create=False)

    @on(m, "metafieldsDelete")
    def _md(_o: Any, _i: Any, metafields: list[Row]) -> Row:
        check_input("metafields", metafields)
        return shop.metafields_delete(metafields)

    @on(m, "collectionDelete")
    def _cd(_o: Any, _i: Any, input: Row) -> Row:
        n = parse_gid(input["id"], "Collection")
        if n not in shop.collections:
            return refused(
                "deletedCollectionId",
                ["id"],
                "Collection does not exist",
                "NOT_FOUND",
            )
        del shop.collections[n]
        return {"deletedCollectionId": input["id"], "userErrors": []}

    @on(m, "stagedUploadsCreate")
    def _staged(
        _o: Any, info: GraphQLResolveInfo[Any], input: list[Row]
    ) -> Row:
        check_input("input", input)
        base = info.context["base_url"]
        targets = []
        for item in input:
            key = f"tmp/{shop.next_id()}/{item['filename']}"
            shop.staged[key] = None
            put = item.get("httpMethod") == "PUT"
            targets.append(
                {
                    "url": f"{base}/_staged/{key}"
                    if put
                    else f"{base}/_staged/upload",
                    "resourceUrl": f"{base}/_staged/{key}",
                    "parameters": []
                    if put
                    else [
                        {"name": "Content-Type", "value": item["mimeType"]},
                        {"name": "success_action_status", "value": "201"},
                        {"name": "acl", "value": "private"},
                        {"name": "key", "value": key},
                    ],
                }
            )
        return {"stagedTargets": targets, "userErrors": []}

    @on(m, "fileCreate")
    def _file_create(_o: Any, _i: Any, files: list[Row]) -> Row:
        check_input("files", files)
        for i, f in enumerate(files):
            if not f["originalSource"].startswith(("http://", "https://")):
                return refused(
                    "files",
                    ["files", i, "originalSource"],
                    "Image URL is invalid",
                    "INVALID",
                )
        made = []
        for i, f in enumerate(files):
            name = f.get("filename")
            if name and _extension(name) != _extension(source_name(f)):
                return refused(
                    "files",
                    ["files", i, "filename"],
                    "Cannot create file with custom filename which does "
                    "not match original source extension.",
                    "MISMATCHED_FILENAME_AND_ORIGINAL_SOURCE",
                )
            mode = f.get("duplicateResolutionMode") or "APPEND_UUID"
            taken = shop.file_named(name or source_name(f))
            if taken is None:
                made.append(shop.add_file(f))
            elif mode == "REPLACE":
                if not name:
                    return refused(
                        "files",
                        ["files", i, "filename"],
                        "Duplicate resolution mode REPLACE cannot be used "
                        "without specifying filename.",
                        "MISSING_FILENAME_FOR_DUPLICATE_MODE_REPLACE",
                    )
                shop.replace_file(taken, f)
                made.append(taken)
            elif mode == "RAISE_ERROR":
                return refused(
                    "files",
                    ["files", i, "filename"],
                    "The provided filename already exists.",
                    "FILENAME_ALREADY_EXISTS",
                )
            else:
                made.append(
                    shop.add_file(
                        {**f, "filename": _with_uuid(name or source_name(f))}
                    )
                )
        return {
            "files": [shop.file_view(n) for n in made],
            "userErrors": [],
        }

    @on(m, "inventorySetQuantities")
    def _inv(_o: Any, info: GraphQLResolveInfo[Any], input: Row) -> Row:
        return emu.set_quantities(
            input, _idempotency_key(schema, info), info.context["version"]
        )

    @on(m, "inventoryActivate")
    def _activate(
        _o: Any,
        info: GraphQLResolveInfo[Any],
        inventoryItemId: str,
        locationId: str,
        available: int | None = None,
        onHand: int | None = None,
    ) -> Row:
        return emu.activate(
            inventoryItemId,
            locationId,
            available,
            onHand,
            key=_idempotency_key(schema, info),
            version=info.context["version"],
        )

    @on(m, "inventoryBulkToggleActivation")
    def _toggle(
        _o: Any, _i: Any, inventoryItemId: str, inventoryItemUpdates: list[Row]
    ) -> Row:
        return emu.toggle_activation(inventoryItemId, inventoryItemUpdates)

    @on(m, "fulfillmentCreate")
    def _fulfil(
        _o: Any, _i: Any, fulfillment: Row, message: str | None = None
    ) -> Row:
        return emu.fulfil(fulfillment)

    @on(m, "fulfillmentTrackingInfoUpdate")
    def _track(
        _o: Any,
        _i: Any,
        fulfillmentId: str,
        trackingInfoInput: Row,
        notifyCustomer: bool | None = None,
    ) -> Row:
        return emu.track(fulfillmentId, trackingInfoInput)

    @on(m, "bulkOperationRunMutation")
    def _bulk_run(
        _o: Any,
        info: GraphQLResolveInfo[Any],
        mutation: str,
        stagedUploadPath: str,
        clientIdentifier: str | None = None,
    ) -> Row:
        return emu.run_bulk(mutation, stagedUploadPath, info.context)

    @on(m, "bulkOperationCancel")
    def _bulk_cancel(_o: Any, _i: Any, id: str) -> Row:
        return emu.cancel_bulk(id)

    @on(m, "fileDelete")
    def _file_delete(_o: Any, _i: Any, fileIds: list[str]) -> Row:
        check_input("fileIds", fileIds)
        return delete_files(shop, fileIds)

    @on(m, "orderCancel")
    def _order_cancel(
        _o: Any,
        _i: Any,
        orderId: str,
        reason: str,
        restock: bool,
        refund: bool | None = None,
        **_: Any,
    ) -> Row:
        return emu.cancel_later(orderId, reason, refund)


def _idempotency_key(
    schema: GraphQLSchema, info: GraphQLResolveInfo[Any]
) -> str | None:
    directive = schema.get_directive("idempotent")
    assert directive is not None
    values = get_directive_values(
        directive, info.field_nodes[0], info.variable_values
    )
    return None if values is None else str(values["key"])


__all__ = ["bind", "gid"]

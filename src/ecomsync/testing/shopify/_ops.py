"""
The root fields: queries, inventory, orders and fulfillment, staged
uploads and bulk operations, bound onto the schema's types.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, GraphQLResolveInfo, GraphQLSchema, parse
from graphql.execution.values import get_directive_values

from ._shop import Row, user_error
from ._views import check_input, gid, page, parse_gid


if TYPE_CHECKING:
    from ._emulator import ShopifyEmulator

_SKU = re.compile(r"sku:'([^']*)'")
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

    @on(q, "products")
    def _products(
        _o: Any,
        _i: Any,
        first: int | None = None,
        after: str | None = None,
        query: str | None = None,
        sortKey: str | None = None,
        reverse: bool | None = None,
    ) -> Row:
        rows = [dict(p, _n=n) for n, p in shop.products.items()]
        rows = _sorted(_filtered(rows, query), sortKey, reverse)
        return page([shop.product_view(r["_n"]) for r in rows], first, after)

    @on(q, "productVariants")
    def _variants(
        _o: Any,
        _i: Any,
        first: int | None = None,
        after: str | None = None,
        query: str | None = None,
    ) -> Row:
        wanted = set(_SKU.findall(query or ""))
        rows = [
            shop.variant_view(n)
            for n, v in shop.variants.items()
            if not wanted or v.get("sku") in wanted
        ]
        return page(rows, first, after)

    @on(q, "collections")
    def _collections(
        _o: Any,
        _i: Any,
        first: int | None = None,
        after: str | None = None,
        query: str | None = None,
    ) -> Row:
        return page(list(shop.collections.values()), first, after)

    @on(q, "locations")
    def _locations(
        _o: Any, _i: Any, first: int | None = None, after: str | None = None
    ) -> Row:
        return page(list(shop.locations.values()), first, after)

    @on(q, "inventoryItem")
    def _item(_o: Any, _i: Any, id: str) -> Row | None:
        n = parse_gid(id, "InventoryItem")
        if n is None or not any(
            v["_item"] == n for v in shop.variants.values()
        ):
            return None
        return shop.item_view(n)

    @on(q, "orders")
    def _orders(
        _o: Any,
        _i: Any,
        first: int | None = None,
        after: str | None = None,
        query: str | None = None,
        sortKey: str | None = None,
        reverse: bool | None = None,
    ) -> Row:
        rows = [dict(o, _n=n) for n, o in shop.orders.items()]
        rows = _sorted(_filtered(rows, query), sortKey, reverse)
        return page([emu.order_view(r["_n"]) for r in rows], first, after)

    @on(q, "customers")
    def _customers(
        _o: Any,
        _i: Any,
        first: int | None = None,
        after: str | None = None,
        query: str | None = None,
    ) -> Row:
        rows = [dict(c, _n=n) for n, c in shop.customers.items()]
        return page(
            _sorted(_filtered(rows, query), "UPDATED_AT", False), first, after
        )

    @on(q, "files")
    def _files(
        _o: Any,
        _i: Any,
        first: int | None = None,
        after: str | None = None,
        query: str | None = None,
    ) -> Row:
        return page([shop.file_view(n) for n in shop.files], first, after)

    @on(q, "node")
    def _node(_o: Any, _i: Any, id: str) -> Row | None:
        n = parse_gid(id, "MediaImage") or parse_gid(id, "GenericFile")
        return shop.file_view(n) if n in shop.files else None

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
        if n not in shop.products:
            return {
                "deletedProductId": None,
                "userErrors": [
                    user_error(["id"], "Product does not exist", "NOT_FOUND")
                ],
            }
        for vn in shop.products.pop(n)["_variants"]:
            shop.variants.pop(vn, None)
        return {"deletedProductId": input["id"], "userErrors": []}

    @on(m, "collectionCreate")
    def _cc(_o: Any, _i: Any, input: Row) -> Row:
        return shop.collection_write(input, create=True)

    @on(m, "collectionUpdate")
    def _cu(_o: Any, _i: Any, input: Row) -> Row:
        return shop.collection_write(input, create=False)

    @on(m, "collectionDelete")
    def _cd(_o: Any, _i: Any, input: Row) -> Row:
        n = parse_gid(input["id"], "Collection")
        if n not in shop.collections:
            return {
                "deletedCollectionId": None,
                "userErrors": [
                    user_error(
                        ["id"], "Collection does not exist", "NOT_FOUND"
                    )
                ],
            }
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
                return {
                    "files": None,
                    "userErrors": [
                        user_error(
                            ["files", i, "originalSource"],
                            "Image URL is invalid",
                            "INVALID",
                        )
                    ],
                }
        return {
            "files": [shop.file_view(shop.add_file(f)) for f in files],
            "userErrors": [],
        }

    @on(m, "inventorySetQuantities")
    def _inv(_o: Any, info: GraphQLResolveInfo[Any], input: Row) -> Row:
        return emu.set_quantities(
            input, _idempotency_key(schema, info), info.context["version"]
        )

    @on(m, "fulfillmentCreate")
    def _fulfil(
        _o: Any, _i: Any, fulfillment: Row, message: str | None = None
    ) -> Row:
        return emu.fulfil(fulfillment)

    @on(m, "bulkOperationRunMutation")
    def _bulk_run(
        _o: Any,
        info: GraphQLResolveInfo[Any],
        mutation: str,
        stagedUploadPath: str,
        clientIdentifier: str | None = None,
    ) -> Row:
        return emu.run_bulk(mutation, stagedUploadPath, info.context)


def _idempotency_key(
    schema: GraphQLSchema, info: GraphQLResolveInfo[Any]
) -> str | None:
    directive = schema.get_directive("idempotent")
    assert directive is not None
    values = get_directive_values(
        directive, info.field_nodes[0], info.variable_values
    )
    return None if values is None else str(values["key"])


def bulk_lines(payload: bytes) -> list[Row]:
    """
    The variables of a bulk mutation, one JSON object per line.
    """
    out = []
    for i, line in enumerate(payload.decode("utf-8").splitlines()):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"line {i + 1}: {exc}") from None
        if not isinstance(value, dict):
            raise ValueError(f"line {i + 1}: not an object")  # noqa: TRY004
        out.append(value)
    return out


def check_bulk_mutation(text: str) -> str | None:
    """
    Why *text* cannot run as a bulk mutation (None: it can).
    """
    try:
        doc = parse(text)
    except GraphQLError as exc:
        return exc.message
    ops = [
        d for d in doc.definitions if getattr(d, "operation", None) is not None
    ]
    if len(ops) != 1 or ops[0].operation.value != "mutation":  # type: ignore[attr-defined]
        return "Invalid mutation: a bulk operation runs exactly one mutation"
    return None


__all__ = ["bind", "bulk_lines", "check_bulk_mutation", "gid"]

"""
What a ``productSet`` input is checked and stored as, before the `Shop`
writes it: the ``userErrors`` Shopify answers instead of writing, a
variant's option combination, metafields with their defaults, and the
handle a title gives.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from decimal import Decimal, InvalidOperation

from ._views import Row, parse_gid, user_error


def option_combo(variant: Row) -> tuple[tuple[str, str], ...]:
    """
    A ``ProductVariantSetInput``'s option values as (option, value)
    pairs, sorted: what tells two variants of a product apart.
    """
    return tuple(
        sorted(
            (o.get("optionName") or "", o.get("name") or "")
            for o in variant["optionValues"]
        )
    )


def product_set_errors(
    data: Row,
    existing: Row | None,
    n: int | None,
    *,
    handles: Mapping[str, int],
    collections: Container[int],
    locations: Container[int],
    files: Container[int] = (),
) -> list[Row]:
    """
    The ``userErrors`` Shopify answers a ``productSet`` of *data* with
    before it writes anything: for product *n* (*existing*), or a new
    one (None), given the *handles* other products hold and the
    *collections*, *locations* and *files* there are.
    """
    errs: list[Row] = []
    title = data.get("title", existing["title"] if existing else None)
    if not (title or "").strip():
        errs.append(
            user_error(["input", "title"], "Title can't be blank", "BLANK")
        )
    elif len(str(title)) > 255:
        errs.append(
            user_error(
                ["input", "title"],
                "Title is too long (maximum is 255 characters)",
                "INVALID",
            )
        )
    handle = data.get("handle")
    if handle and handles.get(handle, n) != n:
        errs.append(
            user_error(
                ["input", "handle"],
                f"Handle '{handle}' already in use. Please provide a new "
                "handle.",
                "HANDLE_NOT_UNIQUE",
            )
        )
    options = data.get("productOptions")
    names = {o.get("name") for o in options or ()}
    if options is None and existing is not None:
        names = {o["name"] for o in existing["options"]}
    combos: set[tuple[tuple[str, str], ...]] = set()
    for i, v in enumerate(data.get("variants") or ()):
        base: list[str | int] = ["input", "variants", i]
        combo = option_combo(v)
        if not v["optionValues"] or any(o[0] not in names for o in combo):
            errs.append(
                user_error(
                    [*base, "optionValues"],
                    "Option does not exist",
                    "OPTION_DOES_NOT_EXIST",
                )
            )
        elif combo in combos:
            errs.append(
                user_error(
                    base,
                    "The variant already exists with these option values",
                    "DUPLICATE_VARIANT",
                )
            )
        combos.add(combo)
        for key in ("price", "compareAtPrice"):
            if v.get(key) is not None:
                try:
                    ok = Decimal(str(v[key])) >= 0
                except InvalidOperation:
                    ok = False
                if not ok:
                    errs.append(
                        user_error(
                            [*base, key],
                            f"{key} is invalid",
                            "INVALID_VARIANT",
                        )
                    )
        sku = v.get("sku") or (v.get("inventoryItem") or {}).get("sku")
        if sku is not None and len(sku) > 255:
            errs.append(
                user_error(
                    [*base, "sku"],
                    "SKU is too long (maximum is 255 characters)",
                    "INVALID_VARIANT",
                )
            )
        # ProductSetUserErrorCode has no code of its own for a location;
        # the entry is part of the variant's input.
        for j, q in enumerate(v.get("inventoryQuantities") or ()):
            if parse_gid(q["locationId"], "Location") not in locations:
                errs.append(
                    user_error(
                        [*base, "inventoryQuantities", j, "locationId"],
                        "The specified location could not be found.",
                        "INVALID_VARIANT",
                    )
                )
    for i, c in enumerate(data.get("collections") or ()):
        if parse_gid(c, "Collection") not in collections:
            errs.append(
                user_error(
                    ["input", "collections", i],
                    "Collection does not exist",
                    "COLLECTION_DOES_NOT_EXIST",
                )
            )
    for i, f in enumerate(data.get("files") or ()):
        if f.get("id") and file_number(f["id"]) not in files:
            # A file deleted in Shopify since: its id names nothing.  The
            # exact answer is not documented; ProductSetUserErrorCode has
            # no code of its own for a file, INVALID_INPUT is its generic
            # one.  The adapter relies on neither (it asks ``nodes``).
            errs.append(
                user_error(
                    ["input", "files", i, "id"],
                    "File does not exist",
                    "INVALID_INPUT",
                )
            )
    return errs


def file_number(ref: str) -> int | None:
    """
    The number of the file GID *ref* (an image or a generic file).
    """
    return parse_gid(ref, "MediaImage") or parse_gid(ref, "GenericFile")


def metafields(inputs: list[Row]) -> list[Row]:
    """
    ``MetafieldInput``s as stored: namespace ``app`` and type
    ``single_line_text_field`` where the input leaves them out.
    """
    return [
        {
            "namespace": m.get("namespace") or "app",
            "key": m.get("key"),
            "type": m.get("type") or "single_line_text_field",
            "value": m["value"],
        }
        for m in inputs
    ]


def title_handle(title: str) -> str:
    out = "".join(c.lower() if c.isalnum() else "-" for c in title)
    return "-".join(part for part in out.split("-") if part)

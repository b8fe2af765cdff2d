"""
GIDs, cursor paging and the dict views graphql-core's default resolver
reads (a callable value is called with the field's arguments), and the
``userErrors`` a mutation answers with.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError


Row = dict[str, Any]

#: Shopify's cap on ``first``/``last`` and on input arrays.
PAGE_LIMIT = 250
INPUT_LIMIT = 250


def gid(kind: str, n: int) -> str:
    return f"gid://shopify/{kind}/{n}"


def parse_gid(value: str, kind: str) -> int | None:
    """
    The number in ``gid://shopify/<kind>/<n>``, None if it is not one.
    """
    prefix = f"gid://shopify/{kind}/"
    if not value.startswith(prefix) or not value[len(prefix) :].isdigit():
        return None
    return int(value[len(prefix) :])


def now_iso(clock: Callable[[], datetime]) -> str:
    return clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_input(name: str, values: Sequence[Any] | None) -> None:
    """
    Shopify refuses input arrays over 250 elements before executing.
    """
    if values is not None and len(values) > INPUT_LIMIT:
        raise GraphQLError(
            f"The input array size of {len(values)} is greater than the "
            f"maximum allowed of {INPUT_LIMIT}.",
            extensions={"code": "MAX_INPUT_SIZE_EXCEEDED", "argument": name},
        )


def _cursor(i: int) -> str:
    return base64.b64encode(f'{{"last_id":{i}}}'.encode()).decode()


def _after(cursor: str | None) -> int:
    if cursor is None:
        return -1
    try:
        text = base64.b64decode(cursor, validate=True).decode()
        return int(text.split(":")[1].rstrip("}"))
    except (ValueError, IndexError) as exc:
        raise GraphQLError(
            f"Invalid cursor for current pagination sort. {cursor!r}",
            extensions={"code": "BAD_REQUEST"},
        ) from exc


def page(
    items: Sequence[Any], first: int | None, after: str | None
) -> dict[str, Any]:
    """
    A connection over *items* (already filtered and sorted); cursors are
    positions in that order, as opaque base64 strings.
    """
    if first is None:
        raise GraphQLError(
            "you must provide one of first or last",
            extensions={"code": "BAD_REQUEST"},
        )
    if first > PAGE_LIMIT or first < 0:
        raise GraphQLError(
            f"The maximum number of records you can request is {PAGE_LIMIT}.",
            extensions={"code": "BAD_REQUEST"},
        )
    start = _after(after) + 1
    chunk = list(enumerate(items))[start : start + first]
    edges = [{"node": it, "cursor": _cursor(i)} for i, it in chunk]
    return {
        "nodes": [it for _, it in chunk],
        "edges": edges,
        "pageInfo": {
            "hasNextPage": start + first < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def connection(items: Callable[[], Sequence[Any]]) -> Callable[..., Any]:
    """
    A connection field for the default resolver.
    """

    def resolve(
        _info: Any,
        first: int | None = None,
        after: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        return page(items(), first, after)

    return resolve


def money(
    amount: str,
    currency: str,
    paid: str | None = None,
    paid_in: str | None = None,
) -> dict[str, Any]:
    """
    A ``MoneyBag``: *amount* in the shop's *currency*, and *paid* in the
    customer's *paid_in* (the same unless given).
    """
    m = {"amount": amount, "currencyCode": currency}
    p = {"amount": paid or amount, "currencyCode": paid_in or currency}
    return {"shopMoney": m, "presentmentMoney": p}


def user_error(field: list[str | int], message: str, code: str) -> Row:
    return {"field": [str(f) for f in field], "message": message, "code": code}


def refused(
    payload: str, field: list[str | int], message: str, code: str
) -> Row:
    """
    A mutation's answer that did nothing: *payload* null and one
    ``userError``.
    """
    return {payload: None, "userErrors": [user_error(field, message, code)]}

"""
The keyset an order read pages by (`._order_read`): each next page the
orders after the last row read, in (``createdAt``, ``orderNumber``,
``id``) order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._order_mapping import parse_time, shopware_time


def row_created(row: Mapping[str, Any]) -> str:
    """
    Order *row*'s ``createdAt`` as Shopware stores it (``DATETIME(3)``,
    UTC ``Y-m-d H:i:s.v``), to compare it with in a filter.
    """
    return shopware_time(parse_time(row.get("createdAt")))


@attrs.frozen
class Cursor:
    """
    The last order row a page read: its ``createdAt`` (`row_created`), its
    order number (``None`` without one) and the ids read at both.
    """

    created: str
    number: str | None
    ids: list[str]


def row_number(row: Mapping[str, Any]) -> str | None:
    """
    Order *row*'s number, ``None`` without one (``order_number`` is
    nullable: an order written through the API may have none).
    """
    number = row.get("orderNumber")
    return None if number is None else str(number)


def row_key(row: Mapping[str, Any]) -> tuple[str, str | None]:
    """
    Where order *row* sorts: its ``createdAt`` and its number roughly as
    ``utf8mb4_unicode_ci`` compares it (case and trailing spaces
    ignored), so that rows the shop takes for equal numbers are all
    among the ids `after_filter` leaves out (a row it takes for equal but this
    does not is read twice, never skipped).
    """
    number = row_number(row)
    folded = None if number is None else number.casefold().rstrip(" ")
    return row_created(row), folded


def cursor_key(cursor: Cursor) -> tuple[str, str | None]:
    """
    `row_key` of the row *cursor* was taken from.
    """
    return row_key({"createdAt": cursor.created, "orderNumber": cursor.number})


def after_filter(cursor: Cursor) -> dict[str, Any]:
    """
    The orders after those read in (``createdAt``, ``orderNumber``,
    ``id``) order: created later; or at the same moment with a later
    number; or with the same moment and number but not one of the ids
    read at both.  A keyset on ``createdAt`` and ``id`` alone (7b97204)
    had to leave out every id read at one moment, and orders imported
    in bulk share a millisecond: at 30,000 of them the last page's
    request was about 1 MB (nginx's default ``client_max_body_size``:
    413, the read failed).  The ids left out now are those of orders
    sharing a moment and a number, which the read refuses anyway
    (`._order_read.OrderReader._handed`): one, in a sane shop.

    Not a ``range`` on ``id``: Shopware's DAL compares a range's
    parameter with the column as given (SqlQueryParser::parseRangeFilter)
    and an id column holds bytes, not the hex an id is written in
    (``equalsAny`` converts).  The ``autoIncrement`` column (unique,
    Admin-API aware: Field::__construct adds ``ApiAware``; the emulator
    keeps it too) could key the pages alone, with one ``range`` and no
    ids, but it is the order rows were inserted in, not ``createdAt``:
    orders written with an earlier ``createdAt`` (an import) would be
    read in another order than now, so it is not used.  Ranges on
    ``createdAt`` (``DATETIME(3)``) and ``orderNumber`` (``VARCHAR``,
    compared under the column's collation, as the sort is) compare
    exactly with values in the form Shopware stores.  MySQL sorts a
    ``NULL`` number first.
    """
    moment = {
        "type": "range",
        "field": "createdAt",
        "parameters": {"gte": cursor.created, "lte": cursor.created},
    }
    without = {"type": "equals", "field": "orderNumber", "value": None}
    later_number: dict[str, Any] = (
        {"type": "not", "operator": "and", "queries": [without]}
        if cursor.number is None
        else {
            "type": "range",
            "field": "orderNumber",
            "parameters": {"gt": cursor.number},
        }
    )
    same_number: dict[str, Any] = (
        without
        if cursor.number is None
        else {"type": "equals", "field": "orderNumber", "value": cursor.number}
    )
    return {
        "type": "multi",
        "operator": "or",
        "queries": [
            {
                "type": "range",
                "field": "createdAt",
                "parameters": {"gt": cursor.created},
            },
            {
                "type": "multi",
                "operator": "and",
                "queries": [moment, later_number],
            },
            {
                "type": "multi",
                "operator": "and",
                "queries": [
                    moment,
                    same_number,
                    {
                        "type": "not",
                        "operator": "and",
                        "queries": [
                            {
                                "type": "equalsAny",
                                "field": "id",
                                "value": cursor.ids,
                            }
                        ],
                    },
                ],
            },
        ],
    }

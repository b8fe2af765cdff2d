"""
Paging a Shopware search by key, never by page number: each next page
asks for the rows after the last one read, in (``createdAt``, a tie
field, ``id``) order.  The order read (`._order_read`) pages so, and
`read_all` reads a whole listing so (sales channels, product media,
orders by number).

A page number is a position: a row deleted (or leaving the filter)
between two pages moves every later row a place back, and the first
row of the next page is never read; a row joining before the position
makes one be read twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .._answers import odd_answer
from ._client import MAX_LIMIT, AdminApi, url_entity
from ._order_mapping import parse_time, shopware_time


def row_created(row: Mapping[str, Any]) -> str:
    """
    *row*'s ``createdAt`` as Shopware stores it (``DATETIME(3)``, UTC
    ``Y-m-d H:i:s.v``), to compare it with in a filter.
    """
    return shopware_time(parse_time(row.get("createdAt")))


@attrs.frozen
class Cursor:
    """
    The last row a page read: its ``createdAt`` (`row_created`), its tie
    field's value (``None`` without one, or without a tie field; a whole
    number as read, any other value as text) and the ids read at both.
    """

    created: str
    tie: str | int | None
    ids: list[str]


@attrs.frozen
class Keyset:
    """
    The order a search's pages are read in: ``createdAt``, then the text
    or integer field *tie* (if any), then ``id``.

    ``createdAt`` is on every entity (EntityDefinition's default fields),
    set once when the row is written (CreatedAtFieldSerializer skips an
    existing row), never null.  Rows sharing a moment (one Sync request
    writes many in a millisecond) are told apart by *tie*, then by id;
    the ids read at the last row's key are left out of the next page by
    ``equalsAny``, which converts hex ids to the bytes the column holds.

    Not a ``range`` on ``id``: Shopware's DAL compares a range's
    parameter with the column as given (SqlQueryParser::parseRangeFilter;
    ``equals`` and ``equalsAny`` convert with Uuid::fromHexToBytes) and
    an id column holds 16 bytes, not the hex an id is written in: MySQL
    compares the bytes with the text, an order that is no order of ids
    (the emulator does the same).  ``autoIncrement`` (unique, readable
    through the Admin API: Field::__construct adds ``ApiAware``) is on
    orders, products, categories and customers only
    (AutoIncrementField), and it is the order rows were inserted in, not
    ``createdAt``: orders imported with an earlier ``createdAt`` would be
    read in another order than now.  Ranges on ``createdAt`` and on a
    text *tie* (compared under the column's collation, as the sort is)
    compare exactly with values in the form Shopware stores.  MySQL
    sorts a ``NULL`` first.
    """

    tie: str | None = None

    def sort(self) -> list[dict[str, str]]:
        """
        The criteria's ``sort``.
        """
        fields = ["createdAt", *([self.tie] if self.tie else []), "id"]
        return [{"field": f, "order": "ASC"} for f in fields]

    def fields(self) -> list[str]:
        """
        The fields a row must carry for the next page's filter.
        """
        return ["id", "createdAt", *([self.tie] if self.tie else [])]

    def tie_of(self, row: Mapping[str, Any]) -> str | int | None:
        """
        *row*'s tie field (``None`` without one, or without a tie): a
        whole number as it is (an integer column ranges by number), any
        other value as text.
        """
        value = row.get(self.tie) if self.tie else None
        if value is None or (type(value) is int):
            return value
        return str(value)

    def key(self, row: Mapping[str, Any]) -> tuple[str, str | int | None]:
        """
        Where *row* sorts: its ``createdAt`` and its tie roughly as
        ``utf8mb4_unicode_ci`` compares it (case and trailing spaces
        ignored), so that rows the shop takes for equal are all among
        the ids `after` leaves out (a row it takes for equal but this
        does not is read twice, never skipped).
        """
        tie = self.tie_of(row)
        if isinstance(tie, str):
            return row_created(row), tie.casefold().rstrip(" ")
        return row_created(row), tie

    def next(
        self, rows: list[dict[str, Any]], before: Cursor | None
    ) -> Cursor:
        """
        The cursor after *rows*, a page read after *before* (``None``
        for the first page): the last row's key and the ids read at it.
        """
        last = rows[-1]
        key = self.key(last)
        ids = [str(r.get("id")) for r in rows if self.key(r) == key]
        if before is not None and self._cursor_key(before) == key:
            ids = [*before.ids, *ids]
        return Cursor(row_created(last), self.tie_of(last), ids)

    def _cursor_key(self, cursor: Cursor) -> tuple[str, str | int | None]:
        row: dict[str, Any] = {"createdAt": cursor.created}
        if self.tie:
            row[self.tie] = cursor.tie
        return self.key(row)

    def after(self, cursor: Cursor) -> dict[str, Any]:
        """
        The rows after those read: created later; or at the same moment
        with a later tie; or with the same moment and tie but not one of
        the ids read at both.  A keyset on ``createdAt`` and ``id`` alone
        (7b97204) had to leave out every id read at one moment, and
        orders imported in bulk share a millisecond: at 30,000 of them
        the last page's request was about 1 MB (nginx's default
        ``client_max_body_size``: 413, the read failed).  With an order
        number as tie, the ids left out are those of orders sharing a
        moment and a number, which the read refuses anyway
        (`._order_read.OrderReader._handed`): one, in a sane shop.
        """
        moment = {
            "type": "range",
            "field": "createdAt",
            "parameters": {"gte": cursor.created, "lte": cursor.created},
        }
        later: dict[str, Any] = {
            "type": "range",
            "field": "createdAt",
            "parameters": {"gt": cursor.created},
        }
        not_read = {
            "type": "not",
            "operator": "and",
            "queries": [
                {"type": "equalsAny", "field": "id", "value": cursor.ids}
            ],
        }
        if self.tie is None:
            same = {
                "type": "multi",
                "operator": "and",
                "queries": [moment, not_read],
            }
            return {
                "type": "multi",
                "operator": "or",
                "queries": [later, same],
            }
        without = {"type": "equals", "field": self.tie, "value": None}
        later_tie: dict[str, Any] = (
            {"type": "not", "operator": "and", "queries": [without]}
            if cursor.tie is None
            else {
                "type": "range",
                "field": self.tie,
                "parameters": {"gt": cursor.tie},
            }
        )
        same_tie: dict[str, Any] = (
            without
            if cursor.tie is None
            else {"type": "equals", "field": self.tie, "value": cursor.tie}
        )
        return {
            "type": "multi",
            "operator": "or",
            "queries": [
                later,
                {
                    "type": "multi",
                    "operator": "and",
                    "queries": [moment, later_tie],
                },
                {
                    "type": "multi",
                    "operator": "and",
                    "queries": [moment, same_tie, not_read],
                },
            ],
        }


#: Orders by number: (``createdAt``, ``orderNumber``, ``id``).
ORDERS = Keyset("orderNumber")

#: Any other rows: (``createdAt``, ``id``).
CREATED = Keyset()

#: Product media: (``createdAt``, ``position``, ``id``).  One Sync writes
#: an article's images in a moment (the emulator stamps a whole request
#: with one time; Shopware stamps each row, CreatedAtFieldSerializer,
#: so a fast server gives many rows one millisecond); by (``createdAt``,
#: ``id``) each next page left out every id read at that moment, about
#: 35 bytes a row (1,000 rows: a 35 KB search).  Positions part them:
#: a page leaves out the ids read at the last row's moment and position
#: (ProductMediaDefinition ``position``, an IntField, ranged and sorted
#: by number) - one an article, as ecomsync numbers an article's media.
MEDIA = Keyset("position")

#: Counts the rows a page's search matches from its cursor on: an
#: aggregation sees the criteria's ``filter`` (EntityAggregator), where
#: the cursor is.
_REST: dict[str, str] = {
    "name": "ecomsync-rest",
    "type": "count",
    "field": "id",
}


async def read_all(
    api: AdminApi,
    entity: str,
    criteria: Mapping[str, Any],
    keyset: Keyset = CREATED,
) -> list[dict[str, Any]]:
    """
    Every row of *entity* matching *criteria* (no ``sort``, no
    ``limit``), each once, `MAX_LIMIT` a page, each next page asked as
    the rows after the last one read (*keyset*).

    Paged by number (sorted by id), a row deleted or leaving the filter
    between two pages hid another one: a product media row not deleted
    as stale, the second order of a shared number not seen by a status
    push (the first moved as if it were the only one).

    Each page counts the rows from its cursor on (`_REST`): the page
    holding them all is the last, so a full last page costs no second,
    empty request.  A page holding only rows read already (a server
    not honouring the filter) fails the read instead of paging on for
    ever.
    """
    rows: list[dict[str, Any]] = []
    read: set[str] = set()
    cursor: Cursor | None = None
    includes = criteria.get("includes")
    while True:
        page: dict[str, Any] = {
            **criteria,
            "sort": keyset.sort(),
            "limit": MAX_LIMIT,
            "aggregations": [_REST],
        }
        filters = [*(criteria.get("filter") or [])]
        if cursor is not None:
            filters.append(keyset.after(cursor))
        if filters:
            page["filter"] = filters
        if isinstance(includes, Mapping) and entity in includes:
            fields = [*includes[entity], *keyset.fields()]
            page["includes"] = {
                **includes,
                entity: list(dict.fromkeys(fields)),
            }
        batch, aggregations = await api.listing(entity, page)
        ids = {str(r.get("id")) for r in batch}
        if cursor is not None and batch and ids <= read:
            raise odd_answer(
                "Shopware",
                f"POST /api/search/{url_entity(entity)}",
                "the rows after the last one read were rows read already",
            )
        # A row read already is left out: `Keyset.key`'s folding is not
        # utf8mb4_unicode_ci's (accents), so a row the shop takes for
        # equal to the last one read can come again on the next page.
        rows += [r for r in batch if str(r.get("id")) not in read]
        read |= ids
        counted = aggregations.get(_REST["name"])
        rest = counted.get("count") if isinstance(counted, dict) else None
        if len(batch) < MAX_LIMIT or (
            type(rest) is int and len(batch) >= rest
        ):
            return rows
        cursor = keyset.next(batch, cursor)

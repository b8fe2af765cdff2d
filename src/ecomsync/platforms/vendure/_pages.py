"""
Reading a whole Vendure list a page at a time, each page asking for the
rows created after the last one read rather than for a page number.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from ._client import JSON, GraphQL


#: Rows a page asks for: Vendure's default ``adminListQueryLimit``
#: (@vendure/core dist/config/default-config.js); a larger ``take`` is
#: refused with ``error.list-query-limit-exceeded``.
TAKE = 1000

_MS = timedelta(milliseconds=1)


def chunks(values: Iterable[str]) -> Iterator[list[str]]:
    """
    *values* sorted, each once, a page (`TAKE`) at a time: a look-up by
    a list of keys (codes, ids), one row a key, asked a page a request,
    is never cut at the page's end.
    """
    wanted = sorted(set(values))
    for start in range(0, len(wanted), TAKE):
        yield wanted[start : start + TAKE]


def _at(raw: JSON, key: str) -> datetime:
    return datetime.fromisoformat(raw[key].replace("Z", "+00:00"))


def after(rows: Sequence[JSON], key: str) -> tuple[JSON, list[JSON]]:
    """
    The part of the next page's filter that asks for the rows after the
    last of *rows* (read in the order of the date *key*, then ``id``),
    and the rows the next call needs in front of the next page's.

    ``after`` is strict, on a date the API parses to milliseconds while
    PostgreSQL keeps microseconds (and the API answers milliseconds): the
    next page asks for the rows after the millisecond before the last
    one's, without those read in it or in the last one's (*rows*: those
    the previous call returned, then the page since).  Only the rows
    read in that window are kept: the call after needs no others.
    """
    since = _at(rows[-1], key) - _MS
    kept = [row for row in rows if _at(row, key) >= since]
    seen = sorted({str(row["id"]) for row in kept}, key=lambda i: (len(i), i))
    return {key: {"after": since.isoformat()}, "id": {"notIn": seen}}, kept


async def pages(
    gql: GraphQL,
    query: str,
    root: str,
    where: JSON,
    variables: JSON | None = None,
    *,
    key: str = "createdAt",
    take: int | None = None,
    channel: str | None = None,
) -> AsyncGenerator[list[JSON], None]:
    """
    The pages of the list *root* (a path, ``order.history``) that *query*
    (taking ``$options``, its items with ``id`` and the date *key*) reads
    with the filter *where*, in the order of *key* then ``id``, *take*
    rows a page (`TAKE` without); each page asks for the rows after the
    last one read (`after`), never for a page number.

    A row leaving the filter (deleted, its SKU changed) between two
    skip/take pages moved every later one a place back, and the first of
    the next page was never read: a variant not found was created again,
    a facet value or collection twice, an order skipped.  Vendure's
    IDOperators have no gt/lt (@vendure/core common-types.graphql), a
    date set once (``createdAt``, ``orderPlacedAt``) can be asked
    ``after``.  Requests: one a page; ``totalItems`` counts from the
    cursor on, so the read ends with the page holding the rest.  A list
    whose parent is gone (``order`` null) is one empty page.
    """
    past: JSON = {}
    window: list[JSON] = []
    while True:
        options = {
            "filter": where | past,
            "sort": {key: "ASC", "id": "ASC"},
            "take": TAKE if take is None else take,
        }
        found: Any = await gql.query(
            query, (variables or {}) | {"options": options}, channel=channel
        )
        for part in root.split("."):
            found = (found or {}).get(part)
        page: JSON = found or {}
        items = list(page.get("items") or [])
        yield items
        if not items or len(items) >= page["totalItems"]:
            return
        past, window = after([*window, *items], key)


async def read_all(
    gql: GraphQL,
    query: str,
    root: str,
    where: JSON,
    variables: JSON | None = None,
    *,
    channel: str | None = None,
) -> list[JSON]:
    """
    Every row of the list *root* that *query* reads with the filter
    *where*, oldest first, each once (`pages`, by ``createdAt``).
    """
    rows: list[JSON] = []
    read: set[str] = set()
    async for items in pages(
        gql, query, root, where, variables, channel=channel
    ):
        for item in items:
            if str(item["id"]) not in read:
                read.add(str(item["id"]))
                rows.append(item)
    return rows

"""
Shopware's search criteria (§1.8, §1.10): filters, sorting, paging,
associations and includes, evaluated over a `View` of the store, and the
simple-JSON rendering of rows.  Aggregations live in `._aggregations`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from ._errors import ApiError, error
from ._schema import (
    ENTITIES,
    MAX_LIMIT,
    NOT_UUID_FIELDS,
    ToMany,
    ToOne,
    collate,
)
from ._store import Row, View
from ._tree import tree_fields


Predicate = Callable[[Row], bool]

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}.*)?$")
_LEAF_TYPES = frozenset(
    {
        "equals",
        "equalsAny",
        "equalsAll",
        "contains",
        "prefix",
        "suffix",
        "range",
    }
)
_TRANSLATED = ("name", "description", "customFields", "title", "alt")


@functools.lru_cache(maxsize=65536)
def parse_date(s: str) -> datetime | None:
    if not _DATE_RE.match(s):
        return None
    try:
        dt = datetime.fromisoformat(s.replace(" ", "T", 1))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _comparable(v: Any) -> tuple[int, Any] | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return (0, int(v))
    if isinstance(v, (int, float)):
        return (0, float(v))
    if isinstance(v, str):
        d = parse_date(v)
        if d is not None:
            return (1, d)
        try:
            return (0, float(v))
        except ValueError:
            return (2, v)
    return None


def _cmp(a: Any, b: Any, op: str) -> bool:
    ca, cb = _comparable(a), _comparable(b)
    if (
        isinstance(a, str)
        and isinstance(b, str)
        and ca is not None
        and cb is not None
        and 1 not in (ca[0], cb[0])
    ):
        # A text column against a text parameter: MySQL compares them as
        # text under the column's collation, "007" < "5" < "9x".
        ca, cb = (2, collate(a)), (2, collate(b))
    if ca is None or cb is None:
        return False
    if ca[0] != cb[0]:
        # A numeric-looking string against a number: compare as text.
        if {ca[0], cb[0]} <= {0, 2}:
            ca, cb = (2, str(a)), (2, str(b))
        else:
            return False
    x, y = ca[1], cb[1]
    if op == "gt":
        return bool(x > y)
    if op == "gte":
        return bool(x >= y)
    if op == "lt":
        return bool(x < y)
    return bool(x <= y)


def _is_id(field: str) -> bool:
    """
    Whether *field* is an id column (``BINARY(16)``): ``id`` and the
    foreign keys (``...Id`` but the free-text ones).
    """
    return field == "id" or (
        field.endswith("Id") and field not in NOT_UUID_FIELDS
    )


def _cmp_id(a: Any, b: Any, op: str) -> bool:
    """
    A range on an id column as MySQL answers it: Shopware binds a range's
    parameter as given (SqlQueryParser::parseRangeFilter; ``equals`` and
    ``equalsAny`` convert ids with Uuid::fromHexToBytes), so the 16 bytes
    the column holds are compared with the text of the hex, byte by byte
    (a binary string against a string compares as binary strings): an
    order that is no order of ids.
    """
    if not isinstance(a, str):
        return False
    try:
        held = bytes.fromhex(a)
    except ValueError:
        held = a.encode()
    given = str(b).encode()
    if op == "gt":
        return held > given
    if op == "gte":
        return held >= given
    if op == "lt":
        return held < given
    return held <= given


def _eq(a: Any, b: Any) -> bool:
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str):
        # Date columns compared with a differently formatted date.
        da, db = parse_date(a), parse_date(b)
        if da is not None:
            return da == db
        # Text columns compare under the tables' utf8mb4_unicode_ci.
        return collate(a) == collate(b)
    return False


class Resolver:
    """
    Walks field paths and associations over one `View`.
    """

    def __init__(self, view: View) -> None:
        self.view = view

    def related(
        self, entity: str, row: Row, assoc: ToOne | ToMany
    ) -> list[Row]:
        v = self.view
        if isinstance(assoc, ToOne):
            if assoc.reverse:
                keys = v.find(assoc.target, assoc.fk, row.get("id"))
                return [r for k in keys if (r := v.get(assoc.target, k))]
            fid = row.get(assoc.fk)
            r = v.get(assoc.target, fid) if isinstance(fid, str) else None
            return [r] if r is not None else []
        rid = row.get("id")
        if assoc.mapping is None:
            keys = v.find(assoc.target, assoc.fk, rid)
            return [r for k in keys if (r := v.get(assoc.target, k))]
        out = []
        assert assoc.ref_fk is not None
        for mk in v.find(assoc.mapping, assoc.fk, rid):
            m = v.get(assoc.mapping, mk)
            if m is None:
                continue
            r = v.get(assoc.target, m[assoc.ref_fk])
            if r is not None:
                out.append(r)
        return out

    def values(self, entity: str, row: Row, parts: list[str]) -> list[Any]:
        head = parts[0]
        d = ENTITIES.get(entity)
        assoc = d.association(head) if d else None
        if assoc is None or head in row:
            v: Any = row.get(head)
            for p in parts[1:]:
                v = v.get(p) if isinstance(v, dict) else None
            return [v]
        if len(parts) == 1:
            return [self.related(entity, row, assoc) or None]
        out: list[Any] = []
        for r in self.related(entity, row, assoc):
            out.extend(self.values(assoc.target, r, parts[1:]))
        return out or [None]


def field_parts(entity: str, field: Any, pointer: str) -> list[str]:
    if not isinstance(field, str) or not field:
        raise ApiError.one(
            400,
            "FRAMEWORK__INVALID_FILTER_QUERY",
            "Parameter 'field' for filter is missing.",
            pointer=pointer,
        )
    parts = field.split(".")
    d = ENTITIES[entity]
    if len(parts) > 1 and parts[0] == entity and d.association(entity) is None:
        parts = parts[1:]
    return parts


def compile_filters(
    entity: str, filters: Any, res: Resolver, pointer: str = "/filter"
) -> Predicate:
    """
    AND of a filter list, as a predicate over rows.
    """
    if not isinstance(filters, list):
        raise ApiError.one(
            400,
            "FRAMEWORK__INVALID_FILTER_QUERY",
            "The filter parameter has to be a list of filters.",
            pointer=pointer,
        )
    preds = [
        compile_filter(entity, f, res, f"{pointer}/{i}")
        for i, f in enumerate(filters)
    ]
    return lambda row: all(p(row) for p in preds)


def _equals_any(
    vals: Callable[[Row], list[Any]], wanted: list[Any]
) -> Predicate:
    # `_eq` against each wanted value, with the text ones collated once.
    texts = {
        collate(w)
        for w in wanted
        if isinstance(w, str) and parse_date(w) is None
    }
    others = [
        w
        for w in wanted
        if not isinstance(w, str) or parse_date(w) is not None
    ]

    def any_of(row: Row) -> bool:
        for v in vals(row):
            if isinstance(v, str) and collate(v) in texts:
                return True
            if any(_eq(v, w) for w in others):
                return True
        return False

    return any_of


def compile_filter(
    entity: str, f: Any, res: Resolver, pointer: str
) -> Predicate:
    if not isinstance(f, dict) or "type" not in f:
        raise ApiError.one(
            400,
            "FRAMEWORK__INVALID_FILTER_QUERY",
            "Parameter 'type' for filter is missing.",
            pointer=pointer,
        )
    t = f["type"]
    if t in ("multi", "not"):
        op = str(f.get("operator", "and")).lower()
        qs = f.get("queries")
        if not isinstance(qs, list):
            raise ApiError.one(
                400,
                "FRAMEWORK__INVALID_FILTER_QUERY",
                "Parameter 'queries' for multi filter is missing.",
                pointer=f"{pointer}/queries",
            )
        subs = [
            compile_filter(entity, q, res, f"{pointer}/queries/{i}")
            for i, q in enumerate(qs)
        ]
        if op == "or":
            inner: Predicate = lambda row: any(p(row) for p in subs)  # noqa: E731
        elif op == "xor":
            inner = lambda row: sum(p(row) for p in subs) % 2 == 1  # noqa: E731
        elif op == "and":
            inner = lambda row: all(p(row) for p in subs)  # noqa: E731
        else:
            raise ApiError.one(
                400,
                "FRAMEWORK__INVALID_FILTER_QUERY",
                f'The operator "{op}" is not supported.',
                pointer=f"{pointer}/operator",
            )
        if t == "not":
            return lambda row: not inner(row)
        return inner

    if t not in _LEAF_TYPES:
        raise ApiError.one(
            400,
            "FRAMEWORK__INVALID_FILTER_QUERY",
            f'Unsupported filter type "{t}".',
            pointer=f"{pointer}/type",
        )
    parts = field_parts(entity, f.get("field"), f"{pointer}/field")

    def vals(row: Row) -> list[Any]:
        return res.values(entity, row, parts)

    if t == "equals":
        value = f.get("value")
        return lambda row: any(_eq(v, value) for v in vals(row))
    if t in ("equalsAny", "equalsAll"):
        value = f.get("value")
        if isinstance(value, str):
            value = value.split("|")
        if not isinstance(value, list):
            raise ApiError.one(
                400,
                "FRAMEWORK__INVALID_FILTER_QUERY",
                f"Parameter 'value' for {t} filter is missing.",
                pointer=f"{pointer}/value",
            )
        wanted = list(value)
        if t == "equalsAny":
            return _equals_any(vals, wanted)
        return lambda row: all(
            any(_eq(v, w) for v in vals(row)) for w in wanted
        )
    if t in ("contains", "prefix", "suffix"):
        # LIKE under utf8mb4_unicode_ci: case- and accent-insensitive.
        needle = str(collate(str(f.get("value", ""))))

        def text_match(row: Row) -> bool:
            for v in vals(row):
                if v is None:
                    continue
                s = str(collate(str(v)))
                if t == "contains" and needle in s:
                    return True
                if t == "prefix" and s.startswith(needle):
                    return True
                if t == "suffix" and s.endswith(needle):
                    return True
            return False

        return text_match
    if t == "range":
        params = f.get("parameters")
        if not isinstance(params, dict) or not params:
            raise ApiError.one(
                400,
                "FRAMEWORK__INVALID_FILTER_QUERY",
                "Parameter 'parameters' for range filter is missing.",
                pointer=f"{pointer}/parameters",
            )
        bounds = [
            (op, params[op])
            for op in ("gt", "gte", "lt", "lte")
            if op in params
        ]
        if _is_id(parts[-1]):
            return lambda row: any(
                all(_cmp_id(v, b, op) for op, b in bounds) for v in vals(row)
            )
        return lambda row: any(
            all(_cmp(v, b, op) for op, b in bounds) for v in vals(row)
        )
    raise ApiError.one(
        400,
        "FRAMEWORK__INVALID_FILTER_QUERY",
        f'Unsupported filter type "{t}".',
        pointer=f"{pointer}/type",
    )


def _sort_key(v: Any) -> tuple[int, Any]:
    if v is None:
        return (0, 0)  # MySQL sorts NULL first ascending
    if isinstance(v, bool):
        return (1, int(v))
    if isinstance(v, (int, float)):
        return (1, v)
    if isinstance(v, str):
        # ORDER BY a text column sorts under its collation, as a range
        # on it compares (`_cmp`): a keyset over both agrees with MySQL.
        return (2, collate(v))
    return (3, str(v))


def parse_sort(value: Any, pointer: str = "/sort") -> list[tuple[str, bool]]:
    """
    ``[(field, descending)]`` from a criteria ``sort`` (list of objects)
    or a query-string ``sort`` (``"-createdAt,id"``).
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [
            (s.lstrip("-+"), s.startswith("-")) for s in value.split(",") if s
        ]
    if not isinstance(value, list):
        raise ApiError.one(
            400,
            "FRAMEWORK__INVALID_SORT_QUERY",
            "The sort parameter has to be a list of sortings.",
            pointer=pointer,
        )
    out = []
    for i, s in enumerate(value):
        if not isinstance(s, dict) or not isinstance(s.get("field"), str):
            raise ApiError.one(
                400,
                "FRAMEWORK__INVALID_SORT_QUERY",
                "A field must be provided.",
                pointer=f"{pointer}/{i}",
            )
        order = str(s.get("order", "ASC")).upper()
        out.append((s["field"], order == "DESC"))
    return out


def sort_rows(
    entity: str,
    rows: list[Row],
    sorting: list[tuple[str, bool]],
    res: Resolver,
) -> list[Row]:
    # Python's sort is stable (also with reverse=True), so sorting by the
    # keys from last to first yields a multi-key sort.
    for field, desc in reversed(sorting):
        parts = field_parts(entity, field, "/sort")
        rows.sort(
            key=lambda r, p=parts: _sort_key(res.values(entity, r, p)[0]),  # type: ignore[misc]
            reverse=desc,
        )
    return rows


def parse_limit(criteria: Mapping[str, Any]) -> tuple[int | None, int]:
    """
    ``(limit, offset)`` after Shopware's checks (§1.10).
    """
    limit: int | None = None
    if "limit" in criteria and criteria["limit"] is not None:
        raw = criteria["limit"]
        try:
            limit = int(raw)
        except (TypeError, ValueError):
            limit = 0
        if limit <= 0 or isinstance(raw, bool):
            raise ApiError(
                400,
                [
                    error(
                        400,
                        "FRAMEWORK__INVALID_LIMIT_QUERY",
                        "The limit parameter must be a positive integer "
                        f"greater or equals than 1. Given: {raw}",
                        pointer="/limit",
                        parameters={"limit": raw},
                    )
                ],
            )
        if limit > MAX_LIMIT:
            raise ApiError(
                400,
                [
                    error(
                        400,
                        "FRAMEWORK__QUERY_LIMIT_EXCEEDED",
                        "The limit must be lower than or equal to "
                        f"MAX_LIMIT(={MAX_LIMIT}). Given: {limit}",
                        pointer="/limit",
                        parameters={"maxLimit": MAX_LIMIT, "limit": limit},
                    )
                ],
            )
    offset = 0
    if limit is not None and "page" in criteria:
        raw = criteria["page"]
        try:
            page = int(raw)
        except (TypeError, ValueError):
            page = 0
        if page <= 0:
            raise ApiError.one(
                400,
                "FRAMEWORK__INVALID_PAGE_QUERY",
                "The page parameter must be a positive integer greater or "
                f"equals than 1. Given: {raw}",
                pointer="/page",
            )
        offset = limit * (page - 1)
    return limit, offset


def render(
    entity: str,
    row: Row,
    associations: Mapping[str, Any],
    includes: Mapping[str, Any],
    res: Resolver,
) -> dict[str, Any]:
    """
    One row as Shopware's simple JSON: stored fields, ``apiAlias``,
    ``translated``, associations (``null`` unless loaded).
    """
    d = ENTITIES[entity]
    out = dict(row)
    if entity == "category":
        out.update(tree_fields(res.view, row))
    tr = {k: row[k] for k in _TRANSLATED if k in row}
    if tr:
        out["translated"] = tr
    for a in d.to_one:
        out.setdefault(a.name, None)
    for m in d.to_many:
        out.setdefault(m.name, None)
    for name, sub_criteria in associations.items():
        assoc = d.association(name)
        if assoc is None:
            continue
        sub = sub_criteria if isinstance(sub_criteria, dict) else {}
        rel = res.related(entity, row, assoc)
        if isinstance(assoc, ToMany) and sub:
            if "filter" in sub:
                pred = compile_filters(assoc.target, sub["filter"], res)
                rel = [r for r in rel if pred(r)]
            rel = sort_rows(
                assoc.target, rel, parse_sort(sub.get("sort")), res
            )
            limit, offset = parse_limit(sub)
            if limit is not None:
                rel = rel[offset : offset + limit]
        nested = sub.get("associations") or {}
        rendered = [
            render(assoc.target, r, nested, includes, res) for r in rel
        ]
        if isinstance(assoc, ToOne):
            out[name] = rendered[0] if rendered else None
        else:
            out[name] = rendered
    out["apiAlias"] = entity
    fields = includes.get(entity)
    if isinstance(fields, list):
        out = {k: out[k] for k in fields if k in out}
        out["apiAlias"] = entity
    return out


# RequestCriteriaBuilder::TOTAL_COUNT_MODE_MAPPING
_TOTAL_COUNT_MODES = {"none": 0, "exact": 1, "next-pages": 2}


def parse_total_count_mode(value: Any) -> int:
    """
    ``RequestCriteriaBuilder::addTotalCountMode``: a number 0-2 (as int or
    numeric string; anything else numeric is 0) or one of the names
    ``none``, ``exact``, ``next-pages`` (anything else is 0).
    """
    if value is None:
        return 0
    if isinstance(value, bool):
        # PHP's (string) true is "1", (string) false is "".
        return 1 if value else 0
    text = str(value)
    try:
        number = int(float(text))
    except (ValueError, OverflowError):
        return _TOTAL_COUNT_MODES.get(text, 0)
    return number if 0 <= number <= 2 else 0

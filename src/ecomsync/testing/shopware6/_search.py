"""
``POST /api/search/{entity}`` and ``/api/search-ids/{entity}`` (§1.8):
ids or filters, aggregations over the filtered rows, post-filter, sort,
paging, total-count modes, and the listing in either response format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._aggregations import aggregate
from ._criteria import (
    Resolver,
    compile_filters,
    parse_limit,
    parse_sort,
    parse_total_count_mode,
    render,
    sort_rows,
)
from ._errors import ApiError
from ._protection import check_fields
from ._routing import jsonapi
from ._schema import MAX_LIMIT
from ._store import Store


# (total, rendered rows, their ids, aggregations)
Found = tuple[int, list[dict[str, Any]], list[str], dict[str, Any]]


def query_criteria(query: Mapping[str, str]) -> dict[str, Any]:
    """
    The criteria of a ``GET /api/{entity}`` query string: ``limit``,
    ``page``, ``total-count-mode``, ``sort`` and ``filter[field]``
    (equality).
    """
    criteria: dict[str, Any] = {}
    filters = []
    for k, v in query.items():
        if k in ("limit", "page", "total-count-mode"):
            criteria[k] = v
        elif k == "sort":
            criteria["sort"] = [
                {"field": f, "order": "DESC" if d else "ASC"}
                for f, d in parse_sort(v)
            ]
        elif k.startswith("filter[") and k.endswith("]"):
            filters.append({"type": "equals", "field": k[7:-1], "value": v})
    if filters:
        criteria["filter"] = filters
    return criteria


def search(store: Store, entity: str, criteria: Any) -> Found:
    if not isinstance(criteria, dict):
        raise ApiError.one(
            400,
            "FRAMEWORK__INVALID_CRITERIA",
            "The criteria must be an object.",
        )
    res = Resolver(store)
    limit, offset = parse_limit(criteria)
    ids = criteria.get("ids")
    filters: Any = criteria.get("filter") or []
    post: Any = criteria.get("post-filter") or []
    if ids is not None:
        if isinstance(ids, str):
            ids = ids.split("|")
        if not isinstance(ids, list):
            raise ApiError.one(
                400,
                "FRAMEWORK__INVALID_CRITERIA_IDS",
                "The ids parameter has to be a list of ids.",
                pointer="/ids",
            )
        rows = [
            r
            for i in ids
            if isinstance(i, str) and (r := store.get(entity, i)) is not None
        ]
        limit, offset = None, 0
    else:
        rows = candidates(
            store, entity, filters if isinstance(filters, list) else []
        )
    if filters:
        pred = compile_filters(entity, filters, res)
        rows = [r for r in rows if pred(r)]
    # Aggregations see the filtered rows, not the post-filter
    # (EntityAggregator::fetchAggregation resets the post-filters;
    # CriteriaQueryBuilder::build applies both to the rows; shopware/shopware
    # src/Core/Framework/DataAbstractionLayer/Dbal).
    aggregations = aggregate(entity, rows, criteria.get("aggregations"), res)
    if post:
        pred = compile_filters(entity, post, res, "/post-filter")
        rows = [r for r in rows if pred(r)]
    rows = sort_rows(entity, rows, parse_sort(criteria.get("sort")), res)
    matched = len(rows)
    if ids is None:
        lim = limit if limit is not None else MAX_LIMIT
        rows = rows[offset : offset + lim]
    # With ids, total-count-mode is not read (RequestCriteriaBuilder).
    mode = (
        parse_total_count_mode(criteria.get("total-count-mode"))
        if ids is None
        else 0
    )
    if mode == 1:
        total = matched
    elif mode == 2 and ids is None:
        lim = limit if limit is not None else MAX_LIMIT
        total = min(max(matched - offset, 0), lim * 6 + 1)
    else:
        total = len(rows)
    assocs = criteria.get("associations") or {}
    includes = criteria.get("includes") or {}
    if not isinstance(assocs, dict) or not isinstance(includes, dict):
        raise ApiError.one(
            400,
            "FRAMEWORK__INVALID_CRITERIA",
            "associations and includes must be objects.",
        )
    # Checked once the criteria is parsed, as RequestCriteriaBuilder does.
    check_fields(entity, criteria)
    keys = [str(r.get("id", "")) for r in rows]
    return (
        total,
        [render(entity, r, assocs, includes, res) for r in rows],
        keys,
        aggregations,
    )


def candidates(store: Store, entity: str, filters: list[Any]) -> list[Any]:
    # Equality on an indexed field narrows the scan to the index hit.
    for f in filters:
        if not isinstance(f, dict) or f.get("type") not in (
            "equals",
            "equalsAny",
        ):
            continue
        field = f.get("field")
        if isinstance(field, str) and field.startswith(f"{entity}."):
            field = field[len(entity) + 1 :]
        if field == "id" or (entity, field) in store.index:
            vals = f.get("value")
            if f["type"] == "equals":
                vals = [vals]
            elif isinstance(vals, str):
                vals = vals.split("|")
            if not isinstance(vals, list):
                continue
            keys: list[str] = []
            for v in vals:
                if field == "id":
                    if isinstance(v, str) and store.get(entity, v):
                        keys.append(v)
                else:
                    keys += store.find(entity, str(field), v)
            seen = dict.fromkeys(keys)
            return [r for k in seen if (r := store.get(entity, k)) is not None]
    return list(store.entities[entity].values())


def listing(entity: str, found: Found, api: bool) -> dict[str, Any]:
    total, data, _, aggregations = found
    # PHP encodes an empty array as [], a keyed one as an object.
    aggs: dict[str, Any] | list[Any] = aggregations or []
    if api:
        return {
            "data": [jsonapi(entity, d) for d in data],
            "included": [],
            "links": {},
            "meta": {"total": total},
            "aggregations": aggs,
        }
    return {"total": total, "data": data, "aggregations": aggs}

"""
Search aggregations (§1.10), as Shopware's AggregationParser validates
them and its EntityAggregator computes them: metrics (avg, sum, min, max,
count, stats) and bucket aggregations over the rows a search matched.
"""

from __future__ import annotations

from typing import Any

from ._criteria import Resolver, compile_filters, field_parts
from ._errors import ApiError, error
from ._store import Row


_METRICS = frozenset({"avg", "sum", "min", "max", "count", "stats"})


def _invalid_aggregation(detail: str, pointer: str) -> dict[str, Any]:
    return error(
        400,
        "FRAMEWORK__INVALID_AGGREGATION_QUERY",
        detail,
        pointer=pointer,
        parameters={"message": detail},
    )


def _check_aggregation(
    index: int, agg: Any, errors: list[dict[str, Any]]
) -> bool:
    """
    AggregationParser::parseAggregation's checks; violations go to
    *errors*.
    """
    ptr = f"/aggregations/{index}"
    if not isinstance(agg, dict):
        errors.append(
            _invalid_aggregation("The aggregation should be an object.", ptr)
        )
        return False
    name = agg.get("name")
    if not isinstance(name, str) or not name or _numeric(name):
        errors.append(
            _invalid_aggregation(
                "The aggregation name should be a non-empty string.", ptr
            )
        )
        return False
    if "?" in name or ":" in name:
        errors.append(
            _invalid_aggregation(
                "The aggregation name should not contain a question mark "
                "or colon.",
                ptr,
            )
        )
        return False
    kind = agg.get("type")
    if not isinstance(kind, str) or not kind or _numeric(kind):
        errors.append(
            _invalid_aggregation(
                'The aggregations of "%s" should be a non-empty string.', ptr
            )
        )
        return False
    if kind != "filter" and not agg.get("field"):
        errors.append(
            _invalid_aggregation(
                'The aggregation should contain a "field".',
                f"{ptr}/{kind}/field",
            )
        )
        return False
    if kind == "filter":
        if not agg.get("filter") or not agg.get("aggregation"):
            errors.append(
                _invalid_aggregation(
                    "The aggregation should contain an array of filters in "
                    'property "filter".',
                    f"{ptr}/{kind}/field",
                )
            )
            return False
        return _check_aggregation(index, agg["aggregation"], errors)
    if kind not in _METRICS and kind != "terms":
        # Shopware also knows entity, range and histogram; the emulator
        # does not (docs/testing.md lists it).
        errors.append(
            _invalid_aggregation(
                f'The aggregation type "{kind}" is not supported by the '
                "emulator.",
                ptr,
            )
        )
        return False
    nested = agg.get("aggregation")
    return nested is None or _check_aggregation(index, nested, errors)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _fetched(v: Any) -> str | None:
    """
    A column value as PDO hands it to Shopware (ATTR_STRINGIFY_FETCHES,
    MySQLFactory): a string.
    """
    if v is None:
        return None
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def aggregate(
    entity: str, rows: list[Row], aggregations: Any, res: Resolver
) -> dict[str, Any]:
    """
    The ``aggregations`` of a listing: each result under its name, as
    JsonType::createListingResponse encodes AggregationResults (a
    `filter` aggregation answers with its inner aggregation's result).
    """
    if aggregations is None:
        return {}
    if isinstance(aggregations, dict):
        aggregations = list(aggregations.values())
    if not isinstance(aggregations, list):
        raise ApiError.one(
            400,
            "FRAMEWORK__INVALID_AGGREGATION_QUERY",
            "The aggregations parameter has to be a list of aggregations.",
            pointer="/aggregations",
        )
    errors: list[dict[str, Any]] = []
    valid = [
        a
        for i, a in enumerate(aggregations)
        if _check_aggregation(i, a, errors)
    ]
    if errors:
        raise ApiError(400, errors)
    out: dict[str, Any] = {}
    for agg in valid:
        result = _aggregate_one(entity, rows, agg, res)
        out[result["name"]] = result
    return out


def _aggregate_one(
    entity: str, rows: list[Row], agg: dict[str, Any], res: Resolver
) -> dict[str, Any]:
    kind, name = agg["type"], agg["name"]
    if kind == "filter":
        pred = compile_filters(entity, agg["filter"], res, "/filter")
        return _aggregate_one(
            entity, [r for r in rows if pred(r)], agg["aggregation"], res
        )
    parts = field_parts(entity, agg["field"], "/aggregations")
    values = [
        v for r in rows for v in res.values(entity, r, parts) if v is not None
    ]
    out: dict[str, Any] = {"name": name}
    if kind == "terms":
        out["buckets"] = _buckets(entity, rows, agg, parts, res)
    elif kind == "count":
        # COUNT(DISTINCT field), NULL not counted
        # (EntityAggregator::parseCountAggregation)
        out["count"] = len({_fetched(v) for v in values})
    else:
        numbers = [n for v in values if (n := _number(v)) is not None]
        total = sum(numbers)
        avg = total / len(numbers) if numbers else None
        # MIN/MAX compare numbers as numbers, other columns as text.
        if numbers and len(numbers) == len(values):
            low = _fetched(min(numbers)) if numbers else None
            high = _fetched(max(numbers)) if numbers else None
        else:
            texts = sorted(_fetched(v) or "" for v in values)
            low = texts[0] if texts else None
            high = texts[-1] if texts else None
        if kind == "avg":
            out["avg"] = avg or 0.0
        elif kind == "sum":
            out["sum"] = float(total)
        elif kind == "min":
            out["min"] = low
        elif kind == "max":
            out["max"] = high
        else:
            out.update(
                min=low,
                max=high,
                avg=avg,
                sum=float(total) if numbers else None,
            )
    out["apiAlias"] = f"{name}_aggregation"
    return out


def _buckets(
    entity: str,
    rows: list[Row],
    agg: dict[str, Any],
    parts: list[str],
    res: Resolver,
) -> list[dict[str, Any]]:
    groups: dict[str, list[Row]] = {}
    for r in rows:
        for v in res.values(entity, r, parts):
            key = _fetched(v) or ""
            groups.setdefault(key, []).append(r)
    keys = sorted(groups)
    sort = agg.get("sort")
    if isinstance(sort, dict):
        desc = str(sort.get("order", "ASC")).upper() == "DESC"
        if sort.get("field") == "_count":
            keys.sort(key=lambda k: len(groups[k]), reverse=desc)
        else:
            keys.sort(reverse=desc)
    limit = agg.get("limit")
    if isinstance(limit, int) and limit > 0:
        keys = keys[:limit]
    nested = agg.get("aggregation")
    buckets = []
    for k in keys:
        bucket: dict[str, Any] = {"key": k, "count": len(groups[k])}
        if isinstance(nested, dict):
            inner = _aggregate_one(entity, groups[k], nested, res)
            bucket[inner["name"]] = inner
        bucket["apiAlias"] = "aggregation_bucket"
        buckets.append(bucket)
    return buckets

"""
Fields a criteria may not name (§1.8): Shopware's Admin API refuses a
criteria whose filter, post-filter, sort, aggregation, query or grouping
names a field without ``ApiAware`` for the Admin API (nor
``ApiCriteriaAware``), along the whole path of the accessor.  Every
field has it unless its definition removes it or names only the Store
API (Field::__construct adds ``ApiAware(AdminApiSource)``), so few do:
a customer's passwords, a media's raw blobs (`EntityDef.unaware`).
(ApiCriteriaValidator::validate,
called by RequestCriteriaBuilder::handleRequest once the criteria is
parsed; shopware/shopware src/Core/Framework/DataAbstractionLayer/Search/
ApiCriteriaValidator.php).  It throws ApiProtectionException, a
ShopwareHttpException with the default status: a 500,
``FRAMEWORK__ACCESSOR_NOT_ALLOWED``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._errors import ApiError, error
from ._schema import ENTITIES


def _filter_fields(filters: Any) -> Iterator[str]:
    """
    The fields a filter list names, nested ``multi`` / ``not`` too.
    """
    if not isinstance(filters, list):
        return
    for f in filters:
        if not isinstance(f, dict):
            continue
        if isinstance(f.get("field"), str):
            yield f["field"]
        yield from _filter_fields(f.get("queries"))


def _aggregation_fields(aggregations: Any) -> Iterator[str]:
    """
    The fields aggregations name: their own, their filter's (a ``filter``
    aggregation) and their nested aggregation's.
    """
    if isinstance(aggregations, dict):
        aggregations = list(aggregations.values())
    if not isinstance(aggregations, list):
        return
    for a in aggregations:
        if not isinstance(a, dict):
            continue
        if isinstance(a.get("field"), str):
            yield a["field"]
        yield from _filter_fields(a.get("filter"))
        if isinstance(a.get("aggregation"), dict):
            yield from _aggregation_fields([a["aggregation"]])


def _fields(criteria: dict[str, Any]) -> Iterator[str]:
    """
    Every field *criteria* names (Criteria::getAllFields): filters,
    post-filters, sortings, queries, groupings and aggregations.
    """
    yield from _filter_fields(criteria.get("filter"))
    yield from _filter_fields(criteria.get("post-filter"))
    sort = criteria.get("sort")
    if isinstance(sort, str):
        yield from (s.lstrip("-+") for s in sort.split(",") if s)
    elif isinstance(sort, list):
        yield from (
            s["field"]
            for s in sort
            if isinstance(s, dict) and isinstance(s.get("field"), str)
        )
    queries = criteria.get("query")
    if isinstance(queries, list):
        yield from _filter_fields(
            [q.get("query") for q in queries if isinstance(q, dict)]
        )
    grouping = criteria.get("grouping")
    if isinstance(grouping, list):
        yield from (g for g in grouping if isinstance(g, str))
    yield from _aggregation_fields(criteria.get("aggregations"))


def check_fields(entity: str, criteria: dict[str, Any]) -> None:
    """
    Refuse *criteria* as Shopware does if it names, anywhere along an
    accessor, a field the Admin API does not expose (`EntityDef.unaware`).
    """
    for field in _fields(criteria):
        parts = field.split(".")
        if parts[0] == entity and len(parts) > 1:
            parts = parts[1:]
        d = ENTITIES[entity]
        for part in parts:
            if part in d.unaware:
                # RequestCriteriaBuilder prefixes each field with the
                # entity's name (buildFieldName).
                accessor = f"{entity}.{'.'.join(parts)}"
                raise ApiError(
                    500,
                    [
                        error(
                            500,
                            "FRAMEWORK__ACCESSOR_NOT_ALLOWED",
                            f"Accessor {accessor} is not allowed in this "
                            "api scope",
                            parameters={"accessor": accessor},
                        )
                    ],
                )
            association = d.association(part)
            if association is None:
                break
            d = ENTITIES[association.target]

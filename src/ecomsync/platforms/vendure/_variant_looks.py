"""
Where a variant or option write's answer was lost (`MaybeApplied`: a
bare 503 from a proxy, a connection lost after sending), the Vendure
adapter looks for its effect before sending it again: a create sent
twice would leave two variants with one SKU, or two option groups.
Each look answers, per call, what the mutation would have answered, or
``None`` (not landed: send it).
"""

from __future__ import annotations

from collections.abc import Sequence

from ._catalog import Catalog
from ._client import JSON, GraphQL


async def made(catalog: Catalog, inputs: Sequence[JSON]) -> list[JSON | None]:
    """
    Variant creates: their SKU on their product.
    """
    found = await catalog.variants_by_sku([i["sku"] for i in inputs])
    return [
        next(
            (
                {"id": v["id"]}
                for v in found.get(i["sku"]) or []
                if str(v["product"]["id"]) == str(i["productId"])
            ),
            None,
        )
        for i in inputs
    ]


async def deleted(gql: GraphQL, ids: Sequence[str]) -> JSON | None:
    """
    A variant delete: done if Vendure lists none of *ids*.
    """
    data = await gql.query(
        "query ($ids: [String!]!) { productVariants(options: "
        "{ filter: { id: { in: $ids } } }) { items { id } } }",
        {"ids": list(ids)},
    )
    if data["productVariants"]["items"]:
        return None
    return {"deleteProductVariants": []}


async def groups_gone(
    catalog: Catalog, calls: Sequence[JSON]
) -> list[JSON | None]:
    """
    Option group removals: the group is off the product.
    """
    products = await catalog.products([c["productId"] for c in calls])
    found: list[JSON | None] = []
    for call in calls:
        product = products.get(str(call["productId"]))
        if product is None:
            found.append(None)
            continue
        groups = {str(g["id"]) for g in product.get("optionGroups") or []}
        off = str(call["optionGroupId"]) not in groups
        found.append({"id": product["id"]} if off else None)
    return found


async def groups_made(
    gql: GraphQL, calls: Sequence[JSON]
) -> list[JSON | None]:
    """
    Option group creates: the newest group with the code (the article's
    number and the group's name) that no product uses yet.  A group a
    product has is another article's ("T 1" and "T-1" make the same
    code): added to this product, the two would share its options.
    """
    found: list[JSON | None] = []
    for call in calls:
        data = await gql.query(
            "query ($c: String!) { productOptionGroups(options: "
            "{ filter: { code: { eq: $c } }, sort: { id: DESC } }) "
            "{ items { id code name productCount options "
            "{ id code name } } } }",
            {"c": call["input"]["code"]},
        )
        found.append(
            next(
                (
                    g
                    for g in data["productOptionGroups"]["items"]
                    if not g["productCount"]
                ),
                None,
            )
        )
    return found


async def options_made(
    gql: GraphQL, calls: Sequence[JSON]
) -> list[JSON | None]:
    """
    Option creates: their code in their group.
    """
    found: list[JSON | None] = []
    for call in calls:
        wanted = call["input"]
        data = await gql.query(
            "query ($id: ID!) { productOptionGroup(id: $id) "
            "{ options { id code name } } }",
            {"id": wanted["productOptionGroupId"]},
        )
        group = data["productOptionGroup"] or {}
        found.append(
            next(
                (
                    o
                    for o in group.get("options") or []
                    if o["code"] == wanted["code"]
                ),
                None,
            )
        )
    return found


__all__ = ["deleted", "groups_gone", "groups_made", "made", "options_made"]

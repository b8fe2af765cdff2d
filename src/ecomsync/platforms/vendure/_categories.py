"""
Categories of the Vendure adapter: one value of the private category
facet per ERP category (code = category number) and one collection per
category, nested like the ERP tree, whose filter lists its own value
first and then those of all its descendants.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import attrs

from ..._contracts import Outcome, Outgoing
from ..._model import Category, parents_first
from ...exceptions import SyncError
from ._catalog import PAGE, Catalog, fail, slugify
from ._client import JSON
from ._gql import aliased, list_mutation
from ._pages import chunks, read_all


_FILTER = "facet-value-filter"


@attrs.define
class _Node:
    """
    A category collection: its own facet value comes first in its filter.
    """

    id: str
    parent_id: str | None
    name: str
    description: str
    private: bool
    value_ids: list[str]
    asset_ids: list[str]
    featured: str | None


def _value_ids(collection: JSON) -> list[str]:
    for flt in collection.get("filters") or []:
        if flt.get("code") != _FILTER:
            continue
        for arg in flt.get("args") or []:
            if arg.get("name") == "facetValueIds":
                try:
                    ids = json.loads(arg.get("value") or "[]")
                except ValueError:
                    return []
                return [str(i) for i in ids]
    return []


def _filter(value_ids: Sequence[str]) -> list[JSON]:
    return [
        {
            "code": _FILTER,
            "arguments": [
                {
                    "name": "facetValueIds",
                    "value": json.dumps(list(value_ids)),
                },
                {"name": "containsAny", "value": "true"},
                {"name": "combineWithAnd", "value": "true"},
            ],
        }
    ]


def _own_value(filters: list[JSON]) -> str:
    """
    The facet value id a filter input made by `_filter` lists first.
    """
    return str(json.loads(filters[0]["arguments"][0]["value"])[0])


@attrs.define
class Categories:
    """
    Writes ERP categories as facet values plus collections.
    """

    catalog: Catalog

    async def collections(
        self, value_ids: set[str], *, channel: str | None = None
    ) -> dict[str, _Node]:
        """
        The category collections, by their own facet value id; in the
        channel with the token *channel* instead of this one.
        """
        nodes: dict[str, _Node] = {}
        rows = await read_all(
            self.catalog.gql,
            """query ($options: CollectionListOptions) {
              collections(options: $options) {
                totalItems
                items { id parentId name description isPrivate createdAt
                        featuredAsset { id } assets { id }
                        filters { code args { name value } } } } }""",
            "collections",
            {},
            channel=channel,
        )
        for item in rows:
            ids = _value_ids(item)
            if ids and ids[0] in value_ids:
                nodes[ids[0]] = _Node(
                    id=str(item["id"]),
                    parent_id=item.get("parentId"),
                    name=item["name"],
                    description=item.get("description") or "",
                    private=bool(item["isPrivate"]),
                    value_ids=ids,
                    asset_ids=[a["id"] for a in item.get("assets") or []],
                    featured=(item.get("featuredAsset") or {}).get("id"),
                )
        return nodes

    # -- categories ---------------------------------------------------------

    async def push(self, items: Sequence[Outgoing]) -> list[Outcome]:
        facet = await self.catalog.facet_id()
        values = await self.catalog.category_values()
        outcomes: dict[int, Outcome] = {}
        cats: list[tuple[int, Category]] = []
        for i, item in enumerate(items):
            if isinstance(item.record, Category):
                cats.append((i, item.record))
            else:
                outcomes[i] = fail(item.record.number, "not a category")
        # parents first; a cycle (and what hangs below it) fails by name
        order, invalid = parents_first([c for _, c in cats])
        for k, problem in invalid.items():
            i, cat = cats[k]
            outcomes[i] = fail(cat.number, problem.reason, problem.field)
        depth: dict[str, int] = {}
        for k in order:
            cat = cats[k][1]
            depth[cat.number] = depth.get(cat.parent or "", -1) + 1
        cats = [cats[k] for k in order]

        def tr(cat: Category) -> list[JSON]:
            return [{"languageCode": self.catalog.language, "name": cat.name}]

        # 1. facet values: one per category, code = category number
        values.update(
            await self.catalog.default_values(
                [c.number for _, c in cats if c.number not in values]
            )
        )
        new = [(i, c) for i, c in cats if c.number not in values]
        created = await list_mutation(
            self.catalog.gql,
            "createFacetValues",
            "CreateFacetValueInput",
            [
                {"facetId": facet, "code": c.number, "translations": tr(c)}
                for _, c in new
            ],
            "id code name",
            look=self._values_made,
        )
        for (i, cat), result in zip(new, created, strict=True):
            if isinstance(result, str):
                outcomes[i] = fail(cat.number, result)
            else:
                values[cat.number] = result
        renamed = [
            (i, c)
            for i, c in cats
            if i not in outcomes
            and c.number in values
            and values[c.number]["name"] != c.name
        ]
        updated = await list_mutation(
            self.catalog.gql,
            "updateFacetValues",
            "UpdateFacetValueInput",
            [
                {"id": values[c.number]["id"], "translations": tr(c)}
                for _, c in renamed
            ],
            "id name",
            idempotent=True,
        )
        for (i, cat), result in zip(renamed, updated, strict=True):
            if isinstance(result, str):
                outcomes[i] = fail(cat.number, result)

        # 2. collections, parents before children (a wave per depth)
        by_value = {v["id"]: n for n, v in values.items()}
        nodes = await self.collections(set(by_value))
        await self._from_default(by_value, nodes)
        root = await self._root_collection()
        for level in range(max(depth.values(), default=-1) + 1):
            ready: list[tuple[int, Category, str | None]] = []
            for i, cat in cats:
                if i in outcomes or depth[cat.number] != level:
                    continue
                parent_id = root
                if cat.parent is not None:
                    parent_value = values.get(cat.parent)
                    parent_node = (
                        nodes.get(parent_value["id"]) if parent_value else None
                    )
                    if parent_node is None:
                        outcomes[i] = fail(
                            cat.number,
                            f"parent category {cat.parent} does not exist",
                            "parent",
                        )
                        continue
                    parent_id = parent_node.id
                ready.append((i, cat, parent_id))
            await self._write_collections(ready, values, nodes, outcomes)

        # 3. every collection lists its own and all descendant values
        await self._refilter(nodes)
        for i, cat in cats:
            if i not in outcomes:
                outcomes[i] = Outcome(
                    number=cat.number, platform_id=values[cat.number]["id"]
                )
        return [outcomes[i] for i in range(len(items))]

    async def _values_made(self, inputs: Sequence[JSON]) -> list[JSON | None]:
        """
        The facet values of creates whose answer was lost, by their code
        (the category number) in the category facet.
        """
        made: dict[str, JSON] = {}
        # a page of codes a request: more were cut at the page's end
        for chunk in chunks(i["code"] for i in inputs):
            data = await self.catalog.gql.query(
                """query ($f: String!, $c: [String!]!, $take: Int!) {
                  facetValues(options: { take: $take, sort: { id: ASC },
                    filter: { facetId: { eq: $f }, code: { in: $c } } }) {
                    items { id code name } } }""",
                {"f": inputs[0]["facetId"], "c": chunk, "take": PAGE},
            )
            for item in data["facetValues"]["items"]:
                made.setdefault(item["code"], item)
        return [made.get(i["code"]) for i in inputs]

    async def _collections_made(
        self, calls: Sequence[JSON]
    ) -> list[JSON | None]:
        """
        The collections of creates whose answer was lost, by the facet
        value each one's filter lists first (its category's own).
        """
        wanted = [_own_value(call["input"]["filters"]) for call in calls]
        nodes = await self.collections(set(wanted))
        return [
            {"id": nodes[v].id, "parentId": nodes[v].parent_id}
            if v in nodes
            else None
            for v in wanted
        ]

    async def _from_default(
        self, by_value: dict[str, str], nodes: dict[str, _Node]
    ) -> None:
        """
        Add to *nodes* the category collections the default channel has
        and this one lacks, assigned to this channel.  Vendure puts a
        collection made in another channel into the default channel too:
        this channel making its own would list each category twice
        there.  No request in the default channel or when this channel
        has them all.
        """
        missing = {v for v in by_value if v not in nodes}
        if not missing or not self.catalog.shared():
            return
        theirs = await self.collections(
            missing, channel=await self.catalog.default_token()
        )
        await self.catalog.assign(
            "assignCollectionsToChannel", [n.id for n in theirs.values()]
        )
        nodes.update(theirs)

    async def _root_collection(self) -> str | None:
        data = await self.catalog.gql.query(
            "{ collections(options: { take: 1, topLevelOnly: true }) "
            "{ items { parentId } } }"
        )
        items = data["collections"]["items"]
        return str(items[0]["parentId"]) if items else None

    async def _write_collections(
        self,
        ready: list[tuple[int, Category, str | None]],
        values: dict[str, JSON],
        nodes: dict[str, _Node],
        outcomes: dict[int, Outcome],
    ) -> None:
        creates: list[tuple[int, Category, str | None]] = []
        updates: list[tuple[int, Category, JSON]] = []
        moves: list[tuple[int, Category, JSON]] = []
        for i, cat, parent_id in ready:
            value_id = values[cat.number]["id"]
            node = nodes.get(value_id)
            if node is None:
                creates.append((i, cat, parent_id))
                continue
            change: JSON = {}
            if (node.name, node.description) != (cat.name, cat.description):
                change["translations"] = [
                    {
                        "languageCode": self.catalog.language,
                        "name": cat.name,
                        "description": cat.description,
                    }
                ]
            if node.private != (not cat.active):
                change["isPrivate"] = not cat.active
            if change:
                updates.append((i, cat, {"id": node.id, **change}))
            if parent_id is not None and node.parent_id != parent_id:
                moves.append(
                    (
                        i,
                        cat,
                        {
                            "collectionId": node.id,
                            "parentId": parent_id,
                            "index": max(cat.position, 0),
                        },
                    )
                )
        results = await aliased(
            self.catalog.gql,
            "createCollection",
            {"input": "CreateCollectionInput!"},
            [
                {
                    "input": {
                        "translations": [
                            {
                                "languageCode": self.catalog.language,
                                "name": cat.name,
                                "slug": slugify(cat.name),
                                "description": cat.description,
                            }
                        ],
                        "parentId": parent_id,
                        "isPrivate": not cat.active,
                        "inheritFilters": False,
                        "filters": _filter([values[cat.number]["id"]]),
                    }
                }
                for _, cat, parent_id in creates
            ],
            "id parentId",
            look=self._collections_made,
        )
        for (i, cat, parent_id), result in zip(creates, results, strict=True):
            if isinstance(result, str):
                outcomes[i] = fail(cat.number, result)
                continue
            value_id = values[cat.number]["id"]
            nodes[value_id] = _Node(
                id=str(result["id"]),
                parent_id=parent_id,
                name=cat.name,
                description=cat.description,
                private=not cat.active,
                value_ids=[value_id],
                asset_ids=[],
                featured=None,
            )
        for field, arg, batch in (
            ("updateCollection", "UpdateCollectionInput!", updates),
            ("moveCollection", "MoveCollectionInput!", moves),
        ):
            answers = await aliased(
                self.catalog.gql,
                field,
                {"input": arg},
                [{"input": change} for _, _, change in batch],
                "id parentId",
                idempotent=True,
            )
            for (i, cat, change), result in zip(batch, answers, strict=True):
                if isinstance(result, str):
                    outcomes[i] = fail(cat.number, result)
                elif field == "moveCollection":
                    node = nodes[values[cat.number]["id"]]
                    node.parent_id = change["parentId"]

    async def _refilter(self, nodes: dict[str, _Node]) -> None:
        children: dict[str | None, list[_Node]] = {}
        for node in nodes.values():
            children.setdefault(node.parent_id, []).append(node)

        def below(node: _Node) -> list[str]:
            found: list[str] = []
            for child in children.get(node.id, []):
                found += [child.value_ids[0], *below(child)]
            return found

        changes = []
        for value_id, node in nodes.items():
            want = [value_id, *sorted(set(below(node)), key=int)]
            if node.value_ids != want:
                changes.append(
                    {"input": {"id": node.id, "filters": _filter(want)}}
                )
                node.value_ids = want
        results = await aliased(
            self.catalog.gql,
            "updateCollection",
            {"input": "UpdateCollectionInput!"},
            changes,
            "id",
            idempotent=True,
        )
        failed = [r for r in results if isinstance(r, str)]
        if failed:
            raise SyncError(f"cannot update collection filters: {failed[0]}")


__all__ = ["Categories"]

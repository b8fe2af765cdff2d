"""
Which Tryton products a selection picks, as article groups (see
``_tryton_catalog`` for the grouping rules).

One light ``search_read`` finds the candidates (ids, codes, templates,
active flags); the server-side part of the selection narrows it (changed
since, ``Only``'s numbers and their prefixes); the matched templates'
siblings and the holders of the codes they reuse are read beside them,
so that grouping sees every product an article is made of, and a rival
under a changed record's number is read with it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence, Set
from typing import TYPE_CHECKING, Any

import attrs

from .._anyio_util import concurrently
from .._spec import ChangedSince, NumberRange, Only, Selection
from ._tryton_catalog import ArticleGroup, ProductRow, group_articles
from ._tryton_read import ALL, changed


if TYPE_CHECKING:
    from ._tryton_rpc import Rpc

#: The candidates' fields: what grouping needs, nothing more.
_LIGHT = ["code", "active", "template"]

#: ``Only`` with at most this many numbers also looks for templates
#: numbered by their variants' common prefix (``code like 'N%'``).
_PREFIX_LOOKUPS = 20


async def _light(
    rpc: Rpc, domain: list[Any], *, context: dict[str, Any] | None = ALL
) -> list[ProductRow]:
    """
    The candidates: products' code, template and active flag (plain
    columns), the inactive templates (ids only) beside them, and the
    codes of the templates with several products (usually few).
    """
    rows: list[dict[str, Any]] = []
    inactive: set[int] = set()

    async def products() -> None:
        rows.extend(
            await rpc.search_read(
                "product.product",
                [["code", "!=", None], *domain],
                _LIGHT,
                context=context,
            )
        )

    async def templates() -> None:
        inactive.update(
            await rpc.model(
                "product.template",
                "search",
                [["active", "=", False]],
                0,
                None,
                None,
                context=ALL,
            )
        )

    await concurrently(products, templates)
    return [
        ProductRow(
            id=row["id"],
            code=str(row["code"]),
            template=row["template"],
            template_code=None,
            active=bool(row["active"]) and row["template"] not in inactive,
        )
        for row in rows
    ]


async def _coded(rpc: Rpc, rows: list[ProductRow]) -> list[ProductRow]:
    """
    *rows* with the code of each template that has several of them
    (usually few: only those can be articles with variants).
    """
    sizes = Counter(row.template for row in rows)
    several = sorted(t for t, n in sizes.items() if n > 1)
    codes = {
        row["id"]: row["code"] or None
        for row in await rpc.read(
            "product.template", several, ["code"], context=ALL
        )
    }
    return [
        attrs.evolve(row, template_code=codes.get(row.template))
        if row.template in codes
        else row
        for row in rows
    ]


def _domain(selection: Selection) -> list[Any] | None:
    """
    The server-side part of *selection* (``None``: read every
    candidate and select here).
    """
    if isinstance(selection, ChangedSince):
        return [
            changed(
                selection.moment,
                "last_modified_at",
                "template.last_modified_at",
                "images.last_modified_at",
                "template.images.last_modified_at",
            )
        ]
    if isinstance(selection, Only):
        numbers = sorted(selection.numbers)
        if len(numbers) > _PREFIX_LOOKUPS:
            return None
        return [
            [
                "OR",
                ["code", "in", numbers],
                ["template.code", "in", numbers],
                *(["code", "like", f"{n}%"] for n in numbers if "\\" not in n),
            ]
        ]
    return None


async def find_groups(
    rpc: Rpc, selection: Selection, *, expand_limit: int
) -> list[ArticleGroup]:
    """
    The article groups *selection* picks, in number order.  Above
    *expand_limit* matched templates, every candidate is read and
    selected here instead of the matched templates' siblings by id (id
    lists longer than a database takes as query parameters).
    """
    domain = _domain(selection)
    if domain is None:
        groups = group_articles(await _coded(rpc, await _light(rpc, [])))
        return [g for g in groups if _selected(g, selection)]
    matched = await _light(rpc, domain)
    if not matched:
        return []
    # every product of the matched templates, and of the templates
    # holding an active product under a code an inactive one reuses
    templates = {row.template for row in matched}
    ids = {row.id for row in matched}
    if len(templates) > expand_limit:
        # many changed: every candidate, rather than id lists longer
        # than a database takes as query parameters
        return _picked(
            group_articles(await _coded(rpc, await _light(rpc, []))),
            selection,
            ids,
        )
    rows = await _coded(
        rpc,
        matched
        + await _light(
            rpc,
            [
                ["template", "in", sorted(templates)],
                ["id", "not in", sorted(ids)],
            ],
        ),
    )
    # An active product under an inactive one's code stands for it;
    # beyond `Only` (whose domain finds them), an active rival under
    # any code they hold (a duplicate) is read with them, for the
    # engine to fail both (`_picked`).
    rivals = not isinstance(selection, Only)
    reused = sorted(
        {row.code for row in rows if rivals or not row.active}
        | {
            row.template_code
            for row in rows
            if (rivals or not row.active) and row.template_code
        }
    )
    if reused:
        holders = {
            row.template
            for row in await _light(
                rpc,
                [
                    [
                        "OR",
                        ["code", "in", reused],
                        ["template.code", "in", reused],
                    ]
                ],
                context=None,  # active ones only
            )
        }
        if holders - templates:
            rows = await _coded(
                rpc,
                rows
                + await _light(
                    rpc, [["template", "in", sorted(holders - templates)]]
                ),
            )
    return _picked(group_articles(rows), selection, ids)


def _selected(group: ArticleGroup, selection: Selection) -> bool:
    if isinstance(selection, NumberRange):
        return group.number in selection
    if isinstance(selection, Only):
        return not group.numbers.isdisjoint(selection.numbers)
    return True


def _picked(
    groups: Sequence[ArticleGroup], selection: Selection, ids: Set[int]
) -> list[ArticleGroup]:
    """
    The *groups* *selection* picks, in their order.  Beyond `Only`, a
    group is picked if one of its products matched (*ids*: changed), or
    if it claims a number of a group so picked: a rival under one number
    is read with the changed record, so that the engine fails both rather
    than letting the newcomer overwrite the shop's product.
    """
    chosen = [g for g in groups if _selected(g, selection)]
    if isinstance(selection, Only):
        return chosen
    numbers: set[str] = set()
    for group in chosen:
        if not ids.isdisjoint(group.members):
            numbers |= group.numbers
    return [
        g
        for g in chosen
        if not ids.isdisjoint(g.members) or not numbers.isdisjoint(g.numbers)
    ]

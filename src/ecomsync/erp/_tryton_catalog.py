"""
Tryton products as articles: which product rows make which article, and
the rules that keep an inactive product from ever overwriting an active
one.  Pure functions, no I/O: `_tryton_session` reads the rows.

The rules (docs/tryton.md, "Variants" and "Reused codes"):

- **Reused codes.**  Tryton keeps ``product.product.code`` unique among
  *active* products only, so a code may come back several times.  Where
  one of them is active (the product and its template), that one is THE
  product for the code and the inactive ones are history: they are not
  read.  Where all of them are inactive, the newest (highest id) stands
  for the code, as inactive.  Two *active* products with one code cannot
  exist in Tryton; should a reader still see them, both are kept and the
  engine fails them as an ambiguity.
- **Variants.**  A template with more than one coded product (after the
  rule above, active or not) is one article with a variant per product.
  Its number is the template's code; without one, the longest common
  prefix of the variants' codes with trailing separators (``-_./: ``)
  removed.  When neither gives a number that differs from every variant's
  code, there is nothing to file the shop product under: each product is
  then an article of its own.  A template with one coded product is a
  plain article numbered by the product's code.
- The article is active while any of its products is (a product counts
  as active when it and its template are); its variants are its active
  products (all of them when none is active, so a deactivated article
  still names what it had).
- The same rule once more across articles: where an active article holds
  a number (as its number or one of its variants'), an inactive article
  with that number is not read; of several inactive articles with one
  number, the newest template's stands.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from .._model import number_key


#: Trailing characters cut from a common code prefix (``SHIRT-`` → ``SHIRT``).
SEPARATORS = "-_./: "


@attrs.frozen
class ProductRow:
    """
    What grouping needs of one ``product.product``.
    """

    id: int
    code: str
    template: int
    template_code: str | None
    #: the product *and* its template are active
    active: bool


@attrs.frozen
class ArticleGroup:
    """
    One article to read: its number, its products in variant order, and
    whether those products are variants (``variants``) or the article
    itself (one product, ``variants == False``).
    """

    number: str
    template: int
    products: tuple[ProductRow, ...]
    variants: bool
    active: bool
    #: every product the article stands for, also inactive variants
    members: frozenset[int] = frozenset()
    #: the numbers it holds: its own and its products' codes
    numbers: frozenset[str] = frozenset()


def _by_code(rows: Iterable[ProductRow]) -> list[ProductRow]:
    """
    One product per code: the active one(s), else the newest inactive.
    """
    codes: dict[str, list[ProductRow]] = {}
    for row in rows:
        codes.setdefault(row.code, []).append(row)
    kept: list[ProductRow] = []
    for same in codes.values():
        active = [r for r in same if r.active]
        kept += active or [max(same, key=lambda r: r.id)]
    return kept


def _common_prefix(codes: Sequence[str]) -> str:
    first, last = min(codes), max(codes)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def template_number(template_code: str | None, codes: Sequence[str]) -> str:
    """
    The article number of a template with several products of *codes*:
    the template's code, else the common prefix of *codes* without
    trailing separators; ``""`` when that would be empty or equal a
    variant's code.
    """
    number = (template_code or "").strip()
    if not number:
        number = _common_prefix(codes).rstrip(SEPARATORS)
    return "" if number in codes else number


def group_articles(rows: Iterable[ProductRow]) -> list[ArticleGroup]:
    """
    The articles *rows* make, in natural number order (see the module
    docstring for the rules).
    """
    templates: dict[int, list[ProductRow]] = {}
    for row in _by_code(rows):
        templates.setdefault(row.template, []).append(row)
    groups: list[ArticleGroup] = []
    for template, products in templates.items():
        products.sort(key=lambda r: (number_key(r.code), r.id))
        codes = [p.code for p in products]
        number = ""
        if len(products) > 1:
            number = template_number(products[0].template_code, codes)
        if not number:
            groups += [
                ArticleGroup(
                    p.code,
                    template,
                    (p,),
                    False,
                    p.active,
                    frozenset({p.id}),
                    frozenset({p.code}),
                )
                for p in products
            ]
            continue
        active = [p for p in products if p.active]
        groups.append(
            ArticleGroup(
                number,
                template,
                tuple(active or products),
                True,
                bool(active),
                frozenset(p.id for p in products),
                frozenset({number, *codes}),
            )
        )
    held = {n for g in groups if g.active for n in g.numbers}
    newest: dict[str, ArticleGroup] = {}
    for g in groups:
        if (
            not g.active
            and g.number not in held
            and (
                g.number not in newest
                or newest[g.number].template < g.template
            )
        ):
            newest[g.number] = g
    groups = [g for g in groups if g.active or newest.get(g.number) is g]
    groups.sort(key=lambda g: (number_key(g.number), g.template))
    return groups

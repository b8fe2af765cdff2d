"""
Reading Tryton products: articles (templates with their variants) and
stock available to sell, per warehouse or summed.

Speed: one light ``search_read`` finds the candidates (ids, codes,
templates, active flags); full records are then read chunk by chunk by
id, each chunk as a few concurrent reads of the same fields in one
context, with the chunk's images beside them.  Category numbers, the
company's currency, attribute definitions and warehouse locations are
read once per session.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence, Set
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from .._model import (
    Article,
    MediaKind,
    MediaRef,
    Variant,
)
from .._spec import ChangedSince, NumberRange, Only, Selection
from ..exceptions import ConfigurationError
from ._tryton_catalog import (
    SEPARATORS,
    ArticleGroup,
    ProductRow,
    group_articles,
)


if TYPE_CHECKING:
    from ._tryton_rpc import Rpc
    from .tryton import TrytonErp

IMAGE_KEY = "product.image"

#: Products are read with inactive ones (reused codes, deactivations).
ALL = {"active_test": False}

#: The candidates' fields: what grouping needs, nothing more.
_LIGHT = ["code", "active", "template"]

#: Products are read this many at a time (ahead of the engine's batches):
#: every request costs Tryton about as much server time as reading 30
#: products' prices.
READ_AHEAD = 500

_IMAGE_FIELDS = [
    "template",
    "product",
    "create_date",
    "write_date",
    "description",
]

#: Images are looked up for this many upcoming templates in one call.
IMAGE_WINDOW = 2000

#: ``Only`` with at most this many numbers also looks for templates
#: numbered by their variants' common prefix (``code like 'N%'``).
_PREFIX_LOOKUPS = 20


async def concurrently(*calls: Callable[[], Awaitable[object]]) -> None:
    """
    Run *calls* at once; the first failure cancels the others and is
    raised as itself (never as an exception group).
    """
    errors: list[Exception] = []

    async def guarded(
        call: Callable[[], Awaitable[object]], scope: anyio.CancelScope
    ) -> None:
        try:
            await call()
        except Exception as exc:
            errors.append(exc)
            scope.cancel()

    async with anyio.create_task_group() as tg:
        for call in calls:
            tg.start_soon(guarded, call, tg.cancel_scope)
    if errors:
        raise errors[0]


def naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def changed(moment: datetime, *paths: str) -> list[Any]:
    ts = naive_utc(moment)
    return ["OR", *([path, ">=", ts] for path in paths)]


def stamp(row: dict[str, Any]) -> str:
    moment = row.get("write_date") or row.get("create_date")
    return moment.isoformat() if isinstance(moment, datetime) else ""


def image_ref(model: str, row: dict[str, Any], position: int) -> MediaRef:
    return MediaRef(
        key=f"{model}:{row['id']}",
        filename=f"{row.get('description') or 'image'}-{position + 1}.jpg",
        mime_type="image/jpeg",  # Tryton stores every image as JPEG
        kind=MediaKind.IMAGE,
        format="original",
        version=stamp(row),
    )


def category_number(row: dict[str, Any]) -> str:
    return str(row.get("code") or f"#{row['id']}")


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


@attrs.define
class ProductReader:
    """
    Articles and stock over one session's `Rpc`, with the session's
    caches.
    """

    rpc: Rpc
    erp: TrytonErp
    #: above this many matched templates, all candidates are read instead
    #: of the matched templates' siblings by id (long id lists)
    expand_limit: int = 1000
    _categories: dict[int, str] = attrs.field(factory=dict)
    _all_categories: bool = False
    _currency: str | None = None
    _attributes: dict[str, dict[str, Any]] | None = None
    _upcoming: list[ArticleGroup] = attrs.field(factory=list)
    _at: dict[int, int] = attrs.field(factory=dict)
    _rows: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    _plan: list[int] = attrs.field(factory=list)
    _index: dict[int, int] = attrs.field(factory=dict)
    _fetched: set[int] = attrs.field(factory=set)
    _images: dict[int, list[dict[str, Any]]] = attrs.field(factory=dict)

    # -- which articles ---------------------------------------------------

    async def _light(
        self, domain: list[Any], *, context: dict[str, Any] | None = ALL
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
                await self.rpc.search_read(
                    "product.product",
                    [["code", "!=", None], *domain],
                    _LIGHT,
                    context=context,
                )
            )

        async def templates() -> None:
            inactive.update(
                await self.rpc.model(
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

    async def _coded(self, rows: list[ProductRow]) -> list[ProductRow]:
        """
        *rows* with the code of each template that has several of them
        (usually few: only those can be articles with variants).
        """
        sizes = Counter(row.template for row in rows)
        several = sorted(t for t, n in sizes.items() if n > 1)
        codes = {
            row["id"]: row["code"] or None
            for row in await self.rpc.read(
                "product.template", several, ["code"], context=ALL
            )
        }
        return [
            attrs.evolve(row, template_code=codes.get(row.template))
            if row.template in codes
            else row
            for row in rows
        ]

    def _domain(self, selection: Selection) -> list[Any] | None:
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
                    *(
                        ["code", "like", f"{n}%"]
                        for n in numbers
                        if "\\" not in n
                    ),
                ]
            ]
        return None

    async def article_groups(self, selection: Selection) -> list[ArticleGroup]:
        """
        The articles *selection* picks, in number order; what every
        article needs once (attributes, currency, category numbers) is
        fetched meanwhile.
        """
        found: list[ArticleGroup] = []

        async def groups() -> None:
            found.extend(await self._groups(selection))

        await concurrently(
            groups,
            self._currency_code,
            partial(self._category_numbers, set()),
        )
        return found

    async def _groups(self, selection: Selection) -> list[ArticleGroup]:
        domain = self._domain(selection)
        if domain is None:
            groups = group_articles(await self._coded(await self._light([])))
            return [g for g in groups if _selected(g, selection)]
        matched = await self._light(domain)
        if not matched:
            return []
        # every product of the matched templates, and of the templates
        # holding an active product under a code an inactive one reuses
        templates = {row.template for row in matched}
        ids = {row.id for row in matched}
        if len(templates) > self.expand_limit:
            # many changed: every candidate, rather than id lists longer
            # than a database takes as query parameters
            return _picked(
                group_articles(await self._coded(await self._light([]))),
                selection,
                ids,
            )
        rows = await self._coded(
            matched
            + await self._light(
                [
                    ["template", "in", sorted(templates)],
                    ["id", "not in", sorted(ids)],
                ]
            )
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
                for row in await self._light(
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
                rows = await self._coded(
                    rows
                    + await self._light(
                        [["template", "in", sorted(holders - templates)]]
                    )
                )
        return _picked(group_articles(rows), selection, ids)

    # -- articles ---------------------------------------------------------

    async def articles(self, groups: Sequence[ArticleGroup]) -> list[Article]:
        """
        The full articles of *groups*, in their order.
        """
        found: dict[int, dict[str, Any]] = {}
        images: list[dict[str, Any]] = []

        async def read() -> None:
            found.update(await self._products_of(groups))

        async def read_images() -> None:
            images.extend(await self._images_of([g.template for g in groups]))

        await concurrently(read, read_images, self._currency_code)
        await self._category_numbers(
            {c for row in found.values() for c in row["categories"]}
        )
        return [self._article(g, found, images) for g in groups]

    def _price(self, value: Decimal | None) -> Decimal:
        price = value or Decimal(0)
        if not self.erp.gross_prices:
            price = (price * (100 + self.erp.tax_rate) / 100).quantize(
                Decimal("0.01"), ROUND_HALF_UP
            )
        return price

    def _article(
        self,
        group: ArticleGroup,
        found: dict[int, dict[str, Any]],
        images: list[dict[str, Any]],
    ) -> Article:
        first = found[group.products[0].id]
        price = self._price(first["list_price_used"])
        template_images = [
            i
            for i in images
            if i["template"] == group.template and not i["product"]
        ]

        def own(product: int) -> list[dict[str, Any]]:
            return [i for i in images if i["product"] == product]

        variants: list[Variant] = []
        if group.variants:
            media = template_images + [
                i for p in group.products for i in own(p.id)
            ]
            for product in group.products:
                row = found[product.id]
                variant_price = self._price(row["list_price_used"])
                variants.append(
                    Variant(
                        number=product.code,
                        options=self._options(group.number, product, row),
                        price=None
                        if variant_price == price
                        else variant_price,
                    )
                )
        else:
            # a variant's images, then its template's images
            media = own(first["id"]) + template_images
        return Article(
            number=group.number,
            name=first["name"] or "",
            description=first["description"] or "",
            price=price,
            tax_rate=self.erp.tax_rate,
            currency=self._currency or "",
            categories=tuple(self._categories[c] for c in first["categories"]),
            variants=tuple(variants),
            media=tuple(
                image_ref(IMAGE_KEY, image, n) for n, image in enumerate(media)
            ),
            active=group.active,
        )

    def _options(
        self, number: str, product: ProductRow, row: dict[str, Any]
    ) -> tuple[tuple[str, str], ...]:
        """
        A variant's options: its attribute values (by attribute name),
        or ``("Variant", <its code after the article number>)``.
        """
        values = row.get("attributes") or {}
        defs = self._attributes or {}
        options = []
        for name in sorted(values):
            value = values[name]
            if value is None:
                continue
            spec = defs.get(name, {})
            labels = dict(spec.get("selection") or ())
            options.append(
                (
                    str(spec.get("string") or name),
                    str(labels.get(value, value)),
                )
            )
        if options:
            return tuple(options)
        code = product.code
        if code.startswith(number):
            code = code[len(number) :].lstrip(SEPARATORS) or code
        return (("Variant", code),)

    # -- images, read ahead for a window of templates ----------------------

    def expect(self, groups: Sequence[ArticleGroup]) -> None:
        """
        *groups* are about to be read in this order: their products are
        read `READ_AHEAD` at a time, their images for a window of
        `IMAGE_WINDOW` templates at a time.
        """
        self._upcoming = list(groups)
        self._at = {id(g): i for i, g in enumerate(self._upcoming)}
        self._rows.clear()
        self._plan = list(dict.fromkeys(g.template for g in groups))
        self._index = {t: i for i, t in enumerate(self._plan)}
        self._fetched.clear()
        self._images.clear()

    async def _products_of(
        self, groups: Sequence[ArticleGroup]
    ) -> dict[int, dict[str, Any]]:
        """
        The product rows of *groups*, read with the upcoming groups' up
        to `READ_AHEAD` products in one call.
        """
        wanted = [p.id for g in groups for p in g.products]
        if any(pid not in self._rows for pid in wanted):
            window = list(groups)
            start = self._at.get(id(groups[0]))
            if start is not None:
                size = sum(len(g.products) for g in window)
                for group in self._upcoming[start + len(groups) :]:
                    size += len(group.products)
                    if size > READ_AHEAD:
                        break
                    window.append(group)
            fields = ["name", "description", "list_price_used", "categories"]
            if (
                any(g.variants for g in window)
                and await self._attribute_defs()
            ):
                fields.append("attributes")
            ids = sorted(
                {p.id for g in window for p in g.products} - self._rows.keys()
            )
            for row in await self.rpc.read(
                "product.product", ids, fields, context=ALL
            ):
                self._rows[row["id"]] = row
        return {pid: self._rows.pop(pid) for pid in wanted}

    async def _images_of(
        self, templates: Sequence[int]
    ) -> list[dict[str, Any]]:
        """
        The image rows of *templates*, in ``sequence`` order.
        """
        missing = [t for t in templates if t not in self._fetched]
        if missing:
            window = list(missing)
            start = self._index.get(missing[0])
            if start is not None:
                window += self._plan[start : start + IMAGE_WINDOW]
            window = sorted({t for t in window if t not in self._fetched})
            rows = await self.rpc.search_read(
                IMAGE_KEY,
                [["template", "in", window]],
                [
                    "template",
                    "product",
                    "create_date",
                    "write_date",
                    "description",
                ],
                order=[["sequence", "ASC"], ["id", "ASC"]],
            )
            self._fetched.update(window)
            for row in rows:
                self._images.setdefault(row["template"], []).append(row)
        return [row for t in templates for row in self._images.pop(t, [])]

    # -- session caches ---------------------------------------------------

    async def _currency_code(self) -> str:
        if self._currency is None:
            company_id = self.rpc.context.get("company")
            if not company_id:
                raise ConfigurationError(
                    "the Tryton user has no current company: set one in the "
                    "user's preferences (prices depend on it)"
                )
            (company,) = await self.rpc.read(
                "company.company", [company_id], ["currency.code"]
            )
            self._currency = str(company["currency."]["code"])
        return self._currency

    async def _category_numbers(self, ids: set[int]) -> None:
        missing = sorted(ids - self._categories.keys())
        if not self._all_categories:  # first: all of them, they are few
            self._all_categories = True
            rows = await self.rpc.search_read("product.category", [], ["code"])
        elif missing:
            rows = await self.rpc.read("product.category", missing, ["code"])
        else:
            return
        self._categories.update({r["id"]: category_number(r) for r in rows})

    async def _attribute_defs(self) -> dict[str, dict[str, Any]]:
        """
        Tryton's product attributes by name (empty without the
        ``product_attribute`` module).
        """
        if self._attributes is None:
            fields = await self.rpc.model(
                "product.product", "fields_get", ["attributes"]
            )
            self._attributes = {}
            if fields:
                for row in await self.rpc.search_read(
                    "product.attribute",
                    [],
                    ["name", "string", "selection_json"],
                ):
                    row["selection"] = json.loads(
                        row.get("selection_json") or "[]"
                    )
                    self._attributes[row["name"]] = row
        return self._attributes

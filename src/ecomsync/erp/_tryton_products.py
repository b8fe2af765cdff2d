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
from collections.abc import Awaitable, Callable, Sequence
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
_LIGHT = ["code", "active", "template", "template.code", "template.active"]

#: Concurrent reads per chunk (Tryton serves requests in threads).
PARALLEL_READS = 2

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


@attrs.define
class ProductReader:
    """
    Articles and stock over one session's `Rpc`, with the session's
    caches.
    """

    rpc: Rpc
    erp: TrytonErp
    _categories: dict[int, str] = attrs.field(factory=dict)
    _currency: str | None = None
    _attributes: dict[str, dict[str, Any]] | None = None

    # -- which articles ---------------------------------------------------

    async def _light(
        self, domain: list[Any], *, context: dict[str, Any] | None = ALL
    ) -> list[ProductRow]:
        rows = await self.rpc.search_read(
            "product.product",
            [["code", "!=", None], *domain],
            _LIGHT,
            context=context,
        )
        return [
            ProductRow(
                id=row["id"],
                code=str(row["code"]),
                template=row["template"],
                template_code=row["template."].get("code") or None,
                active=bool(row["active"])
                and bool(row["template."].get("active")),
            )
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
        The articles *selection* picks, in number order.
        """
        domain = self._domain(selection)
        if domain is None:
            groups = group_articles(await self._light([]))
            return [g for g in groups if _selected(g, selection)]
        matched = await self._light(domain)
        if not matched:
            return []
        # every product of the matched templates, and of the templates
        # holding an active product under a code an inactive one reuses
        templates = {row.template for row in matched}
        reused = sorted(
            {row.code for row in matched if not row.active}
            | {
                row.template_code
                for row in matched
                if not row.active and row.template_code
            }
        )
        if reused:
            templates |= {
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
        rows = await self._light([["template", "in", sorted(templates)]])
        ids = {row.id for row in matched}
        return [
            g
            for g in group_articles(rows)
            if _selected(g, selection)
            and (isinstance(selection, Only) or not ids.isdisjoint(g.members))
        ]

    # -- articles ---------------------------------------------------------

    async def articles(self, groups: Sequence[ArticleGroup]) -> list[Article]:
        """
        The full articles of *groups*, in their order.
        """
        ids = [p.id for g in groups for p in g.products]
        fields = ["name", "description", "list_price_used", "categories"]
        found: dict[int, dict[str, Any]] = {}
        images: list[dict[str, Any]] = []

        async def read(part: list[int], fields: list[str]) -> None:
            for row in await self.rpc.read(
                "product.product", part, fields, context=ALL
            ):
                found[row["id"]] = row

        async def read_images() -> None:
            images.extend(
                await self.rpc.search_read(
                    IMAGE_KEY,
                    [["template", "in", sorted({g.template for g in groups})]],
                    [
                        "template",
                        "product",
                        "create_date",
                        "write_date",
                        "description",
                    ],
                    order=[["sequence", "ASC"], ["id", "ASC"]],
                )
            )

        attributes = await self._attribute_defs()
        if attributes:
            fields.append("attributes")
        size = max(1, -(-len(ids) // PARALLEL_READS))
        await concurrently(
            *(
                partial(read, ids[start : start + size], fields)
                for start in range(0, len(ids), size)
            ),
            read_images,
            self._currency_code,
        )
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
        if not missing:
            return
        if not self._categories:  # first time: all of them, they are few
            rows = await self.rpc.search_read("product.category", [], ["code"])
        else:
            rows = await self.rpc.read("product.category", missing, ["code"])
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

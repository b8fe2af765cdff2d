"""
Reading Tryton articles: templates with their variants, prices, options
and images, for the groups ``_tryton_candidates`` picked.

Speed: full records are read by id `READ_AHEAD` products at a time, in
one context, with the images of a window of templates beside them; while
the engine works through one window, the next is read in the session's
background (at most one window ahead).  Category numbers, the company's
currency and attribute definitions are read once per session.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from .._anyio_util import concurrently
from .._model import Article, Variant
from .._record_checks import minor_unit
from .._spec import Selection
from ..exceptions import ConfigurationError
from ._tryton_candidates import find_groups
from ._tryton_catalog import SEPARATORS, ArticleGroup, ProductRow
from ._tryton_read import ALL, IMAGE_KEY, category_number, image_ref


if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from ._tryton_rpc import Rpc
    from .tryton import TrytonErp

#: Products are read this many at a time (ahead of the engine's batches):
#: any request costs Tryton about as much server time as reading 15
#: products' prices, but a read's cost per product grows with its size
#: (server CPU for 2,000 products: 1.37 s by 100, 1.26 s by 250, 1.35 s
#: by 500, 1.52 s by 1,000).
READ_AHEAD = 250

_IMAGE_FIELDS = [
    "template",
    "product",
    "create_date",
    "write_date",
    "description",
]

#: Images are looked up for this many upcoming templates in one call.
IMAGE_WINDOW = 2000


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
    #: where the next window's read runs while the engine works through
    #: the current one (the session's; ``None``: no reading ahead)
    background: TaskGroup | None = None
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
    #: the first upcoming group no read has been asked for yet
    _next: int = 0
    #: set when the window read in the background is in `_rows`
    _ahead: anyio.Event | None = None
    #: the position of the first group of the window read ahead
    _ahead_at: int = 0
    #: counts `expect` calls: a read-ahead for an older plan is dropped
    _plan_no: int = 0

    # -- which articles ---------------------------------------------------

    async def article_groups(self, selection: Selection) -> list[ArticleGroup]:
        """
        The articles *selection* picks, in number order; what every
        article needs once (attributes, currency, category numbers) is
        fetched meanwhile.
        """
        found: list[ArticleGroup] = []

        async def groups() -> None:
            found.extend(
                await find_groups(
                    self.rpc, selection, expand_limit=self.expand_limit
                )
            )

        await concurrently(
            groups,
            self._currency_code,
            partial(self._category_numbers, set()),
        )
        return found

    # -- articles ---------------------------------------------------------

    async def articles(self, groups: Sequence[ArticleGroup]) -> list[Article]:
        """
        The full articles of *groups*, in their order.
        """
        found: dict[int, dict[str, Any]] = {}
        images: dict[int, list[dict[str, Any]]] = {}

        async def read() -> None:
            found.update(await self._products_of(groups))

        async def read_images() -> None:
            images.update(await self._images_of([g.template for g in groups]))

        await concurrently(read, read_images, self._currency_code)
        await self._category_numbers(
            {c for row in found.values() for c in row["categories"]}
        )
        return [self._article(g, found, images) for g in groups]

    def _price(self, value: Decimal | None) -> Decimal:
        price = value or Decimal(0)
        if not self.erp.gross_prices:
            # to the currency's smallest unit: cents made 12.345 KWD
            # 12.35 and 1078.92 JPY of a yen price
            price = (price * (100 + self.erp.tax_rate) / 100).quantize(
                minor_unit(self._currency or ""), ROUND_HALF_UP
            )
        return price

    def _article(
        self,
        group: ArticleGroup,
        found: dict[int, dict[str, Any]],
        images: dict[int, list[dict[str, Any]]],
    ) -> Article:
        first = found[group.products[0].id]
        price = self._price(first["list_price_used"])
        # a template's images, its products' among them (Tryton keeps an
        # image's product within its template): not the batch's scanned
        # per article
        rows = images.get(group.template, ())
        template_images = [i for i in rows if not i["product"]]

        def own(product: int) -> list[dict[str, Any]]:
            return [i for i in rows if i["product"] == product]

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
        self._next = 0
        self._ahead = None
        self._plan_no += 1

    async def _products_of(
        self, groups: Sequence[ArticleGroup]
    ) -> dict[int, dict[str, Any]]:
        """
        The product rows of *groups*, read with the upcoming groups' up
        to `READ_AHEAD` products in one call; the window after it is then
        read in the background.
        """
        wanted = [p.id for g in groups for p in g.products]
        start = self._at.get(id(groups[0]))
        if self._ahead is not None and (
            any(pid not in self._rows for pid in wanted)
            or (start is not None and start + len(groups) > self._ahead_at)
        ):
            # The batch reaches the window read ahead: waited for, never
            # read twice, and the next window's read starts (also when
            # this one ended before its batch came).
            await self._ahead.wait()
            self._ahead = None
        if any(pid not in self._rows for pid in wanted):
            window = list(groups)
            if start is not None:
                window += self._window(start + len(groups), window)
                self._next = max(self._next, start + len(window))
            self._store(await self._read_rows(window))
        if self._ahead is None and self.background is not None:
            ahead = self._window(self._next, [])
            if ahead:
                self._ahead_at = self._next
                self._next += len(ahead)
                self._ahead = anyio.Event()
                self.background.start_soon(
                    self._read_ahead, ahead, self._ahead, self._plan_no
                )
        return {pid: self._rows.pop(pid) for pid in wanted}

    def _window(
        self, start: int, taken: Sequence[ArticleGroup]
    ) -> list[ArticleGroup]:
        """
        The upcoming groups from *start* that fit in one read beside
        *taken* (at least one group when *taken* is empty).
        """
        size = sum(len(g.products) for g in taken)
        window: list[ArticleGroup] = []
        for group in self._upcoming[start:]:
            size += len(group.products)
            if size > READ_AHEAD and (window or taken):
                break
            window.append(group)
        return window

    async def _read_rows(
        self, window: Sequence[ArticleGroup]
    ) -> list[dict[str, Any]]:
        fields = ["name", "description", "list_price_used", "categories"]
        if any(g.variants for g in window) and await self._attribute_defs():
            fields.append("attributes")
        ids = sorted(
            {p.id for g in window for p in g.products} - self._rows.keys()
        )
        return await self.rpc.read("product.product", ids, fields, context=ALL)

    def _store(self, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            self._rows[row["id"]] = row

    async def _read_ahead(
        self, window: Sequence[ArticleGroup], done: anyio.Event, plan: int
    ) -> None:
        """
        Read *window*'s rows into `_rows` unless `expect` has planned
        anew.  A failure is dropped: the engine's batch then reads the
        rows itself and meets the error where it would have without
        reading ahead.
        """
        try:
            rows = await self._read_rows(window)
            if plan == self._plan_no:
                self._store(rows)
        except Exception:  # noqa: S110 -- read again in line, see above
            pass
        finally:
            done.set()

    async def _images_of(
        self, templates: Sequence[int]
    ) -> dict[int, list[dict[str, Any]]]:
        """
        The image rows of *templates* by template, in ``sequence`` order.
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
                _IMAGE_FIELDS,
                order=[["sequence", "ASC"], ["id", "ASC"]],
            )
            self._fetched.update(window)
            for row in rows:
                self._images.setdefault(row["template"], []).append(row)
        return {t: self._images.pop(t, []) for t in dict.fromkeys(templates)}

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

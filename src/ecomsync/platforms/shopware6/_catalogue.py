"""
The catalogue: categories (parents first), articles with variants, prices,
category assignments and visibility, and stock levels.

This module talks to Shopware (searches, taxes, sales channels, the
`Writer`); what the shop holds of an article batch is searched in
``_product_search``; what an article's write sends, held against what the
shop holds, is planned without I/O in ``_catalogue_rows``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import anyio
import attrs

from ..._contracts import Outcome, Outgoing
from ..._model import Article, Category, StockLevel, parents_first
from .._backorders import negative_stock, reported
from ._catalogue_rows import (
    ArticleWrite,
    article_write,
    held_otherwise,
    held_tax,
    operations,
    stock_outcomes,
    stock_taken,
    variants_held,
    with_stock,
)
from ._claims import (
    CATEGORY_RULE,
    PRODUCT_RULE,
    STOCK_RULE,
    ShopCurrency,
    article_claims,
    category_claims,
    collate,
    same_options,
    screen,
    stock_claims,
    tax_places,
    too_long,
)
from ._client import MAX_LIMIT, AdminApi
from ._keyset import read_all
from ._mapping import (
    DEFAULT_CURRENCY_ID,
    article_rows,
    category_id,
    category_payload,
    product_id,
    tax_id,
)
from ._media import Media, gone_failure
from ._navigation import (
    ROOT_INCLUDES,
    Home,
    channel_criteria,
    from_channels,
    from_root,
    refusals,
)
from ._product_search import ANY_PRODUCT_BY_TAX, ProductSearch, held_any
from ._writer import Built, Failure, Writer, op, outcomes, wrong_type


#: Seconds a looked-up sales-channel list or tax id is used before it is
#: looked up again, so that a long-running process (``serve``) makes
#: articles visible in a sales channel added since, or finds a tax
#: recreated under another id.
LOOKUP_TTL = 300.0


@attrs.define
class Catalogue:
    """
    The catalogue side of one `Shopware6`.
    """

    api: AdminApi
    writer: Writer
    media: Media
    sales_channel_id: str | None
    allow_backorders: bool = False
    #: The category below which the ERP's top-level categories go; None:
    #: the sales channel's navigation category (`_navigation`).
    category_root: str | None = attrs.field(default=None, kw_only=True)
    #: Nothing but this adapter writes ecomsync's products into the shop.
    sole_writer: bool = attrs.field(default=False, kw_only=True)
    #: Monotonic seconds, for `LOOKUP_TTL`.
    clock: Callable[[], float] = attrs.field(
        default=time.monotonic, kw_only=True
    )
    #: (when looked up, the shop's sales channels, or just the configured
    #: one, with their navigation category)
    _channels: tuple[float, list[dict[str, Any]]] | None = attrs.field(
        init=False, default=None
    )
    #: (when looked up, where the top-level categories go below
    #: `category_root`)
    _root: tuple[float, Home] | None = attrs.field(init=False, default=None)
    #: rate -> (when looked up, tax id)
    _taxes: dict[Decimal, tuple[float, str]] = attrs.field(
        init=False, factory=dict
    )
    #: (when looked up, the shop's default currency)
    _currency: tuple[float, ShopCurrency] | None = attrs.field(
        init=False, default=None
    )
    _lock: anyio.Lock | None = attrs.field(init=False, default=None)
    #: What the shop holds of a batch's products (`_product_search`).
    _search: ProductSearch = attrs.field(init=False)

    @_search.default
    def _make_search(self) -> ProductSearch:
        return ProductSearch(self.api, sole_writer=self.sole_writer)

    def _setup_lock(self) -> anyio.Lock:
        if self._lock is None:
            self._lock = anyio.Lock()
        return self._lock

    def _fresh(self, since: float) -> bool:
        return self.clock() - since < LOOKUP_TTL

    async def _sales_channels(self) -> list[str]:
        if self.sales_channel_id is not None:
            return [self.sales_channel_id]
        return sorted(str(r["id"]) for r in await self._channel_rows())

    async def _channel_rows(self) -> list[dict[str, Any]]:
        """
        The sales channels (just the configured one, if any): one look-up
        serves the articles, the categories' home and the currency check.
        """
        async with self._setup_lock():
            if self._channels is None or not self._fresh(self._channels[0]):
                now = self.clock()
                criteria = channel_criteria(self.sales_channel_id)
                rows = await read_all(self.api, "sales_channel", criteria)
                self._channels = (now, rows)
                self._currency = ShopCurrency.among(rows, now, self._currency)
            return self._channels[1]

    async def _home(self) -> Home:
        """
        Where the ERP's top-level categories go (`_navigation`).
        """
        root = self.category_root
        if root is None:
            rows = await self._channel_rows()
            return from_channels(rows, self.sales_channel_id)
        async with self._setup_lock():
            if self._root is None or not self._fresh(self._root[0]):
                now = self.clock()
                found = await self.api.search(
                    "category", {"ids": [root], "includes": ROOT_INCLUDES}
                )
                self._root = (now, from_root(root, found))
            return self._root[1]

    async def _default_currency(self) -> ShopCurrency:
        """
        The shop's system default currency (``Defaults::CURRENCY``), the
        one prices are written in, with its item rounding.
        """
        known = self._currency
        if known is not None and self._fresh(known[0]):
            return known[1]  # no lock once known
        async with self._setup_lock():
            if self._currency is None or not self._fresh(self._currency[0]):
                now = self.clock()
                rows = await self.api.search(
                    "currency", {"ids": [DEFAULT_CURRENCY_ID]}
                )
                found = ShopCurrency.from_row(rows[0] if rows else None)
                self._currency = (now, found)
            return self._currency[1]

    async def _tax(self, rate: Decimal) -> str:
        """
        The id of the tax entity for *rate*: found, or created.
        """
        known = self._taxes.get(rate)
        if known is not None and self._fresh(known[0]):
            return known[1]  # no lock once known
        async with self._setup_lock():
            known = self._taxes.get(rate)
            if known is not None and self._fresh(known[0]):
                return known[1]
            await self._look_up_tax(rate)
            return self._taxes[rate][1]

    async def _shop_empty(self, rate: Decimal) -> bool | None:
        """
        Whether the shop holds no product at all (None: not answered),
        asked in the look-up of the tax for *rate*, which a first sync
        makes anyway (`ANY_PRODUCT_BY_TAX`).
        """
        async with self._setup_lock():
            return await self._look_up_tax(rate, probe=True)

    async def _look_up_tax(
        self, rate: Decimal, *, probe: bool = False
    ) -> bool | None:
        """
        Find (or create) the tax for *rate* into `_taxes`; with *probe*,
        also say whether the shop holds no product (None: not answered).
        Called with the set-up lock held.
        """
        now = self.clock()
        criteria: dict[str, Any] = {
            "filter": [
                {"type": "equals", "field": "taxRate", "value": float(rate)}
            ],
            "sort": [{"field": "id", "order": "ASC"}],
            "limit": 1,
        }
        if probe:
            # Aggregations see the filter, not the post-filter.
            criteria["post-filter"] = criteria.pop("filter")
            criteria["aggregations"] = [ANY_PRODUCT_BY_TAX]
        rows, aggregations = await self.api.listing("tax", criteria)
        empty = None
        if probe:
            held = held_any(aggregations)
            empty = None if held is None else not held
        if rows:
            found = str(rows[0]["id"])
        else:
            found = tax_id(rate)
            await self.api.sync(
                [
                    op(
                        "ecomsync-tax",
                        "tax",
                        [
                            {
                                "id": found,
                                "taxRate": float(rate),
                                "name": f"{rate.normalize()} %",
                            }
                        ],
                    )
                ]
            )
        self._taxes[rate] = (now, found)
        return empty

    async def push_categories(
        self, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        if any(not isinstance(i.record, Category) for i in items):
            return wrong_type(items, Category)
        categories = [
            i.record for i in items if isinstance(i.record, Category)
        ]
        screened = screen(categories, category_claims, rule=CATEGORY_RULE)
        failures = dict(screened.failures)
        send = screened.sendable(len(categories))
        # Parents first; a category on (or below) a cycle cannot be sent.
        sendable = [categories[i] for i in send]
        ordered, invalid = parents_first(sendable)
        for k, p in invalid.items():
            failures[send[k]] = (
                f"category {sendable[k].number} {p.reason}",
                p.field,
            )
        order = [send[k] for k in ordered]
        # A top-level category goes below the storefront's navigation
        # category: a root beside it is shown by no storefront.
        home = Home(None)
        if any(categories[i].parent is None for i in order):
            home = await self._home()
            failures.update(refusals(home, categories, order))
            order = [i for i in order if i not in failures]
        lost = await self.media.categories_gone(items, order)
        failures.update({i: gone_failure(m) for i, m in lost.items()})
        order = [i for i in order if i not in lost]

        def build(chunk: Sequence[int]) -> Built:
            rows, owner = [], []
            for j in chunk:
                i = order[j]
                row = category_payload(categories[i])
                if categories[i].parent is None:
                    row["parentId"] = home.parent_of(row["id"])
                self.media.category_image(row, items[i].media)
                rows.append(row)
                owner.append(j)
            key = "ecomsync-categories"
            return [op(key, "category", rows)], {key: owner}

        written = await self.writer.write(len(order), build)
        failed = {order[j]: why for j, why in written.items()}
        if failed:
            failed.update(await self._orphans(categories, failed))
        failures.update(failed)
        found = outcomes(
            [c.number for c in categories],
            [category_id(c.number) for c in categories],
            screened.mirror(failures),
        )
        for i, gone in lost.items():
            found[i] = attrs.evolve(found[i], media_gone=(gone[0].media_id,))
        return found

    async def _orphans(
        self, categories: Sequence[Category], failed: dict[int, Failure]
    ) -> dict[int, Failure]:
        """
        Among the *failed* categories, those whose parent Shopware does
        not have: Shopware reports the missing foreign key as a database
        error without a pointer, so they are asked for only now, to fail
        them on ``parent`` saying so.
        """
        parents = {
            i: categories[i].parent
            for i in failed
            if categories[i].parent is not None
        }
        if not parents:
            return {}
        ids = sorted({category_id(str(p)) for p in parents.values()})
        held = {
            str(row["id"])
            for start in range(0, len(ids), MAX_LIMIT)
            for row in await self.api.search(
                "category",
                {
                    "filter": [
                        {
                            "type": "equalsAny",
                            "field": "id",
                            "value": ids[start : start + MAX_LIMIT],
                        }
                    ],
                    "limit": MAX_LIMIT,
                },
            )
        }
        return {
            i: (
                f"parent category {parent!r} does not exist in Shopware",
                "parent",
            )
            for i, parent in parents.items()
            if category_id(str(parent)) not in held
        }

    async def push_articles(self, items: Sequence[Outgoing]) -> list[Outcome]:
        if any(not isinstance(i.record, Article) for i in items):
            return wrong_type(items, Article)
        articles = [i.record for i in items if isinstance(i.record, Article)]
        ids = [product_id(a.number) for a in articles]
        screened = screen(articles, article_claims, rule=PRODUCT_RULE)
        failures = dict(screened.failures)
        for i in screened.sendable(len(articles)):
            for check in (too_long, same_options, tax_places):
                wrong = check(articles[i])
                if wrong is not None:
                    failures[i] = wrong
                    break
        send = [
            i for i in screened.sendable(len(articles)) if i not in failures
        ]
        taken: dict[int, dict[str, StockLevel]] = {}
        lost: dict[int, list[str]] = {}
        if send:
            failures.update(
                await self._write_articles(items, articles, send, taken, lost)
            )
        found = outcomes(
            [a.number for a in articles], ids, screened.mirror(failures)
        )
        for i, gone in lost.items():
            found[i] = attrs.evolve(found[i], media_gone=tuple(gone))
        return stock_outcomes(found, taken)

    async def _write_articles(
        self,
        items: Sequence[Outgoing],
        articles: Sequence[Article],
        send: list[int],
        taken: dict[int, dict[str, StockLevel]],
        lost: dict[int, list[str]],
    ) -> dict[int, Failure]:
        """
        Write the articles *send* indexes, with the stock levels they take
        (put into *taken*); return their failures.  An article linking an
        image the shop lost fails, its media ids put into *lost*.
        """
        channels = await self._sales_channels()
        currency = await self._default_currency()
        failures: dict[int, Failure] = {}
        for i in send:
            refused = currency.refuses(articles[i])
            if refused is not None:
                failures[i] = refused
        send = [i for i in send if i not in failures]
        ids = {i: product_id(articles[i].number) for i in send}
        rate = articles[send[0]].tax_rate if send else None
        current = await self._search.current(
            items,
            send,
            [
                *ids.values(),
                *(
                    product_id(v.number)
                    for i in send
                    for v in articles[i].variants
                ),
            ],
            # A first sync asks whether the shop holds any product in the
            # tax look-up it needs for its new products.
            probe=None if rate is None else lambda: self._shop_empty(rate),
        )
        failures.update(held_otherwise(articles, send, current))
        send = [i for i in send if i not in failures]
        dropped = variants_held(articles, send, current)
        wanted = {ids[i]: items[i].media or () for i in send}
        gone = await self.media.gone(wanted, current)
        for i in send:
            if gone.get(ids[i]):
                failures[i] = gone_failure(gone[ids[i]])
                lost[i] = [m.media_id for m in gone[ids[i]]]
        send = [i for i in send if i not in failures]
        # A product the shop holds keeps its tax where that has the
        # article's rate (read with it just now); the others ask.
        tax_of = {
            i: held_tax(current.get(ids[i]), articles[i].tax_rate)
            for i in send
        }
        for i in send:
            if tax_of[i] is None:
                tax_of[i] = await self._tax(articles[i].tax_rate)
        existing = frozenset(current)
        rows_of = {
            i: article_rows(
                articles[i],
                tax=str(tax_of[i]),
                sales_channels=channels,
                existing=existing,
                places=currency.decimals or 2,
            )
            for i in send
        }
        # Media come with the record (media_on_push): write the product
        # media, their media entities and the cover in the same sync, and
        # drop the stale ones (found with the product above).
        writes: dict[int, ArticleWrite] = {}
        for i in send:
            taken[i] = stock_taken(
                articles[i],
                items[i].stock,
                allow_backorders=self.allow_backorders,
            )
            with_stock(rows_of[i], taken[i])
            media = items[i].media
            writes[i] = article_write(articles[i], media, rows_of[i], current)
            if media is not None:
                self.media.note_created(m.media_id for m in media)

        def build(chunk: Sequence[int]) -> Built:
            return operations([(j, writes[send[j]]) for j in chunk])

        numbers: dict[str, tuple[int, str]] = {}
        for j, i in enumerate(send):
            for key, field, _ in article_claims(articles[i]):
                numbers[str(key)] = (j, field)
        written = await self.writer.write(
            len(send), build, numbers=numbers, collate=collate
        )
        failures.update({send[j]: why for j, why in written.items()})
        # Written, but not listed: the merchant has to delete the variants.
        return dropped | failures

    async def push_stock(self, items: Sequence[Outgoing]) -> list[Outcome]:
        if any(not isinstance(i.record, StockLevel) for i in items):
            return wrong_type(items, StockLevel)
        levels = [i.record for i in items if isinstance(i.record, StockLevel)]
        ids = [
            item.platform_id or product_id(item.record.number)
            for item in items
        ]
        screened = screen(levels, stock_claims, rule=STOCK_RULE)
        failures = dict(screened.failures)
        send = [i for i in screened.sendable(len(levels)) if i not in failures]
        # A negative level goes as 0, and is reported once it landed.
        negative = {
            i: refused
            for i in range(len(levels))  # twins too: they mirror theirs
            if (
                refused := negative_stock(
                    levels[i].number,
                    levels[i].quantity,
                    platform="Shopware 6",
                    option="Shopware6",
                    allowed=self.allow_backorders,
                )
            )
        }

        def build(chunk: Sequence[int]) -> Built:
            rows = [
                {
                    "id": ids[send[j]],
                    "stock": 0
                    if send[j] in negative
                    else levels[send[j]].quantity,
                }
                for j in chunk
            ]
            key = "ecomsync-stock"
            return [op(key, "product", rows)], {key: list(chunk)}

        # No search first: a stock row for a product the shop lacks is a
        # create without the required fields, which Shopware rejects by
        # pointer (the rest lands); only then is it worth asking which of
        # the failed ones are missing, to say so.
        written = await self.writer.write(len(send), build)
        failed = {send[j]: why for j, why in written.items()}
        if failed:
            held = await self._search.products([ids[i] for i in failed])
            for i in failed:
                if ids[i] not in held:
                    failed[i] = (
                        f"article {levels[i].number} does not exist in "
                        "Shopware",
                        "number",
                    )
        failures.update(failed)
        return [
            reported(outcome, negative.get(i))
            for i, outcome in enumerate(
                outcomes(
                    [s.number for s in levels], ids, screened.mirror(failures)
                )
            )
        ]

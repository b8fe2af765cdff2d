"""
Articles as simple or variable WooCommerce products with variations,
adopted by SKU instead of written twice.

Private: `ecomsync.platforms.woocommerce.WooCommerce` is the public face.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs

from ..._contracts import Outcome, Outgoing
from ..._model import Article, MediaKind, StockLevel
from .._answers import field_of, rows_of
from ._article_stock import landed, stock_taken, with_stock
from ._batches import Batches
from ._categories import Categories
from ._client import API, item_error
from ._common import (
    Refused,
    Row,
    Settings,
    category_slug,
    chunks,
    describe,
    fail,
    money,
    other_sku,
    sku_key,
)
from ._linked import linked_products
from ._prices import PriceSettings, unpriced
from ._product_checks import (
    class_not_taken,
    keep_own_attributes,
    no_class,
    not_anothers,
    option_spellings,
    unkept,
)


#: Product meta holding the attachment ids of an article's documents.
DOCUMENTS_META = "_ecomsync_documents"


@attrs.frozen
class Products:
    """
    Writes articles and their variants.
    """

    batches: Batches
    categories: Categories
    settings: Settings
    prices: PriceSettings

    def _collisions(self, articles: list[Article]) -> dict[int, str]:
        """
        Articles whose numbers (or variant numbers) collide in
        WooCommerce's SKU comparison although they differ: every party
        fails, naming the others.
        """
        owners: dict[str, set[tuple[int, str]]] = {}
        for i, article in enumerate(articles):
            for sku in [article.number, *(v.number for v in article.variants)]:
                owners.setdefault(sku_key(sku), set()).add((i, sku))
        failed: dict[int, str] = {}
        for parties in owners.values():
            if len({sku for _, sku in parties}) < 2:
                continue
            names = ", ".join(sorted(repr(sku) for _, sku in parties))
            for i, _ in parties:
                failed[i] = (
                    f"SKUs {names} are the same SKU to WooCommerce (case, "
                    "accents, invisible characters and trailing spaces do "
                    "not count)"
                )
        return failed

    async def _priced(
        self,
        articles: list[Article],
        index: list[int],
        outcomes: list[Outcome | None],
    ) -> None:
        """
        Fail the articles whose prices the shop would not charge as the
        ERP has them (`unpriced`).
        """
        shop = await self.prices.get()
        gross = self.settings.prices_include_tax
        for j, article in enumerate(articles):
            refused = unpriced(article, shop, gross=gross)
            if refused is not None and outcomes[index[j]] is None:
                outcomes[index[j]] = fail(article.number, *refused)

    async def push(self, items: Sequence[Outgoing]) -> list[Outcome]:
        """
        Write *items* as simple or variable products; one outcome each.
        """
        outcomes: list[Outcome | None] = [None] * len(items)
        articles: list[Article] = []
        index: list[int] = []
        for i, item in enumerate(items):
            if isinstance(item.record, Article):
                articles.append(item.record)
                index.append(i)
            else:
                outcomes[i] = fail(item.record.number, "not an article")
        for j, message in self._collisions(articles).items():
            outcomes[index[j]] = fail(articles[j].number, message, "number")
        for j, article in enumerate(articles):
            problem = unkept(article)
            if problem is not None and outcomes[index[j]] is None:
                outcomes[index[j]] = fail(article.number, *problem)
        terms = await self.categories.terms()
        wanted = {c for a in articles for c in a.categories}
        if any(category_slug(c) not in terms for c in wanted):
            terms = await self.categories.terms(fresh=True)
        skus = [
            s
            for a in articles
            for s in (a.number, *(v.number for v in a.variants))
        ]
        known = await self.batches.lookup(skus)
        if any(outcomes[i] is None for i in index):
            await self._priced(articles, index, outcomes)
        renamed = await linked_products(
            self.batches.api,
            {
                index[j]: (a.number, str(items[index[j]].platform_id))
                for j, a in enumerate(articles)
                if outcomes[index[j]] is None
                and items[index[j]].platform_id
                and sku_key(a.number) not in known
            },
            {sku_key(s) for s in skus},
        )
        links = {
            str(items[i].platform_id): i for i in index if items[i].platform_id
        }
        writes: list[tuple[int, Row]] = []
        for j, article in enumerate(articles):
            i = index[j]
            if outcomes[i] is not None:
                continue
            try:
                payload = self._article_payload(article, items[i], terms)
                existing, held = self._target(
                    article, i, items[i].platform_id, known, renamed, links
                )
            except Refused as exc:
                outcomes[i] = fail(article.number, str(exc), exc.field)
                continue
            if held is not None:
                payload["id"] = existing
                keep_own_attributes(payload, held)
            with_stock(payload, article.number, self._taken(items[i]))
            writes.append((i, payload))
        sent = {i: str(payload["tax_class"]) for i, payload in writes}
        # WooCommerce saves a class it lacks as the standard one: such an
        # article fails before anything of it is written.
        missing = await self._missing_classes(set(sent.values()))
        article_of = dict(zip(index, articles, strict=True))
        for i, _ in writes:
            if sent[i] in missing:
                outcomes[i] = no_class(article_of[i], sent[i])
        writes = [(i, p) for i, p in writes if sent[i] not in missing]
        written = await self.batches.write("products", writes, items, outcomes)
        for i, row in written:
            outcomes[i] = await self._written(items[i], row, sent[i], known)
        return [o for o in outcomes if o is not None]

    def _target(
        self,
        article: Article,
        i: int,
        linked: str | None,
        known: dict[str, list[Row]],
        renamed: dict[int, Row | Refused],
        links: dict[str, int],
    ) -> tuple[int | None, Row | None]:
        """
        The product item *i* writes, and its row as the shop has it
        (none: a new one), or `Refused`: found by *article*'s number
        (`_own`), else the linked product whose SKU the merchant renamed
        (`linked_products`, in *renamed*), never another article's
        (*links*: which item the store links each product to); its
        variants' SKUs checked before the parent is written, so that a
        refused article leaves nothing behind.
        """
        existing = self._own(article.number, known, parent=0, linked=linked)
        held = renamed.get(i)
        if isinstance(held, Refused):
            raise held
        if existing is None and held is not None:
            existing = int(held["id"])  # its SKU written back
        elif existing is not None:
            held = known[sku_key(article.number)][0]
        not_anothers(article, existing, links.get(str(existing)), i)
        for k, variant in enumerate(article.variants):
            try:
                self._own(variant.number, known, parent=existing or -1)
            except Refused as exc:
                raise Refused(str(exc), f"variants.{k}.number") from None
        return existing, held

    async def _missing_classes(self, wanted: set[str]) -> set[str]:
        """
        The tax classes of *wanted* the shop does not have, read from it
        (each batch that needs a class besides the standard one, ``""``,
        so a class deleted since the last batch is noticed).
        """
        wanted = wanted - {""}
        if not wanted:
            return set()
        what = f"GET {API}/taxes/classes"
        answer = (await self.batches.api.call("GET", "taxes/classes")).json()
        return wanted - {
            field_of("WooCommerce", what, row, "slug", where=f"item {i}")
            for i, row in enumerate(rows_of("WooCommerce", what, answer))
        }

    def _taken(self, item: Outgoing) -> dict[str, StockLevel]:
        """
        The levels of *item*'s ``Outgoing.stock`` its writes take
        (`stock_taken`).
        """
        record = item.record
        assert isinstance(record, Article)
        return stock_taken(
            record, item.stock, allow_backorders=self.settings.allow_backorders
        )

    async def _written(
        self,
        item: Outgoing,
        row: Row,
        tax_class: str,
        known: dict[str, list[Row]],
    ) -> Outcome:
        """
        The outcome of an article whose product WooCommerce wrote as
        *row*: its tax class checked, its variations made its variants,
        the stock levels written with them answered (`landed`).
        """
        record = item.record
        assert isinstance(record, Article)
        refused = class_not_taken(record, tax_class, row)
        if refused is not None:
            return refused
        taken = self._taken(item)
        rows = [row]
        if record.variants or row.get("variations"):
            error = await self._variations(record, row, known, taken, rows)
            if error is not None:
                return fail(record.number, *error)
        return Outcome(
            number=record.number,
            platform_id=str(row["id"]),
            stock=landed(taken, rows),
        )

    def _own(
        self,
        sku: str,
        known: dict[str, list[Row]],
        *,
        parent: int,
        linked: str | None = None,
    ) -> int | None:
        rows = known.get(sku_key(sku), [])
        if not rows:
            return None
        if len(rows) > 1:
            ids = ", ".join(f"#{r['id']}" for r in rows)
            raise Refused(
                f"SKU {sku!r} is held by several WooCommerce products ({ids})",
                "number",
            )
        row = rows[0]
        held_by = int(row.get("parent_id") or 0)
        # The product the article is linked to is its own under any
        # spelling (the merchant retyped the SKU's case): the push
        # writes the ERP's spelling back.
        other = None if str(row["id"]) == linked else other_sku(sku, row)
        if other is not None and (parent <= 0 or held_by != parent):
            # A variation of this article's own product under another
            # spelling is the variant renamed (a rival in the article
            # would have collided): it is renamed in place.
            raise Refused(other, "number")
        if held_by != parent:
            what = (
                f"a variation of product #{row['parent_id']}"
                if row.get("parent_id")
                else f"product #{row['id']}"
            )
            raise Refused(
                f"SKU {sku!r} belongs to {what} on WooCommerce", "number"
            )
        return int(row["id"])

    def _article_payload(
        self, article: Article, item: Outgoing, terms: dict[str, int]
    ) -> Row:
        categories = []
        for number in article.categories:
            term = terms.get(category_slug(number))
            if term is None:
                raise Refused(
                    f"category {number!r} is not on WooCommerce", "categories"
                )
            categories.append({"id": term})
        payload: Row = {
            "name": article.name,
            "sku": article.number,
            "type": "variable" if article.variants else "simple",
            "status": "publish" if article.active else "draft",
            "description": article.description,
            "categories": categories,
            "tax_class": self._tax_class(article),
        }
        # Always sent: an EAN the ERP no longer has leaves the shop too.
        payload["global_unique_id"] = article.ean or ""
        if not article.variants:
            payload["regular_price"] = self._price(article.price, article)
        else:
            # one attribute per name as WooCommerce keys it: "Size" and
            # "size" sent as two would leave the shop one, with half of
            # the values, and the other half's variants unsellable
            spelt = option_spellings(article)
            options: dict[str, list[str]] = {}
            for variant in article.variants:
                for name, value in variant.options:
                    values = options.setdefault(spelt[name], [])
                    if value not in values:
                        values.append(value)
            payload["attributes"] = [
                {"name": n, "options": v, "variation": True, "visible": True}
                for n, v in options.items()
            ]
        if item.media is not None:
            images = sorted(
                (m for m in item.media if m.kind is MediaKind.IMAGE),
                key=lambda m: m.position,
            )
            documents = sorted(
                (m for m in item.media if m.kind is MediaKind.DOCUMENT),
                key=lambda m: m.position,
            )
            payload["images"] = [{"id": int(m.media_id)} for m in images]
            payload["meta_data"] = [
                {
                    "key": DOCUMENTS_META,
                    "value": [int(m.media_id) for m in documents],
                }
            ]
        return payload

    def _tax_class(self, article: Article) -> str:
        """
        The tax class of *article*'s rate (variations keep WooCommerce's
        ``parent``); a rate without one is refused on ``tax_rate``.
        """
        found = self.settings.tax_classes.get(article.tax_rate)
        if found is None:
            known = ", ".join(
                f"{rate} %" for rate in sorted(self.settings.tax_classes)
            )
            raise Refused(
                f"no WooCommerce tax class for {article.tax_rate} % tax "
                f"(classes are set for {known or 'no rate'}); map the rate "
                "with WooCommerce(tax_classes=...)",
                "tax_rate",
            )
        return found

    def _price(self, gross: Decimal, article: Article) -> str:
        if self.settings.prices_include_tax:
            return money(gross)
        net = gross / (1 + article.tax_rate / 100)
        return money(net.quantize(Decimal("0.0001")))

    async def _variations(
        self,
        article: Article,
        parent: Row,
        known: dict[str, list[Row]],
        stock: dict[str, StockLevel],
        written: list[Row],
    ) -> tuple[str, str] | None:
        """
        Make the parent's variations exactly the article's variants, each
        with its *stock* level (`stock_taken`); the variations written as
        answered go into *written*.
        """
        pid = int(parent["id"])
        keep: set[int] = set()
        create: list[Row] = []
        update: list[Row] = []
        spelt = option_spellings(article)
        for k, variant in enumerate(article.variants):
            try:
                vid = self._own(variant.number, known, parent=pid)
            except Refused as exc:
                return str(exc), f"variants.{k}.number"
            price = (
                variant.price if variant.price is not None else article.price
            )
            payload: Row = {
                "sku": variant.number,
                "regular_price": self._price(price, article),
                # the parent's spelling: the site's locale may not fold
                # a merged name's other spellings into it
                "attributes": [
                    {"name": spelt[n], "option": v} for n, v in variant.options
                ],
            }
            payload["global_unique_id"] = variant.ean or ""
            with_stock(payload, variant.number, stock)
            if vid is None:
                create.append(payload)
            else:
                keep.add(vid)
                update.append({"id": vid, **payload})
        delete = [
            int(v)
            for v in parent.get("variations") or []
            if int(v) not in keep
        ]
        if not (create or update or delete):
            return None
        for chunk in chunks(
            [("create", p) for p in create]
            + [("update", p) for p in update]
            + [("delete", d) for d in delete],
            self.settings.batch_size,
        ):
            body: dict[str, list[Any]] = {
                "create": [],
                "update": [],
                "delete": [],
            }
            for kind, value in chunk:
                body[kind].append(value)
            answer = (
                # sent again after it landed: a create is refused for its
                # SKU and adopted (`_adopt`), a delete's answer unread
                await self.batches.api.call(
                    "POST",
                    f"products/{pid}/variations/batch",
                    json=body,
                    idempotent=True,
                )
            ).json()
            taken: list[tuple[Row, Row]] = []
            for kind in ("create", "update"):
                for k, row in enumerate(answer.get(kind) or []):
                    error = item_error(row)
                    if error is None:
                        written.append(row)
                        continue
                    if (
                        kind == "create"
                        and k < len(body["create"])
                        and error.get("code") == "product_invalid_sku"
                        and (error.get("data") or {}).get("resource_id")
                    ):
                        taken.append((body["create"][k], error))
                        continue
                    return f"variant: {describe(error)}", "variants"
            for row in answer.get("delete") or []:
                error = item_error(row)
                # "invalid ID": gone already (a retried batch deleted it
                # the first time); anything else leaves it on sale
                if error is not None and not str(
                    error.get("code") or ""
                ).endswith("_invalid_id"):
                    return (
                        f"a variant dropped from the article stays on sale: "
                        f"WooCommerce did not delete its variation "
                        f"#{row.get('id')}: {describe(error)}",
                        "variants",
                    )
            if taken:
                failed = await self._adopt(pid, taken)
                if failed is not None:
                    return failed
        return None

    async def _adopt(
        self, pid: int, taken: list[tuple[Row, Row]]
    ) -> tuple[str, str] | None:
        """
        Take over the variations a create was refused for because their
        SKU is held already: an earlier attempt of this batch made them
        and its answer was lost (the HTTP policy retried it).  Only
        variations of product *pid* are ours (read afresh); another
        holder fails the article as before.
        """
        parent = (await self.batches.api.call("GET", f"products/{pid}")).json()
        ours = {int(v) for v in parent.get("variations") or []}
        update: list[Row] = []
        for payload, error in taken:
            rid = int(error["data"]["resource_id"])
            if rid not in ours:
                return f"variant: {describe(error)}", "variants"
            update.append({"id": rid, **payload})
        answer = (
            await self.batches.api.call(
                "POST",
                f"products/{pid}/variations/batch",
                json={"update": update},
                idempotent=True,  # updates by id
            )
        ).json()
        for row in answer.get("update") or []:
            refused = item_error(row)
            if refused is not None:
                return f"variant: {describe(refused)}", "variants"
        return None

    # -- stock ------------------------------------------------------------

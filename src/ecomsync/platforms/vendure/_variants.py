"""
Variants of the Vendure adapter: one variant per ERP variant (SKU =
variant number) or, for an article without variants, one variant whose
SKU is the article number; option groups and options built from the
variant options.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

import attrs

from ..._contracts import Outcome
from ..._model import Article
from ._catalog import MAX_INT, Catalog, Reference, fail, slugify
from ._client import JSON
from ._gql import aliased, list_mutation
from ._money import major, minor
from ._variant_looks import (
    deleted,
    groups_gone,
    groups_made,
    made,
    options_made,
)


@attrs.define
class Job:
    """
    One article on its way: where it came in the batch, its tax category
    and, once known, its Vendure product.
    """

    index: int
    article: Article
    #: the category of new variants ("": several fit, none is picked)
    tax: str
    #: the categories with the article's rate: a variant keeps its own
    taxes: tuple[str, ...] = ()
    product: JSON | None = None


def skus(art: Article) -> list[str]:
    """
    The SKUs *art* holds in Vendure.
    """
    return [v.number for v in art.variants] or [art.number]


def sku_field(art: Article, sku: str) -> str:
    """
    The record field that carries *sku*.
    """
    for i, variant in enumerate(art.variants):
        if variant.number == sku:
            return f"variants.{i}.number"
    return "number"


def variant_rows(art: Article) -> list[tuple[str, str, Decimal]]:
    """
    ``(sku, name, gross price)`` per variant the article wants.
    """
    if not art.variants:
        return [(art.number, art.name, art.price)]
    rows = []
    for variant in art.variants:
        label = " / ".join(value for _, value in variant.options)
        name = f"{art.name} {label}".strip()
        rows.append(
            (
                variant.number,
                name,
                variant.price if variant.price is not None else art.price,
            )
        )
    return rows


def gross_of(net: int, rate: float) -> int:
    """
    The ``priceWithTax`` Vendure shows for a net price: it computes
    ``Math.round(net + net * (rate / 100))`` in doubles, and so do we.
    """
    exact = net + net * (rate / 100)
    whole = math.floor(exact)
    return whole + 1 if exact - whole >= 0.5 else whole


def price_of(ref: Reference, gross: Decimal, rate: Decimal) -> int | None:
    """
    The price Vendure stores for *gross*: minor units at the server's
    precision, net unless the channel's prices include tax.  A net price
    is chosen so that Vendure shows exactly *gross*; ``None`` if no net
    price in minor units does (with 19 % tax, 9.99 lies between the nets
    8.39 -> 9.98 and 8.40 -> 10.00).
    """
    target = minor(gross, ref.precision)
    if ref.prices_include_tax:
        return target
    pct = float(rate)
    exact = target / (1 + pct / 100)
    fits = [
        net
        for net in range(max(int(exact) - 2, 0), int(exact) + 3)
        if gross_of(net, pct) == target
    ]
    return min(fits, key=lambda net: abs(net - exact)) if fits else None


def gross_prices(art: Article) -> list[tuple[str, Decimal]]:
    """
    ``(field, gross price)`` of each variant *art* writes.
    """
    if not art.variants:
        return [("price", art.price)]
    return [
        ("price", art.price)
        if v.price is None
        else (f"variants.{i}.price", v.price)
        for i, v in enumerate(art.variants)
    ]


def price_problem(art: Article, precision: int) -> tuple[str, str] | None:
    """
    Why a price of *art* cannot be written (NaN, infinite, too large, or
    finer than the server's *precision*: Vendure keeps money as whole
    minor units, ``price * 10**precision``).
    """
    if not art.tax_rate.is_finite():
        return (f"{art.tax_rate} is not a rate", "tax_rate")
    prices = [("price", art.price)] + [
        (f"variants.{i}.price", v.price)
        for i, v in enumerate(art.variants)
        if v.price is not None
    ]
    for field, price in prices:
        if not price.is_finite():
            return (f"{price} is not a price", field)
        if price < 0:
            return (f"is negative ({price})", field)
        if minor(price, precision) > MAX_INT:
            return (f"{price} is more than Vendure can store", field)
        if price.scaleb(precision) % 1:
            shown = major(minor(price, precision), precision)
            return (
                f"{price} has more than {precision} decimals: this Vendure "
                f"keeps prices with {precision} (its money precision) and "
                f"would show {shown}; round the price in the ERP",
                field,
            )
    return None


def tax_unsettled(
    jobs: list[Job],
    found: dict[str, list[JSON]],
    ref: Reference,
    outcomes: dict[int, Outcome],
) -> None:
    """
    Fail (and drop from *jobs*) the articles whose rate several tax
    categories share, none picked (`Reference.tax_category`), that have
    a variant to make or one whose category lacks the rate: a silent
    pick would set one category where the merchant means the other.
    """
    for job in jobs:
        if job.tax:
            continue
        if any(
            not found.get(sku)
            or str(found[sku][0]["taxCategory"]["id"]) not in job.taxes
            for sku in skus(job.article)
        ):
            outcomes[job.index] = fail(
                job.article.number,
                ref.tax_problem(job.article.tax_rate),
                "tax_rate",
            )
    jobs[:] = [j for j in jobs if j.index not in outcomes]


@attrs.define
class Variants:
    """
    Creates, updates and removes the variants of products.
    """

    catalog: Catalog
    backorders: bool = False

    async def _opening(self, ref: Reference) -> list[JSON]:
        """
        The stock levels a new variant starts with: none, unless Vendure's
        global out-of-stock threshold (which a new variant uses) is
        negative and backorders are not allowed: then the default
        location holds the threshold, so the variant sells nothing until
        the ERP's stock comes (Vendure sells ``stockOnHand -
        stockAllocated - outOfStockThreshold``: 0 on hand with -5 sold
        5).  The stock push then writes the ERP's figure the same way
        (`Stock._below_zero`).
        """
        if self.backorders or not ref.default_location:
            return []
        data = await self.catalog.gql.query(
            "{ globalSettings { outOfStockThreshold } }"
        )
        threshold = int(data["globalSettings"].get("outOfStockThreshold") or 0)
        if threshold >= 0:
            return []
        return [
            {"stockLocationId": ref.default_location, "stockOnHand": threshold}
        ]

    async def write(
        self,
        jobs: Sequence[Job],
        found: dict[str, list[JSON]],
        ref: Reference,
        outcomes: dict[int, Outcome],
    ) -> None:
        """
        Bring each job's product to the article's variants: create the
        missing ones, update what differs, remove those it no longer has.

        *found* holds the shop's variant per SKU (already checked to be
        unique and on the job's product).
        """
        creates: list[tuple[Job, JSON]] = []
        updates: list[tuple[Job, JSON]] = []
        drop: list[str] = []
        unused: list[str] = []
        for job in jobs:
            product, art = job.product, job.article
            if product is None or job.index in outcomes:
                continue
            wanted = variant_rows(art)
            keep = {sku for sku, _, _ in wanted}
            option_ids: dict[str, list[str]] = {}
            # One variant with options is a product with options too:
            # the storefront shows the size of the one size there is.
            if art.variants and (
                len(wanted) > 1 or any(v.options for v in art.variants)
            ):
                await self._drop_stale(product, keep)
                options = await self.options(product, art)
                if isinstance(options, str):
                    outcomes[job.index] = fail(art.number, options, "variants")
                    continue
                option_ids, stale_options = options
                unused += stale_options
            elif product.get("optionGroups"):
                # An article that lost its variants: its one variant has
                # no options, which Vendure takes only from a product
                # without option groups (validateVariantOptionIds).
                await self._drop_stale(product, keep)
                problem = await self._remove_groups(
                    product, product["optionGroups"]
                )
                if problem is not None:
                    outcomes[job.index] = fail(art.number, problem, "variants")
                    continue
            for sku, name, gross in wanted:
                price = price_of(ref, gross, art.tax_rate)
                assert price is not None  # checked before any write
                have = next(iter(found.get(sku) or []), None)
                if have is None:
                    creates.append(
                        (
                            job,
                            {
                                "productId": product["id"],
                                "sku": sku,
                                "price": price,
                                "taxCategoryId": job.tax,
                                "enabled": art.active,
                                # INHERIT (Vendure's default) sells
                                # without limit while the global setting
                                # is off: the ERP's stock must count
                                "trackInventory": "TRUE",
                                "optionIds": option_ids.get(sku, []),
                                "translations": [
                                    {
                                        "languageCode": self.catalog.language,
                                        "name": name,
                                    }
                                ],
                            },
                        )
                    )
                    continue
                change = self._change(
                    have, price, job, art.active, name, ref=ref
                )
                ids = option_ids.get(sku)
                if ids is not None and sorted(ids) != sorted(
                    str(o["id"]) for o in have.get("options") or []
                ):
                    # An option renamed or a group added in the ERP: the
                    # variant takes its new options.
                    change["optionIds"] = ids
                if change:
                    updates.append((job, {"id": have["id"], **change}))
            drop += [
                v["id"]
                for v in product.get("variants") or []
                if v["sku"] not in keep
            ]
        if creates and (opening := await self._opening(ref)):
            for _, create in creates:
                create["stockLevels"] = opening
        for field, input_type, batch in (
            ("createProductVariants", "CreateProductVariantInput", creates),
            ("updateProductVariants", "UpdateProductVariantInput", updates),
        ):
            creating = field == "createProductVariants"
            answers = await list_mutation(
                self.catalog.gql,
                field,
                input_type,
                [b for _, b in batch],
                "id",
                idempotent=not creating,
                look=(lambda c: made(self.catalog, c)) if creating else None,
            )
            for (job, _), answer in zip(batch, answers, strict=True):
                if isinstance(answer, str) or answer is None:
                    outcomes[job.index] = fail(
                        job.article.number, str(answer or "no result")
                    )
        await self.delete(drop)
        # Options no variant has any more (a value renamed or dropped in
        # the ERP) would still be offered in the product's option groups.
        await aliased(
            self.catalog.gql,
            "deleteProductOption",
            {"id": "ID!"},
            [{"id": option} for option in unused],
            "result message",
            # a repeat's refusal (the option is gone) is ignored too
            idempotent=True,
        )

    def _change(
        self,
        have: JSON,
        price: int,
        job: Job,
        active: bool,
        name: str,
        *,
        ref: Reference,
    ) -> JSON:
        change: JSON = {}
        # Vendure shows ``price`` net also where it keeps gross prices:
        # compare what it keeps.
        kept = have["priceWithTax" if ref.prices_include_tax else "price"]
        if kept != price:
            change["price"] = price
        if have["taxCategory"]["id"] not in (*job.taxes, job.tax):
            change["taxCategoryId"] = job.tax
        if have["enabled"] != active:
            change["enabled"] = active
        if have["name"] != name:
            change["translations"] = [
                {"languageCode": self.catalog.language, "name": name}
            ]
        return change

    async def _drop_stale(self, product: JSON, keep: set[str]) -> None:
        """
        Remove the variants of *product* whose SKU is not in *keep*.
        """
        stale = [
            v["id"]
            for v in product.get("variants") or []
            if v["sku"] not in keep
        ]
        await self.delete(stale)
        product["variants"] = [
            v for v in product.get("variants") or [] if v["id"] not in stale
        ]

    async def _remove_groups(
        self, product: JSON, groups: Sequence[JSON]
    ) -> str | None:
        """
        Take option *groups* off *product*, and their options off its
        variants (``force``); why not, if Vendure refuses.
        """
        removed = await aliased(
            self.catalog.gql,
            "removeOptionGroupFromProduct",
            {"productId": "ID!", "optionGroupId": "ID!", "force": "Boolean"},
            [
                {
                    "productId": product["id"],
                    "optionGroupId": g["id"],
                    "force": True,
                }
                for g in groups
            ],
            "... on Product { id } ... on ErrorResult { message }",
            look=lambda c: groups_gone(self.catalog, c),
        )
        for result in removed:
            if isinstance(result, str):
                return result
            if "message" in result:
                return str(result["message"])
        return None

    async def delete(self, ids: Sequence[str]) -> None:
        """
        Remove the variants with *ids* (none: no request).
        """
        if not ids:
            return

        await self.catalog.gql.request(
            "mutation ($ids: [ID!]!) { deleteProductVariants(ids: $ids) "
            "{ result message } }",
            {"ids": list(ids)},
            mutation=True,
            confirm=lambda: deleted(self.catalog.gql, ids),
        )

    async def options(
        self, product: JSON, art: Article
    ) -> tuple[dict[str, list[str]], list[str]] | str:
        """
        The option ids per variant SKU, creating option groups and options
        the product lacks, and the ids of the options no variant wants
        any more (to delete once the variants left them).  Option groups
        the article no longer has leave the product.  Variants whose
        options do not tell them apart get one group "Variant" with the
        variant numbers as options.
        """
        language = self.catalog.language
        names = list(
            dict.fromkeys(n for v in art.variants for n, _ in v.options)
        )
        combos = [
            tuple(dict(v.options).get(n) for n in names) for v in art.variants
        ]
        if (
            not names
            or None in (x for c in combos for x in c)
            or len(set(combos)) != len(combos)
        ):
            names = ["Variant"]
            rows = {v.number: {"Variant": v.number} for v in art.variants}
        else:
            rows = {v.number: dict(v.options) for v in art.variants}
        groups = {g["name"]: g for g in product.get("optionGroups") or []}
        stale = [g for n, g in groups.items() if n not in names]
        problem = await self._remove_groups(product, stale)
        if problem is not None:
            return problem
        for group in stale:
            del groups[group["name"]]
        for name in names:
            wanted = list(dict.fromkeys(r[name] for r in rows.values()))
            group = groups.get(name)
            tr = [{"languageCode": self.catalog.language, "name": name}]
            if group is None:
                results = await aliased(
                    self.catalog.gql,
                    "createProductOptionGroup",
                    {"input": "CreateProductOptionGroupInput!"},
                    [
                        {
                            "input": {
                                "code": slugify(f"{art.number}-{name}"),
                                "translations": tr,
                                "options": [
                                    {
                                        "code": slugify(value),
                                        "translations": [
                                            {
                                                "languageCode": language,
                                                "name": value,
                                            }
                                        ],
                                    }
                                    for value in wanted
                                ],
                            }
                        }
                    ],
                    "id code name options { id code name }",
                    look=lambda c: groups_made(self.catalog.gql, c),
                )
                if isinstance(results[0], str):
                    return results[0]
                group = results[0]
                added = await aliased(
                    self.catalog.gql,
                    "addOptionGroupToProduct",
                    {"productId": "ID!", "optionGroupId": "ID!"},
                    [
                        {
                            "productId": product["id"],
                            "optionGroupId": group["id"],
                        }
                    ],
                    "id",
                    # Vendure (3.7) adds a group a product has as a no-op
                    idempotent=True,
                )
                if isinstance(added[0], str):
                    return added[0]
                groups[name] = group
            have = {o["name"] for o in group["options"]}
            missing = [v for v in wanted if v not in have]
            results = await aliased(
                self.catalog.gql,
                "createProductOption",
                {"input": "CreateProductOptionInput!"},
                [
                    {
                        "input": {
                            "productOptionGroupId": group["id"],
                            "code": slugify(value),
                            "translations": [
                                {
                                    "languageCode": self.catalog.language,
                                    "name": value,
                                }
                            ],
                        }
                    }
                    for value in missing
                ],
                "id code name",
                look=lambda c: options_made(self.catalog.gql, c),
            )
            for result in results:
                if isinstance(result, str):
                    return result
                group["options"].append(result)
        by_name = {
            name: {o["name"]: o["id"] for o in groups[name]["options"]}
            for name in names
        }
        wanted_ids = {
            sku: [str(by_name[n][row[n]]) for n in names]
            for sku, row in rows.items()
        }
        used = {option for ids in wanted_ids.values() for option in ids}
        unused = [
            str(o["id"])
            for name in names
            for o in groups[name]["options"]
            if str(o["id"]) not in used
        ]
        return wanted_ids, unused


__all__ = [
    "Job",
    "Variants",
    "gross_of",
    "gross_prices",
    "price_of",
    "price_problem",
    "sku_field",
    "skus",
    "variant_rows",
]

"""
Articles of the Vendure adapter: one product per ERP article, found by
the SKUs of its variants (Vendure does not keep SKUs unique, so every
ambiguity fails the records involved, naming the other party), then
written in phases: create missing products, update changed ones, bring
the variants in line (`_variants`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from ..._contracts import Outcome, Outgoing
from ..._model import Article
from ...exceptions import AuthenticationError, ConfigurationError, SyncError
from ._catalog import PRODUCT_FIELDS, Catalog, Reference, fail, slugify
from ._client import JSON, error_message
from ._gql import aliased, list_mutation
from ._variants import (
    Job,
    Variants,
    gross_prices,
    price_of,
    price_problem,
    sku_field,
    skus,
    tax_unsettled,
)


def _slug(art: Article) -> str:
    return slugify(art.number)


def _where(variant: JSON) -> str:
    product = variant.get("product") or {}
    return f"variant {variant['id']} of product {product.get('id')}"


@attrs.define
class Articles:
    """
    Writes ERP articles as products with variants.
    """

    catalog: Catalog
    variants: Variants

    async def push(self, items: Sequence[Outgoing]) -> list[Outcome]:
        """
        Write *items*; one `Outcome` per item, in order, whose platform
        id is the product id.
        """
        ref = await self.catalog.reference()
        facet = await self.catalog.facet_id()
        values = await self.catalog.category_values()
        outcomes: dict[int, Outcome] = {}
        jobs = self._valid(items, ref, values, outcomes)
        _claimed_twice(jobs, outcomes)
        found = await self.catalog.variants_by_sku(
            [s for job in jobs for s in skus(job.article)]
        )
        if not ref.default_channel:
            found = await self._from_default(jobs, found, ref, outcomes)
        products = await self.catalog.products(
            [v["product"]["id"] for vs in found.values() for v in vs]
        )
        unmatched = _match(jobs, found, products, outcomes)
        tax_unsettled(jobs, found, ref, outcomes)
        unmatched = [j for j in unmatched if j.index not in outcomes]
        await self._adopt_linked(unmatched, jobs, items)
        await self._adopt_by_slug(
            [j for j in unmatched if j.product is None], jobs, items
        )
        await self._create(
            [j for j in unmatched if j.product is None],
            values,
            outcomes,
            {j.product["id"] for j in jobs if j.product is not None},
        )
        await self._update(jobs, values, facet, outcomes)
        await self.variants.write(
            [j for j in jobs if j.index not in outcomes], found, ref, outcomes
        )
        for job in jobs:
            if job.index not in outcomes and job.product is not None:
                outcomes[job.index] = Outcome(
                    number=job.article.number,
                    platform_id=job.product["id"],
                )
        return [outcomes[i] for i in range(len(items))]

    # -- phases ---------------------------------------------------------------

    async def _from_default(
        self,
        jobs: list[Job],
        found: dict[str, list[JSON]],
        ref: Reference,
        outcomes: dict[int, Outcome],
    ) -> dict[str, list[JSON]]:
        """
        *found* with the SKUs this channel lacks as Vendure's default
        channel has them.  Vendure keeps every product in the default
        channel, whichever channel made it, but lists in another channel
        only what was assigned to it: a product the default channel's
        sync made is invisible here, and making it again would leave two
        variants with each SKU (failing the default channel's sync of
        the article in every run).  A job whose SKUs lead to one product
        there gets that product, or its missing variants, assigned to
        this channel (Vendure prices them from the default channel's;
        the update phases then write this channel's).  Ambiguous ones
        come back as the default channel has them, for `_match` to fail
        naming the parties.  No request when this channel has every SKU.
        """
        missing = sorted(
            {s for job in jobs for s in skus(job.article)} - found.keys()
        )
        if not missing:
            return found
        token = await self.catalog.default_token()
        try:
            there = await self.catalog.variants_by_sku(missing, channel=token)
        except AuthenticationError as exc:
            raise ConfigurationError(
                "cannot read the products of Vendure's default channel "
                "(the role needs ReadCatalog there), so whether it has a "
                "product already, which this channel would make again"
            ) from exc
        merged = {**found, **there}
        take: list[Job] = []
        owners: set[str] = set()
        for job in jobs:
            held = [merged[s] for s in skus(job.article) if s in merged]
            product = {v["product"]["id"] for vs in held for v in vs}
            if (
                any(s in there for s in skus(job.article))
                and len(product) == 1
                and all(len(vs) == 1 for vs in held)
            ):
                take.append(job)
                owners |= product
        if not take:
            return merged
        here = await self.catalog.products(sorted(owners))
        wanted = [s for job in take for s in skus(job.article) if s in there]
        problem = await self._assign(
            sorted(owners - here.keys()),
            [
                there[s][0]["id"]
                for s in wanted
                if there[s][0]["product"]["id"] in here
            ],
            ref,
        )
        if problem is None:
            found.update(await self.catalog.variants_by_sku(wanted))
            problem = "Vendure does not list it here after assigning it"
        for job in take:
            lacking = [s for s in skus(job.article) if s in there]
            if all(s in found for s in lacking):
                continue
            outcomes[job.index] = fail(
                job.article.number,
                "Vendure's default channel has the product of this "
                f"article ({_where(there[lacking[0]][0])}), and it cannot "
                f"be assigned to this channel: {problem}",
                "variants",
            )
        jobs[:] = [j for j in jobs if j.index not in outcomes]
        return {**there, **found}

    async def _assign(
        self, products: list[str], variants: list[str], ref: Reference
    ) -> str | None:
        """
        Assign *products* (all their variants) and *variants* of Vendure's
        default channel to this channel; why not, if Vendure refuses.
        """
        fields = []
        arguments = {}
        if products:
            fields.append(
                "p: assignProductsToChannel(input: { productIds: $p, "
                "channelId: $c }) { id }"
            )
            arguments["p"] = products
        if variants:
            fields.append(
                "v: assignProductVariantsToChannel(input: { "
                "productVariantIds: $v, channelId: $c }) { id }"
            )
            arguments["v"] = variants
        params = ", ".join(f"${k}: [ID!]!" for k in arguments)
        try:
            _, errors = await self.catalog.gql.request(
                f"mutation ({params}, $c: ID!) {{ {' '.join(fields)} }}",
                {**arguments, "c": ref.channel},
                mutation=True,
                idempotent=True,
                channel=await self.catalog.default_token(),
            )
        except AuthenticationError:
            return (
                "Vendure refused it (the role needs UpdateCatalog in this "
                "channel and ReadCatalog in the default channel)"
            )
        except SyncError as exc:
            return str(exc)
        return "; ".join(error_message(e) for e in errors) or None

    def _valid(
        self,
        items: Sequence[Outgoing],
        ref: Reference,
        values: dict[str, JSON],
        outcomes: dict[int, Outcome],
    ) -> list[Job]:
        jobs: list[Job] = []
        for i, item in enumerate(items):
            art = item.record
            if not isinstance(art, Article):
                outcomes[i] = fail(art.number, "not an article")
                continue
            problem = _problem(art, ref, values)
            if problem is not None:
                outcomes[i] = fail(art.number, *problem)
                continue
            rate = art.tax_rate.normalize()
            jobs.append(
                Job(
                    index=i,
                    article=art,
                    tax=ref.tax_category(rate) or "",
                    taxes=ref.tax_categories[rate],
                )
            )
        return jobs

    async def _adopt_linked(
        self,
        unmatched: Sequence[Job],
        jobs: Sequence[Job],
        items: Sequence[Outgoing],
    ) -> None:
        """
        An article none of whose SKUs the shop holds keeps the product
        the state store links it to, if Vendure still has it: the link is
        the one thing that identifies a product across every change of
        its SKUs, whatever its slug (another product had the article's
        slug at creation, or the article was renumbered since, which
        keeps the old slug) and whatever its variants' SKUs look like.
        One products query for the batch.  A product another article of
        the batch holds, or that two articles are linked to, is not
        taken by its link.
        """
        linked = {
            job.index: str(items[job.index].platform_id)
            for job in unmatched
            if items[job.index].platform_id
        }
        found = await self.catalog.products(list(linked.values()))
        ids = list(linked.values())
        taken = {j.product["id"] for j in jobs if j.product is not None}
        for job in unmatched:
            product = found.get(linked.get(job.index, ""))
            if (
                product is None
                or product["id"] in taken
                or ids.count(product["id"]) > 1
            ):
                continue
            job.product = product
            taken.add(product["id"])

    async def _adopt_by_slug(
        self,
        unmatched: Sequence[Job],
        jobs: Sequence[Job],
        items: Sequence[Outgoing],
    ) -> None:
        """
        An article none of whose SKUs the shop holds keeps the product
        that carries its slug: one an interrupted create left without
        variants, or its own product after it gained or lost its
        variants, whether the state store still links it or was lost (a
        new machine, a restored old backup). A second product would leave
        the first in the shop with the old variants. One products query
        for the batch; a product another article of the batch holds by
        its SKUs is not taken, nor one slug two numbers share ("A-1",
        "a-1"). Vendure keeps slugs unique, so the product the store
        links is the one with the slug, or it was renamed by hand.

        Numbers that slugify alike may also come in different batches or
        runs ("A-1" now, "A 1" later): a product with variants is taken
        only with evidence that it is this article's, since taking
        another article's product would delete that article's variants.
        The evidence: the store links it to this article, a variant
        carries the article's number as its SKU (the article was simple
        before), every variant's SKU is the article's number with a
        suffix after a separator ("A-1-S" of "A-1": its former variants,
        also when it was renamed in the same change), or it has the
        article's name at a slug not ending in a number (Vendure gives
        a create whose slug is taken "x-2" for "x-1": X-2's slug).
        Without it a new product is made, and the old one stays in the
        shop for the merchant to see, rather than being overwritten.
        """
        slugs = [_slug(j.article) for j in unmatched]
        found = await self.catalog.by_slug(slugs)
        taken = {j.product["id"] for j in jobs if j.product is not None}
        for job, slug in zip(unmatched, slugs, strict=True):
            product = found.get(slug)
            if (
                product is None
                or slugs.count(slug) > 1
                or product["id"] in taken
                or not _ours(product, job.article, items[job.index])
            ):
                continue
            job.product = product
            taken.add(product["id"])

    async def _create(
        self,
        jobs: Sequence[Job],
        values: dict[str, JSON],
        outcomes: dict[int, Outcome],
        taken: set[str],
    ) -> None:
        async def look(calls: Sequence[JSON]) -> list[JSON | None]:
            # A product made by a create whose answer was lost: at the
            # article's slug, or only if that is taken (else it is
            # another's, as an interrupted create of X-2 leaves "x-2") at
            # one Vendure gives then; `_fresh`; one per create.
            found: list[JSON | None] = []
            for call in calls:
                want = call["input"]["translations"][0]
                slug = want["slug"]
                # asked apart: an old product may be past near's page
                exact = (await self.catalog.by_slug([slug])).get(slug)
                near = (
                    await self.catalog.near_slug(slug)
                    if exact is not None and not _fresh(exact, want, taken)
                    else [exact]
                )
                product = next(
                    (p for p in near if p and _fresh(p, want, taken)), None
                )
                if product is not None:
                    taken.add(product["id"])
                found.append(product)
            return found

        results = await aliased(
            self.catalog.gql,
            "createProduct",
            {"input": "CreateProductInput!"},
            [{"input": self._product_input(j.article, values)} for j in jobs],
            PRODUCT_FIELDS,
            look=look,
        )
        for job, result in zip(jobs, results, strict=True):
            if isinstance(result, str):
                outcomes[job.index] = fail(job.article.number, result)
            else:
                job.product = result

    async def _update(
        self,
        jobs: Sequence[Job],
        values: dict[str, JSON],
        facet: str,
        outcomes: dict[int, Outcome],
    ) -> None:
        changed: list[tuple[Job, JSON]] = []
        for job in jobs:
            if job.product is None or job.index in outcomes:
                continue
            change = self._product_change(
                job.article, job.product, values, facet
            )
            if change:
                changed.append((job, {"id": job.product["id"], **change}))
        answers = await list_mutation(
            self.catalog.gql,
            "updateProducts",
            "UpdateProductInput",
            [c for _, c in changed],
            "id",
            idempotent=True,
        )
        for (job, _), answer in zip(changed, answers, strict=True):
            if isinstance(answer, str):
                outcomes[job.index] = fail(job.article.number, answer)

    # -- inputs ---------------------------------------------------------------

    def _product_input(self, art: Article, values: dict[str, JSON]) -> JSON:
        return {
            "enabled": art.active,
            "translations": [
                {
                    "languageCode": self.catalog.language,
                    "name": art.name,
                    "slug": _slug(art),
                    "description": art.description,
                }
            ],
            "facetValueIds": [values[n]["id"] for n in art.categories],
        }

    def _product_change(
        self,
        art: Article,
        product: JSON,
        values: dict[str, JSON],
        facet: str,
    ) -> JSON:
        change: JSON = {}
        if (product["name"], product.get("description") or "") != (
            art.name,
            art.description,
        ):
            change["translations"] = [
                {
                    "languageCode": self.catalog.language,
                    "name": art.name,
                    "description": art.description,
                }
            ]
        if product["enabled"] != art.active:
            change["enabled"] = art.active
        current = [fv["id"] for fv in product.get("facetValues") or []]
        others = [
            fv["id"]
            for fv in product.get("facetValues") or []
            if fv["facet"]["id"] != facet
        ]
        want = others + [values[n]["id"] for n in art.categories]
        if sorted(current) != sorted(want):
            change["facetValueIds"] = want
        return change


def _problem(
    art: Article, ref: Reference, values: dict[str, JSON]
) -> tuple[str, str] | None:
    """
    Why *art* cannot be written to this channel, with the field.
    """
    problem = price_problem(art, ref.precision)
    if problem is not None:
        return problem
    if art.currency != ref.currency:
        return (
            f"the channel sells in {ref.currency}, the article is "
            f"priced in {art.currency}",
            "currency",
        )
    if art.tax_rate.normalize() not in ref.tax_categories:
        return (ref.tax_problem(art.tax_rate), "tax_rate")
    for field, gross in gross_prices(art):
        if price_of(ref, gross, art.tax_rate) is None:
            return (
                f"{gross} cannot be shown exactly: the channel keeps net "
                f"prices, and with {art.tax_rate} % tax no net price in "
                "minor units rounds to it; let the channel's prices "
                "include tax or change the price",
                field,
            )
    for number in art.categories:
        if number not in values:
            return (f"category {number} does not exist", "categories")
    return None


def _claimed_twice(jobs: list[Job], outcomes: dict[int, Outcome]) -> None:
    """
    Fail every article of the batch that claims a SKU (or number) another
    one claims too, naming the others; drop them from *jobs*.
    """
    claims: dict[str, list[Job]] = {}
    for job in jobs:
        for key in dict.fromkeys([*skus(job.article), job.article.number]):
            claims.setdefault(key, []).append(job)
    for key, holders in claims.items():
        if len(holders) < 2:
            continue
        for job in holders:
            if job.index in outcomes:
                continue
            others = ", ".join(
                f"article {o.article.number} ({o.article.name!r})"
                for o in holders
                if o is not job
            )
            outcomes[job.index] = fail(
                job.article.number,
                f"SKU {key} is claimed in this batch by {others} as well;"
                " none of them is written",
                sku_field(job.article, key),
            )
    jobs[:] = [j for j in jobs if j.index not in outcomes]


#: A slug Vendure may have given another article (`_adopt_by_slug`).
_SUFFIXED = re.compile(r"-[0-9]+$")


def _ours(product: JSON, article: Article, item: Outgoing) -> bool:
    """
    Whether *product*, found by *article*'s slug, is the article's own
    (see `Articles._adopt_by_slug`).
    """
    return (
        not product["variants"]
        or str(item.platform_id or "") == str(product["id"])
        or any(v["sku"] == article.number for v in product["variants"])
        or all(_extends(v["sku"], article.number) for v in product["variants"])
        or (
            product["name"] == article.name
            and not _SUFFIXED.search(product["slug"])
        )
    )


def _fresh(product: JSON, want: JSON, taken: set[str]) -> bool:
    """
    Whether *product* may be the one a create of *want* made.
    """
    return (
        product["name"] == want["name"]
        and not product["variants"]
        and product["id"] not in taken
    )


def _extends(sku: str, number: str) -> bool:
    """
    Whether *sku* is *number* with a suffix after a separator ("A-1-S",
    "A-1/S" of "A-1"), as an ERP numbers an article's variants.
    """
    return (
        len(sku) > len(number)
        and sku.startswith(number)
        and not sku[len(number)].isalnum()
    )


def _match(
    jobs: list[Job],
    found: dict[str, list[JSON]],
    products: dict[str, JSON],
    outcomes: dict[int, Outcome],
) -> list[Job]:
    """
    Give each job the one product holding its SKUs; fail a job whose SKU
    is held by several variants or whose SKUs sit on several products.
    Returns the jobs the shop has nothing for.
    """
    unmatched: list[Job] = []
    for job in jobs:
        art = job.article
        held = {s: found[s] for s in skus(art) if s in found}
        twice = next((s for s, vs in held.items() if len(vs) > 1), None)
        if twice is not None:
            outcomes[job.index] = fail(
                art.number,
                f"SKU {twice} is held by {len(held[twice])} Vendure "
                "variants ("
                + ", ".join(_where(v) for v in held[twice])
                + "); Vendure does not keep SKUs unique, remove all but one",
                sku_field(art, twice),
            )
            continue
        owners = {vs[0]["product"]["id"] for vs in held.values()}
        if len(owners) > 1:
            outcomes[job.index] = fail(
                art.number,
                "the SKUs of this article sit on "
                f"{len(owners)} Vendure products ("
                + ", ".join(
                    f"{s} on {_where(vs[0])}" for s, vs in sorted(held.items())
                )
                + "); one article is one product",
                "variants",
            )
            continue
        if owners:
            job.product = products.get(owners.pop())
        if job.product is None:
            unmatched.append(job)
    jobs[:] = [j for j in jobs if j.index not in outcomes]
    return unmatched


__all__ = ["Articles"]

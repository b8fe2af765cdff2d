"""
Categories as WooCommerce product categories: parents first, identified
by slug, adopted after a lost answer through ``term_exists``.

Private: `ecomsync.platforms.woocommerce.WooCommerce` is the public face.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ..._contracts import Outcome, Outgoing
from ..._model import Category, parents_first
from .._answers import field_of
from ._client import API, MAX_PER_PAGE, RestApi, item_error
from ._common import (
    Row,
    Settings,
    category_image,
    category_slug,
    chunks,
    describe,
    fail,
)


#: Characters of a category name: ``wp_terms.name`` is ``varchar(200)``;
#: ``wp_insert_term`` fails on a longer one, ``wp_update_term`` ignores
#: that its update failed.
TERM_NAME_LIMIT = 200


@attrs.define
class Categories:
    """
    Writes categories and knows the shop's terms by slug.
    """

    api: RestApi
    settings: Settings
    _terms: dict[str, int] | None = attrs.field(init=False, default=None)
    #: The shop's terms as last seen (a listing, or ``X-WP-Total`` of
    #: check()'s read): what the plan counts the term listing's pages by.
    seen: int = attrs.field(init=False, default=0)

    async def terms(self, *, fresh: bool = False) -> dict[str, int]:
        """
        The shop's category ids by slug, read once (again if *fresh*).
        """
        if self._terms is None or fresh:
            terms: dict[str, int] = {}
            async for rows in self.api.pages(
                "products/categories", {}, per_page=MAX_PER_PAGE
            ):
                what = f"GET {API}/products/categories"
                for i, row in enumerate(rows):
                    at = f"item {i}"
                    slug = field_of("WooCommerce", what, row, "slug", where=at)
                    tid = field_of(
                        "WooCommerce", what, row, "id", int, where=at
                    )
                    terms[slug] = tid
            self._terms = terms
            self.seen = len(terms)
        return self._terms

    async def push(self, items: Sequence[Outgoing]) -> list[Outcome]:
        """
        Write *items*, a parent before its children; one outcome each.
        """
        terms = await self.terms(fresh=True)
        outcomes: list[Outcome | None] = [None] * len(items)
        # A category on (or below) a cycle cannot be sent: WooCommerce
        # would take the first member under the last and refuse the rest,
        # leaving half the cycle written.
        records = [i.record for i in items]
        _, cycles = parents_first(
            [r for r in records if isinstance(r, Category)]
        )
        categories = [
            i for i, r in enumerate(records) if isinstance(r, Category)
        ]
        for k, problem in cycles.items():
            i = categories[k]
            outcomes[i] = fail(
                records[i].number,
                f"category {records[i].number} {problem.reason}",
                problem.field,
            )
        # Parents first: a child waits for its parent in this batch.
        pending = [i for i in range(len(items)) if outcomes[i] is None]
        while pending:
            wave, later = [], []
            numbers_waiting = {items[i].record.number for i in pending}
            for i in pending:
                record = items[i].record
                if not isinstance(record, Category):
                    outcomes[i] = fail(record.number, "not a category")
                    continue
                parent = record.parent
                if (
                    parent is not None
                    and parent in numbers_waiting
                    and parent != record.number
                    and category_slug(parent) not in terms
                ):
                    later.append(i)
                else:
                    wave.append(i)
            if not wave:
                for i in later:
                    outcomes[i] = fail(
                        items[i].record.number,
                        "its parent could not be written",
                        "parent",
                    )
                break
            await self._wave(items, wave, terms, outcomes)
            pending = later
        return [o for o in outcomes if o is not None]

    async def _wave(
        self,
        items: Sequence[Outgoing],
        wave: list[int],
        terms: dict[str, int],
        outcomes: list[Outcome | None],
    ) -> None:
        create: list[tuple[int, Row]] = []
        update: list[tuple[int, Row]] = []
        for i in wave:
            record = items[i].record
            assert isinstance(record, Category)
            if len(record.name.strip()) > TERM_NAME_LIMIT:
                outcomes[i] = fail(
                    record.number,
                    f"name is {len(record.name.strip())} characters; "
                    f"WooCommerce keeps at most {TERM_NAME_LIMIT} in a "
                    "category name (it refuses such a new category and "
                    "keeps the old name of an existing one without a word)",
                    "name",
                )
                continue
            parent_id = 0
            if record.parent is not None:
                found = terms.get(category_slug(record.parent))
                if found is None:
                    outcomes[i] = fail(
                        record.number,
                        f"parent category {record.parent!r} is not on "
                        "WooCommerce",
                        "parent",
                    )
                    continue
                parent_id = found
            slug = category_slug(record.number)
            payload: Row = {
                "name": record.name,
                "slug": slug,
                "parent": parent_id,
                "description": record.description,
                "menu_order": record.position,
            }
            media = items[i].media
            if media is not None:
                payload["image"] = category_image(media)
            existing = terms.get(slug)
            if existing is not None:
                update.append((i, {"id": existing, **payload}))
            else:
                create.append((i, payload))
        for chunk in chunks(create + update, self.settings.batch_size):
            body = {
                "create": [p for _, p in chunk if "id" not in p],
                "update": [p for _, p in chunk if "id" in p],
            }
            answer = (
                # sent again after it landed: a create is refused as
                # term_exists and adopted below
                await self.api.call(
                    "POST",
                    "products/categories/batch",
                    json=body,
                    idempotent=True,
                )
            ).json()
            created = iter(answer.get("create") or [])
            updated = iter(answer.get("update") or [])
            adopt: list[tuple[int, Row]] = []
            for i, payload in chunk:
                row: Row = next(updated if "id" in payload else created, {})
                number = items[i].record.number
                error = item_error(row)
                if error is None:
                    terms[str(row.get("slug", ""))] = int(row["id"])
                    terms[category_slug(number)] = int(row["id"])
                    outcomes[i] = Outcome(
                        number=number, platform_id=str(row["id"])
                    )
                elif error.get("code") == "term_exists" and (
                    error.get("data") or {}
                ).get("resource_id"):
                    # Our own earlier write whose answer was lost: the
                    # same name and slug under the same parent.
                    rid = int(error["data"]["resource_id"])
                    adopt.append((i, {**payload, "id": rid}))
                else:
                    outcomes[i] = fail(number, describe(error), "name")
            if adopt:
                answer = (
                    await self.api.call(
                        "POST",
                        "products/categories/batch",
                        json={"update": [p for _, p in adopt]},
                        idempotent=True,  # updates by id
                    )
                ).json()
                for (i, _), row in zip(
                    adopt, answer.get("update") or [], strict=False
                ):
                    number = items[i].record.number
                    error = item_error(row)
                    if error is None:
                        terms[category_slug(number)] = int(row["id"])
                        outcomes[i] = Outcome(
                            number=number, platform_id=str(row["id"])
                        )
                    else:
                        outcomes[i] = fail(number, describe(error), "name")

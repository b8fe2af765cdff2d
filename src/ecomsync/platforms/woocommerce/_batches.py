"""
Product and variation writes through the ``/batch`` endpoints: the lookup
by SKU and the batch write that adopts what an earlier, lost answer
created.

Private: `ecomsync.platforms.woocommerce.WooCommerce` is the public face.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial

import attrs

from ..._anyio_util import concurrently
from ..._contracts import Outcome, Outgoing
from .._answers import field_of, odd_answer, rows_of
from ._client import API, MAX_PER_PAGE, RestApi, item_error
from ._common import (
    Row,
    Settings,
    chunks,
    describe,
    fail,
    other_sku,
    sku_key,
)


@attrs.frozen
class Batches:
    """
    Reads products by SKU and writes them in batches of the configured
    size.
    """

    api: RestApi
    settings: Settings

    async def lookup(self, skus: Sequence[str]) -> dict[str, list[Row]]:
        """
        Products and variations by SKU (``?sku=a,b``, exact), keyed by
        `sku_key`.
        """
        plain = sorted({s for s in skus if s and "," not in s})
        parts = list(chunks(plain, 40))
        answers: list[list[Row]] = [[] for _ in parts]

        async def read(k: int) -> None:
            async for rows in self.api.pages(
                "products", {"sku": ",".join(parts[k])}, per_page=MAX_PER_PAGE
            ):
                answers[k] += rows

        # side by side, kept in chunk order
        await concurrently(*(partial(read, k) for k in range(len(parts))))
        found: dict[str, list[Row]] = {}
        seen: set[object] = set()
        for rows in answers:
            for i, row in enumerate(rows):
                sku = field_of(
                    "WooCommerce",
                    f"GET {API}/products",
                    row,
                    "sku",
                    where=f"item {i}",
                )
                # "A-1" and "a-1" in two chunks (one SKU to the
                # collation) find one product twice: listed once, it is
                # one product, not two holding the SKU
                rid = row.get("id")
                if rid is not None and rid in seen:
                    continue
                seen.add(rid)
                found.setdefault(sku_key(sku), []).append(row)
        return found

    async def write(
        self,
        path: str,
        writes: list[tuple[int, Row]],
        items: Sequence[Outgoing],
        outcomes: list[Outcome | None],
    ) -> list[tuple[int, Row]]:
        """
        Create and update *writes* through ``{path}/batch``; a create
        refused as ``product_invalid_sku`` for our own SKU (an earlier
        write whose answer was lost) is adopted as an update.  Returns
        the rows written; failures go into *outcomes*.
        """
        done: list[tuple[int, Row]] = []
        todo = writes
        for _round in range(2):
            adopt: list[tuple[int, Row]] = []
            for chunk in chunks(todo, self.settings.batch_size):
                body = {
                    "create": [p for _, p in chunk if "id" not in p],
                    "update": [p for _, p in chunk if "id" in p],
                }
                answer = (
                    # sent again after it landed: a create is refused for
                    # its SKU and adopted below
                    await self.api.call(
                        "POST", f"{path}/batch", json=body, idempotent=True
                    )
                ).json()
                what = f"POST {API}/{path}/batch"
                if not isinstance(answer, dict):
                    raise odd_answer("WooCommerce", what, "not an object")
                created = iter(
                    rows_of(
                        "WooCommerce",
                        f"{what} (create)",
                        answer.get("create") or [],
                    )
                )
                updated = iter(
                    rows_of(
                        "WooCommerce",
                        f"{what} (update)",
                        answer.get("update") or [],
                    )
                )
                for i, payload in chunk:
                    row: Row = next(
                        updated if "id" in payload else created, {}
                    )
                    error = item_error(row)
                    if error is None and row.get("id"):
                        done.append((i, row))
                        continue
                    error = error or {"message": "no answer for this item"}
                    data = error.get("data") or {}
                    if (
                        _round == 0
                        and "id" not in payload
                        and error.get("code") == "product_invalid_sku"
                        and data.get("resource_id")
                    ):
                        adopt.append(
                            (i, {**payload, "id": data["resource_id"]})
                        )
                        continue
                    outcomes[i] = _failed(items[i], error)
            if adopt:
                adopt = await self._ours(path, adopt, items, outcomes)
            if not adopt:
                break
            todo = adopt
        await gone(self.api, outcomes)
        return done

    async def _ours(
        self,
        path: str,
        adopt: list[tuple[int, Row]],
        items: Sequence[Outgoing],
        outcomes: list[Outcome | None],
    ) -> list[tuple[int, Row]]:
        """
        Of *adopt* (creates refused for their SKU, as updates of the
        ``resource_id`` named), those whose product holds the SKU as
        sent, where the record belongs (a product, or a variation of the
        product of *path*): WooCommerce names the holder in its
        collation, so ``a-1``'s product for ``A-1``, or a product made
        by hand since the lookup; written over, it would become this
        record.  The others fail on ``number``.  One lookup.
        """
        parent = int(path.split("/")[1]) if path.endswith("variations") else 0
        found = await self.lookup([str(p.get("sku") or "") for _, p in adopt])
        kept: list[tuple[int, Row]] = []
        for i, payload in adopt:
            sku = str(payload.get("sku") or "")
            rid = int(payload["id"])
            rows = [
                r
                for r in found.get(sku_key(sku), [])
                if int(r.get("id") or 0) == rid
            ]
            if (
                rows
                and other_sku(sku, rows[0]) is None
                and int(rows[0].get("parent_id") or 0) == parent
            ):
                kept.append((i, payload))
                continue
            outcomes[i] = fail(
                items[i].record.number,
                f"WooCommerce refused SKU {sku!r} as held by product #{rid}, "
                "which is not this record's (another SKU to the letter, or "
                "another product's variation): not written over; give one "
                "of them another SKU",
                "number",
            )
        return kept


def _failed(item: Outgoing, error: Row) -> Outcome:
    """
    The outcome of *item*, refused with *error*.  An attachment id
    WooCommerce calls invalid (deleted in WordPress since the store
    remembered it) fails on that image and is named in
    ``Outcome.media_gone``: the engine forgets it, so the next run
    uploads the content again instead of failing for ever.  (`gone`
    keeps that only for an attachment WordPress no longer has.)
    """
    outcome = fail(item.record.number, describe(error), _field(error))
    if error.get("code") != "woocommerce_product_invalid_image_id":
        return outcome
    found = re.search(r"#(\d+)", str(error.get("message") or ""))
    links = [m for m in item.media or () if found and m.media_id == found[1]]
    if not links:
        return outcome
    return attrs.evolve(
        outcome,
        field=f"media.{links[0].position}",
        media_gone=(links[0].media_id,),
    )


async def gone(api: RestApi, outcomes: list[Outcome | None]) -> None:
    """
    Of the *outcomes* `_failed` named a lost attachment in, keep those
    whose attachment WordPress no longer has (saying so); one that is
    there (a file that is no image) is not forgotten, or each run would
    upload it again for nothing.
    """
    for i, outcome in enumerate(outcomes):
        if outcome is None or not outcome.media_gone:
            continue
        if await api.has_media(outcome.media_gone[0]):
            outcomes[i] = attrs.evolve(outcome, media_gone=())
            continue
        outcomes[i] = attrs.evolve(
            outcome,
            error=f"{outcome.error} (deleted in WordPress); ecomsync "
            "forgets it and the next run uploads it again",
        )


def _field(error: Row) -> str | None:
    code = str(error.get("code") or "")
    if "sku" in code:
        return "number"
    if "image" in code:
        return "media"
    params = (error.get("data") or {}).get("params")
    if isinstance(params, dict) and params:
        return str(next(iter(params)))
    return None

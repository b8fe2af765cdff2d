"""
Stock levels as ``manage_stock`` and ``stock_quantity`` of products and
variations, found by SKU.

Private: `ecomsync.platforms.woocommerce.WooCommerce` is the public face.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import attrs

from ..._anyio_util import concurrently
from ..._contracts import Outcome, Outgoing
from ..._model import StockLevel
from .._backorders import negative_stock, reported
from ._batches import Batches
from ._client import WooApiError
from ._common import Row, Settings, fail, sku_key
from ._linked import listed_products


@attrs.frozen
class Stock:
    """
    Writes stock levels.
    """

    batches: Batches
    settings: Settings

    async def push(self, items: Sequence[Outgoing]) -> list[Outcome]:
        """
        Write *items* as ``manage_stock`` and ``stock_quantity``; one
        outcome each.
        """
        outcomes: list[Outcome | None] = [None] * len(items)
        levels: list[tuple[int, StockLevel]] = []
        # A negative level goes as 0, and is reported once it landed.
        negative: dict[int, tuple[str, str]] = {}
        for i, item in enumerate(items):
            record = item.record
            if not isinstance(record, StockLevel):
                outcomes[i] = fail(record.number, "not a stock level")
            elif record.warehouse is not None:
                outcomes[i] = fail(
                    record.number,
                    "WooCommerce has no stock locations; send the sum over "
                    "the warehouses",
                    "warehouse",
                )
            elif refused := negative_stock(
                record.number,
                record.quantity,
                platform="WooCommerce",
                option="WooCommerce",
                allowed=self.settings.allow_backorders,
            ):
                negative[i] = refused
                levels.append((i, attrs.evolve(record, quantity=0)))
            else:
                levels.append((i, record))
        known = await self.batches.lookup(
            [level.number for _, level in levels]
        )
        by_path: dict[str, list[tuple[int, Row]]] = {}
        missing: dict[int, tuple[str, str | None]] = {}
        for i, level in levels:
            rows = known.get(sku_key(level.number), [])
            if not rows:
                missing[i] = (level.number, items[i].platform_id)
                continue
            if len(rows) != 1:
                outcomes[i] = fail(
                    level.number,
                    f"SKU {level.number!r} is held by several products",
                    "number",
                )
                continue
            row = rows[0]
            held = str(row.get("sku") or "")
            if held != level.number.rstrip(" ") and str(row["id"]) != (
                items[i].platform_id
            ):
                # One SKU to WooCommerce, but not this one: the product
                # of another ERP number (``A-1`` for ``a-1``), or one
                # made by hand; its stock is not this level's to set,
                # unless the level is linked to it (its SKU retyped).
                outcomes[i] = fail(
                    level.number,
                    f"article {level.number!r} is not on WooCommerce: "
                    f"product #{row['id']} holds the SKU {held!r}, which "
                    f"WooCommerce takes for {level.number!r} (case, "
                    "accents, invisible characters and trailing spaces do "
                    "not count), and its "
                    "stock is not this article's to set; rename one of "
                    "them",
                    "number",
                )
                continue
            parent = int(row.get("parent_id") or 0)
            path = f"products/{parent}/variations" if parent else "products"
            by_path.setdefault(path, []).append(
                (
                    i,
                    {
                        "id": int(row["id"]),
                        "manage_stock": True,
                        "stock_quantity": level.quantity,
                    },
                )
            )
        for i, why in (await self._missing(missing)).items():
            outcomes[i] = fail(missing[i][0], why, "number")
        for path, writes in by_path.items():
            for i, row in await self.batches.write(
                path, writes, items, outcomes
            ):
                number = items[i].record.number
                if row.get("manage_stock") is not True:
                    # managing_stock() is false while the shop's stock
                    # management is off: the quantity is kept but unused,
                    # and the shop sells without limit
                    outcomes[i] = fail(
                        number,
                        f"WooCommerce did not take the stock of {number!r}: "
                        "the shop does not manage stock (turn on "
                        "WooCommerce > Settings > Products > Inventory > "
                        "Enable stock management), so it would sell "
                        "without limit",
                        "quantity",
                    )
                    continue
                outcomes[i] = reported(
                    Outcome(number=number, platform_id=str(row["id"])),
                    negative.get(i),
                )
        return [o for o in outcomes if o is not None]

    async def _missing(
        self, missing: Mapping[int, tuple[str, str | None]]
    ) -> dict[int, str]:
        """
        Why no product holds the number of each of *missing* (its index:
        its number and the product id it is linked to): its linked
        product, if the shop still has it, carries another SKU, renamed
        by hand.  Its stock is not written there: that SKU may be
        another article's, whose stock would then take turns with this
        one's.  The linked products are read in one list request per 100
        (`listed_products`); an id the list does not show (a variation,
        which the products list leaves out, a trashed or deleted
        product) is read on its own, as is a lone id.
        """
        ids = {p for _, p in missing.values() if p and p.isdigit()}
        api = self.batches.api
        rows = await listed_products(api, ids) if len(ids) > 1 else {}

        async def one(pid: str) -> None:
            try:
                rows[pid] = (await api.call("GET", f"products/{pid}")).json()
            except WooApiError as exc:
                if exc.status != 404:
                    raise

        await concurrently(*(partial(one, p) for p in ids if p not in rows))
        why: dict[int, str] = {}
        for i, (number, linked) in missing.items():
            row = rows.get(linked or "")
            if not isinstance(row, dict) or row.get("status") == "trash":
                why[i] = f"article {number!r} is not on WooCommerce"
                continue
            why[i] = (
                f"article {number!r} is not on WooCommerce under its "
                f"number: its product #{linked} has the SKU "
                f"{row.get('sku')!r} there (renamed by hand), which may be "
                "another article's, so its stock is not written; give the "
                "product its SKU again, or push the article, which writes "
                "it back"
            )
        return why

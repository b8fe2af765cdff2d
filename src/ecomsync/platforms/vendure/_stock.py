"""
Stock of the Vendure adapter.

The ERP sends *available to sell*; Vendure sells ``stockOnHand -
stockAllocated`` per stock location, where *allocated* are the units paid
orders hold until they are fulfilled.  So the adapter writes, per
location::

    stockOnHand = available (ERP) + stockAllocated (as read from Vendure)

and the shop sells exactly what the ERP has available, the units of open
orders counted once.  Without a warehouse mapping every level goes to the
default location (levels of one SKU in a batch are summed); with one,
each ERP warehouse's level goes to its mapped location (warehouses mapped
to one location are summed).  Vendure sells the sum over the channel's
locations, so every other location of the channel is set to sell
nothing (``stockOnHand = stockAllocated``: what paid orders hold there
can still be fulfilled).  Negative stock is written as 0 and reported
unless the host allows backorders; then it is written as the ERP has
it (Vendure's ``outOfStockThreshold`` decides how far below zero the
shop sells).
Vendure sells ``stockOnHand - stockAllocated - outOfStockThreshold``
(the variant's own threshold or the global one): without backorders a
negative threshold would let the shop sell more than the ERP has, so
one location of the variant (`_lead`) is written that much lower.  A
positive threshold is a reserve the merchant keeps back in the shop,
left as it is (the shop sells less, never more).
A variant that does not track its inventory (``trackInventory`` FALSE,
or INHERIT while the global setting is off) is sold without limit, so
its levels fail and nothing is written for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

import attrs

from ..._contracts import Outcome, Outgoing
from ..._model import StockLevel
from ...exceptions import ConfigurationError
from .._backorders import negative_stock, reported
from ._catalog import MAX_INT, Catalog, Reference, fail
from ._client import JSON
from ._gql import list_mutation
from ._locations import no_location


def quantity_problem(quantity: object) -> str | None:
    """
    Why *quantity* cannot be written as stock, or ``None``: it must be a
    whole number Vendure can store.  Whether a negative one may be
    written is the shared backorders policy (`negative_stock`).
    """
    if isinstance(quantity, bool) or not isinstance(
        quantity, int | float | Decimal
    ):
        return f"must be a whole number, got {type(quantity).__name__}"
    finite = (
        quantity.is_finite()
        if isinstance(quantity, Decimal)
        else math.isfinite(quantity)
    )
    if not finite or quantity != int(quantity):
        return f"must be a whole number, got {quantity}"
    if abs(int(quantity)) > MAX_INT:
        return f"{quantity} is more than Vendure can store"
    return None


def _untracked(sku: str, variant: JSON, tracks: bool | None) -> str | None:
    """
    Why the stock of *variant* (SKU *sku*) would have no effect, or
    ``None``: Vendure sells a variant without limit unless it tracks its
    inventory (``trackInventory`` TRUE, or INHERIT while the global
    setting *tracks* is on).
    """
    flag = variant.get("trackInventory")
    if flag == "FALSE":
        why, fix = "its Track inventory is off", "for the variant"
    elif flag == "INHERIT" and tracks is False:
        why = "it inherits Track inventory, which the global settings have off"
        fix = "in Vendure's global settings, or for the variant"
    else:
        return None
    return (
        f"Vendure does not track the inventory of SKU {sku} (variant "
        f"{variant['id']}: {why}), so it sells it without limit and the "
        f'stock would have no effect; turn on "Track inventory" {fix}'
    )


def _variant(
    sku: str, variants: Sequence[JSON], tracks: bool | None
) -> JSON | tuple[str, str]:
    """
    The one variant of *sku* among *variants*, or ``(error, field)``:
    none, several (Vendure does not keep SKUs unique), or one that does
    not track its inventory (`_untracked`).
    """
    if len(variants) != 1:
        return (
            f"no variant with SKU {sku}"
            if not variants
            else f"SKU {sku} is held by {len(variants)} Vendure variants ("
            + ", ".join(
                f"variant {v['id']} of product {v['product']['id']}"
                for v in variants
            )
            + "); Vendure does not keep SKUs unique",
            "number",
        )
    problem = _untracked(sku, variants[0], tracks)
    return variants[0] if problem is None else (problem, "quantity")


def _location(ref: Reference, level: StockLevel) -> str | tuple[str, str]:
    """
    The stock location id *level* goes to, or ``(error, field)``.
    """
    if not ref.warehouses or level.warehouse is None:
        return ref.default_location
    if level.warehouse not in ref.warehouses:
        return (
            f"warehouse {level.warehouse!r} is not mapped to a Vendure "
            "stock location (stock_locations maps "
            + ", ".join(repr(w) for w in sorted(ref.warehouses))
            + ")",
            "warehouse",
        )
    return ref.warehouses[level.warehouse]


def _summed(
    items: Sequence[Outgoing], indices: Sequence[int], location: str
) -> str:
    """
    Where a quantity summed from several warehouses' levels goes.
    """
    if len(indices) == 1:
        return ""
    names = ", ".join(
        repr(getattr(items[i].record, "warehouse", None)) for i in indices
    )
    return f" at stock location {location} (the sum of warehouses {names})"


def _others(ref: Reference, stock_location: str | None) -> list[str]:
    """
    The channel's locations that no setting names: neither
    *stock_location* nor a mapped warehouse (without a mapping, every
    level goes to the default location, which is then named too).  With
    a mapping and no *stock_location* the default one is among them: a
    level without a warehouse still goes there (`_sell_nothing` leaves
    alone the locations a variant's levels go to).
    """
    ours = set(ref.warehouses.values())
    if not ref.warehouses or stock_location is not None:
        ours.add(ref.default_location)
    return [loc for loc in ref.locations if loc not in ours]


def _lead(ref: Reference, locations: set[str]) -> str:
    """
    The one of a variant's written *locations* that takes what its
    out-of-stock threshold asks (`Stock._below_zero`): Vendure applies
    the threshold once to the sum over the channel's locations.  The
    default location if among them, else the lowest id; every push
    writes all levels of an article, so it is always the same one.
    """
    return min(
        locations,
        key=lambda loc: (loc != ref.default_location, len(loc), loc),
    )


#: How often a level is written at most while orders change what
#: Vendure holds allocated (`Stock._write`).
_ROUNDS = 3


@attrs.define
class Write:
    """
    The stock levels to write to one variant: *touched* are the indices
    of the records they come from; *sells* what each level of *levels*
    is to sell (``stockOnHand`` less the ``stockAllocated`` read).
    """

    touched: list[int] = attrs.Factory(list)
    levels: list[JSON] = attrs.Factory(list)
    sells: list[int] = attrs.Factory(list)

    def add(self, location: str, sells: int, allocated: int) -> None:
        self.levels.append(
            {"stockLocationId": location, "stockOnHand": sells + allocated}
        )
        self.sells.append(sells)

    def drifted(self, answer: JSON) -> Write | None:
        """
        The levels the written variant *answer* does not sell as meant,
        anew from the ``stockAllocated`` it shows (an order allocated,
        released or fulfilled between the read and the write); ``None``
        if all sell as meant.
        """
        shown = {
            str(level["stockLocationId"]): level
            for level in answer.get("stockLevels") or []
        }
        again = Write(touched=self.touched)
        for level, sells in zip(self.levels, self.sells, strict=True):
            now = shown.get(str(level["stockLocationId"]))
            if now is not None and (
                now["stockOnHand"] - now["stockAllocated"] != sells
            ):
                again.add(
                    level["stockLocationId"], sells, now["stockAllocated"]
                )
        return again if again.levels else None


def _aimed(items: Sequence[Outgoing], ref: Reference) -> dict[str, set[str]]:
    """
    SKU -> the locations its levels of *items* go to under the settings,
    written or failed: a level that failed keeps what its location had
    (its failure says so), never a 0.
    """
    aimed: dict[str, set[str]] = {}
    for item in items:
        level = item.record
        if isinstance(level, StockLevel):
            where = _location(ref, level)
            if isinstance(where, str):
                aimed.setdefault(level.number, set()).add(where)
    return aimed


def _sell_nothing(
    held: dict[str, tuple[list[int], JSON, set[str]]],
    others: Sequence[str],
    writes: dict[str, Write],
    kept: dict[str, set[str]],
) -> None:
    """
    Add to *writes* what makes each variant of *held* (variant id ->
    the indices of its levels, the variant, the locations its levels
    go to) sell nothing at the locations *others* its levels do not go
    to, nor any level that failed (*kept*, by variant id):
    ``stockOnHand`` = ``stockAllocated``.
    """
    for variant_id, (indices, variant, sent) in held.items():
        for stock in variant.get("stockLevels") or []:
            location = str(stock["stockLocationId"])
            if (
                location in others
                and location not in sent
                and location not in kept.get(variant_id, ())
                and stock["stockOnHand"] != stock["stockAllocated"]
            ):
                write = writes.setdefault(variant_id, Write())
                write.touched += [i for i in indices if i not in write.touched]
                write.add(location, 0, stock["stockAllocated"])


@attrs.define
class Stock:
    """
    Writes stock levels to the variants with their SKU.
    """

    catalog: Catalog
    backorders: bool = False

    async def _sells_nothing(self, ref: Reference) -> list[str]:
        """
        The locations set to sell nothing: `_others`, less those another
        channel sells from (that channel's stock, though the default
        channel lists them too).
        """
        others = _others(ref, self.catalog.stock_location)
        if not others:
            return others
        foreign = await self.catalog.foreign_locations()
        return [loc for loc in others if loc not in foreign]

    async def _settings(
        self, found: dict[str, list[JSON]]
    ) -> tuple[bool | None, int]:
        """
        Whether Vendure's global settings track inventory, and their
        ``outOfStockThreshold``; asked only when a variant of *found*
        inherits either (else ``None`` and 0).  Read per push, not kept:
        a merchant who changes them must not have to restart a
        long-running process.
        """
        if not any(
            v.get("trackInventory") == "INHERIT"
            or v.get("useGlobalOutOfStockThreshold")
            for variants in found.values()
            for v in variants
        ):
            return None, 0
        data = await self.catalog.gql.query(
            "{ globalSettings { trackInventory outOfStockThreshold } }"
        )
        settings = data["globalSettings"]
        return (
            bool(settings["trackInventory"]),
            int(settings.get("outOfStockThreshold") or 0),
        )

    def _below_zero(self, variant: JSON, threshold: int) -> int:
        """
        What the level at the variant's lead location (`_lead`) sells
        less than the ERP's figure: Vendure sells ``stockOnHand -
        stockAllocated - outOfStockThreshold`` (the variant's own
        threshold, or the global *threshold*), and a negative threshold
        would let the shop sell that much more than the ERP has.  With
        backorders allowed it is the merchant's backorder allowance and
        stays; a positive one is a reserve the merchant keeps back in
        the shop (it sells less, never more), and stays too.
        """
        own = (
            threshold
            if variant.get("useGlobalOutOfStockThreshold")
            else int(variant.get("outOfStockThreshold") or 0)
        )
        return 0 if self.backorders else min(own, 0)

    async def _write(
        self, writes: dict[str, Write], outcomes: dict[int, Outcome]
    ) -> None:
        """
        Write *writes* (by variant id).  ``stockOnHand`` is absolute and
        made from the ``stockAllocated`` read before: an order allocated,
        released or fulfilled in between would leave the shop selling
        more or less than the ERP's figure until that figure changed
        again (for an order the ERP never imported, it does not).  The
        write's answer shows the allocation it met; a level it shows
        selling otherwise is written again from that (`_ROUNDS` writes
        at most; then its records fail).
        """
        pending = writes
        for _ in range(_ROUNDS):
            if not pending:
                return
            answers = await list_mutation(
                self.catalog.gql,
                "updateProductVariants",
                "UpdateProductVariantInput",
                [
                    {"id": v, "stockLevels": w.levels}
                    for v, w in pending.items()
                ],
                "id stockLevels { stockLocationId stockOnHand "
                "stockAllocated }",
                # absolute levels: a repeat sets what the first did
                idempotent=True,
            )
            # Vendure answers a list in the order of the ids, not the
            # input's: match the variants by id.
            shown = {str(a["id"]): a for a in answers if isinstance(a, dict)}
            again: dict[str, Write] = {}
            for (variant, write), answer in zip(
                pending.items(), answers, strict=True
            ):
                if isinstance(answer, str) or answer is None:
                    for i in write.touched:
                        outcomes[i] = fail(
                            outcomes[i].number, str(answer or "no result")
                        )
                    continue
                drifted = write.drifted(shown.get(str(variant), {}))
                if drifted is not None:
                    again[variant] = drifted
            pending = again
        for write in pending.values():
            for i in write.touched:
                outcomes[i] = fail(
                    outcomes[i].number,
                    "Vendure's allocated stock of this variant changed "
                    f"with each of {_ROUNDS} writes (orders being placed, "
                    "cancelled or fulfilled meanwhile), so the shop may not "
                    "sell the ERP's figure; the next run writes it again",
                    "quantity",
                )

    def _groups(
        self,
        items: Sequence[Outgoing],
        ref: Reference,
        outcomes: dict[int, Outcome],
    ) -> dict[tuple[str, str], tuple[list[int], int]]:
        """
        The valid levels of *items* by ``(sku, location id)``: their
        indices and summed quantity; the others fail in *outcomes*.
        """
        # (sku, location id) -> indices and their summed quantity
        groups: dict[tuple[str, str], tuple[list[int], int]] = {}
        for i, item in enumerate(items):
            level = item.record
            if not isinstance(level, StockLevel):
                outcomes[i] = fail(level.number, "not a stock level")
                continue
            problem = quantity_problem(level.quantity)
            if problem is not None:
                outcomes[i] = fail(level.number, problem, "quantity")
                continue
            where = _location(ref, level)
            if isinstance(where, tuple):
                outcomes[i] = fail(level.number, *where)
                continue
            indices, total = groups.get((level.number, where), ([], 0))
            groups[level.number, where] = (
                [*indices, i],
                total + int(level.quantity),
            )
        return groups

    async def push(self, items: Sequence[Outgoing]) -> list[Outcome]:
        """
        Write *items*; one `Outcome` per item, whose platform id is the
        variant id.
        """
        ref = await self.catalog.reference()
        if not ref.default_location and items:
            raise ConfigurationError(no_location(ref.code))
        outcomes: dict[int, Outcome] = {}
        groups = self._groups(items, ref, outcomes)
        found = await self.catalog.variants_by_sku([s for s, _ in groups])
        tracks, threshold = await self._settings(found)
        writes: dict[str, Write] = {}
        # Vendure sells the sum over the channel's locations: one the ERP
        # does not write must sell nothing, or the shop sells its stock
        # on top of the ERP's.  So must a mapped location none of a
        # variant's levels goes to (the engine sends an article's levels
        # whole): the ERP no longer has that warehouse's level (it no
        # longer counts the warehouse, or gives levels per warehouse no
        # more), and its last figure would be sold on top.
        others = await self._sells_nothing(ref)
        others += [
            loc
            for loc in dict.fromkeys(ref.warehouses.values())
            if loc not in others
        ]
        held: dict[str, tuple[list[int], JSON, set[str]]] = {}
        aimed = _aimed(items, ref)
        kept: dict[str, set[str]] = {}
        resolved: list[
            tuple[str, str, list[int], int, JSON, tuple[str, str] | None]
        ] = []
        for (sku, location), (indices, summed) in groups.items():
            variant = _variant(sku, found.get(sku, []), tracks)
            if isinstance(variant, tuple):
                for i in indices:
                    outcomes[i] = fail(sku, *variant)
                continue
            # What the location sells: a negative figure is 0 (reported
            # below) unless the host allows backorders.
            negative = negative_stock(
                sku,
                summed,
                platform="Vendure",
                option="Vendure",
                allowed=self.backorders,
                where=_summed(items, indices, location),
            )
            total = 0 if negative is not None else summed
            mine = held.setdefault(variant["id"], ([], variant, set()))
            mine[0].extend(indices)
            mine[2].add(location)
            kept.setdefault(variant["id"], set()).update(aimed.get(sku, ()))
            resolved.append((sku, location, indices, total, variant, negative))
        for sku, location, indices, total, variant, negative in resolved:
            on_hand, allocated = 0, 0
            for stock in variant.get("stockLevels") or []:
                if str(stock["stockLocationId"]) == location:
                    on_hand = stock["stockOnHand"]
                    allocated = stock["stockAllocated"]
            for i in indices:
                outcomes[i] = reported(
                    Outcome(number=sku, platform_id=variant["id"]), negative
                )
            sells = total
            if location == _lead(ref, held[variant["id"]][2]):
                sells += self._below_zero(variant, threshold)
            if abs(sells + allocated) > MAX_INT:
                # Vendure's GraphQL Int refuses it, and with it the call
                for i in indices:
                    outcomes[i] = fail(
                        sku,
                        f"stockOnHand {sells + allocated} of {sku!r}"
                        f"{_summed(items, indices, location)} (what it "
                        f"sells plus {allocated} allocated) is more than "
                        "Vendure can store",
                        "quantity",
                    )
                continue
            if sells + allocated != on_hand:
                write = writes.setdefault(variant["id"], Write())
                write.touched += indices
                write.add(location, sells, allocated)
        _sell_nothing(held, others, writes, kept)
        await self._write(writes, outcomes)
        return [outcomes[i] for i in range(len(items))]


__all__ = ["Stock", "quantity_problem"]

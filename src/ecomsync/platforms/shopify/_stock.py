"""
Stock levels through ``inventorySetQuantities``, at the default location
or, with a warehouse -> location map, at each warehouse's location; the
stock of a push of at least ``bulk_threshold`` levels as one bulk
mutation.

Private: `ecomsync.platforms.shopify.Shopify` is the public face.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

import attrs

from ..._contracts import Outcome, Outgoing
from ..._model import StockLevel
from .._backorders import negative_stock, reported
from ._bulk import BulkRunner
from ._catalogue import fail, in_bulk, line_errors, not_run, user_errors
from ._client import INPUT_LIMIT, GraphQL, Row, variants_with_skus
from ._locations import read_locations, resolve_locations
from ._stock_moves import aimed_at, placed_id, places_of
from ._stock_words import (
    MAX_LEVEL,
    held,
    not_stocked,
    summed_at,
    too_much,
)


VARIANT_FIELDS = "sku inventoryItem { id tracked } product { id }"
#: The shop's primary location: ``location`` without an id.  Not the
#: first of ``locations``, which Shopify sorts by name.
PRIMARY = "{ location { id } }"
INVENTORY = """
mutation($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { reason }
    userErrors { field message code }
  }
}
"""


@attrs.frozen
class _Entry:
    """
    One quantity of an ``inventorySetQuantities`` call: an article's
    stock at one location, from the levels (indexes) summed into it.
    """

    number: str
    location: str
    quantity: int
    levels: tuple[int, ...]
    #: Set where the sum was negative and goes as 0: the report
    #: (`negative_stock`) its levels get once the 0 landed.
    negative: tuple[str, str] | None = None
    #: Its levels' platform id once landed (`_stock_moves.placed_id`).
    placed: str | None = None
    #: At a location its article's stock link does not name (`_refused`).
    new: bool = False


@attrs.define
class Stock:
    """
    Writes stock levels; finds the SKUs' inventory items in *items*
    (shared with the catalogue, which fills it) or asks the shop, and
    remembers the locations it learnt.
    """

    api: GraphQL
    items: dict[str, str]
    #: SKUs whose inventory item Shopify does not track, as last seen
    #: (shared with the catalogue); looked up again at each push.
    untracked: set[str] = attrs.field(factory=set)
    location: str | None = None
    #: ERP warehouse code -> location name or GID; None: stock is summed.
    locations: Mapping[str, str] | None = None
    warehouses: dict[str, str] | None = None
    bulk: BulkRunner | None = None
    bulk_threshold: int | None = None
    #: Write negative quantities; otherwise they go as 0 and are
    #: reported on ``quantity``.
    allow_backorders: bool = False
    #: The shop's primary location, once read.
    primary: str | None = None

    async def resolve(self) -> None:
        """
        With a ``locations`` map: read the shop's locations once and
        resolve the map and the default location to GIDs.

        Raises:
            ConfigurationError: A location the shop does not have.
        """
        if self.locations is None or self.warehouses is not None:
            return
        known, self.primary = await read_locations(self.api)
        self.location, self.warehouses = resolve_locations(
            known, self.location, self.locations, self.primary
        )

    async def _primary(self) -> str:
        if self.primary is None:
            data = await self.api.call(PRIMARY, cost=1, what="locations")
            if not data.get("location"):
                raise LookupError("the shop has no location")
            self.primary = str(data["location"]["id"])
        return self.primary

    async def _location(self) -> str:
        await self.resolve()
        if self.location is None:
            self.location = await self._primary()
        return self.location

    async def targets(self) -> list[str]:
        """
        Where the catalogue stocks the variants it makes: every location
        stock goes to, or none when that is the primary location alone
        (Shopify stocks a new variant there by itself).  No request
        without ``location`` or ``locations``; else at most one, once.
        """
        await self.resolve()
        wanted = set((self.warehouses or {}).values())
        if self.location is not None:
            wanted.add(self.location)
        if not wanted:
            return []
        primary = await self._primary()
        if wanted <= {primary}:
            return []
        return sorted(wanted | {self.location or primary})

    async def _lookup(
        self, skus: Sequence[str]
    ) -> dict[str, tuple[int, list[str]]]:
        """
        Find the inventory items of the *skus* not known yet; the SKUs
        several products hold (Shopify does not keep SKUs unique: a
        copy made by hand), with those products, are not taken.
        """
        for sku in self.untracked.intersection(skus):
            # tracking may be on again since: ask
            self.items.pop(sku, None)
        missing = [s for s in skus if s not in self.items]
        held: dict[str, dict[str, str]] = {}
        tracked: dict[str, bool] = {}
        for i in range(0, len(missing), 50):
            chunk = missing[i : i + 50]
            nodes = await variants_with_skus(
                self.api,
                chunk,
                VARIANT_FIELDS,
                per_node=3,
                what="stock lookup",
            )
            for v in nodes:
                if v.get("sku") in chunk:
                    held.setdefault(v["sku"], {})[
                        str(v["inventoryItem"]["id"])
                    ] = str((v.get("product") or {}).get("id"))
                    tracked[v["sku"]] = (
                        v["inventoryItem"].get("tracked") is not False
                    )
        twice: dict[str, tuple[int, list[str]]] = {}
        for sku, items in held.items():
            if len(items) == 1:
                (self.items[sku],) = items
                if tracked[sku]:
                    self.untracked.discard(sku)
                else:
                    self.untracked.add(sku)
            else:
                twice[sku] = (len(items), sorted(set(items.values())))
        return twice

    async def push(self, items: Sequence[Outgoing]) -> list[Outcome]:
        levels: list[StockLevel] = []
        links: dict[str, str | None] = {}
        for item in items:
            assert isinstance(item.record, StockLevel)
            levels.append(item.record)
            links[item.record.number] = item.platform_id
        await self.resolve()
        warehouses = self.warehouses
        twice = await self._lookup(
            [
                x.number
                for x in levels
                if x.warehouse is None
                or (warehouses is not None and x.warehouse in warehouses)
            ]
        )
        outcomes: list[Outcome | None] = [None] * len(levels)
        todo: list[int] = []
        for i, level in enumerate(levels):
            if level.warehouse is not None and warehouses is None:
                outcomes[i] = fail(
                    level.number,
                    f"{level.number!r}: warehouse {level.warehouse!r} has "
                    "no Shopify location; send the sum over the warehouses "
                    "or map the warehouses in locations",
                    "warehouse",
                )
            elif level.warehouse is not None and (
                warehouses is not None and level.warehouse not in warehouses
            ):
                outcomes[i] = fail(
                    level.number,
                    f"{level.number!r}: warehouse {level.warehouse!r} is not "
                    "mapped to a Shopify location (locations maps "
                    + ", ".join(repr(w) for w in sorted(warehouses))
                    + ")",
                    "warehouse",
                )
            elif level.number in twice:
                count, products = twice[level.number]
                outcomes[i] = fail(
                    level.number,
                    f"SKU {level.number!r} is held by {count} Shopify "
                    f"variants (products {', '.join(products)}); Shopify does "
                    "not keep SKUs unique, so the stock could reach either: "
                    "remove the copy there",
                    "number",
                )
            elif level.number not in self.items:
                outcomes[i] = fail(
                    level.number,
                    f"article {level.number!r} is not on Shopify",
                    "number",
                )
            elif level.number in self.untracked:
                outcomes[i] = fail(
                    level.number,
                    f"Shopify does not track the inventory of "
                    f"{level.number!r} (Track quantity is off for its "
                    "variant), so it sells it without limit whatever its "
                    "stock: turn on Track quantity for it in Shopify "
                    "(product > variant > Inventory)",
                    "quantity",
                )
            else:
                todo.append(i)
        if not todo:
            return [o for o in outcomes if o is not None]
        location = await self._location()
        entries = self._entries(levels, todo, location, outcomes)
        entries += self._taken_off(levels, todo, location, entries, links)
        done: list[Outcome | None] = [None] * len(entries)
        chunks = _articles_in_chunks(entries)
        if in_bulk(self.bulk, self.bulk_threshold, len(todo)):
            chunks = await self._stock_in_bulk(entries, chunks, done)
        for chunk in chunks:
            await self._set(entries, chunk, done)
        for entry, outcome in zip(entries, done, strict=True):
            for i in entry.levels:
                outcomes[i] = (
                    None
                    if outcome is None
                    else reported(outcome, entry.negative)
                )
        return [o for o in outcomes if o is not None]

    def _entries(
        self,
        levels: Sequence[StockLevel],
        todo: Sequence[int],
        default: str,
        outcomes: list[Outcome | None],
    ) -> list[_Entry]:
        """
        One entry per article and location: levels of warehouses mapped
        to one location are summed into one entry (at the first's
        place).  A level without a warehouse next to another level for
        the same location says neither which to keep nor whether to add:
        all of them fail on ``warehouse``.  A negative quantity goes as 0
        and its levels are reported on ``quantity`` unless
        *allow_backorders*.
        """
        groups: dict[tuple[str, str], list[int]] = {}
        for i in todo:
            place = self._place(levels[i], default)
            groups.setdefault((levels[i].number, place), []).append(i)
        entries: list[_Entry] = []
        for (number, location), group in groups.items():
            if len(group) > 1 and any(
                levels[i].warehouse is None for i in group
            ):
                named = [
                    repr(levels[k].warehouse)
                    for k in group
                    if levels[k].warehouse is not None
                ]
                why = (
                    f"a summed stock level and a level of warehouse "
                    f"{', '.join(named)} both go to location {location!r}"
                    if named
                    else f"{len(group)} summed stock levels in one push"
                )
                for i in group:
                    outcomes[i] = fail(
                        number, f"{number!r}: {why}", "warehouse"
                    )
                continue
            quantity = sum(levels[i].quantity for i in group)
            if abs(quantity) > MAX_LEVEL:
                # past 2**31 GraphQL refuses the whole call, not this one
                why = too_much(number, quantity, levels, group, location)
                for i in group:
                    outcomes[i] = fail(number, why, "quantity")
                continue
            refused = negative_stock(
                number,
                quantity,
                platform="Shopify",
                option="Shopify",
                allowed=self.allow_backorders,
                where=summed_at(levels, group, location),
            )
            entries.append(
                _Entry(
                    number,
                    location,
                    0 if refused is not None else quantity,
                    tuple(group),
                    refused,
                )
            )
        return entries

    def _place(self, level: StockLevel, default: str) -> str:
        """The location *level* goes to under the settings."""
        if level.warehouse is None or self.warehouses is None:
            return default
        return self.warehouses[level.warehouse]

    def _taken_off(
        self,
        levels: Sequence[StockLevel],
        todo: Sequence[int],
        default: str,
        entries: list[_Entry],
        links: Mapping[str, str | None],
    ) -> list[_Entry]:
        """
        The 0s that take each written article's stock off where its link
        says it was written and no level of *todo* goes now
        (`_stock_moves`); *entries* get the platform ids that say where
        they put it.
        """
        written: dict[str, set[str]] = {}
        for entry in entries:
            written.setdefault(entry.number, set()).add(entry.location)
        entries[:] = [
            attrs.evolve(
                e,
                placed=placed_id(self.items[e.number], written[e.number]),
                new=e.location not in places_of(links.get(e.number)),
            )
            for e in entries
        ]
        aimed = aimed_at(levels, todo, lambda x: self._place(x, default))
        zeros: list[tuple[str, str]] = []
        for number in written:
            # No link: no stock written yet, the shop's is the merchant's.
            gone = places_of(links.get(number)) - aimed[number]
            # Every place the link names, none left out by a list of the
            # shop's locations read before (a location made since would
            # keep selling): one deleted since is refused alone
            # (INVALID_LOCATION) and the call sent again without it
            # (`_refused`), never a read of its own.
            zeros += [(number, p) for p in sorted(gone)]
        return [_Entry(number, place, 0, ()) for number, place in zeros]

    def _quantities(
        self, entries: Sequence[_Entry], chunk: Sequence[int]
    ) -> Row:
        return {
            "input": {
                "name": "available",
                "reason": "correction",
                "referenceDocumentUri": "gid://ecomsync/Sync/stock",
                "quantities": [
                    {
                        "inventoryItemId": self.items[entries[i].number],
                        "locationId": entries[i].location,
                        "quantity": entries[i].quantity,
                        "changeFromQuantity": None,
                    }
                    for i in chunk
                ],
            },
            "key": str(uuid.uuid4()),
        }

    async def _stock_in_bulk(
        self,
        levels: Sequence[_Entry],
        chunks: list[list[int]],
        outcomes: list[Outcome | None],
    ) -> list[list[int]]:
        """
        One bulk line per chunk; what is left to send one call at a time:
        the rest of a chunk a userError refused.
        """
        assert self.bulk is not None
        result = await self.bulk.run(
            INVENTORY,
            [self._quantities(levels, c) for c in chunks],
            what="stock",
        )
        again: list[list[int]] = []
        for k, chunk in enumerate(chunks):
            row = result.lines.get(k)
            answer = (
                (row.get("data") or {}).get("inventorySetQuantities")
                if row
                else None
            )
            if row is None or answer is None:
                for i in chunk:
                    number = levels[i].number
                    outcomes[i] = (
                        not_run(number, result)
                        if row is None
                        else line_errors(number, row)
                    )
                continue
            bad = self._refused(levels, chunk, answer, outcomes)
            if answer["userErrors"] and not bad:
                for i in chunk:
                    outcomes[i] = user_errors(
                        levels[i].number, answer["userErrors"]
                    )
            elif bad:
                again.append([i for i in chunk if i not in bad])
            else:
                self._stocked(levels, chunk, outcomes)
        return again

    def _refused(
        self,
        levels: Sequence[_Entry],
        chunk: Sequence[int],
        answer: Row,
        outcomes: list[Outcome | None],
    ) -> set[int]:
        """
        Fail the levels a userError names by position; their indexes.
        """
        bad: set[int] = set()
        for error in answer["userErrors"]:
            path = error.get("field") or []
            if len(path) >= 3 and str(path[2]).isdigit():
                i = chunk[int(path[2])]
                bad.add(i)
                number = levels[i].number
                why = f"Shopify refused stock of {number!r}: " + str(
                    error.get("message")
                )
                if error.get("code") == "INVALID_INVENTORY_ITEM":
                    # Its variant was deleted in Shopify since this process
                    # learnt the item: a long-lived process sent it there
                    # in every run.  The next push looks the SKU up again.
                    self.items.pop(number, None)
                    why += (
                        " (its variant was deleted in Shopify; the next "
                        "run looks the SKU up again)"
                    )
                elif error.get("code") == "ITEM_NOT_STOCKED_AT_LOCATION":
                    why = not_stocked(levels[i].number, levels[i].location)
                outcomes[i] = fail(number, why, "quantity")
        # An article whose stock was refused at its new place keeps it
        # on sale at the old one: its 0s there go with it or not at all.
        # Nor does its stock arrive anywhere new then: written without
        # the 0s, a warehouse that moved would sell at its old place and
        # its new one (which old place was whose the link does not say).
        # Its levels at places it already sells from are written.
        refused = {levels[i].number for i in bad if levels[i].levels}
        moving = {levels[i].number for i in chunk if not levels[i].levels}
        stay = refused & moving
        for i in chunk:
            entry = levels[i]
            if i in bad or entry.number not in stay:
                continue
            if entry.levels and not entry.new:
                continue
            bad.add(i)
            if entry.levels:
                outcomes[i] = fail(
                    entry.number,
                    held(entry.number, entry.location),
                    "quantity",
                )
        return bad

    def _stocked(
        self,
        levels: Sequence[_Entry],
        chunk: Sequence[int],
        outcomes: list[Outcome | None],
    ) -> None:
        for i in chunk:
            outcomes[i] = Outcome(
                number=levels[i].number,
                platform_id=levels[i].placed or self.items[levels[i].number],
            )

    async def _set(
        self,
        levels: Sequence[_Entry],
        chunk: list[int],
        outcomes: list[Outcome | None],
    ) -> None:
        while chunk:
            answer = (
                await self.api.call(
                    INVENTORY,
                    self._quantities(levels, chunk),
                    cost=12,
                    what="stock",
                    idempotent=True,  # absolute quantities, @idempotent key
                )
            )["inventorySetQuantities"]
            bad = self._refused(levels, chunk, answer, outcomes)
            if answer["userErrors"] and not bad:
                for i in chunk:
                    outcomes[i] = user_errors(
                        levels[i].number, answer["userErrors"]
                    )
                return
            if not bad:
                self._stocked(levels, chunk, outcomes)
                return
            chunk = [i for i in chunk if i not in bad]


def _articles_in_chunks(entries: Sequence[_Entry]) -> list[list[int]]:
    """
    Entry indexes in chunks of at most 250 quantities, the entries of one
    article always in one chunk (one call), so its levels land together.
    """
    by_article: dict[str, list[int]] = {}
    for i, entry in enumerate(entries):
        by_article.setdefault(entry.number, []).append(i)
    chunks: list[list[int]] = []
    for group in by_article.values():
        if not chunks or len(chunks[-1]) + len(group) > INPUT_LIMIT:
            chunks.append([])
        chunks[-1].extend(group)
        while len(chunks[-1]) > INPUT_LIMIT:  # more locations than a call
            chunks.append(chunks[-1][INPUT_LIMIT:])
            del chunks[-2][INPUT_LIMIT:]
    return chunks


__all__ = ["Stock", "read_locations", "resolve_locations"]

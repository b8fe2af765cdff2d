"""
Stock from Tryton: available to sell, per warehouse or summed.

Available to sell is what is on hand (``quantity``: done moves up to
today, in the warehouse and its child locations) minus what open moves
out of the warehouse hold: draft or assigned moves from one of its
locations to a location outside it, such as the customer moves of a
confirmed sale's shipment that is waiting, assigned, picked or packed.
Confirmed sales not processed yet, sales processing that ship by hand
or on invoice paid (their moves come later, maybe in parts), and shop
orders ecomsync imported that are still a draft or a quotation
(``confirm_orders=False``, or an import that died before confirming)
have no moves yet, or not for all they sold; their lines hold the rest
in the sale's warehouse too. A line taking goods back holds nothing: its
goods are not here until the return is done.
Tryton's ``forecast_quantity`` is not used: it also adds planned incoming
moves and leaves out shipments planned before today.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs

from .._anyio_util import concurrently
from .._model import StockLevel, number_key
from .._spec import ChangedSince, NumberRange, Only, Selection
from ..exceptions import ConfigurationError
from ._tryton_candidates import find_groups
from ._tryton_read import ALL, naive_utc
from ._tryton_sales import (
    IMPORTED_MARK,
    MARK_FIELDS,
    PLATFORM_MARK,
    is_imported,
    sale_marks,
)


if TYPE_CHECKING:
    from ._tryton_rpc import Rpc
    from .tryton import TrytonErp

#: A move leaving a warehouse holds stock until it is done or cancelled.
_HOLDING = ["draft", "assigned"]
#: The states of a sale that has no moves yet.  Of a draft or quotation,
#: only a shop order ecomsync imported (its marks name the platform)
#: holds its goods: the shop sold them; one typed in Tryton is an offer.
#: A confirmed sale holds them until processing makes its moves (a queue
#: worker's turn, ``sale_process_after``, or a processing that failed).
_UNCONFIRMED = ["draft", "quotation"]
#: Where a sale's marks are (`sale_marks`): its marks attachment, or the
#: comment of one an earlier version imported.
_MARKED = ["attachments.description", "comment"]
_CONFIRMED = "confirmed"
#: A processing sale shipped by hand (``manual``) or once its invoice is
#: paid (``invoice``) has no moves for what is not shipped yet (Tryton's
#: ``Sale.create_shipment``, ``SaleLine._get_move_quantity``); one
#: shipped on order has moves for every line from processing on.
_PROCESSING = "processing"
_LATER_SHIPPING = ["manual", "invoice"]


def _named_apart(warehouses: Sequence[dict[str, Any]]) -> None:
    """
    Check that each of *warehouses* has a code of its own: with
    ``stock_per_warehouse`` a level names its warehouse by code, and
    Tryton neither requires a code nor keeps codes unique.

    Raises:
        ConfigurationError: Naming the warehouses at fault.
    """

    def label(warehouse: dict[str, Any]) -> str:
        return f"{warehouse['name']!r} (id {warehouse['id']})"

    by_code: dict[str, list[dict[str, Any]]] = {}
    for warehouse in warehouses:
        by_code.setdefault(warehouse["code"] or "", []).append(warehouse)
    problems = [
        f"Tryton warehouse {label(w)} has no code" for w in by_code.pop("", [])
    ] + [
        f"Tryton warehouses {', '.join(label(w) for w in found)} share "
        f"the code {code!r}"
        for code, found in by_code.items()
        if len(found) > 1
    ]
    if problems:
        raise ConfigurationError(
            "; ".join(problems) + ": with stock_per_warehouse each stock "
            "level is named by its warehouse's code, so each warehouse "
            "that counts needs a code of its own (set it in Tryton, or "
            "leave the warehouse out of stock_warehouses)"
        )


def _whole(quantity: float) -> int:
    """
    Whole units of *quantity* (rounding off float noise, then down).
    """
    return math.floor(round(quantity, 6))


@attrs.frozen
class StockRow:
    """
    One stock level to read: a product, in one warehouse or summed.
    """

    number: str
    id: int
    warehouse: dict[str, Any] | None


@attrs.define
class StockReader:
    """
    Warehouses and stock levels over one session's `Rpc`, with the
    session's caches.
    """

    rpc: Rpc
    erp: TrytonErp
    _warehouses: list[dict[str, Any]] | None = None
    _locations: dict[int, frozenset[int]] = attrs.field(factory=dict)

    # -- warehouses -------------------------------------------------------

    async def all_warehouses(self) -> list[dict[str, Any]]:
        if self._warehouses is None:
            self._warehouses = await self.rpc.search_read(
                "stock.location",
                [["type", "=", "warehouse"]],
                ["code", "name", "storage_location"],
                order=[["code", "ASC"], ["id", "ASC"]],
            )
        return self._warehouses

    async def _pick(self, codes: Sequence[str]) -> list[dict[str, Any]]:
        everything = await self.all_warehouses()
        found = [w for w in everything if w["code"] in codes]
        missing = sorted(set(codes) - {w["code"] for w in found})
        if missing:
            raise ConfigurationError(
                f"Tryton has no warehouse with code "
                f"{', '.join(map(repr, missing))} (it has "
                f"{', '.join(repr(w['code']) for w in everything) or 'none'})"
            )
        return found

    async def order_warehouse(self) -> dict[str, Any]:
        """
        Where imported orders ship from: the ``warehouse`` option, else
        the first warehouse by code.
        """
        if self.erp.warehouse is not None:
            return (await self._pick([self.erp.warehouse]))[0]
        everything = await self.all_warehouses()
        if not everything:
            raise ConfigurationError("Tryton has no warehouse")
        return everything[0]

    async def stock_warehouses(self) -> list[dict[str, Any]]:
        """
        The warehouses whose stock counts.
        """
        if self.erp.stock_warehouses is not None:
            return await self._pick(self.erp.stock_warehouses)
        if self.erp.warehouse is not None:
            return await self._pick([self.erp.warehouse])
        everything = await self.all_warehouses()
        if not everything:
            raise ConfigurationError("Tryton has no warehouse")
        return everything

    async def _warehouse_locations(
        self, warehouses: list[dict[str, Any]]
    ) -> dict[int, frozenset[int]]:
        async def one(warehouse: int) -> None:
            ids = await self.rpc.model(
                "stock.location",
                "search",
                [["parent", "child_of", [warehouse], "parent"]],
                0,
                None,
                None,
                context=ALL,
            )
            self._locations[warehouse] = frozenset([warehouse, *ids])

        await concurrently(
            *(
                partial(one, w["id"])
                for w in warehouses
                if w["id"] not in self._locations
            )
        )
        return {w["id"]: self._locations[w["id"]] for w in warehouses}

    # -- stock ------------------------------------------------------------

    async def stock_rows(self, selection: Selection) -> list[StockRow]:
        """
        One row per active goods product (per counted warehouse with
        ``stock_per_warehouse``), in number order.
        """
        domain: list[Any] = [["code", "!=", None], ["type", "=", "goods"]]
        if isinstance(selection, Only):
            # a variant's level by its own number, or every variant's by
            # their article's number: their template's code, or the
            # number their codes give a template without one ("SOCK")
            numbers = sorted(selection.numbers)
            articles = await find_groups(
                self.rpc, selection, expand_limit=1000
            )
            domain.append(
                [
                    "OR",
                    ["code", "in", numbers],
                    ["template.code", "in", numbers],
                    [
                        "id",
                        "in",
                        sorted(
                            p.id
                            for g in articles
                            if g.number in selection.numbers
                            for p in g.products
                        ),
                    ],
                ]
            )
        elif isinstance(selection, ChangedSince):
            # stock changes never touch products: find the moves instead
            # (done ones change what is on hand, open ones what is held);
            # and the products written since, whose level is new to the
            # shop: a code given or changed, a product made active again
            ts = naive_utc(selection.moment)
            moves = await self.rpc.search_read(
                "stock.move",
                [["OR", ["write_date", ">=", ts], ["create_date", ">=", ts]]],
                ["product"],
            )
            # and the lines of sales made or moved on since (a shop order
            # imported unconfirmed holds its goods before it has moves)
            lines = await self.rpc.search_read(
                "sale.line",
                [
                    ["product", "!=", None],
                    [
                        "OR",
                        ["create_date", ">=", ts],
                        ["write_date", ">=", ts],
                        ["sale.write_date", ">=", ts],
                    ],
                ],
                ["product"],
            )
            touched = {m["product"] for m in moves}
            touched.update(line["product"] for line in lines)
            domain.append(
                [
                    "OR",
                    ["id", "in", sorted(touched)],
                    ["create_date", ">=", ts],
                    ["write_date", ">=", ts],
                    ["template.write_date", ">=", ts],
                ]
            )
        rows = await self.rpc.search_read("product.product", domain, ["code"])
        products = sorted(
            (
                (str(row["code"]), row["id"])
                for row in rows
                if not isinstance(selection, NumberRange)
                or str(row["code"]) in selection
            ),
            key=lambda item: (number_key(item[0]), item[1]),
        )
        warehouses = await self.stock_warehouses()
        if not self.erp.stock_per_warehouse:
            return [StockRow(code, pid, None) for code, pid in products]
        _named_apart(warehouses)
        return [
            StockRow(code, pid, warehouse)
            for code, pid in products
            for warehouse in warehouses
        ]

    async def stock(self, chunk: Sequence[StockRow]) -> list[StockLevel]:
        """
        Available to sell: on hand minus what open moves out of the
        warehouse hold (see docs/tryton.md, "Stock").
        """
        warehouses = await self.stock_warehouses()
        locations = await self._warehouse_locations(warehouses)
        everywhere = frozenset[int]().union(*locations.values())
        ids = sorted({row.id for row in chunk})
        on_hand: dict[tuple[int, int | None], float] = {}
        moves: list[dict[str, Any]] = []

        async def quantity(warehouse: int | None) -> None:
            where = [warehouse] if warehouse else sorted(locations)
            for row in await self.rpc.read(
                "product.product",
                ids,
                ["quantity"],
                context={"locations": where},
            ):
                on_hand[row["id"], warehouse] = row["quantity"] or 0.0

        async def held() -> None:
            moves.extend(
                await self.rpc.search_read(
                    "stock.move",
                    [
                        ["product", "in", ids],
                        ["state", "in", _HOLDING],
                        ["from_location", "in", sorted(everywhere)],
                        *self._own_company("company"),
                    ],
                    [
                        "product",
                        "internal_quantity",
                        "from_location",
                        "to_location",
                    ],
                )
            )

        ordered: list[tuple[int, int, float]] = []

        async def unconfirmed() -> None:
            ordered.extend(await self._unconfirmed(ids, sorted(locations)))

        per_warehouse = self.erp.stock_per_warehouse
        await concurrently(
            *(
                partial(quantity, warehouse)
                for warehouse in (
                    sorted(locations) if per_warehouse else [None]
                )
            ),
            held,
            unconfirmed,
        )
        holding: dict[tuple[int, int | None], float] = {}
        for move in moves:
            for warehouse, inside in (
                locations.items() if per_warehouse else [(None, everywhere)]
            ):
                if (
                    move["from_location"] in inside
                    and move["to_location"] not in inside
                ):
                    key = (move["product"], warehouse)
                    holding[key] = holding.get(key, 0.0) + float(
                        move["internal_quantity"] or 0
                    )
        for product, warehouse, amount in ordered:
            key = (product, warehouse if per_warehouse else None)
            holding[key] = holding.get(key, 0.0) + amount
        levels = []
        for row in chunk:
            key = (row.id, row.warehouse["id"] if row.warehouse else None)
            levels.append(
                StockLevel(
                    number=row.number,
                    quantity=_whole(
                        on_hand.get(key, 0.0) - holding.get(key, 0.0)
                    ),
                    warehouse=str(row.warehouse["code"])
                    if row.warehouse
                    else None,
                )
            )
        return levels

    def _own_company(self, field: str) -> list[list[Any]]:
        """
        The clause keeping to the session's company what holds stock:
        Tryton's quantity on hand counts the moves of the user's company
        only (``stock.move.compute_quantities_query``), while a search
        shows every company the user's company filter lets through (the
        record rule "User in companies"): with the filter on all
        companies, another company's open moves were taken off this
        one's stock.
        """
        company = self.rpc.context.get("company")
        return [] if company is None else [[field, "=", company]]

    async def _unconfirmed(
        self, ids: Sequence[int], warehouses: Sequence[int]
    ) -> list[tuple[int, int, float]]:
        """
        (product, warehouse, quantity in the product's unit) that the
        lines of *ids* in the sales from one of *warehouses* hold beyond
        their moves: of confirmed sales, of processing ones shipped by
        hand or on invoice paid, and of the shop orders ecomsync imported
        that are still a draft or a quotation. Lines taking goods back
        (negative) hold nothing.
        """
        lines = await self.rpc.search_read(
            "sale.line",
            [
                ["product", "in", list(ids)],
                ["type", "=", "line"],
                ["quantity", ">", 0],
                [
                    "OR",
                    [
                        ["sale.state", "in", _UNCONFIRMED],
                        # Either mark: a platform's import, or one
                        # naming no platform (`sale_mark`); a substring
                        # only narrows, `is_imported` judges below.
                        [
                            "OR",
                            *(
                                [f"sale.{field}", "like", f"%{mark}%"]
                                for field in _MARKED
                                for mark in (PLATFORM_MARK, IMPORTED_MARK)
                            ),
                        ],
                    ],
                    ["sale.state", "=", _CONFIRMED],
                    [
                        ["sale.state", "=", _PROCESSING],
                        ["sale.shipment_method", "in", _LATER_SHIPPING],
                    ],
                ],
                ["sale.warehouse", "in", list(warehouses)],
                *self._own_company("sale.company"),
            ],
            [
                "product",
                "quantity",
                "unit",
                "sale",
                "moves",
                "moves_recreated",
            ],
        )
        if not lines:
            return []
        sales = await self.rpc.read(
            "sale.sale",
            sorted({line["sale"] for line in lines}),
            ["warehouse", "state", *MARK_FIELDS],
        )
        # A draft whose comment merely quotes a mark (a merchant's reply
        # citing "Imported (ecomsync)") was typed in Tryton: it holds
        # nothing, as order status and imports judge it (whole lines).
        holding = {
            row["id"]
            for row in sales
            if row["state"] in (_CONFIRMED, _PROCESSING)
            or is_imported(sale_marks(row))
        }
        lines = [line for line in lines if line["sale"] in holding]
        if not lines:
            return []
        products = await self.rpc.read(
            "product.product",
            sorted({line["product"] for line in lines}),
            ["default_uom"],
        )
        # What a line's moves took over (Tryton's
        # ``SaleLine._get_shipped_quantity``: all but the recreated ones)
        # is held by the open ones or gone from on hand by the done ones.
        made = {
            line["id"]: sorted(
                set(line.get("moves") or ())
                - set(line.get("moves_recreated") or ())
            )
            for line in lines
        }
        moves = {
            row["id"]: row
            for row in (
                await self.rpc.read(
                    "stock.move",
                    sorted({m for found in made.values() for m in found}),
                    ["quantity", "unit"],
                )
                if any(made.values())
                else []
            )
        }
        warehouse = {row["id"]: row["warehouse"] for row in sales}
        default = {row["id"]: row["default_uom"] for row in products}
        units = {
            row["id"]: row
            for row in await self.rpc.read(
                "product.uom",
                sorted(
                    {line["unit"] for line in lines}
                    | {move["unit"] for move in moves.values()}
                    | set(default.values())
                ),
                ["factor", "rate"],
            )
        }

        def rest(line: dict[str, Any]) -> float:
            unit = units[line["unit"]]
            left = float(line["quantity"] or 0) - sum(
                _convert(
                    float(moves[m]["quantity"] or 0),
                    units[moves[m]["unit"]],
                    unit,
                )
                for m in made[line["id"]]
            )
            return _convert(
                max(left, 0.0), unit, units[default[line["product"]]]
            )

        return [
            (line["product"], warehouse[line["sale"]], rest(line))
            for line in lines
        ]


def _convert(
    quantity: float, unit: dict[str, Any], to: dict[str, Any]
) -> float:
    """
    *quantity* in *unit* as a quantity in *to*: Tryton's
    ``Uom.compute_qty`` within one category, unrounded.
    """
    if unit["id"] == to["id"]:
        return quantity
    if _by_rate(unit):
        base = quantity / float(unit["rate"])
    else:
        base = quantity * float(unit["factor"])
    if _by_rate(to):
        return base * float(to["rate"])
    return base / float(to["factor"])


def _by_rate(unit: dict[str, Any]) -> bool:
    """
    Whether Tryton converts through *unit*'s rate rather than its factor
    (``Uom.accurate_field``: the one with fewer decimals, else the factor
    from 1 up).
    """
    factor, rate = float(unit["factor"]), float(unit["rate"])

    def decimals(value: float) -> int:
        return len(f"{value:.12f}".split(".")[1].rstrip("0"))

    if decimals(rate) != decimals(factor):
        return decimals(rate) < decimals(factor)
    return factor < 1.0

"""
One Tryton session: reading records, reading media, importing orders.

Selection strategy (all types): ask Tryton for the ids and numbers that
match the server-side part of the selection (everything, changed since, or
``code in numbers``), filter number ranges and sort in *natural* order
(`number_key`) here, then read the full records batch by batch by id.
Tryton can only compare codes as text (``"A-10" < "A-2"``), so number
ranges are never pushed to the server.  Articles and stock are read by
`ProductReader` (``_tryton_products``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import UTC
from decimal import ROUND_HALF_EVEN, Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import attrs

from .._contracts import Outcome
from .._model import (
    Address,
    Category,
    Customer,
    MediaRef,
    Order,
    OrderState,
    OrderStatus,
    Record,
    number_key,
    problems,
)
from .._spec import ChangedSince, DataType, NumberRange, Only, Selection
from ..exceptions import ConfigurationError, RetryableError, SyncError
from ._tryton_catalog import ArticleGroup
from ._tryton_products import ProductReader
from ._tryton_read import IMAGE_KEY, category_number, changed, image_ref
from ._tryton_rpc import Rpc, TrytonError
from ._tryton_stock import StockReader, StockRow


if TYPE_CHECKING:
    from .tryton import TrytonErp

_CATEGORY_IMAGE_KEY = "product.category.image"

#: Sale state (and shipment state) to order state.
_SALE_STATES = {
    "draft": OrderState.OPEN,
    "quotation": OrderState.OPEN,
    "confirmed": OrderState.IN_PROGRESS,
    "processing": OrderState.IN_PROGRESS,
    "done": OrderState.COMPLETED,
    "cancelled": OrderState.CANCELLED,
}


@attrs.define
class _Row:
    number: str
    id: int


class _Numbered(Protocol):
    @property
    def number(self) -> str: ...


@attrs.define
class TrytonSession:
    """
    An `ErpSession` over one logged-in Tryton connection.
    """

    _erp: TrytonErp
    _rpc: Rpc
    _reader: ProductReader = attrs.field(init=False)
    _stock: StockReader = attrs.field(init=False)
    _counted: tuple[DataType, Selection, Sequence[_Numbered]] | None = None
    #: Decimal places of a sale line's unit price (Tryton's price digits).
    _price_places: int | None = None

    def __attrs_post_init__(self) -> None:
        self._reader = ProductReader(self._rpc, self._erp)
        self._stock = StockReader(self._rpc, self._erp)

    # -- reading ----------------------------------------------------------

    async def read(
        self, data_type: DataType, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Record]]:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if data_type is DataType.CATEGORIES:
            # categories are few: read them whole, parents first
            categories = await self._categories(selection)
            for start in range(0, len(categories), batch_size):
                yield categories[start : start + batch_size]
            return
        rows = await self._rows(data_type, selection)
        if data_type is DataType.ARTICLES:
            self._reader.expect(
                [g for g in rows if isinstance(g, ArticleGroup)]
            )
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            yield await self._load(data_type, chunk)

    async def count(
        self, data_type: DataType, selection: Selection
    ) -> int | None:
        if data_type is DataType.CATEGORIES:
            return len(await self._categories(selection))
        if data_type is DataType.ADDRESSES_AND_ORDERS:
            return None
        rows = await self._rows(data_type, selection)
        # the engine counts, then reads: the read takes these rows
        self._counted = (data_type, selection, rows)
        return len(rows)

    async def _rows(
        self, data_type: DataType, selection: Selection
    ) -> Sequence[_Numbered]:
        counted, self._counted = self._counted, None
        if counted is not None and counted[:2] == (data_type, selection):
            return counted[2]
        if data_type is DataType.ARTICLES:
            return await self._reader.article_groups(selection)
        if data_type is DataType.STOCK:
            return await self._stock.stock_rows(selection)
        if data_type is DataType.ORDER_STATUS:
            return await self._sale_rows(selection)
        raise ConfigurationError(f"{data_type.name} is not read from the ERP")

    async def _load(
        self, data_type: DataType, chunk: Sequence[_Numbered]
    ) -> list[Record]:
        if data_type is DataType.ARTICLES:
            groups = [g for g in chunk if isinstance(g, ArticleGroup)]
            return list(await self._reader.articles(groups))
        if data_type is DataType.STOCK:
            rows = [r for r in chunk if isinstance(r, StockRow)]
            return list(await self._stock.stock(rows))
        sales = [r for r in chunk if isinstance(r, _Row)]
        return list(await self._statuses(sales))

    @staticmethod
    def _select(rows: list[_Row], selection: Selection) -> list[_Row]:
        if isinstance(selection, NumberRange):
            rows = [row for row in rows if row.number in selection]
        elif isinstance(selection, Only):
            rows = [row for row in rows if row.number in selection.numbers]
        return sorted(rows, key=lambda row: (number_key(row.number), row.id))

    def _server_domain(
        self, selection: Selection, field: str, changed: list[Any]
    ) -> list[Any]:
        if isinstance(selection, Only):
            return [[field, "in", sorted(selection.numbers)]]
        if isinstance(selection, ChangedSince):
            return [changed]
        return []

    # -- categories

    async def _categories(self, selection: Selection) -> list[Category]:
        domain: list[Any] = []
        if isinstance(selection, ChangedSince):
            domain = [
                changed(
                    selection.moment,
                    "last_modified_at",
                    "images.create_date",
                    "images.write_date",
                )
            ]
        rows = await self._rpc.search_read(
            "product.category",
            domain,
            ["code", "name", "parent", "images"],
            order=[["id", "ASC"]],
        )
        everything = {row["id"]: row for row in rows}
        if domain:  # parents' numbers of changed children
            missing = {
                row["parent"]
                for row in rows
                if row["parent"] and row["parent"] not in everything
            }
            for row in await self._rpc.read(
                "product.category", sorted(missing), ["code"]
            ):
                everything.setdefault(row["id"], {**row, "_parent_only": 1})
        numbers = {cid: category_number(r) for cid, r in everything.items()}
        images = await self._images(
            _CATEGORY_IMAGE_KEY,
            [["category", "in", [r["id"] for r in rows]]],
            "category",
        )
        found: list[tuple[Category, int]] = []
        for row in rows:
            number = numbers[row["id"]]
            if isinstance(selection, NumberRange) and number not in selection:
                continue
            if isinstance(selection, Only) and number not in selection.numbers:
                continue
            parent = numbers.get(row["parent"]) if row["parent"] else None
            found.append(
                (
                    Category(
                        number=number,
                        name=row["name"] or "",
                        parent=parent,
                        media=images.get(row["id"], ()),
                    ),
                    self._depth(row["id"], everything),
                )
            )
        # parents before children: by depth in the tree, then by number
        found.sort(key=lambda item: (item[1], number_key(item[0].number)))
        return [category for category, _ in found]

    @staticmethod
    def _depth(cid: int, rows: dict[int, dict[str, Any]]) -> int:
        depth, seen = 0, {cid}
        parent = rows.get(cid, {}).get("parent")
        while parent and parent in rows and parent not in seen:
            seen.add(parent)
            depth += 1
            parent = rows[parent].get("parent")
        return depth

    # -- images (product.image and product.category.image)

    async def _images(
        self, model: str, domain: list[Any], owner: str
    ) -> dict[int, tuple[MediaRef, ...]]:
        rows = await self._rpc.search_read(
            model,
            domain,
            [owner, "create_date", "write_date", "description"],
            order=[["sequence", "ASC"], ["id", "ASC"]],
        )
        found: dict[int, list[MediaRef]] = {}
        for row in rows:
            refs = found.setdefault(row[owner], [])
            refs.append(image_ref(model, row, len(refs)))
        return {key: tuple(value) for key, value in found.items()}

    # -- articles and stock: see _tryton_products

    async def warehouses(self) -> list[dict[str, Any]]:
        """
        The warehouses whose stock counts (used by scripts and tests).
        """
        return await self._stock.stock_warehouses()

    # -- order status (sale.sale with the platform order number)

    async def _sale_rows(self, selection: Selection) -> list[_Row]:
        domain: list[Any] = [["reference", "not in", [None, ""]]]
        domain += self._server_domain(
            selection,
            "reference",
            changed(
                selection.moment,
                "last_modified_at",
                "shipments.last_modified_at",
            )
            if isinstance(selection, ChangedSince)
            else [],
        )
        rows = await self._rpc.search_read("sale.sale", domain, ["reference"])
        return self._select(
            [_Row(str(row["reference"]), row["id"]) for row in rows],
            selection,
        )

    async def _statuses(self, chunk: list[_Row]) -> list[OrderStatus]:
        rows = await self._rpc.read(
            "sale.sale",
            [row.id for row in chunk],
            ["state", "shipment_state", "shipments"],
        )
        by_id = {row["id"]: row for row in rows}
        shipment_ids = sorted({s for row in rows for s in row["shipments"]})
        shipments = {
            row["id"]: row
            for row in await self._rpc.read(
                "stock.shipment.out", shipment_ids, ["state", "reference"]
            )
        }
        statuses = []
        for item in chunk:
            row = by_id[item.id]
            state = _SALE_STATES.get(row["state"], OrderState.IN_PROGRESS)
            if state is OrderState.IN_PROGRESS and (
                row["shipment_state"] == "sent"
            ):
                state = OrderState.SHIPPED
            # a shipment's Reference holds its tracking number(s),
            # several separated by commas
            tracking = tuple(
                number.strip()
                for s in sorted(row["shipments"])
                if s in shipments and shipments[s]["state"] != "cancelled"
                for number in (shipments[s]["reference"] or "").split(",")
                if number.strip()
            )
            statuses.append(
                OrderStatus(
                    number=item.number,
                    state=state,
                    tracking_numbers=tracking,
                )
            )
        return statuses

    # -- media --------------------------------------------------------------

    async def read_media(self, ref: MediaRef) -> bytes:
        model, _, rest = ref.key.partition(":")
        if model not in (IMAGE_KEY, _CATEGORY_IMAGE_KEY) or not rest.isdigit():
            raise SyncError(f"not a Tryton image: {ref.key!r}")
        rows = await self._rpc.read(model, [int(rest)], ["image"])
        if not rows or not rows[0].get("image"):
            raise SyncError(f"Tryton has no image {ref.key!r}")
        return bytes(rows[0]["image"])

    # -- importing orders ---------------------------------------------------

    async def import_orders(self, orders: Sequence[Order]) -> list[Outcome]:
        outcomes = []
        for order in orders:
            outcomes.append(await self._import_one(order))
        return outcomes

    async def _import_one(self, order: Order) -> Outcome:
        bad = problems(order)
        if bad:
            return Outcome(
                number=order.number, error=bad[0].reason, field=bad[0].field
            )
        async with self._erp._claimed(f"order:{order.number}"):
            return await self._import_claimed(order)

    async def _import_claimed(self, order: Order) -> Outcome:
        try:
            existing = await self._rpc.search_read(
                "sale.sale",
                [["reference", "=", order.number]],
                ["state"],
                order=[["id", "ASC"]],
            )
            if existing:
                sale = int(existing[0]["id"])
                await self._finish(order, sale, existing[0]["state"])
                return Outcome(number=order.number, platform_id=str(sale))
            sale = await self._create_sale(order)
        except _Rejected as exc:
            return Outcome(
                number=order.number, error=str(exc), field=exc.field
            )
        except TrytonError as exc:
            if exc.kind not in ("UserError", "UserWarning"):
                raise
            return Outcome(number=order.number, error=str(exc))
        return Outcome(number=order.number, platform_id=str(sale))

    async def _finish(self, order: Order, sale: int, state: str) -> None:
        """
        Confirm a sale an earlier import created and did not get to
        confirm (the process died in between): left a draft, the order
        would never ship.
        """
        if not self._erp.confirm_orders or order.state is OrderState.CANCELLED:
            return
        steps = {"draft": ["quote", "confirm"], "quotation": ["confirm"]}
        for step in steps.get(state, []):
            await self._with_warnings(
                partial(self._rpc.model, "sale.sale", step, [sale])
            )

    async def _with_warnings(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """
        Run *call*; acknowledge a Tryton warning once if configured to.
        """
        try:
            return await call()
        except TrytonError as exc:
            if exc.kind != "UserWarning" or not self._erp.acknowledge_warnings:
                raise
            await self._rpc.model(
                "res.user.warning",
                "create",
                [
                    {
                        "user": self._rpc.user_id,
                        "name": exc.warning,
                        "always": False,
                    }
                ],
            )
            return await call()

    async def _create_sale(self, order: Order) -> int:
        warehouse = await self._stock.order_warehouse()
        currency = await self._currency(order.currency)
        prices = await self._unit_prices(order)
        party, billing, shipping = await self._customer(order)
        products = await self._products(order)
        lines = []
        for line, price in zip(order.lines, prices, strict=True):
            product = products[line.article_number]
            lines.append(
                {
                    "type": "line",
                    "product": product["id"],
                    "description": line.name,
                    "quantity": float(line.quantity),
                    "unit": product["sale_uom"] or product["default_uom"],
                    "unit_price": price,
                }
            )
        values = {
            "party": party,
            "invoice_address": billing,
            "shipment_address": shipping,
            "company": self._rpc.context["company"],
            "currency": currency,
            "warehouse": warehouse["id"],
            "reference": order.number,
            "sale_date": order.ordered_at.astimezone(UTC).date(),
            "invoice_method": "manual",
            "shipment_method": "order",
            "lines": [["create", lines]],
        }
        (sale,) = await self._with_warnings(
            partial(self._rpc.model, "sale.sale", "create", [values])
        )
        steps = ["quote", "confirm"] if self._erp.confirm_orders else []
        if order.state is OrderState.CANCELLED:
            steps = ["cancel"]
        try:
            for step in steps:
                await self._with_warnings(
                    partial(self._rpc.model, "sale.sale", step, [sale])
                )
        except (TrytonError, RetryableError):
            # leave nothing half-done: a draft with this reference would
            # make the next import believe the order is in.  Tryton only
            # deletes cancelled sales.
            with anyio.CancelScope(shield=True), suppress(SyncError):
                await self._rpc.model("sale.sale", "cancel", [sale])
                await self._rpc.model("sale.sale", "delete", [sale])
            raise
        return int(sale)

    async def _currency(self, code: str) -> int:
        found = await self._rpc.model(
            "currency.currency", "search", [["code", "=", code]], 0, 1, None
        )
        if not found:
            raise _Rejected(f"Tryton has no currency {code!r}", "currency")
        return int(found[0])

    async def _unit_prices(self, order: Order) -> list[Decimal]:
        """
        The lines' unit prices with no more decimal places than Tryton
        keeps (a shop's line total over its quantity, 10.00 / 3, has
        endless ones): rounded there when each line's amount stays the
        same to the cent, else the line fails on its unit price.
        """
        if self._price_places is None:
            fields = await self._rpc.model(
                "sale.line", "fields_get", ["unit_price"]
            )
            digits = (fields.get("unit_price") or {}).get("digits")
            places = digits[1] if isinstance(digits, list | tuple) else None
            self._price_places = places if isinstance(places, int) else 4
        places = self._price_places
        quantum = Decimal(1).scaleb(-places)
        cent = Decimal("0.01")
        prices = []
        for i, line in enumerate(order.lines):
            price = line.unit_price
            exponent = price.as_tuple().exponent
            if not isinstance(exponent, int) or exponent >= -places:
                prices.append(price)  # fits as it is
                continue
            price = price.quantize(quantum, ROUND_HALF_EVEN)
            if (price * line.quantity).quantize(cent) != (
                line.unit_price * line.quantity
            ).quantize(cent):
                raise _Rejected(
                    f"unit price {line.unit_price} has more than the "
                    f"{places} decimal places Tryton keeps, and "
                    f"rounding it would change the line's amount",
                    f"lines.{i}.unit_price",
                )
            prices.append(price)
        return prices

    async def _products(self, order: Order) -> dict[str, dict[str, Any]]:
        numbers = sorted({line.article_number for line in order.lines})
        rows = await self._rpc.search_read(
            "product.product",
            [["code", "in", numbers]],
            ["code", "sale_uom", "default_uom"],
        )
        found = {row["code"]: row for row in rows}
        for i, line in enumerate(order.lines):
            if line.article_number not in found:
                raise _Rejected(
                    f"Tryton has no active article {line.article_number!r}",
                    f"lines.{i}.article_number",
                )
        return found

    async def _country(self, code: str, field: str) -> int:
        found = await self._rpc.model(
            "country.country", "search", [["code", "=", code]], 0, 1, None
        )
        if not found:
            raise _Rejected(f"Tryton has no country {code!r}", field)
        return int(found[0])

    async def _customer(self, order: Order) -> tuple[int, int, int]:
        """
        The party for the order's customer (found by the shop's customer
        number, kept as a party identifier), with the order's addresses.
        """
        customer = order.customer
        # the customer's party and addresses are found or made by one
        # session at a time (two orders of a new customer at once)
        async with self._erp._claimed(f"customer:{customer.number}"):
            party = await self._party(customer)
            billing = await self._address(party, order.billing, "billing")
            shipping = await self._address(party, order.shipping, "shipping")
        return party, billing, shipping

    async def _party(self, customer: Customer) -> int:
        """
        The party whose identifier is *customer*'s number, created if
        there is none.
        """
        found = await self._rpc.search_read(
            "party.identifier",
            [["code", "=", customer.number], ["type", "=", None]],
            ["party"],
            order=[["id", "ASC"]],
        )
        if found:
            party = int(found[0]["party"])
        else:
            (party,) = await self._rpc.model(
                "party.party",
                "create",
                [
                    {
                        "name": _full_name(customer),
                        "identifiers": [
                            ["create", [{"code": customer.number}]]
                        ],
                        "contact_mechanisms": [
                            [
                                "create",
                                [{"type": "email", "value": customer.email}],
                            ]
                        ]
                        if customer.email
                        else [],
                    }
                ],
            )
        return int(party)

    async def _address(self, party: int, address: Address, field: str) -> int:
        country = await self._country(address.country, f"{field}.country")
        name = f"{address.first_name} {address.last_name}".strip()
        if address.company:
            name = f"{address.company}, {name}" if name else address.company
        values = {
            "party_name": name,
            "street": address.street,
            "postal_code": address.zip_code,
            "city": address.city,
            "country": country,
        }
        rows = await self._rpc.search_read(
            "party.address",
            [["party", "=", party]],
            ["party_name", "street", "postal_code", "city", "country"],
            order=[["id", "ASC"]],
        )
        for row in rows:
            if all((row.get(k) or "") == v for k, v in values.items()):
                return int(row["id"])
        (created,) = await self._rpc.model(
            "party.address", "create", [{"party": party, **values}]
        )
        return int(created)

    # -- used by scripts and tests ----------------------------------------

    @property
    def rpc(self) -> Rpc:
        return self._rpc


def _full_name(customer: Customer) -> str:
    name = f"{customer.first_name} {customer.last_name}".strip()
    return name or customer.email or customer.number


class _Rejected(Exception):
    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.field = field

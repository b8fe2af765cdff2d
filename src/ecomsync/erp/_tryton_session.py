"""
One Tryton session: reading records, reading media; importing orders is
`OrderImporter`'s (``_tryton_orders``).

Selection strategy (all types): ask Tryton for the ids and numbers that
match the server-side part of the selection (everything, changed since, or
``code in numbers``), filter number ranges and sort in *natural* order
(`number_key`) here, then read the full records batch by batch by id.
Tryton can only compare codes as text (``"A-10" < "A-2"``), so number
ranges are never pushed to the server.  Articles and stock are read by
`ProductReader` (``_tryton_products``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Container, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from .._contracts import Outcome
from .._model import (
    Category,
    MediaRef,
    Order,
    OrderState,
    OrderStatus,
    Record,
    number_key,
)
from .._spec import (
    ChangedSince,
    DataType,
    NumberRange,
    Only,
    Selection,
    without_single,
)
from ..exceptions import ConfigurationError, SyncError
from ._tryton_catalog import ArticleGroup
from ._tryton_orders import OrderImporter
from ._tryton_products import ProductReader
from ._tryton_read import IMAGE_KEY, category_number, changed, image_ref
from ._tryton_rpc import Rpc
from ._tryton_sales import (
    MARK_FIELDS,
    is_imported,
    is_marked_cancelled,
    platform_sales,
    sale_marks,
    sale_platform,
)
from ._tryton_stock import StockReader, StockRow


if TYPE_CHECKING:
    from anyio.abc import TaskGroup

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
    #: the session's background reads (products read ahead)
    _background: TaskGroup | None = None
    _reader: ProductReader = attrs.field(init=False)
    _stock: StockReader = attrs.field(init=False)
    _counted: (
        tuple[DataType, Selection, str | None, Sequence[_Numbered]] | None
    ) = None
    _orders: OrderImporter = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._reader = ProductReader(
            self._rpc, self._erp, background=self._background
        )
        self._stock = StockReader(self._rpc, self._erp)
        self._orders = OrderImporter(self._erp, self._rpc, self._stock)

    # -- reading ----------------------------------------------------------

    async def read(
        self,
        data_type: DataType,
        selection: Selection,
        *,
        batch_size: int,
        platform: str | None = None,
        exclude: Container[str] | None = None,
    ) -> AsyncIterator[Sequence[Record]]:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if data_type is DataType.CATEGORIES:
            # categories are few: read them whole, parents first
            categories = await self._categories(selection)
            for start in range(0, len(categories), batch_size):
                yield categories[start : start + batch_size]
            return
        rows = await self._rows(data_type, selection, platform)
        if exclude is not None and data_type is DataType.STOCK:
            # Levels the run read already: not computed again.
            rows = without_single(rows, exclude)
        if data_type is DataType.ARTICLES:
            self._reader.expect(
                [g for g in rows if isinstance(g, ArticleGroup)]
            )
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            yield await self._load(data_type, chunk)

    async def count(
        self,
        data_type: DataType,
        selection: Selection,
        *,
        platform: str | None = None,
    ) -> int | None:
        if data_type is DataType.CATEGORIES:
            return len(await self._categories(selection))
        if data_type is DataType.ADDRESSES_AND_ORDERS:
            return None
        rows = await self._rows(data_type, selection, platform)
        # the engine counts, then reads: the read takes these rows
        self._counted = (data_type, selection, platform, rows)
        return len(rows)

    async def _rows(
        self, data_type: DataType, selection: Selection, platform: str | None
    ) -> Sequence[_Numbered]:
        counted, self._counted = self._counted, None
        if counted is not None and counted[:3] == (
            data_type,
            selection,
            platform,
        ):
            return counted[3]
        if data_type is DataType.ARTICLES:
            return await self._reader.article_groups(selection)
        if data_type is DataType.STOCK:
            return await self._stock.stock_rows(selection)
        if data_type is DataType.ORDER_STATUS:
            return await self._sale_rows(selection, platform)
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

    async def _sale_rows(
        self, selection: Selection, platform: str | None
    ) -> list[_Row]:
        domain: list[Any] = [["reference", "not in", [None, ""]]]
        domain += self._server_domain(
            selection,
            "reference",
            changed(
                selection.moment,
                "last_modified_at",
                "shipments.last_modified_at",
                # a mark added (cancelled in the shop, the platform
                # named) writes the sale's attachment, not the sale
                "attachments.last_modified_at",
            )
            if isinstance(selection, ChangedSince)
            else [],
        )
        rows = await self._rpc.search_read(
            "sale.sale", domain, ["reference", *MARK_FIELDS]
        )
        if platform is not None:
            rows = await self._platform_sales(rows, selection, platform)
        else:
            # a sale ecomsync did not make (a customer's PO number in its
            # reference) is no shop order's
            rows = [r for r in rows if is_imported(sale_marks(r))]
        return self._select(
            [_Row(str(row["reference"]), row["id"]) for row in rows],
            selection,
        )

    async def _platform_sales(
        self, rows: list[Any], selection: Selection, platform: str
    ) -> list[Any]:
        """
        The sales among *rows* whose status goes to *platform*: per order
        number, those marked as its (`platform_sales`), else those
        imported for no platform; never a sale ecomsync did not make.
        Another platform's order "1001" is not this one's "1001", nor
        counted for it.
        """
        if isinstance(selection, ChangedSince) and rows:
            # whose a number's sales are is weighed over all of them, not
            # only the changed ones
            rows = await self._rpc.search_read(
                "sale.sale",
                [["reference", "in", sorted({r["reference"] for r in rows})]],
                ["reference", *MARK_FIELDS],
            )
        by_number: dict[str, list[Any]] = {}
        for row in rows:
            by_number.setdefault(str(row["reference"]), []).append(row)
        return [
            row
            for same in by_number.values()
            for row in platform_sales(platform, same)
        ]

    async def _statuses(self, chunk: list[_Row]) -> list[OrderStatus]:
        rows = await self._rpc.read(
            "sale.sale",
            [row.id for row in chunk],
            ["state", "shipment_state", "shipments", *MARK_FIELDS],
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
            marks = sale_marks(row)
            if is_marked_cancelled(marks):
                # the shop cancelled the order and the merchant handled
                # its processed sale: cancelled, as the shop has it
                state = OrderState.CANCELLED
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
                    # two platforms' order "1001" are two sales, each
                    # pushed to its own platform only
                    platform=sale_platform(marks),
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

    # -- importing orders: see _tryton_orders --------------------------------

    async def import_orders(self, orders: Sequence[Order]) -> list[Outcome]:
        return await self._orders.import_orders(orders)

    # -- used by scripts and tests ----------------------------------------

    @property
    def rpc(self) -> Rpc:
        return self._rpc

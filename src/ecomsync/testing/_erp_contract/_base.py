"""
The hooks every `ErpSourceContract` subclass implements, and the helpers
the suite's parts share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import attrs

from ..._model import Order, OrderState, Record
from ..._spec import DataType, Selection
from ...typing import ErpSession, ErpSource
from ._seed import STANDARD_SEED, ErpSeed, make_order


class SourceHooks:
    """
    The seed, the hooks and the helpers of `ErpSourceContract`; its parts
    (reading, importing orders, orders that change) build on this.
    """

    seed: ClassVar[ErpSeed] = STANDARD_SEED

    # -- hooks ------------------------------------------------------------

    async def touch(
        self, source: ErpSource, data_type: DataType, number: str
    ) -> None:
        """
        Change record *number* now, keeping its values.
        """
        raise NotImplementedError

    async def imported_count(
        self, source: ErpSource, order_number: str
    ) -> int:
        """
        How many ERP orders carry *order_number*.
        """
        raise NotImplementedError

    async def imported_state(
        self, source: ErpSource, order_number: str
    ) -> OrderState:
        """
        The ERP's state of the order imported as *order_number*.
        """
        raise NotImplementedError

    async def ship(self, source: ErpSource, order_number: str) -> None:
        """
        Ship the ERP order imported as *order_number*: the warehouse sent
        it, so the ERP can no longer cancel it.
        """
        raise NotImplementedError

    def bad_order(self) -> Order:
        """
        An order this ERP refuses (default: a line with quantity 0).
        """
        good = make_order()
        line = attrs.evolve(good.lines[0], quantity=0)
        return attrs.evolve(good, lines=(line, *good.lines[1:]))

    # -- helpers ------------------------------------------------------------

    @staticmethod
    async def read_all(
        session: ErpSession,
        data_type: DataType,
        selection: Selection,
        batch_size: int = 100,
    ) -> list[Sequence[Record]]:
        return [
            batch
            async for batch in session.read(
                data_type, selection, batch_size=batch_size
            )
        ]

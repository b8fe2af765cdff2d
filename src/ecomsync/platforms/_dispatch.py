"""
What every HTTP adapter's face shares: `push` routed by data type to the
part that writes that type (`Pushes`).  Closing (``async with``,
``aclose()`` once, use after close refused) is `ecomsync._closing`'s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeAlias

import attrs

from .._contracts import Outcome, Outgoing
from .._spec import DataType


#: One part's writer: a batch of one data type in, one outcome per item.
Write: TypeAlias = Callable[[Sequence[Outgoing]], Awaitable[list[Outcome]]]


@attrs.frozen
class Pushes:
    """
    Where an adapter's `push` sends each data type it writes.

    *refusal* completes the message of every item of a type it does not
    write: ``"<data type> <refusal>"``.
    """

    routes: Mapping[DataType, Write]
    refusal: str

    async def __call__(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        """
        Write *items* through the part for *data_type*; one outcome per
        item, in order.  Nothing to write asks nothing of the part; a
        type without a part fails every item.
        """
        if not items:
            return []
        write = self.routes.get(data_type)
        if write is None:
            return [
                Outcome(
                    number=item.record.number,
                    error=f"{data_type.value} {self.refusal}",
                )
                for item in items
            ]
        return await write(items)

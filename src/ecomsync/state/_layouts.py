"""
The stock layout each platform's stock was last written under
(`ecomsync.typing.StockLayouts`), as both built-in stores keep it: one
row per platform name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any


__all__ = ["StockLayoutOps"]


class StockLayoutOps:
    """
    The `StockLayouts` role over `SqlStore`'s ops.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        async def _exec(self, sql: str, *args: Any) -> None: ...
        async def _one(self, sql: str, args: Any, convert: Any) -> Any: ...

    async def get_stock_layout(self, platform: str) -> str | None:
        found = await self._one(
            "SELECT layout FROM {p}stock_layouts WHERE platform = ?",
            (platform,),
            lambda row: str(row[0]),
        )
        return None if found is None else str(found)

    async def set_stock_layout(self, platform: str, layout: str) -> None:
        await self._exec(
            "INSERT INTO {p}stock_layouts (platform, layout) VALUES (?, ?) "
            "ON CONFLICT (platform) DO UPDATE SET layout = excluded.layout",
            platform,
            layout,
        )

"""
The media ids a store forgets: `ForgetsMediaIds` over `SqlStore`'s ops
(kept apart from `._sql`, which holds the rest of the media table).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._dialect import Op, Stmt, _nothing


T = TypeVar("T")


class MediaForgetOps:
    """
    `forget_media_ids` over `SqlStore`'s ops (`SqliteStore`, `PostgresStore`,
    a partitioned run's `PartitionStore`).
    """

    __slots__ = ()

    if TYPE_CHECKING:

        def _stmt(
            self, sql: str, args: Any = (), rows: Any = None
        ) -> Stmt: ...
        async def _perform(self, op: Op[T]) -> T: ...

    async def forget_media_ids(
        self, platform: str, media_ids: Mapping[str, str]
    ) -> None:
        """
        Forget each hash -> media id of *media_ids* (the shop lost the
        media), in one transaction; a hash the store knows under another
        id since (uploaded again meanwhile) is kept.
        """
        rows = [(platform, h, m) for h, m in sorted(media_ids.items())]
        if rows:
            stmt = self._stmt(
                "DELETE FROM {p}media "
                "WHERE platform = ? AND sha256 = ? AND media_id = ?",
                rows=rows,
            )
            await self._perform(Op((stmt,), _nothing, True))

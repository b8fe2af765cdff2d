"""
The platform contract's hooks (how a suite looks at the shop from the
outside) and the helpers its tests push and fetch with.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ..._contracts import Outcome, StagedMedia
from ..._fingerprint import content_hash
from ..._model import Article, MediaKind, Order, Record
from ..._spec import DataType, Selection
from ...typing import Platform
from ._records import CATEGORIES, article, outgoing


class ContractBase:
    """
    The hooks a `PlatformContract` subclass implements, the
    ``bad_article`` fixture and the suite's helpers.
    """

    pytestmark = pytest.mark.anyio

    # -- hooks ----------------------------------------------------------

    async def place_order(
        self, platform: Any, order: Order, *, changed_at: datetime
    ) -> None:
        """
        Make *order* arrive in the shop, created/changed at *changed_at*.
        """
        raise NotImplementedError

    async def read_back(
        self, platform: Any, data_type: DataType, number: str
    ) -> dict[str, Any] | None:
        """
        What the platform holds for record *number* (see module doc).
        """
        raise NotImplementedError

    async def count(self, platform: Any, data_type: DataType) -> int:
        """
        How many records of *data_type* the platform holds.
        """
        raise NotImplementedError

    async def media_count(self, platform: Any) -> int:
        """
        How many media files the platform stores.
        """
        raise NotImplementedError

    @pytest.fixture(name="bad_article")
    def _bad_article(self) -> Article:
        """
        An article every platform must refuse: its category is unknown.
        """
        return article("A-BAD", categories=("NO-SUCH-CATEGORY",))

    # -- helpers ----------------------------------------------------------

    async def _push(
        self, platform: Platform, data_type: DataType, *records: Record
    ) -> list[Outcome]:
        outcomes = await platform.push(data_type, outgoing(*records))
        assert [o.number for o in outcomes] == [r.number for r in records]
        return outcomes

    async def _catalogue(self, platform: Platform) -> None:
        outcomes = await self._push(platform, DataType.CATEGORIES, *CATEGORIES)
        assert all(o.ok for o in outcomes), outcomes

    async def _fetch(
        self, platform: Platform, selection: Selection, batch_size: int = 100
    ) -> list[list[Order]]:
        found: list[list[Order]] = []
        async for batch in platform.fetch_orders(
            selection, batch_size=batch_size
        ):
            orders = [o for o in batch if isinstance(o, Order)]
            # the contract's orders have numbers of their own: no refusal
            assert len(orders) == len(batch), batch
            found.append(orders)
        return found

    @staticmethod
    def _staged(
        tmp_path: Path,
        content: bytes,
        *,
        filename: str = "bild.jpg",
        mime_type: str = "image/jpeg",
        kind: MediaKind = MediaKind.IMAGE,
    ) -> StagedMedia:
        sha = content_hash(content)
        path = tmp_path / sha
        path.write_bytes(content)
        return StagedMedia(
            sha256=sha,
            path=path,
            size=len(content),
            filename=filename,
            mime_type=mime_type,
            kind=kind,
        )

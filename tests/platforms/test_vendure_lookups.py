"""
The Vendure catalogue's product look-ups, without a server: every
product asked for comes back, however many are asked at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from ecomsync.platforms.vendure._catalog import PAGE, Catalog


pytestmark = pytest.mark.anyio


class FakeShop:
    """
    Answers ``products`` as Vendure does: the products whose id or slug
    is in the filter, at most ``take`` of them.
    """

    def __init__(self, count: int) -> None:
        self.products = [
            {"id": str(i), "slug": f"p-{i}"} for i in range(1, count + 1)
        ]
        self.takes: list[int] = []

    async def query(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        retry: bool = True,
    ) -> Any:
        assert variables is not None
        field, wanted = (
            ("id", variables["ids"])
            if "ids" in variables
            else ("slug", variables["slugs"])
        )
        take = variables["take"]
        self.takes.append(len(wanted))
        items = [p for p in self.products if p[field] in set(wanted)]
        return {"products": {"items": items[:take]}}


class TestProducts:
    @pytest.mark.parametrize("by", ["id", "slug"])
    async def test_more_than_a_page(self, by: str) -> None:
        """More products than Vendure answers at once are all found."""
        count = PAGE + PAGE // 2
        shop = FakeShop(count)
        catalog = Catalog(gql=shop)  # type: ignore[arg-type]
        if by == "id":
            found = await catalog.products(
                [str(i) for i in range(1, count + 1)]
            )
        else:
            found = await catalog.by_slug(
                [f"p-{i}" for i in range(1, count + 1)]
            )
        assert count == len(found)
        assert all(n <= PAGE for n in shop.takes)

    async def test_none_asked_no_request(self) -> None:
        """No ids, no request."""
        shop = FakeShop(3)
        assert {} == await Catalog(gql=shop).products([])  # type: ignore[arg-type]
        assert [] == shop.takes

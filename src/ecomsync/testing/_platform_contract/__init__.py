"""
`PlatformContract`: the behaviour every `ecomsync.typing.Platform` owes
the engine, as a base test class to subclass.

::

    class TestMyShop(PlatformContract):
        @pytest.fixture(name="platform")
        async def _platform(self):
            shop = MyShop(...)
            yield shop
            await shop.aclose()

        async def place_order(self, platform, order, *, changed_at): ...
        async def read_back(self, platform, data_type, number): ...
        async def count(self, platform, data_type): ...
        async def media_count(self, platform): ...

The hooks look at the platform from the outside (its admin API, an
emulator's state); they must not go through the adapter under test.
`read_back` returns ``None`` for a record the platform does not hold,
otherwise a dict with these keys:

- `DataType.CATEGORIES`: ``name`` (str), ``parent`` (number or None);
- `DataType.ARTICLES`: ``name``, ``price`` (gross, `Decimal`),
  ``categories`` (set of category numbers), ``variants`` (set of variant
  numbers), ``media`` (attached media ids in order, images first, the
  cover first of all), ``cover`` (media id or None);
- `DataType.STOCK`: ``quantity`` (int);
- `DataType.ORDER_STATUS`: ``state`` (`OrderState`),
  ``tracking_numbers`` (set of str).

Override the ``bad_article`` fixture if your platform accepts an article
in a category it does not know.

This module holds the catalogue, stock, status and media tests; the
hooks and helpers are in ``_base``, the order tests in ``_orders``, the
records they push in ``_records``.

.. versionadded:: 26.1.0
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ..._contracts import MediaLink
from ..._model import (
    Article,
    Category,
    MediaKind,
    OrderState,
    OrderStatus,
    StockLevel,
    Variant,
)
from ..._spec import DataType
from ._orders import OrderFetchTests
from ._records import CATEGORIES as CATEGORIES
from ._records import NOW as NOW
from ._records import article as article
from ._records import make_order as make_order


__all__ = ["PlatformContract"]


class PlatformContract(OrderFetchTests):
    """
    Base test class: subclass it, provide a ``platform`` fixture and the
    hooks, and every test here runs against your platform.

    .. versionadded:: 26.1.0
    """

    # -- categories -------------------------------------------------------

    async def test_category_tree_parents_first(self, platform: Any) -> None:
        """
        A tree pushed parents first is written with its parent links.
        """
        outcomes = await self._push(platform, DataType.CATEGORIES, *CATEGORIES)

        assert all(o.ok and o.platform_id for o in outcomes), outcomes
        child = await self.read_back(platform, DataType.CATEGORIES, "K-2")
        assert child is not None
        assert child["parent"] == "K-1"
        assert child["name"] == "Hämmer"

    async def test_category_with_unknown_parent_fails_alone(
        self, platform: Any
    ) -> None:
        """
        A category whose parent the platform lacks fails; the rest land.
        """
        orphan = Category(number="K-9", name="Waise", parent="NOPE")
        outcomes = await self._push(
            platform, DataType.CATEGORIES, CATEGORIES[0], orphan, CATEGORIES[2]
        )

        assert [o.ok for o in outcomes] == [True, False, True]
        assert outcomes[1].error
        assert await self.read_back(platform, DataType.CATEGORIES, "K-3")
        assert None is await self.read_back(
            platform, DataType.CATEGORIES, "K-9"
        )

    # -- articles ---------------------------------------------------------

    async def test_article_with_variants_categories_and_price(
        self, platform: Any
    ) -> None:
        """
        An article lands with its price, categories and variants.
        """
        await self._catalogue(platform)
        shirt = article(
            "A-7",
            categories=("K-2", "K-3"),
            variants=(
                Variant(number="A-7-S", options=(("Größe", "S"),)),
                Variant(
                    number="A-7-L",
                    options=(("Größe", "L"),),
                    price=Decimal("21.99"),
                ),
            ),
        )
        (outcome,) = await self._push(platform, DataType.ARTICLES, shirt)

        assert outcome.ok, outcome
        held = await self.read_back(platform, DataType.ARTICLES, "A-7")
        assert held is not None
        assert held["name"] == "Hammer A-7"
        assert Decimal("19.99") == Decimal(str(held["price"]))
        assert {"K-2", "K-3"} == set(held["categories"])
        assert {"A-7-S", "A-7-L"} == set(held["variants"])

    async def test_bad_article_fails_alone(
        self, platform: Any, bad_article: Article
    ) -> None:
        """
        One bad article in a batch fails with a message; the others land.
        """
        await self._catalogue(platform)
        outcomes = await self._push(
            platform,
            DataType.ARTICLES,
            article("A-1"),
            bad_article,
            article("A-2"),
        )

        assert [o.ok for o in outcomes] == [True, False, True]
        assert outcomes[1].error
        assert await self.read_back(platform, DataType.ARTICLES, "A-1")
        assert await self.read_back(platform, DataType.ARTICLES, "A-2")
        assert None is await self.read_back(
            platform, DataType.ARTICLES, bad_article.number
        )

    async def test_pushing_twice_creates_no_duplicates(
        self, platform: Any
    ) -> None:
        """
        The same items pushed twice exist once, with the same ids.
        """
        await self._catalogue(platform)
        items = (article("A-1"), article("A-2"))
        first = await self._push(platform, DataType.ARTICLES, *items)
        counts = (
            await self.count(platform, DataType.ARTICLES),
            await self.count(platform, DataType.CATEGORIES),
        )
        await self._catalogue(platform)
        second = await self._push(platform, DataType.ARTICLES, *items)

        assert [o.platform_id for o in first] == [
            o.platform_id for o in second
        ]
        assert counts == (
            await self.count(platform, DataType.ARTICLES),
            await self.count(platform, DataType.CATEGORIES),
        )

    async def test_category_assignment_is_replaced(
        self, platform: Any
    ) -> None:
        """
        Categories an article no longer has are unassigned.
        """
        await self._catalogue(platform)
        await self._push(platform, DataType.ARTICLES, article("A-1"))
        (outcome,) = await self._push(
            platform, DataType.ARTICLES, article("A-1", categories=("K-3",))
        )

        assert outcome.ok, outcome
        held = await self.read_back(platform, DataType.ARTICLES, "A-1")
        assert held is not None
        assert {"K-3"} == set(held["categories"])

    # -- stock --------------------------------------------------------------

    async def test_stock_is_absolute(self, platform: Any) -> None:
        """
        Stock overwrites: the last level pushed is what the shop holds.
        """
        await self._catalogue(platform)
        await self._push(platform, DataType.ARTICLES, article("A-1"))
        await self._push(
            platform, DataType.STOCK, StockLevel(number="A-1", quantity=5)
        )
        (outcome,) = await self._push(
            platform, DataType.STOCK, StockLevel(number="A-1", quantity=7)
        )

        assert outcome.ok, outcome
        held = await self.read_back(platform, DataType.STOCK, "A-1")
        assert held is not None
        assert held["quantity"] == 7

    async def test_stock_of_unknown_article_fails_alone(
        self, platform: Any
    ) -> None:
        """
        Stock for an article the shop lacks fails; the rest lands.
        """
        await self._catalogue(platform)
        await self._push(platform, DataType.ARTICLES, article("A-1"))
        outcomes = await self._push(
            platform,
            DataType.STOCK,
            StockLevel(number="A-404", quantity=1),
            StockLevel(number="A-1", quantity=3),
        )

        assert [o.ok for o in outcomes] == [False, True]
        assert outcomes[0].error

    # -- order status -----------------------------------------------------

    async def test_order_status_transitions(self, platform: Any) -> None:
        """
        In progress, shipped with tracking, completed: each one lands.
        """
        await self.place_order(platform, make_order("50001"), changed_at=NOW)
        for state, tracking in (
            (OrderState.IN_PROGRESS, ()),
            (OrderState.SHIPPED, ("TRACK-1",)),
            (OrderState.COMPLETED, ("TRACK-1",)),
        ):
            status = OrderStatus(
                number="50001", state=state, tracking_numbers=tracking
            )
            (outcome,) = await self._push(
                platform, DataType.ORDER_STATUS, status
            )

            assert outcome.ok, outcome
            held = await self.read_back(
                platform, DataType.ORDER_STATUS, "50001"
            )
            assert held is not None
            assert state == held["state"]
            assert set(tracking) <= set(held["tracking_numbers"])

    @pytest.mark.parametrize(
        "state", [OrderState.COMPLETED, OrderState.CANCELLED]
    )
    async def test_status_already_reached_is_success(
        self, platform: Any, state: OrderState
    ) -> None:
        """
        Pushing a state the order is already in succeeds.
        """
        await self.place_order(platform, make_order("50002"), changed_at=NOW)
        status = OrderStatus(number="50002", state=state)
        await self._push(platform, DataType.ORDER_STATUS, status)
        (outcome,) = await self._push(platform, DataType.ORDER_STATUS, status)

        assert outcome.ok, outcome
        held = await self.read_back(platform, DataType.ORDER_STATUS, "50002")
        assert held is not None
        assert state == held["state"]

    async def test_status_of_unknown_order_fails_alone(
        self, platform: Any
    ) -> None:
        """
        A status for an order the shop lacks fails; the rest lands.
        """
        await self.place_order(platform, make_order("50003"), changed_at=NOW)
        outcomes = await self._push(
            platform,
            DataType.ORDER_STATUS,
            OrderStatus(number="99999", state=OrderState.IN_PROGRESS),
            OrderStatus(number="50003", state=OrderState.IN_PROGRESS),
        )

        assert [o.ok for o in outcomes] == [False, True]

    # -- media --------------------------------------------------------------

    async def test_same_content_is_uploaded_once(
        self, platform: Any, tmp_path: Path
    ) -> None:
        """
        Uploading content the platform already has reuses it.
        """
        staged = self._staged(tmp_path, b"\xff\xd8 jpeg bytes 1")
        first = await platform.upload_media(staged)
        before = await self.media_count(platform)
        second = await platform.upload_media(staged)

        assert first == second
        assert before == await self.media_count(platform)

    async def test_attach_media_sets_exactly_these_with_cover(
        self, platform: Any, tmp_path: Path
    ) -> None:
        """
        Attached media replace the old ones; the first image is the cover.
        """
        await self._catalogue(platform)
        (target,) = await self._push(
            platform, DataType.ARTICLES, article("A-1")
        )
        one = await platform.upload_media(self._staged(tmp_path, b"img-one"))
        two = await platform.upload_media(self._staged(tmp_path, b"img-two"))
        pdf = await platform.upload_media(
            self._staged(
                tmp_path,
                b"%PDF-1.4 datasheet",
                filename="datenblatt.pdf",
                mime_type="application/pdf",
                kind=MediaKind.DOCUMENT,
            )
        )
        await platform.attach_media(
            DataType.ARTICLES,
            target,
            [
                MediaLink(media_id=two, sha256="2", position=0),
                MediaLink(media_id=one, sha256="1", position=1),
                MediaLink(
                    media_id=pdf,
                    sha256="3",
                    position=2,
                    kind=MediaKind.DOCUMENT,
                ),
            ],
        )
        held = await self.read_back(platform, DataType.ARTICLES, "A-1")

        assert held is not None
        assert [two, one, pdf] == held["media"]
        assert two == held["cover"]

        await platform.attach_media(
            DataType.ARTICLES,
            target,
            [MediaLink(media_id=one, sha256="1", position=0)],
        )
        held = await self.read_back(platform, DataType.ARTICLES, "A-1")

        assert held is not None
        assert [one] == held["media"]
        assert one == held["cover"]

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

.. versionadded:: 26.1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from .._contracts import MediaLink, Outcome, Outgoing, StagedMedia
from .._fingerprint import content_hash
from .._model import (
    Address,
    Article,
    Category,
    Customer,
    MediaKind,
    Order,
    OrderLine,
    OrderState,
    OrderStatus,
    Record,
    StockLevel,
    Variant,
    problems,
)
from .._spec import All, ChangedSince, DataType, NumberRange, Only, Selection
from ..typing import Platform


__all__ = ["PlatformContract"]

NOW = datetime.now(UTC).replace(microsecond=0)


def _out(*records: Record) -> list[Outgoing]:
    return [Outgoing(record=r) for r in records]


def make_order(number: str, *, article: str = "K-1") -> Order:
    """
    A small order as a shop customer places it.
    """
    address = Address(
        first_name="Erika",
        last_name="Mustermann",
        street="Hauptstraße 1",
        zip_code="10115",
        city="Berlin",
        country="DE",
    )
    return Order(
        number=number,
        customer=Customer(
            number=f"C{number}",
            email=f"kunde{number}@example.com",
            first_name="Erika",
            last_name="Mustermann",
            addresses=(address,),
        ),
        billing=address,
        shipping=address,
        lines=(
            OrderLine(
                article_number=article,
                name="Hammer",
                quantity=2,
                unit_price=Decimal("9.99"),
            ),
        ),
        total=Decimal("19.98"),
        ordered_at=NOW - timedelta(days=5),
    )


CATEGORIES = (
    Category(number="K-1", name="Werkzeug"),
    Category(number="K-2", name="Hämmer", parent="K-1"),
    Category(number="K-3", name="Farben"),
)


def article(number: str = "A-1", **changes: Any) -> Article:
    values: dict[str, Any] = {
        "number": number,
        "name": f"Hammer {number}",
        "price": Decimal("19.99"),
        "tax_rate": Decimal(19),
        "categories": ("K-2",),
    }
    values.update(changes)
    return Article(**values)


class PlatformContract:
    """
    Base test class: subclass it, provide a ``platform`` fixture and the
    hooks, and every test here runs against your platform.

    .. versionadded:: 26.1.0
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
        outcomes = await platform.push(data_type, _out(*records))
        assert [o.number for o in outcomes] == [r.number for r in records]
        return outcomes

    async def _catalogue(self, platform: Platform) -> None:
        outcomes = await self._push(platform, DataType.CATEGORIES, *CATEGORIES)
        assert all(o.ok for o in outcomes), outcomes

    async def _fetch(
        self, platform: Platform, selection: Selection, batch_size: int = 100
    ) -> list[list[Order]]:
        return [
            list(batch)
            async for batch in platform.fetch_orders(
                selection, batch_size=batch_size
            )
        ]

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

    # -- orders -------------------------------------------------------------

    async def _shop(self, platform: Any) -> None:
        old = NOW - timedelta(days=3)
        new = NOW - timedelta(hours=1)
        for number, moment in (
            ("998", old),
            ("999", old),
            ("1000", old),
            ("1001", new),
            ("1002", new),
        ):
            await self.place_order(
                platform, make_order(number), changed_at=moment
            )

    @staticmethod
    def _numbers(batches: Sequence[Sequence[Order]]) -> list[str]:
        return [o.number for batch in batches for o in batch]

    @pytest.mark.parametrize(
        ("selection", "expected"),
        [
            (All(), {"998", "999", "1000", "1001", "1002"}),
            (NumberRange("999", "1001"), {"999", "1000", "1001"}),
            (Only({"998", "1002"}), {"998", "1002"}),
            (
                ChangedSince(NOW - timedelta(days=1)),
                {"1001", "1002"},
            ),
        ],
        ids=["all", "number-range", "only", "changed-since"],
    )
    async def test_fetch_orders_by_selection(
        self, platform: Any, selection: Selection, expected: set[str]
    ) -> None:
        """
        Each selection mode yields exactly its orders, once each.
        """
        await self._shop(platform)
        numbers = self._numbers(await self._fetch(platform, selection))

        assert len(numbers) == len(set(numbers))
        assert expected == set(numbers)

    async def test_fetch_orders_pages_without_loss(
        self, platform: Any
    ) -> None:
        """
        Small batches cover every order once, none larger than asked.
        """
        await self._shop(platform)
        batches = await self._fetch(platform, All(), batch_size=2)
        numbers = self._numbers(batches)

        assert all(0 < len(b) <= 2 for b in batches)
        assert sorted(numbers) == sorted(set(numbers))
        assert len(numbers) == 5

    async def test_fetched_order_carries_customer_lines_addresses(
        self, platform: Any
    ) -> None:
        """
        A fetched order has its customer, addresses, lines and total, and
        its money adds up (lines at their gross unit price).
        """
        placed = make_order("4711")
        await self.place_order(platform, placed, changed_at=NOW)
        batches = await self._fetch(platform, Only({"4711"}))
        (order,) = [o for batch in batches for o in batch]

        assert order.number == "4711"
        assert placed.customer.email == order.customer.email
        assert placed.billing.city == order.billing.city
        assert placed.shipping.street == order.shipping.street
        assert [
            (line.article_number, line.quantity) for line in order.lines
        ] == [("K-1", 2)]
        assert placed.total == order.total
        assert [line.unit_price for line in placed.lines] == [
            line.unit_price for line in order.lines
        ]
        assert (Decimal(0), Decimal(0)) == (
            order.shipping_total,
            order.discount_total,
        )
        assert [] == problems(order)

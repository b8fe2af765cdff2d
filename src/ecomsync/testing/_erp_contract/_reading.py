"""
The contract of reading: the four selection modes, order and content.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from ..._model import (
    Article,
    Category,
    MediaKind,
    Record,
    StockLevel,
    number_key,
)
from ..._selection import _takes
from ..._spec import (
    All,
    ChangedSince,
    DataType,
    NumberRange,
    Only,
    Selection,
)
from ...typing import ErpSource
from ._base import SourceHooks
from ._seed import IMPORT_PREFIX, JPEG_MAGIC, PNG_MAGIC


_READ_TYPES = (
    DataType.CATEGORIES,
    DataType.ARTICLES,
    DataType.STOCK,
    DataType.ORDER_STATUS,
)
_RANGES = {
    # (first, last) and the expected numbers; text order would differ
    DataType.CATEGORIES: (("C-2", "C-10"), ["C-2", "C-3", "C-10"]),
    DataType.ARTICLES: (("A-2", "A-10"), ["A-2", "A-10"]),
    DataType.STOCK: (("A-2", "A-11"), ["A-2", "A-10", "A-11"]),
    DataType.ORDER_STATUS: (("SO-2", "SO-10"), ["SO-2", "SO-3", "SO-10"]),
}
_ONLY = {
    DataType.CATEGORIES: ["C-3", "C-1"],
    DataType.ARTICLES: ["A-10", "A-1"],
    DataType.STOCK: ["B-1", "A-2"],
    DataType.ORDER_STATUS: ["SO-10", "SO-1"],
}


def _numbers(batches: Sequence[Sequence[Record]]) -> list[str]:
    return [record.number for batch in batches for record in batch]


def _visible(data_type: DataType, numbers: list[str]) -> list[str]:
    if data_type is DataType.ORDER_STATUS:
        return [n for n in numbers if not n.startswith(IMPORT_PREFIX)]
    return numbers


class ReadingContract(SourceHooks):
    """
    Reading with each selection, in number order and in batches, and what
    the records hold; part of `ErpSourceContract`.
    """

    # -- reading: the four selection modes -----------------------------------

    @pytest.mark.anyio
    @pytest.mark.parametrize("data_type", _READ_TYPES, ids=lambda t: t.name)
    async def test_all(self, source: ErpSource, data_type: DataType) -> None:
        """All() yields every seeded record once, in number order."""
        async with source.session() as session:
            got = _numbers(await self.read_all(session, data_type, All()))

        expected = self.seed.numbers(data_type)
        visible = _visible(data_type, got)
        if data_type is DataType.CATEGORIES:
            assert sorted(visible, key=number_key) == expected, got
        else:
            assert expected == visible, got
            assert sorted(got, key=number_key) == got, "not in number order"

    @pytest.mark.anyio
    @pytest.mark.parametrize("data_type", _READ_TYPES, ids=lambda t: t.name)
    async def test_number_range(
        self, source: ErpSource, data_type: DataType
    ) -> None:
        """NumberRange is inclusive and uses natural order (A-2 < A-10)."""
        (first, last), expected = _RANGES[data_type]
        async with source.session() as session:
            got = _numbers(
                await self.read_all(
                    session, data_type, NumberRange(first, last)
                )
            )

        if data_type is DataType.CATEGORIES:
            assert sorted(expected, key=number_key) == sorted(
                got, key=number_key
            ), got
        else:
            assert expected == got

    @pytest.mark.anyio
    @pytest.mark.parametrize("data_type", _READ_TYPES, ids=lambda t: t.name)
    async def test_only(self, source: ErpSource, data_type: DataType) -> None:
        """Only() yields exactly the existing chosen records; unknown ones
        are ignored."""
        wanted = _ONLY[data_type]
        async with source.session() as session:
            got = _numbers(
                await self.read_all(
                    session, data_type, Only([*wanted, "NO-SUCH-1"])
                )
            )

        assert sorted(wanted, key=number_key) == sorted(got, key=number_key)

    @pytest.mark.anyio
    async def test_only_by_a_variant_number(self, source: ErpSource) -> None:
        """Only() with a variant's number yields the article that owns it
        (pushed whole, with its variants), and stock Only() with an
        article's number its variants' levels: "sync this variant" synced
        nothing."""
        article = next((a for a in self.seed.articles if a.variants), None)
        assert article is not None, "the seed needs an article with variants"
        variants = sorted(v.number for v in article.variants)
        async with source.session() as session:
            articles = await self.read_all(
                session, DataType.ARTICLES, Only([variants[-1]])
            )
            levels = await self.read_all(
                session, DataType.STOCK, Only([article.number])
            )

        (got,) = [a for batch in articles for a in batch]
        assert isinstance(got, Article)
        assert article.number == got.number
        assert variants == sorted(v.number for v in got.variants)
        assert sorted(
            s.number for s in self.seed.stock if s.number in variants
        ) == sorted(_numbers(levels))

    @pytest.mark.anyio
    async def test_stock_without_excluded_levels(
        self, source: ErpSource
    ) -> None:
        """Stock All() with ``exclude`` (where read takes it) yields what
        All() yields, less at most the levels of excluded numbers that
        have one: none other, and no number with several levels."""
        reader: Any  # ErpSession does not name the keyword
        async with source.session() as reader:
            if not _takes(reader.read, "exclude"):
                pytest.skip(
                    "the session's read takes no 'exclude' keyword "
                    "(optional: the engine reads those levels again)"
                )
            every = [
                level
                for batch in await self.read_all(reader, DataType.STOCK, All())
                for level in batch
            ]
            numbers = [level.number for level in every]
            single = [n for n in numbers if numbers.count(n) == 1]
            several = [n for n in numbers if numbers.count(n) > 1]
            excluded = {single[0], single[-1], *several[:1], "NO-SUCH-1"}
            got = [
                level
                async for batch in reader.read(
                    DataType.STOCK, All(), batch_size=2, exclude=excluded
                )
                for level in batch
            ]

        kept = [
            level
            for level in every
            if level.number not in excluded or level.number in several
        ]
        assert [level for level in kept if level not in got] == []
        assert [level for level in got if level not in every] == []
        assert len(got) == len(set(got)), "a level read twice"

    @pytest.mark.anyio
    @pytest.mark.parametrize("data_type", _READ_TYPES, ids=lambda t: t.name)
    async def test_changed_since(
        self, source: ErpSource, data_type: DataType
    ) -> None:
        """ChangedSince yields what changed at or after the moment, nothing
        older, and everything for a moment long past."""
        number = self.seed.numbers(data_type)[1]
        await anyio.sleep(0.01)
        moment = datetime.now(UTC)
        await anyio.sleep(0.01)
        await self.touch(source, data_type, number)
        future = moment + timedelta(days=1)
        past = datetime(2000, 1, 1, tzinfo=UTC)
        async with source.session() as session:
            changed = _numbers(
                await self.read_all(session, data_type, ChangedSince(moment))
            )
            none = _numbers(
                await self.read_all(session, data_type, ChangedSince(future))
            )
            everything = _numbers(
                await self.read_all(session, data_type, ChangedSince(past))
            )

        assert [number] == _visible(data_type, changed)
        assert none == []
        assert sorted(self.seed.numbers(data_type), key=number_key) == sorted(
            _visible(data_type, everything), key=number_key
        )

    # -- reading: order and content --------------------------------------

    @pytest.mark.anyio
    async def test_categories_parents_first(self, source: ErpSource) -> None:
        """Every category comes after its parent, across batches."""
        async with source.session() as session:
            batches = await self.read_all(
                session, DataType.CATEGORIES, All(), batch_size=1
            )

        seen: set[str] = set()
        for batch in batches:
            for category in batch:
                assert isinstance(category, Category)
                assert category.parent is None or category.parent in seen, (
                    f"{category.number} before its parent {category.parent}"
                )
                seen.add(category.number)
        expected = {c.number: c.parent for c in self.seed.categories}
        assert expected == {
            c.number: c.parent  # type: ignore[union-attr]
            for batch in batches
            for c in batch
        }

    @pytest.mark.anyio
    @pytest.mark.parametrize("data_type", _READ_TYPES, ids=lambda t: t.name)
    async def test_batches(
        self, source: ErpSource, data_type: DataType
    ) -> None:
        """Batches are full except the last and add up to one big read."""
        async with source.session() as session:
            small = await self.read_all(
                session, data_type, All(), batch_size=2
            )
            big = await self.read_all(
                session, data_type, All(), batch_size=1000
            )

        assert all(len(batch) == 2 for batch in small[:-1])
        assert 1 <= len(small[-1]) <= 2
        assert len(big) == 1
        assert _numbers(big) == _numbers(small)

    @pytest.mark.anyio
    @pytest.mark.parametrize("data_type", _READ_TYPES, ids=lambda t: t.name)
    @pytest.mark.parametrize(
        "selection",
        [
            All(),
            NumberRange("A-2", "SO-2"),
            Only(["A-1", "C-1", "SO-1", "nope"]),
            ChangedSince(datetime(2000, 1, 1, tzinfo=UTC)),
        ],
        ids=["all", "range", "only", "since"],
    )
    async def test_count(
        self, source: ErpSource, data_type: DataType, selection: Selection
    ) -> None:
        """count() is what read() yields (or None: unknown)."""
        async with source.session() as session:
            count = await session.count(data_type, selection)
            got = _numbers(await self.read_all(session, data_type, selection))

        assert count is None or len(got) == count

    @pytest.mark.anyio
    async def test_articles(self, source: ErpSource) -> None:
        """Articles carry name, description, gross price, categories and as
        many original images as the ERP holds."""
        async with source.session() as session:
            (batch,) = await self.read_all(session, DataType.ARTICLES, All())

        got = {a.number: a for a in batch if isinstance(a, Article)}
        for want in self.seed.articles:
            have = got[want.number]
            assert want.name == have.name
            assert want.description == have.description
            assert want.price == have.price
            assert want.currency == have.currency
            assert sorted(want.categories) == sorted(have.categories)
            assert have.active
            originals = [m for m in have.media if m.format == "original"]
            assert len(want.media) == len(originals), have.media

    @pytest.mark.anyio
    async def test_stock_levels(self, source: ErpSource) -> None:
        """Stock levels are the seeded quantities available to sell, per
        warehouse or summed (then without a warehouse)."""
        async with source.session() as session:
            (batch,) = await self.read_all(session, DataType.STOCK, All())

        levels = [s for s in batch if isinstance(s, StockLevel)]
        assert {(s.number, s.quantity) for s in self.seed.stock} == {
            (s.number, s.quantity) for s in levels
        }
        seeded = {s.number: s.warehouse for s in self.seed.stock}
        for level in levels:
            assert level.warehouse in (None, seeded[level.number]), level

    @pytest.mark.anyio
    async def test_order_status(self, source: ErpSource) -> None:
        """Order states and tracking numbers are the ERP's."""
        async with source.session() as session:
            batches = await self.read_all(
                session,
                DataType.ORDER_STATUS,
                Only([s.number for s in self.seed.order_status]),
            )

        assert sorted(
            self.seed.order_status, key=lambda s: number_key(s.number)
        ) == [s for batch in batches for s in batch]

    @pytest.mark.anyio
    async def test_read_media(self, source: ErpSource) -> None:
        """Every article image reads as an image of its MIME type."""
        async with source.session() as session:
            (batch,) = await self.read_all(session, DataType.ARTICLES, All())
            refs = [m for a in batch for m in a.media]  # type: ignore[union-attr]
            contents = [await session.read_media(ref) for ref in refs]

        assert refs
        for ref, content in zip(refs, contents, strict=True):
            assert ref.kind is MediaKind.IMAGE
            magic = {"image/jpeg": JPEG_MAGIC, "image/png": PNG_MAGIC}
            assert content.startswith(magic[ref.mime_type]), ref

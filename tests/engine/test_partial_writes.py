"""
A write that partly landed (the shop applied it, then answered failed)
is sent again even when the ERP goes back to what was last in sync.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import pytest

from ecomsync import (
    All,
    Article,
    Category,
    DataType,
    MediaLink,
    MemoryErp,
    MemoryPlatform,
    Outcome,
    Outgoing,
    RecordRejected,
    SqliteStore,
    Synchronizer,
)

from ._support import ARTICLES, spec


pytestmark = pytest.mark.anyio

CATEGORIES = DataType.CATEGORIES


@attrs.define
class _Partial(MemoryPlatform):
    """
    Applies every write, then answers failed for the numbers in *spoil*
    (a later step of the write failed), and refuses to attach media to
    the numbers in *no_media* (the record's own write landed).
    """

    spoil: set[str] = attrs.field(factory=set)
    no_media: set[str] = attrs.field(factory=set)

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        outcomes = await super().push(data_type, items)
        return [
            Outcome(number=o.number, error="step 2 failed", field="name")
            if o.number in self.spoil
            else o
            for o in outcomes
        ]

    async def attach_media(
        self,
        data_type: DataType,
        target: Outcome,
        media: Sequence[MediaLink],
    ) -> None:
        if target.number in self.no_media:
            raise RecordRejected("image refused", number=target.number)
        await super().attach_media(data_type, target, media)


@pytest.fixture(name="platform")
def _platform() -> _Partial:
    return _Partial()


async def _partly_written_then_undone(
    sync: Synchronizer,
    erp: MemoryErp,
    data_type: DataType,
    number: str,
    spoilt: set[str],
) -> tuple[list[str], int]:
    """
    Sync, rename *number* in the ERP, sync with *spoilt* holding it (the
    rename lands, the answer fails), then undo the rename and sync again:
    the ledger after the failed run and the unchanged count of the last.
    """
    types = {"categories": All(), "articles": All()}
    await sync.execute(spec(**types))
    record = erp.get(data_type, number)
    assert isinstance(record, Article | Category)
    erp.put(attrs.evolve(record, name="B"))
    spoilt.add(number)
    failed = await sync.execute(spec(**types))
    spoilt.clear()
    erp.put(record)
    run = await sync.execute(spec(**types))
    return [f.number for f in failed.failures], run.counts[data_type].unchanged


class TestPartialWrites:
    async def test_article_whose_answer_failed_is_sent_again(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        platform: _Partial,
        store: SqliteStore,
    ) -> None:
        """An article whose new name landed but whose answer failed is
        sent again once the ERP goes back to its old name (it was skipped
        as unchanged and left the ledger while the shop kept the new
        name)."""
        failed, unchanged = await _partly_written_then_undone(
            sync, erp, ARTICLES, "A-1", platform.spoil
        )

        assert ["A-1"] == failed
        assert 5 == unchanged
        assert "Artikel 1" == platform.held(ARTICLES)["A-1"].name  # type: ignore[attr-defined]
        assert [] == await store.list_failures("shop")

    async def test_article_whose_media_failed_is_sent_again(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        platform: _Partial,
        store: SqliteStore,
    ) -> None:
        """An article whose new name landed and whose media the shop then
        refused is sent again once the ERP goes back to its old name."""
        failed, unchanged = await _partly_written_then_undone(
            sync, erp, ARTICLES, "A-2", platform.no_media
        )

        assert ["A-2"] == failed
        assert 5 == unchanged
        assert "Artikel 2" == platform.held(ARTICLES)["A-2"].name  # type: ignore[attr-defined]
        assert [] == await store.list_failures("shop")

    async def test_category_whose_answer_failed_is_sent_again(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        platform: _Partial,
        store: SqliteStore,
    ) -> None:
        """A category whose new name landed but whose answer failed is
        sent again once the ERP goes back to its old name."""
        failed, unchanged = await _partly_written_then_undone(
            sync, erp, CATEGORIES, "C-10", platform.spoil
        )

        assert ["C-10"] == failed
        assert 2 == unchanged
        assert "Farben" == platform.held(CATEGORIES)["C-10"].name  # type: ignore[attr-defined]
        assert [] == await store.list_failures("shop")

    async def test_record_refused_before_the_platform_keeps_its_checksum(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        platform: _Partial,
        store: SqliteStore,
    ) -> None:
        """A record the engine refuses before sending it (a blank name)
        never reached the shop: undone, it is unchanged, no write."""
        await sync.execute(spec(categories=All(), articles=All()))
        article = erp.get(ARTICLES, "A-3")
        assert isinstance(article, Article)
        erp.put(attrs.evolve(article, name=""))
        await sync.execute(spec(articles=All()))
        erp.put(article)
        writes = platform.calls["writes"]

        run = await sync.execute(spec(articles=All()))

        assert 6 == run.counts[ARTICLES].unchanged
        assert writes == platform.calls["writes"]
        assert [] == await store.list_failures("shop")

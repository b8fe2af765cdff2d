"""
Writing a batch: one bad record fails alone and lands in the ledger;
media refused fail their record; a wrong answer fails the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
import pytest

from ecomsync import (
    All,
    Article,
    DataType,
    MediaLink,
    MediaStaging,
    MemoryErp,
    MemoryPlatform,
    Only,
    Outcome,
    Outgoing,
    Record,
    RecordFailed,
    RecordRejected,
    RunStatus,
    SqliteStore,
    SyncError,
    Synchronizer,
    Variant,
)
from ecomsync.testing import capture_events

from ._support import ARTICLES, spec


pytestmark = pytest.mark.anyio


class TestFailureIsolation:
    async def test_one_record_fails_alone(
        self, sync: Synchronizer, platform: MemoryPlatform, store: SqliteStore
    ) -> None:
        """A record the platform rejects fails alone with its message."""
        platform.reject = lambda r: (
            "Name zu lang (max. 255)" if r.number == "A-4" else None
        )

        async with capture_events(
            sync, spec(categories=All(), articles=All())
        ) as run:
            (failed,) = run.of(RecordFailed)

        assert ("A-4", "Name zu lang (max. 255)") == (
            failed.number,
            failed.message,
        )
        assert 5 == len(platform.held(ARTICLES))
        assert RunStatus.SUCCEEDED == run.summary.status  # type: ignore[union-attr]
        assert ["A-4"] == [f.number for f in run.summary.failures]  # type: ignore[union-attr]
        assert ["A-4"] == [f.number for f in await store.list_failures("shop")]


@attrs.define
class _MediaRefused(MemoryPlatform):
    """
    Takes records, refuses to attach media to A-2.
    """

    async def attach_media(
        self,
        data_type: DataType,
        target: Outcome,
        media: Sequence[MediaLink],
    ) -> None:
        if target.number == "A-2":
            raise RecordRejected("image too large", number="A-2")
        await super().attach_media(data_type, target, media)


@attrs.define
class _Forgetful(MemoryPlatform):
    """
    Answers one outcome fewer than it was asked for.
    """

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        return (await super().push(data_type, items))[:-1]


@attrs.define
class _ForgetfulWithMedia(_Forgetful):
    media_on_push: bool = True


@attrs.define
class _Raises(MemoryPlatform):
    """
    Raises RecordRejected for a push holding *refused*, whose outcomes
    it would otherwise give (an adapter that throws per record).
    """

    refused: str = "A-3"
    media_on_push: bool = False
    #: The number the error names (default: *refused*).
    named: str | None = None

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        if any(item.record.number == self.refused for item in items):
            raise RecordRejected(
                "name too long",
                number=self.named or self.refused,
                field="name",
            )
        return await super().push(data_type, items)


@attrs.define
class _RaisesForStock(_Raises):
    """
    Raises RecordRejected for the stock level of *refused* only.
    """

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        if data_type is DataType.STOCK:
            return await super().push(data_type, items)
        return await MemoryPlatform.push(self, data_type, items)


@attrs.define
class _RaisesThenForgets(_Raises):
    """
    Raises for A-3, then answers the articles sent again without it with
    one outcome fewer.
    """

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        answer = await super().push(data_type, items)
        return answer[:-1] if data_type is ARTICLES else answer


class TestOutcomes:
    @pytest.mark.parametrize("media_on_push", [False, True])
    async def test_record_rejected_by_a_raise_fails_alone(
        self, erp: MemoryErp, tmp_path: Path, media_on_push: bool
    ) -> None:
        """A push that raises RecordRejected for one record fails that
        record alone, with its message and field, and the rest of the
        batch lands (it failed the whole run)."""
        platform = _Raises(media_on_push=media_on_push)
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            staging=MediaStaging(tmp_path / "staging"),
        )

        async with capture_events(
            sync, spec(categories=All(), articles=All())
        ) as run:
            (failed,) = run.of(RecordFailed)

        assert ("A-3", "name", "name too long") == (
            failed.number,
            failed.field,
            failed.message,
        )
        assert run.summary is not None
        assert RunStatus.SUCCEEDED == run.summary.status
        assert {"A-1", "A-2", "A-4", "A-5", "A-6"} == set(
            platform.held(ARTICLES)
        )
        (ledgered,) = await sync.store.list_failures("shop", ARTICLES)
        assert "A-3" == ledgered.number

    async def test_stock_level_rejected_by_a_raise_fails_alone(
        self, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """A stock push that raises RecordRejected for one level fails
        that level alone; the other levels land."""
        platform = _RaisesForStock(refused="A-3")
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            staging=MediaStaging(tmp_path / "staging"),
        )

        async with capture_events(
            sync, spec(categories=All(), articles=All(), stock=All())
        ) as run:
            (failed,) = run.of(RecordFailed)

        assert ("A-3", "name") == (failed.number, failed.field)
        assert {"A-1", "A-2", "A-4", "A-5", "A-6"} == set(
            platform.held(DataType.STOCK)
        )

    async def test_record_rejected_for_a_stranger_fails_the_run(
        self, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """RecordRejected naming no record of the push cannot be pinned
        on one: the run fails with it."""
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": _Raises(refused="A-1", named="X-9")},
            staging=MediaStaging(tmp_path / "staging"),
        )

        with pytest.raises(RecordRejected, match="name too long"):
            await sync.execute(spec(articles=Only({"A-1"})))

    async def test_wrong_answer_after_a_record_rejected(
        self, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """A push sent again without the rejected record and answered
        with too few outcomes fails the run with the SyncError naming
        the platform (it was a RuntimeError about StopIteration)."""
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": _RaisesThenForgets()},
            staging=MediaStaging(tmp_path / "staging"),
        )

        with pytest.raises(SyncError, match="_RaisesThenForgets answered"):
            await sync.execute(spec(articles=All()))

    async def test_media_refused_fails_the_record(
        self, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """Media the platform refuses to attach fail their record alone,
        on field media."""
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": _MediaRefused()},
            staging=MediaStaging(tmp_path / "staging"),
        )

        async with capture_events(
            sync, spec(categories=All(), articles=All())
        ) as run:
            (failed,) = run.of(RecordFailed)

        assert ("A-2", "media", "image too large") == (
            failed.number,
            failed.field,
            failed.message,
        )
        assert 5 == run.summary.counts[ARTICLES].created  # type: ignore[union-attr]

    @pytest.mark.parametrize("kind", [_Forgetful, _ForgetfulWithMedia])
    async def test_wrong_number_of_outcomes(
        self, erp: MemoryErp, tmp_path: Path, kind: type[MemoryPlatform]
    ) -> None:
        """A platform answering fewer outcomes than records fails the run
        with a SyncError naming it; nothing is recorded as written."""
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": kind()},
            staging=MediaStaging(tmp_path / "staging"),
        )

        with pytest.raises(SyncError, match=kind.__name__):
            await sync.execute(spec(categories=All()))

        (run,) = await sync.runs()
        assert RunStatus.FAILED == run.status
        assert 0 == run.counts[DataType.CATEGORIES].created


class TestMediaGone:
    async def test_media_removed_in_the_erp_leave_the_record(
        self, erp: MemoryErp, platform: MemoryPlatform, sync: Synchronizer
    ) -> None:
        """A record written again without the media it had loses them on
        a platform that attaches media after the push."""
        await sync.execute(spec(articles=All()))
        before = erp.get(ARTICLES, "A-1")
        assert isinstance(before, Article)
        erp.put(attrs.evolve(before, media=()))
        plan = await sync.plan(spec(articles=All()))
        calls = dict(platform.calls)

        await sync.execute(spec(articles=All()))

        assert [] == platform.attachments[(ARTICLES, "A-1")]
        made = {
            k: platform.calls[k] - calls.get(k, 0)
            for k in ("push", "attach_media")
        }
        assert {"push": 1, "attach_media": 1} == made
        assert 2 == plan.types[ARTICLES].requests
        assert 1 == len(platform.attachments[(ARTICLES, "A-2")])

    async def test_new_records_without_media_attach_nothing(
        self, erp: MemoryErp, platform: MemoryPlatform, sync: Synchronizer
    ) -> None:
        """A record made anew without media costs no attach call."""
        for number in ("A-1", "A-2"):
            record = erp.get(ARTICLES, number)
            assert isinstance(record, Article)
            erp.put(attrs.evolve(record, media=()))

        await sync.execute(spec(articles=All()))

        assert 4 == platform.calls["attach_media"]
        assert (ARTICLES, "A-1") not in platform.attachments


@attrs.define
class _NoArticleMedia(MemoryPlatform):
    """
    Writes media with the push, for categories only; keeps what each
    article push was handed.
    """

    media_on_push: bool = True
    media_types: frozenset[DataType] = frozenset({DataType.CATEGORIES})
    handed: list[tuple[MediaLink, ...] | None] = attrs.field(factory=list)

    async def push(
        self, data_type: DataType, items: Sequence[Outgoing]
    ) -> list[Outcome]:
        if data_type is ARTICLES:
            self.handed.extend(item.media for item in items)
        return await super().push(data_type, items)


class TestMediaTypes:
    async def test_excluded_type_is_handed_no_media_not_empty(
        self, erp: MemoryErp, tmp_path: Path
    ) -> None:
        """A push-media platform gets media=None (not (): "remove them
        all") for a type it keeps no media on."""
        platform = _NoArticleMedia()
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            staging=MediaStaging(tmp_path / "staging"),
        )

        async with capture_events(
            sync, spec(categories=All(), articles=All())
        ) as run:
            pass

        assert run.summary is not None
        assert RunStatus.SUCCEEDED == run.summary.status
        assert platform.handed
        assert {None} == set(platform.handed)


@attrs.define
class _OneProductPerNumber(MemoryPlatform):
    """
    Like a shop with one product per number (an SKU): an article whose
    number one of its variants, or a variant's number another article
    sells already, is refused; a variant an article drops goes with it.
    """

    def _refusal(
        self, data_type: DataType, record: Record
    ) -> tuple[str, str] | None:
        if isinstance(record, Article):
            mine = set(sold(record))
            for other in self.held(ARTICLES).values():
                if other.number != record.number and mine & set(sold(other)):
                    return f"{other.number} sells one of its numbers", "number"
        return super()._refusal(data_type, record)


def sold(record: Record) -> tuple[str, ...]:
    """The numbers a shop sells of an article: its variants', or its own."""
    if isinstance(record, Article) and record.variants:
        return tuple(v.number for v in record.variants)
    return (record.number,)


class TestNumbersChangingRole:
    async def test_an_article_that_became_a_variant_and_back_lands(
        self, tmp_path: Path
    ) -> None:
        """An article that became another article's variant in the ERP
        (the merchant deleted its product in the shop, as the failure
        asked) and then an article again, as it was, reaches the shop
        again: it was skipped as unchanged for ever, while the shop had
        dropped it with the other article's variant."""
        alone = Article(number="A-1", name="Solo", price="5.00")
        shirt = Article(
            number="P",
            name="Shirt",
            price="10.00",
            variants=(Variant(number="P-S", options=(("size", "S"),)),),
        )
        taken = attrs.evolve(
            shirt,
            variants=(
                *shirt.variants,
                Variant(number="A-1", options=(("size", "M"),)),
            ),
        )
        erp = MemoryErp([alone, shirt])
        platform = _OneProductPerNumber()
        store = SqliteStore(tmp_path / "state.db")
        sync = Synchronizer(erp=erp, platforms={"shop": platform}, store=store)
        articles = spec(articles=All())
        await sync.execute(articles)
        erp.remove(ARTICLES, "A-1")
        erp.put(taken)
        refused = await sync.execute(articles)
        platform.held(ARTICLES).pop("A-1")  # the merchant deletes it
        moved = await sync.execute(articles)
        erp.put(alone)
        erp.put(shirt)
        await sync.execute(articles)
        await sync.execute(articles)
        await sync.aclose()
        await store.aclose()

        assert ["P"] == [f.number for f in refused.failures]
        assert () == moved.failures
        assert ["P-S"] == [
            v.number
            for v in platform.held(ARTICLES)["P"].variants  # type: ignore[union-attr]
        ]
        assert alone == platform.held(ARTICLES).get("A-1")

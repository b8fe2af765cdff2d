"""
One batch to the platform, and its outcomes recorded: links and
checksums committed for what landed, failures for what did not, an
event for each record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence, Sized
from typing import TypeVar

import attrs

from ._ambiguity import NumberClaims
from ._changes import Change, where
from ._contracts import Failure, Link, MediaLink, Outcome, Outgoing
from ._media_ids import Pending
from ._media_transfer import Found, MediaTransfer, takes_media
from ._model import Article, Category, StockLevel
from ._run import Run, Tally
from ._spec import DataType
from ._stock_fold import Landed, StockFold, gained_numbers
from .events import RecordFailed, RecordSynced
from .exceptions import RecordRejected, SyncError
from .typing import (
    ErpSession,
    Platform,
    StateStore,
    SupportsMediaIdFor,
    SupportsMediaOnPush,
)


T = TypeVar("T")


@attrs.define
class Writer:
    """
    Writes a run's changes, chunk by chunk, and records what happened.
    """

    run: Run
    store: StateStore
    media: MediaTransfer
    #: The stock that goes with the articles (`_stock_fold`).
    fold: StockFold = attrs.field(kw_only=True)
    #: Who claims which number, per outbound type of the run (see
    #: `_ambiguity`); a record found ambiguous after it was sent is
    #: failed here instead of being recorded as landed.
    claims: dict[DataType, NumberClaims] = attrs.field(factory=dict)
    #: Ambiguous records already failed (by type and number).
    reported: set[tuple[DataType, str]] = attrs.field(factory=set)
    #: Stock numbers whose shop variant an article push of this run may
    #: have made anew: the run's stock sync sends them whatever it selects
    #: (`restock`). The run's own set (`Run.restock`), which outlives a
    #: pipeline built again after an order-lease wait.
    restock: set[str] = attrs.field(factory=set)

    async def push(
        self,
        session: ErpSession,
        data_type: DataType,
        chunk: Sequence[Change],
        tally: Tally,
    ) -> dict[str, Link]:
        """
        Write *chunk* (at most the platform's batch size) to the platform
        with its media; record the outcomes; return what landed.
        """
        platform = self.run.platform
        await self.unvouch(data_type, chunk)
        if (
            isinstance(platform, SupportsMediaOnPush)
            and platform.media_on_push
        ):
            # The platform writes a record's media with the record: move
            # the files first, then push records with their links.  Where
            # the platform names media by content, the push creates the
            # media entities and the new files are uploaded after it.
            pending: list[Pending] | None = None
            if isinstance(platform, SupportsMediaIdFor):
                pending = [{} for _ in chunk]
            media = await self.media.gather(
                session, data_type, chunk, pending=pending
            )
            # A type the platform keeps no media on gets None: an empty
            # list would tell it to remove the record's media.
            takes = takes_media(platform, data_type)
            going = [
                (chunk[i], (m or []) if takes else None)
                for i, m in enumerate(media)
                if not isinstance(m, Outcome)
            ]
            ready = [
                # No media is news too: the record's old ones go.
                out
                for change, m in going
                for out in _outgoing(change, m, self.fold.stock_of(change))
            ]
            answer = await _push(platform, data_type, ready)
            if len(answer) != len(ready):
                raise SyncError(
                    f"{type(platform).__name__} answered the wrong "
                    f"number of outcomes for {len(ready)} records"
                )
            await self.media.forget_gone(answer, media)
            pushed = iter(_fold([c for c, _ in going], answer))
            outcomes = [
                m if isinstance(m, Outcome) else next(pushed) for m in media
            ]
            # The stock landed with the product, whatever its uploads do.
            landed = self.fold.landed(chunk, outcomes)
            if pending is not None:
                outcomes = await self.media.finish(
                    data_type, outcomes, media, pending
                )
        else:
            ready = [
                out
                for c in chunk
                for out in _outgoing(c, None, self.fold.stock_of(c))
            ]
            answer = await _push(platform, data_type, ready)
            self.check_answer(answer, ready)
            outcomes = _fold(chunk, answer)
            landed = self.fold.landed(chunk, outcomes)
            media = await self.media.gather(
                session, data_type, chunk, outcomes
            )
            if takes_media(platform, data_type):
                # A record written again without media loses the ones
                # it had; a new one has none to lose (no call).
                media = [
                    []
                    if m is None
                    and not change.created
                    and isinstance(change.record, Article | Category)
                    else m
                    for change, m in zip(chunk, media, strict=True)
                ]
            attached = await self.media.attach_all(data_type, outcomes, media)
            outcomes = await self._heal(
                session, data_type, chunk, outcomes, attached, media
            )
        return await self.record(
            data_type, chunk, outcomes, tally, landed=landed
        )

    async def _heal(
        self,
        session: ErpSession,
        data_type: DataType,
        chunk: Sequence[Change],
        pushed: Sequence[Outcome],
        attached: Sequence[Outcome],
        media: Sequence[Found],
    ) -> list[Outcome]:
        """
        The *attached* outcomes, those whose media the shop refused as
        gone (deleted there since the store learnt their ids:
        `Outcome.media_gone`) attached once more: the ids are forgotten,
        their content uploaded again, and the record lands with its
        media in this run instead of failing until the next one.
        """
        await self.media.forget_gone(attached, media)
        gone = [i for i, outcome in enumerate(attached) if outcome.media_gone]
        final = list(attached)
        if not gone:
            return final
        again = [pushed[i] for i in gone]
        found = await self.media.gather(
            session, data_type, [chunk[i] for i in gone], again
        )
        redone = await self.media.attach_all(data_type, again, found)
        await self.media.forget_gone(redone, found)
        for i, outcome in zip(gone, redone, strict=True):
            final[i] = outcome
        return final

    async def note_restock(
        self, chunk: Sequence[Change], written: Mapping[str, Link]
    ) -> None:
        """
        The stock of the variants the articles of *chunk* that landed
        (*written*) gained is sent again.

        A pushed article may have made a shop variant (or product) anew: a
        variant the ERP dropped and gave back, or moved from another
        article.  A shop starts it without stock, while the store still
        holds the checksum of its unchanged ERP stock: nothing would send
        that stock again.  A stock the store links for a variant that is
        not in the article's last variants (`Link.variants`; all of them
        where those are not known) loses its checksum and is ledgered (a
        scheduled `ChangedSince` run reads it as a retry); this run's
        stock sync, if any, sends it too.  Called before the article's
        link records its new variants: a crash in between pushes the
        article again and finds the same variants new.

        A variant gained under the number of an article of its own (an
        article the ERP made another's variant) takes that article's
        checksum too: the shop sells the number as the variant now, so
        the article, should the ERP list it again as it was, is sent
        instead of skipped as unchanged.
        """
        gained: dict[str, str] = {}  # number: why its stock is sent again
        taken: list[str] = []  # variant numbers gained
        for change in chunk:
            record = change.record
            if not isinstance(record, Article) or record.number not in written:
                continue
            link = change.link
            if _made_anew(link, written[record.number]):
                # The shop gave the article a new id: it made the product
                # anew (deleted in the shop since), every variant with it.
                numbers = [record.number, *(v.number for v in record.variants)]
                why = _REMADE
            else:
                numbers = gained_numbers(record, link)
                known = link is None or link.variants is not None
                why = _GAINED if known else _UNKNOWN
            for number in numbers:
                gained.setdefault(number, why)
            taken += (n for n in numbers if n != record.number)
        if not gained:
            return
        name = self.run.platform_name
        if taken:
            articles = await self.store.get_links(
                name, DataType.ARTICLES, taken
            )
            untied = {
                n: attrs.evolve(link, checksum="")
                for n, link in articles.items()
                if link.checksum
            }
            if untied:
                await self.store.put_links(name, DataType.ARTICLES, untied)
        links = await self.store.get_links(name, DataType.STOCK, list(gained))
        if not links:
            return
        await self.store.put_links(
            name,
            DataType.STOCK,
            {n: attrs.evolve(link, checksum="") for n, link in links.items()},
        )
        await self.store.add_failures(
            name,
            [
                Failure(
                    data_type=DataType.STOCK,
                    number=number,
                    message=gained[number],
                    field="quantity",
                    run_id=self.run.id,
                )
                for number in sorted(links)
            ],
        )
        self.restock.update(links)

    async def unvouch(
        self, data_type: DataType, chunk: Sequence[Change]
    ) -> None:
        """
        Take back the checksums of the records of *chunk* about to be
        written (their ids and variants stay).

        From the moment the other side may hold the new payload until
        `record` commits what landed, the old checksum no longer vouches
        for it: a process killed in between, with the ERP gone back to
        that payload, would skip the record as unchanged (and take it out
        of the ledger) while the other side kept the new one.  Without a
        checksum the next run sends it, whatever kill point it found.
        """
        links = {
            c.record.number: attrs.evolve(c.link, checksum="")
            for c in chunk
            if c.link is not None and c.link.checksum
        }
        name = self.run.platform_name
        if links:
            await self.store.put_links(name, data_type, links)
        # Likewise the stock levels the articles take along (`_stock_fold`).
        stock = self.fold.unvouched(chunk)
        if stock:
            await self.store.put_links(name, DataType.STOCK, stock)

    def check_answer(self, outcomes: Sequence[Outcome], asked: Sized) -> None:
        """
        Refuse an answer with a different number of outcomes than asked.
        """
        if len(outcomes) != len(asked):
            raise SyncError(
                f"{type(self.run.platform).__name__} answered "
                f"{len(outcomes)} outcomes for {len(asked)} records"
            )

    async def record(
        self,
        data_type: DataType,
        chunk: Sequence[Change],
        outcomes: Sequence[Outcome],
        tally: Tally,
        *,
        landed: Mapping[str, Landed] | None = None,
    ) -> dict[str, Link]:
        """
        Count, report and commit the outcomes of *chunk*, and the stock
        that *landed* with its articles; return the links of what landed.
        """
        written: dict[str, Link] = {}
        claims = self.claims.get(data_type)
        name = self.run.platform_name
        unsure = _unsure(chunk, outcomes, claims)
        if unsure:
            # Before the ledger: a kill in between leaves a record that
            # is sent again, never one skipped as unchanged.
            await self.store.put_links(name, data_type, unsure)
        for change, outcome in zip(chunk, outcomes, strict=True):
            number = change.record.number
            ambiguous = None if claims is None else claims.problem(number)
            if outcome.ok and ambiguous is not None:
                # It landed, but a rival for its number turned up since it
                # was sent: it fails like every party, with no checksum.
                if (data_type, number) not in self.reported:
                    self.reported.add((data_type, number))
                    await self.fail(
                        data_type,
                        number,
                        f"{ambiguous.field} {ambiguous.reason}",
                        ambiguous.field,
                        tally,
                    )
                continue
            if not outcome.ok:
                await self.fail(
                    data_type,
                    number,
                    outcome.error or "rejected",
                    outcome.field,
                    tally,
                )
                continue
            if change.created:
                tally.created += 1
            else:
                tally.updated += 1
            written[number] = Link(
                outcome.platform_id,
                change.checksum,
                variants=_variants(change.record),
            )
            await self.run.emit(
                RecordSynced(
                    run_id=self.run.id,
                    data_type=data_type,
                    number=number,
                    created=change.created,
                    platform_id=outcome.platform_id,
                )
            )
        if written and data_type is DataType.ARTICLES:
            await self.note_restock(chunk, written)
        if landed:
            # After the restock, which takes back the checksums of the
            # variants made anew: those that took their stock along have
            # it; before the articles' links, so a crash in between pushes
            # them again with their stock.
            await self.fold.record(landed)
        if written:
            # Committed per chunk, after the other side confirmed: a crash
            # in between redoes the chunk, idempotently, never skips it.
            await self.store.put_links(name, data_type, written)
            await self.store.clear_failures(name, data_type, list(written))
        return written

    async def fail(
        self,
        data_type: DataType,
        number: str,
        message: str,
        field: str | None,
        tally: Tally,
        *,
        ledger: bool = True,
    ) -> None:
        """
        One record failed: count it, ledger it (unless not *ledger*),
        report it.
        """
        tally.failed += 1
        failure = Failure(
            data_type=data_type,
            number=number,
            message=message,
            field=field,
            run_id=self.run.id,
        )
        self.run.add_failure(failure)
        if ledger:
            await self.store.add_failures(self.run.platform_name, [failure])
        if data_type is DataType.STOCK:
            await self.fold.failed(number)
        await self.run.emit(
            RecordFailed(
                run_id=self.run.id,
                data_type=data_type,
                number=number,
                field=field,
                message=message,
            )
        )


async def _push(
    platform: Platform, data_type: DataType, ready: Sequence[Outgoing]
) -> list[Outcome]:
    """
    *platform*'s outcomes for *ready*, one record refused alone.
    """
    return await isolating(
        lambda items: platform.push(data_type, items), ready, _claims
    )


async def isolating(
    send: Callable[[Sequence[T]], Awaitable[Sequence[Outcome]]],
    items: Sequence[T],
    claims: Callable[[T], tuple[str, ...]],
) -> list[Outcome]:
    """
    The outcomes of ``send(items)``.  A send that raises `RecordRejected`
    for one of its items (an adapter may, docs/writing-adapters.md) fails
    that item alone: the others are sent again without it.  An item
    answers to the numbers *claims* gives.
    """
    try:
        return list(await send(items))
    except RecordRejected as exc:
        bad = {i for i, item in enumerate(items) if exc.number in claims(item)}
        if not bad:
            raise  # not one of these records: nothing to isolate
        rest = [item for i, item in enumerate(items) if i not in bad]
        answer = await isolating(send, rest, claims) if rest else []
        if len(answer) != len(rest):
            return answer  # a wrong answer: the caller refuses it
        again = iter(answer)
        return [
            Outcome(number=claims(item)[0], error=str(exc), field=exc.field)
            if i in bad
            else next(again)
            for i, item in enumerate(items)
        ]


def _unsure(
    chunk: Sequence[Change],
    outcomes: Sequence[Outcome],
    claims: NumberClaims | None,
) -> dict[str, Link]:
    """
    The links, without checksum, of the records of *chunk* whose
    *outcomes* the other side may hold but nothing vouches for.

    A record that landed while a rival for its number turned up since it
    was sent fails like every party, with no checksum (its restock waits
    for the push that lands it).  A failed write may still have changed
    the other side (the name landed and the image failed, 0 for a
    negative level, one location of several): the checksum of what
    landed before no longer vouches for it, so the next run sends the
    record even if the ERP went back to it (and the ledger keeps it).
    """
    unsure: dict[str, Link] = {}
    for change, outcome in zip(chunk, outcomes, strict=True):
        number = change.record.number
        link = change.link
        if outcome.ok:
            if claims is not None and claims.problem(number) is not None:
                unsure[number] = Link(
                    outcome.platform_id,
                    "",
                    variants=None if link is None else link.variants,
                )
        elif link is not None and link.checksum:
            unsure[number] = attrs.evolve(link, checksum="")
    return unsure


def _claims(out: Outgoing) -> tuple[str, ...]:
    """
    The numbers an outgoing record answers to: its own, its variants'.
    """
    record = out.record
    if isinstance(record, Article):
        return (record.number, *(v.number for v in record.variants))
    return (record.number,)


def _outgoing(
    change: Change,
    media: list[MediaLink] | None,
    stock: tuple[StockLevel, ...] | None = None,
) -> list[Outgoing]:
    """
    What *change* sends: its record (an article with the *stock* it takes
    along), and an article's other stock levels.
    """
    link = change.link
    return [
        Outgoing(
            record=record,
            platform_id=None if link is None else link.platform_id,
            media=None if media is None else tuple(media),
            stock=stock,
        )
        for record in change.records
    ]


def _fold(chunk: Sequence[Change], answer: Sequence[Outcome]) -> list[Outcome]:
    """
    One outcome per change of *chunk* from the platform's *answer* (one
    per record sent): an article's stock landed only if every level
    did; else it failed, naming each level that did not land.
    """
    folded: list[Outcome] = []
    at = 0
    for change in chunk:
        part = answer[at : at + len(change.records)]
        at += len(part)
        if len(part) == 1:
            folded.append(part[0])
            continue
        bad = [
            (record, outcome)
            for record, outcome in zip(change.records, part, strict=True)
            if not outcome.ok
        ]
        if not bad:
            folded.append(part[0])
            continue
        folded.append(
            Outcome(
                number=change.record.number,
                error="; ".join(
                    f"stock{where(record) or ' (summed)'}: {outcome.error}"
                    for record, outcome in bad
                )
                + (
                    f" ({len(part) - len(bad)} of {len(part)} warehouses "
                    "landed; the article is sent again until all do)"
                ),
                field=bad[0][1].field,
            )
        )
    return folded


_GAINED = (
    "its article's push gave it this variant anew, which a shop starts "
    "without stock; the next run that syncs stock sends it"
)
_UNKNOWN = (
    "its article was written again, which may have made its shop variant "
    "anew without stock (the store did not know the article's variants); "
    "the next run that syncs stock sends it"
)
_REMADE = (
    "the shop answered its article's push with a new id: it made the "
    "product anew (deleted in the shop since), which a shop starts "
    "without stock; the next run that syncs stock sends it"
)


def _variants(record: object) -> tuple[str, ...] | None:
    """
    The variant numbers an article lands with (``None``: not an article).
    """
    if isinstance(record, Article):
        return tuple(v.number for v in record.variants)
    return None


def _made_anew(before: Link | None, now: Link) -> bool:
    """
    Whether the shop answered an article's push with another id than the
    one it had: the product was made anew.
    """
    return (
        before is not None
        and before.platform_id is not None
        and now.platform_id is not None
        and before.platform_id != now.platform_id
    )

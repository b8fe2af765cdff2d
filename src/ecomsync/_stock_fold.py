"""
An article's stock written in the article's own write, on a platform
that can (`SupportsStockOnPush`): the fold.

It applies to a run that syncs `DataType.ARTICLES` and `DataType.STOCK`
with stock selected by `All` (every stock level is in both selections;
another stock selection cannot be told from a level's number).  The
run then imports its orders before the articles (`run_order`), so the
stock read with an article batch is available to sell after them.
Before a batch of changed articles is pushed, their stock levels are
read from the ERP (`StockFold.prepare`); each level that is valid, alone
for its number, belongs to exactly one of the batch's articles and
differs from what the store holds (or the run is forced, or the push
gives the article that variant anew) goes with its article
(``Outgoing.stock``).  The platform answers the levels it wrote; each
is committed as the stock's own link and checksum, its ledger entry
cleared, before the article's link (`StockFold.record`).

The STOCK type keeps its own semantics: it reports each folded level as
synced by this run (its event and count), and each level the fold read
unchanged as skipped, without sending them.  Its step reads its
selection without those levels where the ERP adapter can leave them out
(``exclude``, `ErpSession.read`), so a first sync reads each level once,
and reports them after the read (`StockFold.rest`); an adapter that
reads them anyway has them reported as they come (`StockFold.settle`).
A level not folded (invalid, refused by the platform's policy, its
article failed) goes the stock path as before, and fails there on its
own.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Container, Mapping, Sequence

import attrs

from ._changes import Change, Changes, refuse
from ._compact import CompactMap
from ._contracts import Link, Outcome
from ._fingerprint import checksum, laid_out
from ._model import Article, Record, StockLevel
from ._run import Run, Tally
from ._selection import erp_batches
from ._spec import All, DataType, Only, Selection, SyncSpec
from .events import RecordSkipped, RecordSynced
from .typing import (
    ErpSession,
    Platform,
    StateStore,
    SupportsStockLayout,
    SupportsStockOnPush,
)


def folds(spec: SyncSpec, platform: Platform) -> bool:
    """
    Whether a run of *spec* on *platform* writes articles' stock with them.
    """
    types = spec.types
    return (
        DataType.ARTICLES in types
        and isinstance(types.get(DataType.STOCK), All)
        and isinstance(platform, SupportsStockOnPush)
        and platform.stock_on_push is True
    )


def stock_checksum(platform: Platform) -> Callable[[Record], str]:
    """
    The checksum of a stock level for *platform*: with its stock layout
    (`~ecomsync.typing.SupportsStockLayout`) folded in, so that a changed
    mapping sends every level again.
    """
    layout = (
        platform.stock_layout()
        if isinstance(platform, SupportsStockLayout)
        else ""
    )
    if not layout:
        return checksum
    return lambda record: laid_out(checksum(record), layout)


def checksum_for(
    platform: Platform, data_type: DataType
) -> Callable[[Record], str]:
    """
    The checksum a run keeps of a *data_type* record for *platform*:
    `stock_checksum` for stock, the record's own otherwise.  The run and
    `~ecomsync.Synchronizer.plan` both take it from here, so they agree.
    """
    if data_type is DataType.STOCK:
        return stock_checksum(platform)
    return checksum


def run_order(
    types: Mapping[DataType, Selection], fold: bool
) -> list[tuple[DataType, Selection]]:
    """
    The order a run moves *types* in: the spec's (`EXECUTION_ORDER`), but
    with its orders imported before the articles where the stock goes with
    them (*fold*), so that the stock read then reflects the orders.
    """
    order = list(types.items())
    orders = DataType.ADDRESSES_AND_ORDERS
    if not fold or orders not in types:
        return order
    rest = [item for item in order if item[0] is not orders]
    at = next(i for i, (t, _) in enumerate(rest) if t is DataType.ARTICLES)
    return [*rest[:at], (orders, types[orders]), *rest[at:]]


@attrs.frozen
class _Level:
    """
    A stock level going with its article: its checksum, its stock link.
    """

    level: StockLevel
    checksum: str
    link: Link | None


@attrs.frozen
class Landed:
    """
    A stock level the platform wrote with its article in this run.
    """

    checksum: str
    created: bool
    platform_id: str | None


@attrs.define
class StockFold:
    """
    The fold of one run; inactive (does nothing) unless `folds`.
    """

    run: Run
    store: StateStore
    batch_size: int
    active: bool = False
    #: Article number -> the levels its push takes along.
    _at_hand: dict[str, tuple[_Level, ...]] = attrs.field(
        init=False, factory=dict
    )
    #: Stock number -> landed with its article, not yet reported by the
    #: stock step: whether the push created it (`_CREATED`), in a
    #: `CompactMap`; a first sync holds every level here from its
    #: article's push to the stock step.  Its checksum and platform id
    #: are the stock link `record` committed: read back from the store
    #: when reported, a batch at a time.
    _landed: CompactMap = attrs.field(init=False, factory=CompactMap)
    #: Stock numbers whose one level the fold read unchanged for a
    #: changed article, not yet reported by the stock step (skipped); a
    #: dict for the order they came in.
    _same: dict[str, None] = attrs.field(init=False, factory=dict)

    @classmethod
    def of(cls, run: Run, store: StateStore, batch_size: int) -> StockFold:
        return cls(run, store, batch_size, folds(run.spec, run.platform))

    async def prepare(
        self, session: ErpSession, todo: Sequence[Change]
    ) -> None:
        """
        Read the stock of the articles *todo* will push; keep the levels
        that go with them.
        """
        articles = [
            (c, c.record) for c in todo if isinstance(c.record, Article)
        ]
        if not self.active or not articles:
            return
        for _, article in articles:
            # Only this read's levels go with it.
            self._at_hand.pop(article.number, None)
        #: Stock number -> its article's change and the numbers its push
        #: gives anew (None: two articles sell it, it goes with neither).
        owner: dict[str, tuple[Change, set[str]] | None] = {}
        for change, article in articles:
            gained = set(gained_numbers(article, change.link))
            for number in {
                article.number,
                *(v.number for v in article.variants),
            }:
                owner[number] = None if number in owner else (change, gained)
        levels: list[Record] = []
        async with erp_batches(
            session,
            DataType.STOCK,
            Only([article.number for _, article in articles]),
            self.batch_size,
            whole_units=True,
        ) as batches:
            async for batch in batches:
                levels += batch
        # Refused units (an invalid level, two in one warehouse) and an
        # article's several levels go the stock path, which fails them.
        valid, _ = refuse(levels)
        single = [
            unit[0]
            for unit in valid
            if len(unit) == 1 and isinstance(unit[0], StockLevel)
        ]
        mine = [level.number for level in single if owner.get(level.number)]
        if not mine:
            return
        links = await self.store.get_links(
            self.run.platform_name, DataType.STOCK, mine
        )
        going: dict[str, list[_Level]] = {}
        checksum_of = stock_checksum(self.run.platform)
        for level in single:
            found = owner.get(level.number)
            if found is None:
                continue
            change, gained = found
            digest = checksum_of(level)
            link = links.get(level.number)
            if (
                link is None
                or link.checksum != digest
                or self.run.spec.force
                or level.number in gained
            ):
                going.setdefault(change.record.number, []).append(
                    _Level(level, digest, link)
                )
            else:
                self._same[level.number] = None
        self._at_hand.update((n, tuple(f)) for n, f in going.items())

    def stock_of(self, change: Change) -> tuple[StockLevel, ...] | None:
        """
        The levels *change* (an article) takes along, if any.
        """
        found = self._at_hand.get(change.record.number)
        if not found or not isinstance(change.record, Article):
            return None
        return tuple(f.level for f in found)

    def unvouched(self, chunk: Sequence[Change]) -> dict[str, Link]:
        """
        The stock links of the levels the articles of *chunk* take along,
        without checksum: from their push until `record`, the shop may
        hold a level whose old checksum no longer says what it holds.
        """
        return {
            f.level.number: attrs.evolve(f.link, checksum="")
            for change in chunk
            if isinstance(change.record, Article)
            for f in self._at_hand.get(change.record.number, ())
            if f.link is not None and f.link.checksum
        }

    def landed(
        self, chunk: Sequence[Change], outcomes: Sequence[Outcome]
    ) -> dict[str, Landed]:
        """
        The levels the platform answered written (``Outcome.stock``) with
        the articles of *chunk* that landed, by stock number.
        """
        found: dict[str, Landed] = {}
        for change, outcome in zip(chunk, outcomes, strict=True):
            if not isinstance(change.record, Article):
                continue  # a category an article needs, numbered alike
            sent = self._at_hand.pop(change.record.number, ())
            if not sent or not outcome.ok:
                continue  # an article that failed wrote no stock
            by_number = {f.level.number: f for f in sent}
            for stock in outcome.stock:
                level = by_number.pop(stock.number, None)
                if level is None or not stock.ok:
                    continue
                found[stock.number] = Landed(
                    checksum=level.checksum,
                    created=level.link is None,
                    platform_id=stock.platform_id
                    or (
                        None if level.link is None else level.link.platform_id
                    ),
                )
        return found

    async def record(self, landed: Mapping[str, Landed]) -> None:
        """
        Commit the stock that landed with its articles as the stock's own:
        link and checksum, ledger entry cleared.
        """
        if not landed:
            return
        name = self.run.platform_name
        await self.store.put_links(
            name,
            DataType.STOCK,
            {n: Link(f.platform_id, f.checksum) for n, f in landed.items()},
        )
        await self.store.clear_failures(name, DataType.STOCK, list(landed))
        for number, level in landed.items():
            self._landed.set(number, _CREATED if level.created else _UPDATED)
        for number in landed:
            self._same.pop(number, None)

    async def settle(
        self,
        found: Changes,
        tally: Tally,
        checksum_of: Callable[[Record], str],
    ) -> Changes:
        """
        In the stock step: report the levels of *found* that landed with
        their articles as synced by this run, and send nothing for them
        (the ERP adapter read them although the fold had: `rest`).
        """
        if not self._landed and not self._same:
            return found
        links = await self._links(
            [
                n
                for n in (
                    *(r.number for r in found.unchanged),
                    *(c.record.number for c in found.todo),
                )
                if n in self._landed
            ]
        )
        unchanged: list[Record] = []
        for record in found.unchanged:
            if not await self._report(
                record, checksum_of(record), tally, links
            ):
                unchanged.append(record)
        todo: list[Change] = []
        for change in found.todo:
            # Only a forced run reads a folded level as a change; any
            # other change (its checksum taken back since) is sent.
            if (
                change.also
                or not self.run.spec.force
                or not await self._report(
                    change.record, change.checksum, tally, links
                )
            ):
                todo.append(change)
        # Read again: what the read found is what the step reports.
        for number in (
            *(r.number for r in found.unchanged),
            *(c.record.number for c in found.todo),
            *(r.number for r in found.invalid),
        ):
            self._landed.pop(number)
            self._same.pop(number, None)
        return attrs.evolve(
            found, unchanged=tuple(unchanged), todo=tuple(todo)
        )

    def exclusion(self) -> Container[str] | None:
        """
        The stock numbers the stock step's read may leave out (each was
        read with its article, one level): None where there are none.
        """
        if not self._landed and not self._same:
            return None
        return _Read(self._landed, self._same)

    async def rest(self, tally: Tally, watched: Container[str]) -> list[str]:
        """
        After the stock step's read: report the levels it did not read
        again, those that landed as synced by this run, the others as
        skipped, in the order the fold took them; return the numbers
        among them that are *watched*.
        """
        found = [
            n
            for part in (self._landed, self._same)
            for n in part
            if n in watched
        ]
        # One walk, popping as it goes: a walk per batch from the start
        # would pass every level reported already (quadratic).
        numbers = iter(self._landed)
        while chunk := list(itertools.islice(numbers, self.batch_size)):
            links = await self._links(chunk)
            for number in chunk:
                created = self._landed.pop(number)
                if created is None:
                    continue  # failed meanwhile
                link = links.get(number)
                await self._synced(
                    number,
                    created == _CREATED,
                    None if link is None else link.platform_id,
                    tally,
                )
        for number in list(self._same):
            if number not in self._same:
                continue
            del self._same[number]
            tally.unchanged += 1
            await self.run.emit(
                RecordSkipped(
                    run_id=self.run.id,
                    data_type=DataType.STOCK,
                    number=number,
                )
            )
        return found

    async def _links(self, numbers: list[str]) -> dict[str, Link]:
        if not numbers:
            return {}
        return await self.store.get_links(
            self.run.platform_name, DataType.STOCK, numbers
        )

    async def _report(
        self,
        record: Record,
        digest: str,
        tally: Tally,
        links: Mapping[str, Link],
    ) -> bool:
        created = self._landed.get(record.number)
        link = links.get(record.number)
        # The link `record` committed; without it, or with another
        # checksum, the level goes the stock path.
        if created is None or link is None or link.checksum != digest:
            return False
        self._landed.pop(record.number)
        await self._synced(
            record.number, created == _CREATED, link.platform_id, tally
        )
        return True

    async def _synced(
        self,
        number: str,
        created: bool,
        platform_id: str | None,
        tally: Tally,
    ) -> None:
        if created:
            tally.created += 1
        else:
            tally.updated += 1
        await self.run.emit(
            RecordSynced(
                run_id=self.run.id,
                data_type=DataType.STOCK,
                number=number,
                created=created,
                platform_id=platform_id,
            )
        )

    async def failed(self, number: str) -> None:
        """
        A folded level failed in the stock step (a rival for its number in
        the stock read): its checksum goes, nothing ambiguous looks in sync.
        """
        self._same.pop(number, None)
        if self._landed.pop(number) is None:
            return
        name = self.run.platform_name
        links = await self.store.get_links(name, DataType.STOCK, [number])
        if links:
            await self.store.put_links(
                name,
                DataType.STOCK,
                {
                    n: attrs.evolve(link, checksum="")
                    for n, link in links.items()
                },
            )


@attrs.frozen
class _Read:
    """
    The numbers the fold read (`StockFold.exclusion`), as they are now.
    """

    landed: CompactMap
    same: Mapping[str, None]

    def __contains__(self, number: object) -> bool:
        return number in self.landed or number in self.same


#: What `StockFold._landed` holds of a level.
_CREATED, _UPDATED = b"\x01", b"\x00"


def gained_numbers(article: Article, link: Link | None) -> list[str]:
    """
    The numbers *article* sells that its last push (*link*) did not: a
    shop variant made anew.  An article without variants sells under its
    own number.  Where the store does not know the last push's variants,
    every number, its own included.
    """
    now = tuple(v.number for v in article.variants)
    if link is not None and link.variants is None:
        return [article.number, *now]
    before = () if link is None else link.variants or (article.number,)
    return [n for n in now or (article.number,) if n not in before]

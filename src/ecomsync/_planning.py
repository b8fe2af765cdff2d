"""
A preview of a run: what it would create, update, leave alone and refuse,
which categories it would pull in, which media it would upload, and how
many platform requests that takes.

A plan reads like the run it previews, with the same parts: selection,
classification (`_changes`), the category closure and each direction's
strategy; it writes nothing and stages no file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from ._ambiguity import NumberClaims
from ._changes import Change, ambiguous, fingerprints
from ._contracts import Refusal, TypeCounts
from ._fingerprint import content_hash
from ._identity_claims import Claiming
from ._media_ids import read_media
from ._media_transfer import takes_media
from ._model import Article, Category, Problem, Record
from ._pipeline import Pipeline
from ._pipeline_types import Volume
from ._selection import Sought, changes, ledger_numbers
from ._spec import (
    All,
    DataType,
    Direction,
    Only,
    Selection,
    SyncSpec,
    Trigger,
)
from ._stock_fold import checksum_for, folds, gained_numbers
from ._twins import Twins, identity_of
from .exceptions import AuthenticationError, SyncError
from .typing import ErpSession, SupportsMediaOnPush, SupportsRequestCount


__all__ = ["Plan", "Refusal", "TypePlan", "plan_all", "plan_type"]


@attrs.frozen(kw_only=True)
class TypePlan:
    """
    What a run would do with one data type.

    Attributes:
        create: Numbers of records the platform (or, for orders, the ERP)
            does not have yet.
        update: Numbers of records whose checksum changed, and stock
            the run sends again because its article's push gives the
            variant anew (docs/concepts.md, "Stock of variants made
            anew").
        unchanged: Numbers of records that would be skipped.
        invalid: Records that would fail validation.
        dependencies: Categories the run would sync first for articles
            (and for categories chosen without their parents).
        media_upload: Distinct files that would be uploaded.
        media_reused: Files the platform already has (linked, not sent).
        staging_bytes: Bytes that would pass through the staging directory.
        requests: Estimated platform requests.

    .. versionadded:: 26.1.0
    """

    data_type: DataType
    selection: Selection
    create: tuple[str, ...] = ()
    update: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    invalid: tuple[Refusal, ...] = ()
    dependencies: tuple[str, ...] = ()
    media_upload: int = 0
    media_reused: int = 0
    staging_bytes: int = 0
    requests: int = 0


@attrs.frozen(kw_only=True)
class Plan:
    """
    What `Synchronizer.run` would do with a spec, right now.

    .. versionadded:: 26.1.0
    """

    run_id: str
    platform: str
    spec: SyncSpec
    types: Mapping[DataType, TypePlan] = attrs.field(hash=False)

    @property
    def requests(self) -> int:
        """
        Estimated platform requests of the whole run.
        """
        return sum(t.requests for t in self.types.values())

    def table(self) -> str:
        """
        The plan as a plain-text table, one row per data type, followed
        by a legend.  Types and outcomes are named as in run summaries,
        events, the command line and the demo:

        - *type*: the data type's value (``articles``,
          ``addresses_and_orders``);
        - *create*, *update*: records the platform (for orders: the ERP)
          does not have yet, or has with another checksum;
        - *unchanged*: skipped, same checksum as last sent;
        - *invalid*: would fail validation (`TypePlan.invalid` says why);
        - *dependencies*: categories synced first because articles use
          them;
        - *upload*, *reuse*: media files that would be sent, and those
          the platform already has (same content);
        - *MB*: what would pass through the staging directory;
        - *requests*: estimated platform requests.

        .. versionchanged:: 26.1.0
           Columns ``unchanged`` and ``dependencies`` (were ``same`` and
           ``deps``), and the legend.
        """
        head = (
            f"{'type':<22}{'create':>8}{'update':>8}{'unchanged':>11}"
            f"{'invalid':>9}{'dependencies':>14}{'upload':>8}{'reuse':>7}"
            f"{'MB':>8}{'requests':>10}"
        )
        rows = [head, "-" * len(head)]
        for t in self.types.values():
            rows.append(
                f"{t.data_type.value:<22}{len(t.create):>8}"
                f"{len(t.update):>8}{len(t.unchanged):>11}"
                f"{len(t.invalid):>9}{len(t.dependencies):>14}"
                f"{t.media_upload:>8}{t.media_reused:>7}"
                f"{t.staging_bytes / 2**20:>8.1f}{t.requests:>10}"
            )
        rows += LEGEND
        return "\n".join(rows)


#: What `Plan.table` says below the table, one line per column group.
LEGEND = (
    "",
    "create/update: not on the platform (orders: in the ERP) yet / "
    "changed since last sent",
    "unchanged: skipped, same checksum as last sent",
    "invalid: would fail validation",
    "dependencies: categories synced first because articles use them",
    "upload/reuse: media files to send / already on the platform",
    "MB: through the staging directory; requests: estimated requests",
)


@attrs.define
class _Found:
    """
    What a plan has found so far for one data type.
    """

    create: list[str] = attrs.Factory(list)
    update: list[str] = attrs.Factory(list)
    unchanged: list[str] = attrs.Factory(list)
    invalid: list[Refusal] = attrs.Factory(list)
    deps: list[str] = attrs.Factory(list)
    to_upload: dict[str, int] = attrs.Factory(dict)
    #: The numbers an `Only` names that the read has not found yet.
    sought: Sought | None = None
    reused: int = 0
    with_media: int = 0
    fetched: int = 0
    #: The reads (pages of orders) the selection was handed in.
    pages: int = 0
    #: Articles: the stock numbers their pushes would send again.
    #: Stock: the numbers sent again whatever their checksum.
    restock: set[str] = attrs.Factory(set)
    #: Where the stock goes with the articles (`_stock_fold`), per stock
    #: number: how many changed articles sell it (articles add to it; a
    #: stock level only one of them sells costs no stock request).
    carried: dict[str, int] | None = None
    #: Stock: the levels to write that go with their article.
    folded: int = 0
    #: The writes (and the category writes pulled in) the run sends: it
    #: pushes each read batch's changes on their own, in chunks of the
    #: platform's batch size, so changes spread over many read batches
    #: cost a write each.
    chunks: int = 0
    dependency_chunks: int = 0


async def plan_all(
    pipeline: Pipeline, session: ErpSession, trigger: Trigger = Trigger.MANUAL
) -> dict[DataType, TypePlan]:
    """
    What the run of *pipeline* would do with each of its data types, were
    it started with *trigger* (a scheduled run also retries the failure
    ledger); the run counts what the plan found.
    """
    run = pipeline.run
    plans: dict[DataType, TypePlan] = {}
    restock: set[str] = set()
    # As the run: a level goes with its changed article, not in a stock
    # request of its own.
    carried: dict[str, int] | None = (
        {} if folds(run.spec, run.platform) else None
    )
    for data_type, selection in run.spec.types.items():
        retry = await ledger_numbers(
            pipeline.store, run.platform_name, trigger, data_type, selection
        )
        if data_type is DataType.STOCK and not isinstance(selection, All):
            # As the run: the stock its article pushes send again.
            retry += sorted(restock.difference(retry))
        plans[data_type] = found = await plan_type(
            pipeline,
            session,
            data_type,
            selection,
            retry=retry,
            restock=restock,
            carried=carried,
        )
        run.count(
            data_type,
            TypeCounts(
                created=len(found.create),
                updated=len(found.update),
                unchanged=len(found.unchanged),
                failed=len(found.invalid),
            ),
        )
    return plans


async def plan_type(
    pipeline: Pipeline,
    session: ErpSession,
    data_type: DataType,
    selection: Selection,
    *,
    retry: Sequence[str] = (),
    restock: set[str] | None = None,
    carried: dict[str, int] | None = None,
) -> TypePlan:
    """
    What the run of *pipeline* would do with one data type: its
    *selection*, then the failed records *retry* the selection did not
    read (a scheduled run's retries of the ledger).  *restock*: the stock
    numbers the run's article pushes send again, added to by an article
    plan and sent whatever their checksum by a stock plan.  *carried*:
    where the run folds the stock into the articles' writes, the stock
    numbers of the changed articles (`_Found.carried`).
    """
    found = _Found(carried=carried)
    if restock is not None and data_type is DataType.STOCK:
        found.restock = restock
    if isinstance(selection, Only):
        found.sought = Sought(data_type, set(selection.numbers))
    strategy = pipeline.strategy(data_type)
    platform = pipeline.run.platform
    claims = (
        NumberClaims(identity_of(platform, data_type))
        if data_type.direction is Direction.TO_PLATFORM
        else None
    )
    twins = Twins.of(
        platform,
        pipeline.run.platform_name,
        pipeline.store,
        data_type,
        selection,
    )
    # Claims another run (or an earlier one that did not land) holds:
    # read, never taken (a plan writes no claim).
    claiming = Claiming.of(
        platform, pipeline.run.platform_name, pipeline.store, data_type, ""
    )
    late: dict[str, Problem] = {}
    seen: set[str] = set()
    parts = (pipeline, session, data_type)
    kin = (twins, claiming)
    # Reading orders costs what the orders are (`SupportsRequestCount`):
    # counted as the plan reads them.
    counter = (
        platform
        if data_type is DataType.ADDRESSES_AND_ORDERS
        and isinstance(platform, SupportsRequestCount)
        else None
    )
    before = counter.requests_sent if counter is not None else 0
    await _plan_part(*parts, selection, found, claims, late, seen, kin)
    if found.sought is not None:
        # A number that selects nothing: the run fails it (`_pipeline`).
        found.invalid += [
            Refusal(number=number, field="number", reason=why)
            for number, why in await found.sought.unknown(session)
        ]
        found.sought = None
    unread = sorted(set(retry) - seen)
    if unread:
        await _plan_part(*parts, Only(unread), found, claims, late, seen, kin)
    read_requests = (
        counter.requests_sent - before if counter is not None else None
    )
    if restock is not None and data_type is DataType.ARTICLES:
        restock.update(found.restock)
    for number, problem in late.items():
        # Parties seen before their rival: they would fail in the run too.
        for listed in (found.create, found.update, found.unchanged):
            if number in listed:
                listed.remove(number)
        found.invalid.append(
            Refusal(
                number=number,
                field=problem.field,
                reason=f"{problem.field} {problem.reason}",
            )
        )
    return TypePlan(
        data_type=data_type,
        selection=selection,
        create=tuple(found.create),
        update=tuple(found.update),
        unchanged=tuple(found.unchanged),
        invalid=tuple(found.invalid),
        dependencies=tuple(found.deps),
        media_upload=len(found.to_upload),
        media_reused=found.reused,
        staging_bytes=sum(found.to_upload.values()),
        requests=strategy.requests(
            data_type,
            Volume(
                fetched=found.fetched,
                pages=found.pages,
                writes=len(found.create) + len(found.update) - found.folded,
                uploads=len(found.to_upload),
                with_media=found.with_media,
                dependencies=len(found.deps),
                chunks=found.chunks,
                dependency_chunks=found.dependency_chunks,
                read_requests=read_requests,
            ),
        ),
    )


async def _plan_part(
    pipeline: Pipeline,
    session: ErpSession,
    data_type: DataType,
    selection: Selection,
    found: _Found,
    claims: NumberClaims | None,
    late: dict[str, Problem],
    seen: set[str],
    kin: tuple[Twins | None, Claiming | None],
) -> None:
    """
    Plan the records *selection* reads, noting their numbers in *seen*;
    with their landed twins (`_twins`) and the holders of their claimed
    identities (`_identity_claims`), as the run would.
    """
    twins, claiming = kin
    strategy = pipeline.strategy(data_type)
    async with strategy.batches(session, data_type, selection) as batches:
        async for read in batches:
            # A plan in the monitoring view stops when asked, like a run.
            await pipeline.run.cancel.check()
            seen.update(r.number for r in read)
            found.pages += 1
            if found.sought is not None:
                found.sought.found(read)
            # The platform's refusals of orders it cannot hand over.
            found.invalid += await pipeline.refusals(data_type, read)
            batch = [r for r in read if not isinstance(r, Refusal)]
            if claims is not None:
                rivals: list[Record] = []
                if twins is not None or claiming is not None:
                    batch, rivals = await _rivals(
                        pipeline, session, data_type, kin, batch, claims
                    )
                both = [*batch, *rivals]
                claimed = claims.claim(both, fingerprints(both))
                late.update(claimed.late)
                found.invalid += [
                    Refusal(
                        number=both[i].number,
                        field=p.field,
                        reason=f"{p.field} {p.reason}",
                    )
                    for i, p in ambiguous(both, claimed.invalid)
                ]
                for pulled in kin:
                    if pulled is not None:
                        pulled.pulled.update(
                            both[i].number
                            for i in claimed.invalid
                            if i >= len(batch)
                        )
                batch = [
                    r for i, r in enumerate(batch) if i not in claimed.invalid
                ]
            await _plan_batch(pipeline, session, data_type, batch, found)


async def _rivals(
    pipeline: Pipeline,
    session: ErpSession,
    data_type: DataType,
    kin: tuple[Twins | None, Claiming | None],
    batch: list[Record],
    claims: NumberClaims,
) -> tuple[list[Record], list[Record]]:
    """
    *batch* without the twins planned already, and its new numbers'
    landed twins and claimed ones' holders, as `Pipeline._screen`
    finds them.
    """
    twins, claiming = kin
    pulled = set().union(*(k.pulled for k in kin if k is not None))
    if pulled:
        batch = [r for r in batch if r.number not in pulled]
    read = pipeline.strategy(data_type).batches
    links = await pipeline.store.get_links(
        pipeline.run.platform_name, data_type, [r.number for r in batch]
    )
    rivals = (
        []
        if twins is None
        else await twins.rivals(session, read, batch, links, claims)
    )
    if claiming is not None:
        rivals += await claiming.peek(
            session, read, batch, links, claims, rivals
        )
    return batch, rivals


async def _plan_batch(
    pipeline: Pipeline,
    session: ErpSession,
    data_type: DataType,
    batch: Sequence[Record],
    found: _Found,
) -> None:
    run, store, closure = pipeline.run, pipeline.store, pipeline.closure
    found.fetched += len(batch)
    before = len(found.create) + len(found.update) - found.folded
    sorted_ = await changes(
        store,
        run.platform_name,
        data_type,
        batch,
        force=run.spec.force,
        checksum_of=checksum_for(run.platform, data_type),
    )
    found.invalid += sorted_.invalid
    for unchanged in sorted_.unchanged:
        # Stock the run's article pushes clear the checksum of is sent.
        number = unchanged.number
        if data_type is DataType.STOCK and number in found.restock:
            found.update.append(number)
            found.folded += _goes_along(found, number)
        else:
            found.unchanged.append(number)
    missing, _, refused = await closure.missing(
        session, [c.record for c in sorted_.todo]
    )
    found.invalid += refused
    for change in sorted_.todo:
        record = change.record
        unknown = closure.unknown(record)
        if unknown is not None:
            found.invalid.append(unknown)
            continue
        files = await _read_files(run.platform, data_type, session, record)
        if isinstance(files, Refusal):
            found.invalid.append(files)
            continue
        if files:
            found.with_media += 1
        (found.create if change.created else found.update).append(
            record.number
        )
        closure.note(data_type, [record.number])
        if data_type is DataType.STOCK and not change.also:
            found.folded += _goes_along(found, record.number)
        elif isinstance(record, Article) and found.carried is not None:
            for number in {
                record.number,
                *(v.number for v in record.variants),
            }:
                found.carried[number] = found.carried.get(number, 0) + 1
        if (
            isinstance(record, Article | Category)
            and not record.media
            and not change.created
            and takes_media(run.platform, data_type)
            and not _media_on_push(run.platform)
        ):
            # Its old media are taken off after the push (`Writer.push`).
            found.with_media += 1
        for sha, size in files:
            if sha in found.to_upload or await store.get_media_id(
                run.platform_name, sha
            ):
                found.reused += 1
            else:
                found.to_upload[sha] = size
    for category in missing:
        closure.note(DataType.CATEGORIES, [category.number])
        found.deps.append(category.number)
    # As the run (`Pipeline`, `CategoryClosure.ensure`): this batch's
    # writes and the categories it pulls in, in chunks of their own.
    size = run.platform.batch_size
    writes = len(found.create) + len(found.update) - found.folded - before
    found.chunks += -(-writes // pipeline.strategy(data_type).chunk_size)
    found.dependency_chunks += -(-len(missing) // size)
    if data_type is DataType.ARTICLES:
        await _plan_restock(pipeline, sorted_.todo, found)


async def _read_files(
    platform: object, data_type: DataType, session: ErpSession, record: Record
) -> list[tuple[str, int]] | Refusal:
    """
    The hash and size of each file *record* would push, read as the run
    reads them (`read_media`: a 0-byte file fails); or why the record
    would fail on one (`media.N`, as in the run).
    """
    if not (
        isinstance(record, Article | Category)
        and record.media
        and takes_media(platform, data_type)
    ):
        return []
    files = []
    for position, ref in enumerate(record.media):
        try:
            # Hashed in memory, never staged: a plan leaves no file.
            content = await read_media(session, ref)
        except AuthenticationError:
            raise
        except SyncError as exc:
            return Refusal(
                number=record.number,
                field=f"media.{position}",
                reason=str(exc),
            )
        files.append((content_hash(content), len(content)))
    return files


async def _plan_restock(
    pipeline: Pipeline, todo: Sequence[Change], found: _Found
) -> None:
    """
    Note the stock numbers the pushes of *todo* would send again
    (`Writer.note_restock`): one store read, for the variants gained.
    """
    refused = {r.number for r in found.invalid}
    gained = [
        number
        for change in todo
        if isinstance(change.record, Article)
        and change.record.number not in refused
        for number in gained_numbers(change.record, change.link)
    ]
    if gained:
        links = await pipeline.store.get_links(
            pipeline.run.platform_name, DataType.STOCK, gained
        )
        found.restock.update(links)


def _goes_along(found: _Found, number: str) -> bool:
    """
    Whether the stock level *number* (one level for its number) goes
    with the write of the one changed article that sells it.
    """
    return found.carried is not None and found.carried.get(number) == 1


def _media_on_push(platform: object) -> bool:
    """
    Whether *platform* writes media with the record (no attach after).
    """
    return isinstance(platform, SupportsMediaOnPush) and platform.media_on_push

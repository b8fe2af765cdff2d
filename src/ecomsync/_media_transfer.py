"""
Media transfer: one object per run owns the media limiter and the
uploads in flight.  It reads a record's images and documents from the
ERP, stages each distinct content once, uploads it once (however many
records share it), and attaches media where the platform takes them
after the record (`ecomsync._media_attach`).  The lanes that bound its
tasks are `ecomsync._anyio_util.Lanes`; the deferred uploads and the
batched media-id questions are in `ecomsync._media_ids`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import cast

import anyio
import attrs

from ._anyio_util import Demand, Lanes
from ._changes import Change
from ._contracts import MediaLink, Outcome, StagedMedia
from ._digests import Digests
from ._fingerprint import content_hash
from ._media_attach import Found, attach_all, detach
from ._media_ids import (
    FILE_ERRORS,
    Deferred,
    ForgetsMediaIds,
    MediaIdBatch,
    Pending,
    read_all,
    read_media,
    upload,
)
from ._model import Article, Category, MediaRef
from ._run import Run
from ._spec import DataType
from .events import MediaUploaded
from .exceptions import (
    AuthenticationError,
    RecordRejected,
    SyncError,
)
from .media import RunStaging
from .typing import (
    ErpSession,
    StateStore,
    SupportsMediaIdFor,
    SupportsMediaTypes,
)


_log = logging.getLogger("ecomsync")

__all__ = ["Found", "MediaTransfer", "takes_media"]


def takes_media(platform: object, data_type: DataType) -> bool:
    """
    Whether *platform* writes the media of *data_type*'s records
    (`SupportsMediaTypes`; every type, without it).
    """
    if isinstance(platform, SupportsMediaTypes):
        return data_type in platform.media_types
    return True


@attrs.define
class MediaTransfer:
    """
    Moves the media of one run's records to its platform, at most
    *concurrency* files at once.
    """

    run: Run
    store: StateStore
    #: The run's own staging (None for a plan, which stages nothing).
    staging: RunStaging | None
    concurrency: int = 16
    #: Uploads in flight (the platform's side).
    _uploads: Lanes = attrs.field(init=False)
    #: Files read from the ERP and staged at once (the ERP's and the
    #: disk's side), apart from the uploads: the next batch's files are
    #: read and staged while the uploads of the batches before it run.
    _reading: Lanes = attrs.field(init=False)
    #: Content a task has to itself (`_alone`), with the event its
    #: waiters wait for (made by the first of them).
    _uploading: dict[str, anyio.Event | None] = attrs.field(
        init=False, factory=dict
    )
    #: New content staged, to be uploaded after the push (by hash).
    _deferred: dict[str, Deferred] = attrs.field(init=False, factory=dict)
    #: Uploaded after the push, not in the store yet (hash -> media id):
    #: `finish` writes them in one transaction (`MediaIdBatch` stores).
    _unsaved: dict[str, str] = attrs.field(init=False, factory=dict)
    #: The store answers many media-id questions at once (`MediaIdBatch`):
    #: a chunk's files uploaded after the push ask it once (`gather`).
    _batch: bool = attrs.field(init=False, default=False)
    #: Content a chunk has asked the store about and not linked yet (hash
    #: -> chunks): its ids stay in `_unsaved` once saved.
    _asking: dict[str, int] = attrs.field(init=False, factory=dict)
    #: Content this run uploaded (hashes): its ids need no check that the
    #: shop still has them (`MediaLink.remembered`); one per image of a
    #: first sync for the whole run, so packed (`Digests`).
    _fresh: Digests = attrs.field(init=False, factory=Digests)

    @_uploads.default
    def _new_uploads(self) -> Lanes:
        return Lanes(self.concurrency)

    @_reading.default
    def _new_reading(self) -> Lanes:
        return Lanes(self.concurrency)

    def __attrs_post_init__(self) -> None:
        self._batch = isinstance(self.store, MediaIdBatch)

    async def _save(self) -> None:
        """
        Write the media ids uploaded since the last save, in one
        transaction.
        """
        if not self._unsaved:
            return
        store = cast(MediaIdBatch, self.store)  # only such a one has _unsaved
        batch = dict(self._unsaved)
        await store.put_media_ids(self.run.platform_name, batch)
        for sha, media_id in batch.items():
            # A chunk that asked the store before this was saved finds it
            # here, not in its answer (`gather`).
            if self._unsaved.get(sha) == media_id and sha not in self._asking:
                del self._unsaved[sha]

    async def gather(
        self,
        session: ErpSession,
        data_type: DataType,
        chunk: Sequence[Change],
        outcomes: Sequence[Outcome] | None = None,
        pending: list[Pending] | None = None,
    ) -> list[Found]:
        """
        Move the media of the records in *chunk* to the platform (those
        whose *outcomes* are ok, when given), concurrently.  With
        *pending* (one dict per record, filled here), new content is
        staged but not uploaded: its links carry the platform's
        `media_id_for` id, and `finish` uploads it after the push.
        """
        found: list[Found] = [None] * len(chunk)
        if not takes_media(self.run.platform, data_type):
            return found  # such records land without media, unread
        links: dict[int, list[MediaLink | None]] = {}
        errors: dict[int, list[tuple[int, str]]] = {}
        files: list[tuple[int, int]] = []  # (record's index, position)
        for index, change in enumerate(chunk):
            if outcomes is not None and not outcomes[index].ok:
                continue
            record = change.record
            if isinstance(record, Article | Category) and record.media:
                links[index] = [None] * len(record.media)
                files.extend((index, p) for p in range(len(record.media)))

        read: dict[tuple[int, int], tuple[bytes, str]] | None = None
        known: Mapping[str, str] | None = None

        async def one(file: tuple[int, int], turn: Demand) -> None:
            index, position = file
            record = chunk[index].record
            assert isinstance(record, Article | Category)
            async with turn:
                error = await self._link(
                    session,
                    data_type,
                    record,
                    position,
                    links[index],
                    None if pending is None else pending[index],
                    None if read is None else read.pop(file),
                    known,
                )
            if error is not None:
                errors.setdefault(index, []).append((position, error))

        asked: set[str] = set()
        if pending is not None and self._batch and files:
            # Content the platform names by its hash, a store that
            # answers many questions at once: the chunk's files are read
            # and hashed first, then the store is asked once for all of
            # them (not once per group of files in flight, with the
            # group's machinery per file), then each is linked or staged.
            # The content is held until then, as new content is held
            # until its upload after the push anyway.
            read = await read_all(self._reading, session, chunk, files, errors)
            files = list(read)
            asked = {sha for _, sha in read.values()}
            for sha in asked:
                self._asking[sha] = self._asking.get(sha, 0) + 1
        try:
            if asked:
                store = cast(MediaIdBatch, self.store)  # `_batch`
                platform = self.run.platform_name
                known = await store.get_media_ids(platform, list(asked))
            await self._reading.map(files, one)
        finally:
            for sha in asked:
                if self._asking[sha] > 1:
                    self._asking[sha] -= 1
                else:
                    del self._asking[sha]
        for index, got in links.items():
            failed = errors.get(index)
            if not failed:
                found[index] = [m for m in got if m is not None]
                continue
            if pending is not None and pending[index]:
                await self._drop(pending[index])
                pending[index].clear()  # let go of once: finish skips it
            position, message = min(failed)
            found[index] = Outcome(
                number=chunk[index].record.number,
                error=message,
                field=f"media.{position}",
            )
        return found

    async def attach_all(
        self,
        data_type: DataType,
        outcomes: Sequence[Outcome],
        media: Sequence[Found],
    ) -> list[Outcome]:
        """
        For platforms that take media after the record: attach them.
        """
        return await attach_all(self.run, data_type, outcomes, media)

    async def _link(
        self,
        session: ErpSession,
        data_type: DataType,
        record: Article | Category,
        position: int,
        links: list[MediaLink | None],
        pending: Pending | None,
        read: tuple[bytes, str] | None = None,
        known: Mapping[str, str] | None = None,
    ) -> str | None:
        """
        The file at *position* of *record*: read and hashed (unless
        *read* brings both), known or staged (and uploaded, without
        *pending*), its link put in *links*; None, or why the file failed
        its record.  *known*: what the store answered for the chunk.
        """
        ref = record.media[position]
        try:
            if read is None:
                content = await read_media(session, ref)
                sha = content_hash(content)
            else:
                content, sha = read
            if pending is None:
                media_id, reused = await self._media_id(sha, content, ref)
            else:
                deferred = await self._defer(sha, content, ref, known)
                if isinstance(deferred, str):
                    media_id, reused = deferred, True
                else:
                    pending[position] = deferred
                    media_id, reused = deferred.media_id, False
        except FILE_ERRORS as exc:
            # A file that cannot be staged (full disk) fails its record too.
            if isinstance(exc, AuthenticationError):
                raise
            return str(exc)
        links[position] = MediaLink(
            media_id=media_id,
            sha256=sha,
            position=position,
            kind=ref.kind,
            remembered=reused and sha not in self._fresh,
        )
        if pending is not None and position in pending:
            return None  # reported once uploaded, after the push
        await self.run.emit(
            MediaUploaded(
                run_id=self.run.id,
                data_type=data_type,
                number=record.number,
                sha256=sha,
                size=len(content),
                reused=reused,
            )
        )
        return None

    @asynccontextmanager
    async def _alone(self, sha: str) -> AsyncIterator[None]:
        """
        This content to this task alone for the block: tasks wanting the
        same content wait for each other, so that it is staged and
        uploaded once.
        """
        while sha in self._uploading:
            waiting = self._uploading[sha]
            if waiting is None:
                waiting = self._uploading[sha] = anyio.Event()
            await waiting.wait()
        self._uploading[sha] = None
        try:
            yield
        finally:
            waiting = self._uploading.pop(sha)
            if waiting is not None:
                waiting.set()

    async def _stage(
        self,
        sha: str,
        content: bytes,
        ref: MediaRef,
        *,
        overflow: bool = False,
    ) -> StagedMedia:
        assert self.staging is not None  # only a plan has none
        return await self.staging.stage(
            content,
            filename=ref.filename,
            mime_type=ref.mime_type,
            kind=ref.kind,
            sha256=sha,
            overflow=overflow,
        )

    async def _media_id(
        self, sha: str, content: bytes, ref: MediaRef
    ) -> tuple[str, bool]:
        """
        The platform's id for this content: known already (reused), or
        staged and uploaded once, however many records share it.
        """
        async with self._alone(sha):
            platform = self.run.platform_name
            media_id = await self.store.get_media_id(platform, sha)
            if media_id is not None:
                return media_id, True
            staged = await self._stage(sha, content, ref)
            uploaded: str | None = None
            try:
                async with self._uploads.one():
                    uploaded = await upload(self.run.platform, staged)
            finally:
                if uploaded is not None:
                    self._fresh.add(sha)
                    # The platform has it now: remember its id even if a
                    # cancel strikes, or the next run uploads it again (a
                    # second file where ids do not derive from content).
                    with anyio.CancelScope(shield=True):
                        await self.store.put_media_id(platform, sha, uploaded)
                assert self.staging is not None
                await self.staging.release(staged)
        return uploaded, False

    async def _defer(
        self,
        sha: str,
        content: bytes,
        ref: MediaRef,
        known: Mapping[str, str] | None = None,
    ) -> str | Deferred:
        """
        The platform's id for this content when the store knows it (or
        *known*, its answer for the chunk, says so), else its pending
        upload (staged once, however many records share it).
        """
        async with self._alone(sha):
            deferred = self._deferred.get(sha)
            if deferred is not None:
                deferred.users += 1
                return deferred
            # Uploaded by this run since the question: in `_unsaved` (kept
            # there while asked about, even once saved: `_save`).
            media_id = self._unsaved.get(sha)
            if media_id is None and known is not None:
                media_id = known.get(sha)
            elif media_id is None:
                name = self.run.platform_name
                media_id = await self.store.get_media_id(name, sha)
            if media_id is not None:
                return media_id
            # Only such a platform defers (`Writer` checks, once a chunk).
            platform = cast(SupportsMediaIdFor, self.run.platform)
            # Held until after the push, which waits for the batch's other
            # files: with the budget full, waiting for it would never end
            # (the batch's files are its holders), so the rest stays in
            # memory, where the content is anyway.
            staged = await self._stage(sha, content, ref, overflow=True)
            deferred = self._deferred[sha] = Deferred(
                staged, platform.media_id_for(sha)
            )
            return deferred

    async def _drop(self, pending: Pending) -> None:
        """
        A record no longer waits for these uploads: content nobody waits
        for any more is unstaged (a later record stages it again).
        """
        for deferred in pending.values():
            deferred.users -= 1
            if deferred.users == 0 and not deferred.started:
                if self._deferred.get(deferred.staged.sha256) is deferred:
                    del self._deferred[deferred.staged.sha256]
                assert self.staging is not None
                await self.staging.release(deferred.staged)

    async def finish(
        self,
        data_type: DataType,
        outcomes: Sequence[Outcome],
        media: Sequence[Found],
        pending: Sequence[Pending],
    ) -> list[Outcome]:
        """
        After the push: upload the new content of the records that landed
        (their media entities exist now); a record whose upload failed
        fails, so it keeps no checksum and the next run retries.
        """
        final = list(outcomes)
        for index, waits in enumerate(pending):
            if waits and not outcomes[index].ok:
                await self._drop(waits)
        # Every new file of the chunk queues for the upload lanes at once,
        # record by record, so that a chunk's uploads go before those of
        # chunks answered after it (first come, first served), instead of
        # every chunk in flight taking turns file by file and all of them
        # finishing together (which left the pipe empty while the next
        # chunks were read and staged).  Content two records share goes
        # once.
        waiting: dict[int, int] = {}  # record's index -> uploads not over
        users: dict[int, list[int]] = {}  # id(deferred) -> records' indices
        files: list[Deferred] = []
        for index, waits in enumerate(pending):
            if not waits or not outcomes[index].ok:
                continue
            for deferred in waits.values():
                key = id(deferred)
                if key not in users:
                    users[key] = []
                    files.append(deferred)
                if index not in users[key]:
                    users[key].append(index)
                    waiting[index] = waiting.get(index, 0) + 1
        results: dict[int, str | None] = {}  # id(deferred) -> error

        async def report(index: int) -> None:
            """
            The uploads of the record at *index* are over: report them,
            or fail the record naming its first file that did not go.
            """
            waits = pending[index]
            links = media[index]
            assert isinstance(links, list)
            by_position = {link.position: link for link in links}
            errors: list[tuple[int, str]] = []
            for position, deferred in sorted(waits.items()):
                error = results[id(deferred)]
                if error is not None:
                    errors.append((position, error))
                    continue
                await self.run.emit(
                    MediaUploaded(
                        run_id=self.run.id,
                        data_type=data_type,
                        number=outcomes[index].number,
                        sha256=by_position[position].sha256,
                        size=deferred.staged.size,
                        reused=False,
                    )
                )
            if errors:
                position, message = min(errors)
                final[index] = Outcome(
                    number=outcomes[index].number,
                    error=message,
                    field=f"media.{position}",
                )
                # The push linked the record to media whose bytes did not
                # arrive: the shop would show them broken until the next
                # run.  Keep the record to the media that have content.
                failed = {p for p, _ in errors}
                await detach(
                    self.run,
                    data_type,
                    outcomes[index],
                    [link for link in links if link.position not in failed],
                )

        async def one(deferred: Deferred, turn: Demand) -> None:
            results[id(deferred)] = await self._upload(deferred, turn)
            for index in users[id(deferred)]:
                waiting[index] -= 1
                if not waiting[index]:
                    await report(index)

        await self._uploads.map(files, one)
        await self._save()
        return final

    async def forget_gone(
        self, answer: Sequence[Outcome], media: Sequence[Found]
    ) -> None:
        """
        Forget the media ids the platform's *answer* says the shop no
        longer has (`Outcome.media_gone`): the next run uploads their
        content again instead of linking a missing file for ever.
        """
        gone = {m for outcome in answer for m in outcome.media_gone}
        if not gone:
            return
        forget = {
            link.sha256: link.media_id
            for links in media
            if isinstance(links, list)
            for link in links
            if link.media_id in gone
        }
        for sha, media_id in forget.items():
            if self._unsaved.get(sha) == media_id:
                del self._unsaved[sha]
            self._fresh.discard(sha)
            _log.warning(
                "media %s (content %s) is gone from %s: its content is "
                "uploaded again",
                media_id,
                sha,
                self.run.platform_name,
            )
        if isinstance(self.store, ForgetsMediaIds):
            await self.store.forget_media_ids(self.run.platform_name, forget)

    async def _upload(self, deferred: Deferred, turn: Demand) -> str | None:
        """
        Upload *deferred* once (in *turn*), however many records wait for
        it; None when it went well, else why not.
        """
        if deferred.started:
            await deferred.wait()
            return deferred.error
        deferred.started = True
        sha = deferred.staged.sha256
        platform = self.run.platform_name
        try:
            media_id = None
            try:
                async with turn:
                    media_id = await upload(self.run.platform, deferred.staged)
            finally:
                if media_id is not None and not self._batch:
                    # Remembered even if a cancel strikes now (`_media_id`).
                    with anyio.CancelScope(shield=True):
                        await self.store.put_media_id(platform, sha, media_id)
            self._fresh.add(sha)
            if self._batch:
                self._unsaved[sha] = media_id  # saved by finish
            if media_id != deferred.media_id:
                # The shop held this content already under another id:
                # the next run links that one.
                deferred.error = (
                    f"content {sha} is in the shop already as media "
                    f"{media_id}; the next run links it"
                )
        except (RecordRejected, SyncError) as exc:
            if isinstance(exc, AuthenticationError):
                raise
            deferred.error = str(exc)
        finally:
            if self._deferred.get(sha) is deferred:
                del self._deferred[sha]
            assert self.staging is not None
            await self.staging.release(deferred.staged)
            deferred.end()
        return deferred.error

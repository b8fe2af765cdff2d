"""
Media transfer: one object per run owns the media limiter and the
uploads in flight.  It reads a record's images and documents from the
ERP, stages each distinct content once, uploads it once (however many
records share it), and attaches media where the platform takes them
after the record.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import attrs

from ._anyio_util import task_group
from ._changes import Change
from ._contracts import MediaLink, Outcome
from ._model import Article, Category, MediaRef, content_hash
from ._run import Run
from ._spec import DataType
from .events import MediaUploaded
from .exceptions import (
    AuthenticationError,
    MediaStagingError,
    RecordRejected,
    SyncError,
)
from .media import RunStaging
from .typing import ErpSession, StateStore


#: Per record: its media links, a failed outcome naming the file at
#: fault, or None (the record has no media).
Found = list[MediaLink] | Outcome | None


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
    _limiter: anyio.CapacityLimiter = attrs.field(init=False)
    _uploading: dict[str, anyio.Event] = attrs.field(init=False, factory=dict)

    @_limiter.default
    def _new_limiter(self) -> anyio.CapacityLimiter:
        return anyio.CapacityLimiter(self.concurrency)

    async def gather(
        self,
        session: ErpSession,
        data_type: DataType,
        chunk: Sequence[Change],
        outcomes: Sequence[Outcome] | None = None,
    ) -> list[Found]:
        """
        Move the media of the records in *chunk* to the platform (those
        whose *outcomes* are ok, when given), concurrently.
        """
        found: list[Found] = [None] * len(chunk)

        async def one(index: int, record: Article | Category) -> None:
            found[index] = await self._links(session, data_type, record)

        async with task_group() as tg:
            for index, change in enumerate(chunk):
                if outcomes is not None and not outcomes[index].ok:
                    continue
                record = change.record
                if isinstance(record, Article | Category) and record.media:
                    tg.start_soon(one, index, record)
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
        final = list(outcomes)

        async def one(index: int, links: list[MediaLink]) -> None:
            try:
                await self.run.platform.attach_media(
                    data_type, outcomes[index], links
                )
            except RecordRejected as exc:
                final[index] = Outcome(
                    number=outcomes[index].number,
                    error=str(exc),
                    field="media",
                )

        async with task_group() as tg:
            for index, links in enumerate(media):
                if isinstance(links, Outcome):
                    final[index] = links
                elif links is not None and outcomes[index].ok:
                    tg.start_soon(one, index, links)
        return final

    async def _links(
        self,
        session: ErpSession,
        data_type: DataType,
        record: Article | Category,
    ) -> list[MediaLink] | Outcome:
        refs = record.media
        links: list[MediaLink | None] = [None] * len(refs)
        errors: list[tuple[int, str]] = []

        async def one(position: int) -> None:
            ref = refs[position]
            async with self._limiter:
                try:
                    content = await session.read_media(ref)
                    sha = content_hash(content)
                    media_id, reused = await self._media_id(sha, content, ref)
                except (RecordRejected, SyncError, MediaStagingError) as exc:
                    # A file that cannot be staged (full disk) fails its
                    # record, like one that cannot be read or uploaded.
                    if isinstance(exc, AuthenticationError):
                        raise
                    errors.append((position, str(exc)))
                    return
                links[position] = MediaLink(
                    media_id=media_id,
                    sha256=sha,
                    position=position,
                    kind=ref.kind,
                )
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

        async with task_group() as tg:
            for position in range(len(refs)):
                tg.start_soon(one, position)
        if errors:
            position, message = min(errors)
            return Outcome(
                number=record.number,
                error=message,
                field=f"media.{position}",
            )
        return [m for m in links if m is not None]

    async def _media_id(
        self, sha: str, content: bytes, ref: MediaRef
    ) -> tuple[str, bool]:
        """
        The platform's id for this content: known already (reused), or
        staged and uploaded once, however many records share it.
        """
        while sha in self._uploading:
            await self._uploading[sha].wait()
        done = self._uploading[sha] = anyio.Event()
        platform = self.run.platform_name
        try:
            media_id = await self.store.get_media_id(platform, sha)
            if media_id is not None:
                return media_id, True
            assert self.staging is not None  # only a plan has none
            staged = await self.staging.stage(
                content,
                filename=ref.filename,
                mime_type=ref.mime_type,
                kind=ref.kind,
                sha256=sha,
            )
            try:
                media_id = await self.run.platform.upload_media(staged)
            finally:
                await self.staging.release(staged)
            await self.store.put_media_id(platform, sha, media_id)
        finally:
            del self._uploading[sha]
            done.set()
        return media_id, False

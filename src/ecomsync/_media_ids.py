"""
The platform's media ids of content, as media transfer keeps them: new
content whose upload waits for the push that creates its media entity
(`Deferred`, per record `Pending`), and the store's batched media-id
questions (`MediaIdBatch`); the content of a file, read from the ERP
(`read_media`, a chunk's files at once: `read_all`), and its upload
(`upload`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import anyio
import attrs

from ._anyio_util import Demand, Lanes
from ._changes import Change
from ._contracts import StagedMedia
from ._fingerprint import content_hash
from ._model import Article, Category, MediaRef
from .exceptions import (
    AuthenticationError,
    MediaStagingError,
    RecordRejected,
    SyncError,
)
from .typing import ErpSession, Platform


#: What fails a file's record (the file's own fault, not the run's).
FILE_ERRORS = (RecordRejected, SyncError, MediaStagingError)


@attrs.define(eq=False)
class Deferred:
    """
    New content whose upload waits for the push that creates its media
    entity (platforms that say `SupportsMediaIdFor`).
    """

    staged: StagedMedia
    media_id: str
    #: Records of the run linked to it whose push is not answered yet.
    users: int = 1
    #: The upload began; `over` once it ended (`error` says how).
    started: bool = False
    over: bool = False
    error: str | None = None
    #: Made only when a task has to wait for the upload (seldom).
    _waiting: anyio.Event | None = None

    async def wait(self) -> None:
        """
        Return once the upload is over.
        """
        if not self.over:
            if self._waiting is None:
                self._waiting = anyio.Event()
            await self._waiting.wait()

    def end(self) -> None:
        self.over = True
        if self._waiting is not None:
            self._waiting.set()


#: Per record: its links' pending uploads, by position.
Pending = dict[int, Deferred]


@runtime_checkable
class MediaIdBatch(Protocol):  # pragma: no cover -- a Protocol only
    """
    A store that reads and writes many media ids in one transaction each
    (`SqliteStore`, `PostgresStore`).
    """

    async def get_media_ids(
        self, platform: str, sha256s: Sequence[str]
    ) -> dict[str, str]: ...

    async def put_media_ids(
        self, platform: str, media_ids: Mapping[str, str]
    ) -> None: ...


@runtime_checkable
class ForgetsMediaIds(Protocol):  # pragma: no cover -- a Protocol only
    """
    A store that can forget media ids the shop no longer has
    (`SqliteStore`, `PostgresStore`), so that their content is uploaded
    again.
    """

    async def forget_media_ids(
        self, platform: str, media_ids: Mapping[str, str]
    ) -> None: ...


async def read_media(session: ErpSession, ref: MediaRef) -> bytes:
    """
    The content of the ERP's file *ref*; a 0-byte one (broken in the ERP,
    and so in the shop) or an `OSError` reading it fails its record with
    a `SyncError`.
    """
    try:
        content = await session.read_media(ref)
    except OSError as exc:
        raise SyncError(
            f"the ERP's file {ref.key!r} ({ref.filename!r}) cannot be read: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not content:
        raise SyncError(
            f"the ERP's file {ref.key!r} ({ref.filename!r}) is empty (0 bytes)"
        )
    return content


async def read_all(
    lanes: Lanes,
    session: ErpSession,
    chunk: Sequence[Change],
    files: list[tuple[int, int]],
    errors: dict[int, list[tuple[int, str]]],
) -> dict[tuple[int, int], tuple[bytes, str]]:
    """
    The content and hash of each of *files* (a record's index in
    *chunk*, a position in its media), read in *lanes*; a file that
    cannot be read is put in *errors* (by the record's index: position,
    why) instead.
    """
    read: dict[tuple[int, int], tuple[bytes, str]] = {}

    async def one(file: tuple[int, int], turn: Demand) -> None:
        index, position = file
        record = chunk[index].record
        assert isinstance(record, Article | Category)
        try:
            async with turn:
                content = await read_media(session, record.media[position])
        except FILE_ERRORS as exc:
            if isinstance(exc, AuthenticationError):
                raise
            errors.setdefault(index, []).append((position, str(exc)))
            return
        read[file] = (content, content_hash(content))

    await lanes.map(files, one)
    return read


async def upload(platform: Platform, staged: StagedMedia) -> str:
    """
    *platform*'s media id for *staged*, uploaded.  An `OSError` of the
    adapter's file or network layer is that file's failure (a
    `SyncError`: its record fails, the run goes on); anything else not
    an ecomsync error is a bug and still ends the run.
    """
    try:
        return await platform.upload_media(staged)
    except OSError as exc:
        raise SyncError(
            f"the upload of {staged.filename!r} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc

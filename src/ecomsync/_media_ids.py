"""
The platform's media ids of content, as media transfer keeps them: new
content whose upload waits for the push that creates its media entity
(`Deferred`, per record `Pending`), and the store's batched media-id
questions (`MediaIdBatch`, `Ask`); the content of a file, read from
the ERP (`read_media`), and its upload (`upload`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import anyio
import attrs

from ._contracts import StagedMedia
from ._model import MediaRef
from .exceptions import SyncError
from .typing import ErpSession, Platform


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


@attrs.define(eq=False)
class Ask:
    """
    One media-id look-up, answered together with the others in flight.
    """

    sha256: str
    media_id: str | None = None


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

"""
Media through WordPress' media endpoint, attached by attachment id: the
shop never downloads from a URL, and a rerun never uploads again.

Private: `ecomsync.platforms.woocommerce.WooCommerce` is the public face.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence

import attrs

from ..._contracts import MediaLink, Outcome, StagedMedia
from ..._model import MediaKind
from ..._spec import DataType
from ...exceptions import SyncError
from ._client import RestApi
from ._common import category_image
from ._products import DOCUMENTS_META


@attrs.define
class Media:
    """
    Uploads files and makes them a record's media.
    """

    api: RestApi
    _ids: dict[str, str] = attrs.field(init=False, factory=dict)

    async def upload(self, media: StagedMedia) -> str:
        """
        `WooCommerce.upload_media`, which says how.
        """
        cached = self._ids.get(media.sha256)
        if cached is not None:
            return cached
        ext = (
            media.filename.rsplit(".", 1)[-1] if "." in media.filename else ""
        )
        ext = re.sub(r"[^A-Za-z0-9]", "", ext)[:8].lower()
        name = f"{media.sha256}.{ext}" if ext else media.sha256
        row = await self.api.upload(media.read_bytes(), name, media.mime_type)
        media_id = str(row["id"])
        if row.get("slug", media.sha256) != media.sha256:
            # WordPress slugged the new attachment "<hash>-2": the same
            # content is there already (uploaded before the state store
            # was lost, or by another process).  Keep that one.
            media_id = await self._held(media.sha256, media_id)
        self._ids[media.sha256] = media_id
        return media_id

    def forget(self, gone: set[str]) -> None:
        """
        The attachments *gone* (deleted in WordPress) are uploaded again.
        """
        if gone:
            self._ids = {h: m for h, m in self._ids.items() if m not in gone}

    async def _held(self, sha256: str, new: str) -> str:
        """
        The attachment that already holds content *sha256*, the *new*
        copy deleted; *new* itself if there is none.
        """
        for row in await self.api.media_by_slug(sha256):
            if str(row.get("id")) != new:
                with contextlib.suppress(SyncError):
                    # A copy left behind costs space, not correctness.
                    await self.api.delete_media(new)
                return str(row["id"])
        return new

    async def attach(
        self,
        data_type: DataType,
        target: Outcome,
        media: Sequence[MediaLink],
    ) -> None:
        """
        `WooCommerce.attach_media`, which says what the shop then holds.
        """
        images = sorted(
            (m for m in media if m.kind is MediaKind.IMAGE),
            key=lambda m: m.position,
        )
        if data_type is DataType.CATEGORIES:
            await self.api.call(
                "PUT",
                f"products/categories/{target.platform_id}",
                json={"image": category_image(media)},
            )
            return
        documents = [m for m in media if m.kind is MediaKind.DOCUMENT]
        await self.api.call(
            "PUT",
            f"products/{target.platform_id}",
            json={
                "images": [{"id": int(m.media_id)} for m in images],
                "meta_data": [
                    {
                        "key": DOCUMENTS_META,
                        "value": [int(m.media_id) for m in documents],
                    }
                ],
            },
        )

    # -- optional capabilities ---------------------------------------------

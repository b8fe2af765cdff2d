"""
Media: uploading staged files (the media entity first, batched with other
uploads in flight, then the bytes) and making a record's media exactly
what the ERP says.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

import anyio
import attrs

from ..._contracts import MediaLink, Outcome, Outgoing, StagedMedia
from ..._model import MediaKind
from ..._spec import DataType
from ._client import MAX_LIMIT, AdminApi, ShopwareApiError
from ._keyset import MEDIA, read_all
from ._mapping import (
    DOCUMENTS_FIELD,
    category_id,
    product_id,
    product_media_id,
    sw_id,
)
from ._writer import Failure, op


#: The most media ids `Media.created` keeps (about 10 MB).
CREATED_LIMIT = 100_000

#: How long the first of concurrent uploads waits for others to join its
#: media-entity sync (seconds): short against one request's round trip.
MEDIA_BATCH_WINDOW = 0.003


@attrs.define
class _MediaBatch:
    """
    Media entities to create in one sync, and how that went.
    """

    ids: list[str]
    done: anyio.Event = attrs.Factory(anyio.Event)
    error: BaseException | None = None


@attrs.define
class Media:
    """
    The media side of one `Shopware6`.
    """

    api: AdminApi
    _batch: _MediaBatch | None = attrs.field(init=False, default=None)
    #: Media entities a sync of this process wrote (nested in a product
    #: or category row) whose upload has not been tried yet: it needs no
    #: media sync of its own.  Forgotten once tried, and bounded (see
    #: `note_created`), so it does not grow with the catalogue.
    created: set[str] = attrs.field(init=False, factory=set)

    def note_created(self, ids: Iterable[str]) -> None:
        """
        A sync is about to create the media entities *ids* (nested rows).

        Ids whose upload never comes (the record failed, or its content
        was known already) would stay; past `CREATED_LIMIT` they are all
        forgotten: an upload of a forgotten one just creates its entity
        again first (one more sync, same result).
        """
        self.created.update(ids)
        if len(self.created) > CREATED_LIMIT:
            self.created.clear()

    async def upload(self, media: StagedMedia) -> str:
        """
        Upload a staged file named by its content hash; content the shop
        already has (same hash) is reused, not uploaded again.
        """
        extension = _extension(media)
        name = media.sha256
        # No search first: the media id derives from the content hash, so
        # re-uploading our own file is an idempotent replace, and content
        # someone else uploaded under this name shows up as a duplicate
        # file name below.  (The engine asks only for content its store
        # does not know yet.)
        content = await media.aread()
        mid = media_id_for(media.sha256)
        if mid in self.created:
            self.created.discard(mid)
        else:
            await self.create(mid)
        try:
            await self.api.call(
                "POST",
                f"/api/_action/media/{mid}/upload",
                params={"extension": extension, "fileName": name},
                content=content,
                headers={"Content-Type": media.mime_type},
                idempotent=True,  # replaces the file of this media id
            )
        except ShopwareApiError as exc:
            if exc.has_code("CONTENT__MEDIA_DUPLICATED_FILE_NAME"):
                found = await self._named(name, extension)
                if found is not None:
                    return found
            raise
        return mid

    async def _named(self, name: str, extension: str) -> str | None:
        rows = await self.api.search(
            "media",
            {
                "filter": [
                    {"type": "equals", "field": "fileName", "value": name},
                    {
                        "type": "equals",
                        "field": "fileExtension",
                        "value": extension,
                    },
                ],
                "sort": [{"field": "id", "order": "ASC"}],
                "limit": 1,
            },
        )
        return str(rows[0]["id"]) if rows else None

    async def create(self, mid: str) -> None:
        """
        Create the media entity *mid*, batched with the other uploads in
        flight: the first caller waits a moment for others to join, then
        creates them all in one sync (one request instead of one per
        file; the upload itself cannot be batched).
        """
        batch = self._batch
        if batch is not None:
            batch.ids.append(mid)
            await batch.done.wait()
            if batch.error is not None:
                raise batch.error
            return
        batch = self._batch = _MediaBatch(ids=[mid])
        try:
            await anyio.sleep(MEDIA_BATCH_WINDOW)
            self._batch = None
            rows = [{"id": i, "private": False} for i in batch.ids]
            await self.api.sync([op("ecomsync-media", "media", rows)])
        except BaseException as exc:
            if self._batch is batch:
                self._batch = None
            batch.error = exc
            raise
        finally:
            batch.done.set()

    async def attach(
        self,
        data_type: DataType,
        target: Outcome,
        media: Sequence[MediaLink],
    ) -> None:
        """
        `Shopware6.attach_media`, which says what the shop then holds.
        """
        images = image_ids(media)
        if data_type is DataType.CATEGORIES:
            cid = target.platform_id or category_id(target.number)
            await self.api.sync(
                [
                    op(
                        "ecomsync-category-media",
                        "category",
                        [
                            {
                                "id": cid,
                                "mediaId": images[0] if images else None,
                            }
                        ],
                    )
                ]
            )
            return
        if data_type is not DataType.ARTICLES:
            raise ValueError(f"{data_type.value} records have no media")
        pid = target.platform_id or product_id(target.number)
        fields, wanted = product_media_fields(pid, media)
        held = await self.held([pid])
        stale = sorted(held.get(pid, set()) - wanted)
        product: dict[str, Any] = {"id": pid, **fields}
        await self.api.sync(
            [
                op("ecomsync-product-media", "product", [product]),
                op(
                    "ecomsync-stale-media",
                    "product_media",
                    [{"id": i} for i in stale],
                    "delete",
                ),
            ]
        )

    async def gone(
        self,
        wanted: Mapping[str, Sequence[MediaLink]],
        current: Mapping[str, Mapping[str, Any]],
    ) -> dict[str, list[MediaLink]]:
        """
        Per product (or category) id of *wanted* (its media links), the
        remembered images and documents the shop has no file for any
        more (the merchant deleted them: the delete cascades to their
        product media).  Linking one would create an empty media entity,
        a broken image or document.

        *current* is what the product search read (`WRITE_INCLUDES`: each
        product media with its media's ``fileName``), so a product that
        still holds its images costs nothing; only remembered images a
        product does not hold, and remembered documents (a custom field
        names them, no row), are looked up, in one search.
        """
        gone: dict[str, list[MediaLink]] = {}
        unsure: dict[str, list[tuple[str, MediaLink]]] = {}
        for pid, links in wanted.items():
            rows = (current.get(pid) or {}).get("media") or []
            held = {str(r.get("id")): r for r in rows if isinstance(r, dict)}
            for link in links:
                if not link.remembered:
                    continue  # this run's own upload
                media = None  # a document: only a custom field names it
                if link.kind is MediaKind.IMAGE:
                    row = held.get(product_media_id(pid, link.media_id)) or {}
                    media = row.get("media")
                if not isinstance(media, dict):
                    unsure.setdefault(link.media_id, []).append((pid, link))
                elif not media.get("fileName"):
                    gone.setdefault(pid, []).append(link)
        ids = sorted(unsure)
        found: set[str] = set()
        for start in range(0, len(ids), MAX_LIMIT):
            part = ids[start : start + MAX_LIMIT]
            criteria = {
                "filter": [
                    {"type": "equalsAny", "field": "id", "value": part}
                ],
                "includes": {"media": ["id", "fileName"]},
                "limit": MAX_LIMIT,
            }
            rows = await self.api.search("media", criteria)
            found.update(str(r["id"]) for r in rows if r.get("fileName"))
        for mid in ids:
            if mid not in found:
                for pid, link in unsure[mid]:
                    gone.setdefault(pid, []).append(link)
        return gone

    async def held(self, pids: Sequence[str]) -> dict[str, set[str]]:
        """
        The product media rows the shop holds, per product id.
        """
        held: dict[str, set[str]] = {}
        unique = list(dict.fromkeys(pids))
        if not unique:
            return held
        for start in range(0, len(unique), MAX_LIMIT):
            # paged by key: a product media row deleted meanwhile (by the
            # merchant) hides no other from the stale ones to delete
            rows = await read_all(
                self.api,
                "product_media",
                {
                    "filter": [
                        {
                            "type": "equalsAny",
                            "field": "productId",
                            "value": unique[start : start + MAX_LIMIT],
                        }
                    ]
                },
                MEDIA,
            )
            for row in rows:
                held.setdefault(str(row["productId"]), set()).add(
                    str(row["id"])
                )
        return held

    async def categories_gone(
        self, items: Sequence[Outgoing], send: Sequence[int]
    ) -> dict[int, list[MediaLink]]:
        """
        Of the categories of *items* that *send* indexes, those whose
        image (their first) is a remembered one the shop has no file for
        any more: the delete set the category's ``mediaId`` null, and
        linking the id again would create an empty media entity.
        """
        wanted: dict[str, list[MediaLink]] = {}
        for i in send:
            images = sorted(
                (m for m in items[i].media or () if m.kind is MediaKind.IMAGE),
                key=lambda m: m.position,
            )
            if images and images[0].remembered:
                wanted[str(i)] = images[:1]
        gone = await self.gone(wanted, {})
        return {int(i): links for i, links in gone.items()}

    def category_image(
        self, row: dict[str, Any], media: Sequence[MediaLink] | None
    ) -> None:
        """
        Put the first image of *media* into the category *row* (none:
        the category's image goes); ``None`` leaves it as it is.
        """
        if media is None:
            return
        images = image_ids(media)
        row["mediaId"] = images[0] if images else None
        if images:
            # Created by this sync when new; the bytes follow.
            row["media"] = {"id": images[0]}
            self.note_created(images[:1])


def gone_failure(links: Sequence[MediaLink]) -> Failure:
    """
    Why a record whose images or documents *links* the shop lost fails
    (on the first of them), saying that the next run uploads them again.
    """
    first = min(links, key=lambda m: m.position)
    return (
        f"{first.kind.value} media.{first.position} (Shopware media "
        f"{first.media_id}) is no longer in the shop (deleted from its "
        "media library); ecomsync forgets it and the next run uploads it "
        "again",
        f"media.{first.position}",
    )


def media_id_for(sha256: str) -> str:
    """
    The media id for content with this SHA-256 (hex).
    """
    return sw_id("media", sha256)


def _extension(media: StagedMedia) -> str:
    name = media.filename
    if "/" in name or name in ("", "."):
        name = PurePosixPath(name).name  # rare; a plain name is its name
    # PurePosixPath.suffix without building a path per upload.
    dot = name.rfind(".")
    suffix = name[dot:] if 0 < dot < len(name) - 1 else ""
    suffix = suffix.lower().lstrip(".")
    if suffix.isalnum() and 0 < len(suffix) <= 8:
        return suffix
    guessed = mimetypes.guess_extension(media.mime_type) or ".bin"
    return guessed.lstrip(".")


def image_ids(media: Sequence[MediaLink]) -> list[str]:
    """
    The media ids of the images among *media*, in position order, once.
    """
    ordered = sorted(media, key=lambda m: m.position)
    return list(
        dict.fromkeys(m.media_id for m in ordered if m.kind is MediaKind.IMAGE)
    )


def product_media_fields(
    pid: str, media: Sequence[MediaLink]
) -> tuple[dict[str, Any], set[str]]:
    """
    The product fields that make *media* exactly the product's media:
    images as product media in position order (the first is the cover),
    documents in the custom field ``ecomsync_documents``; and the ids of
    the product media rows that should exist.  Each image's media entity
    rides nested in its row, so a new one is created by the same sync.
    """
    ordered = sorted(media, key=lambda m: m.position)
    documents = [m.media_id for m in ordered if m.kind is MediaKind.DOCUMENT]
    rows = [
        {
            "id": product_media_id(pid, mid),
            "productId": pid,
            "mediaId": mid,
            "position": position,
            # Created here when new (an upsert of the id alone changes
            # nothing on an existing one); the bytes follow the sync.
            "media": {"id": mid},
        }
        for position, mid in enumerate(image_ids(media))
    ]
    fields = {
        "media": rows,
        "coverId": rows[0]["id"] if rows else None,
        "customFields": {DOCUMENTS_FIELD: documents},
    }
    return fields, {str(row["id"]) for row in rows}

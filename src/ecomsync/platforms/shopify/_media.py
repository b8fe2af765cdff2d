"""
Media: staged upload, ``fileCreate``, and the product's files set with
``productSet``.

Private: `ecomsync.platforms.shopify.Shopify` is the public face.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from ..._contracts import MediaLink, Outcome, StagedMedia
from ..._http import HttpClient
from ..._model import MediaKind
from ...exceptions import AuthenticationError, RecordRejected, SyncError
from .._answers import field_of, odd_answer
from ._catalogue import user_errors
from ._client import GraphQL, outside, staged_target


STAGED = """
mutation($i: [StagedUploadInput!]!) { stagedUploadsCreate(input: $i) {
  stagedTargets { url resourceUrl parameters { name value } }
  userErrors { field message } } }
"""
FILE_CREATE = """
mutation($f: [FileCreateInput!]!) { fileCreate(files: $f) {
  files { id fileStatus } userErrors { field message code } } }
"""
FIND_FILE = """
query($q: String!) { files(first: 1, query: $q) { nodes { id } } }
"""
#: Which of some files Shopify still has: ``nodes`` answers null in the
#: place of an id that names nothing (Relay's object identification).
FILES_HELD = """
query($ids: [ID!]!) { nodes(ids: $ids) { id } }
"""
SET_FILES = """
mutation($input: ProductSetInput!, $id: ProductSetIdentifiers) {
  productSet(input: $input, identifier: $id) {
    product { id } userErrors { field message code } } }
"""


def _content_name(media: StagedMedia) -> str:
    """
    The file name *media* gets on Shopify: its content hash, with the
    extension of its ERP file name.
    """
    ext = media.filename.rsplit(".", 1)[-1] if "." in media.filename else ""
    ext = re.sub(r"[^A-Za-z0-9]", "", ext)[:8].lower()
    return f"{media.sha256}.{ext}" if ext else media.sha256


@attrs.define
class Media:
    api: GraphQL
    upload_http: HttpClient
    uploaded: dict[str, str] = attrs.field(factory=dict)

    async def upload(self, media: StagedMedia) -> str:
        if media.sha256 in self.uploaded:
            return self.uploaded[media.sha256]
        image = media.kind is MediaKind.IMAGE
        name = _content_name(media)
        data = await self.api.call(
            STAGED,
            {
                "i": [
                    {
                        "resource": "IMAGE" if image else "FILE",
                        "filename": name,
                        "mimeType": media.mime_type,
                        "httpMethod": "POST",
                        "fileSize": str(media.size),
                    }
                ]
            },
            cost=12,
            what=f"upload of {media.filename!r}",
            idempotent=True,  # a staged target: nothing in the shop
        )
        target = staged_target(data, f"upload of {media.filename!r}")
        form = {p["name"]: p["value"] for p in target["parameters"]}
        content = (
            media.content
            if media.content is not None
            else media.path.read_bytes()
        )
        response = await outside(
            self.upload_http,
            f"upload of {media.filename!r}: staged upload target",
            "POST",
            target["url"],
            data=form,
            files={"file": (media.filename, content, media.mime_type)},
        )
        if response.status_code >= 300:
            raise SyncError(
                f"upload of {media.filename!r}: the staged upload target "
                f"answered HTTP {response.status_code}"
            )
        created = (
            await self.api.call(
                FILE_CREATE,
                {
                    "f": [
                        {
                            "originalSource": target["resourceUrl"],
                            "contentType": "IMAGE" if image else "FILE",
                            "alt": media.filename,
                            # Named by content: the same content again
                            # (its id forgotten with a lost state store)
                            # is found, not added a second time.
                            "filename": name,
                            "duplicateResolutionMode": "RAISE_ERROR",
                        }
                    ]
                },
                cost=12,
                what=f"file {media.filename!r}",
                # sent again after it landed: FILENAME_ALREADY_EXISTS,
                # and the file is found by its name below
                idempotent=True,
            )
        )["fileCreate"]
        if created["userErrors"]:
            error = created["userErrors"][0]
            if error.get("code") != "FILENAME_ALREADY_EXISTS":
                raise SyncError(f"file {media.filename!r}: {error['message']}")
            file_id = await self._named(name, media)
        else:
            files = created.get("files")
            if not isinstance(files, list) or not files:
                raise odd_answer(
                    "Shopify",
                    f"fileCreate of {media.filename!r}",
                    "no file and no userErrors",
                )
            file_id = field_of(
                "Shopify",
                f"fileCreate of {media.filename!r}",
                files[0],
                "id",
                where="files.0",
            )
        self.uploaded[media.sha256] = file_id
        return file_id

    async def _named(self, name: str, media: StagedMedia) -> str:
        """
        The id of the file Shopify holds as *name*: the same content,
        uploaded before.
        """
        found = (
            await self.api.call(
                FIND_FILE,
                {"q": f"filename:'{name}'"},
                cost=3,
                what=f"file {media.filename!r}",
            )
        )["files"]["nodes"]
        if not found:
            raise SyncError(
                f"file {media.filename!r}: Shopify holds a file named "
                f"{name!r} but does not find it yet; the next run links it"
            )
        return str(found[0]["id"])

    async def attach(
        self, target: Outcome, media: Sequence[MediaLink]
    ) -> None:
        if not target.platform_id:
            raise SyncError(f"{target.number!r} has no Shopify product")
        ordered = sorted(media, key=lambda m: m.position)
        answer = (
            await self.api.call(
                SET_FILES,
                {
                    "id": {"id": target.platform_id},
                    "input": {"files": [{"id": m.media_id} for m in ordered]},
                },
                cost=11,
                what=f"media of {target.number!r}",
                idempotent=True,  # the product's whole file list, by id
            )
        )["productSet"]
        if not answer["userErrors"]:
            return
        # The product's refusal: this article fails on its media, the run
        # goes on.  A file deleted in Shopify since the store learnt its
        # id is one reason; which files Shopify no longer has is asked,
        # not read from the refusal's wording (not documented).
        refused = str(user_errors(target.number, answer["userErrors"]).error)
        try:
            gone = await self._gone(ordered, target.number)
        except SyncError as exc:
            if isinstance(exc, AuthenticationError):
                raise
            gone = []  # the refusal stands as it is
        if not gone:
            raise RecordRejected(refused, number=target.number, field="media")
        # Not this process's to hand out again either (`upload`).
        self.uploaded = {
            h: f for h, f in self.uploaded.items() if f not in gone
        }
        first = next(m for m in ordered if m.media_id in gone)
        raise RecordRejected(
            f"{refused} (file {first.media_id} was deleted in Shopify; "
            "ecomsync forgets it and uploads its content again)",
            number=target.number,
            field=f"media.{first.position}",
            media_gone=tuple(gone),
        )

    async def _gone(
        self, media: Sequence[MediaLink], number: str
    ) -> list[str]:
        """
        The ids of *media* that name no file on Shopify (deleted there).
        """
        ids = list(dict.fromkeys(m.media_id for m in media))
        if not ids:
            return []
        what = f"media of {number!r}"
        nodes = (
            await self.api.call(
                FILES_HELD, {"ids": ids}, cost=1 + len(ids), what=what
            )
        )["nodes"]
        if not isinstance(nodes, list) or len(nodes) != len(ids):
            raise odd_answer(
                "Shopify", f"nodes of {what}", "not one entry per id"
            )
        return [i for i, node in zip(ids, nodes, strict=True) if node is None]

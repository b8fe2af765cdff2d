"""
Media: staged upload, ``fileCreate``, and the product's files set with
``productSet``.

Private: `ecomsync.platforms.shopify.Shopify` is the public face.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ..._contracts import MediaLink, Outcome, StagedMedia
from ..._http import HttpClient
from ..._model import MediaKind
from ...exceptions import SyncError
from ._catalogue import user_errors
from ._client import GraphQL


STAGED = """
mutation($i: [StagedUploadInput!]!) { stagedUploadsCreate(input: $i) {
  stagedTargets { url resourceUrl parameters { name value } }
  userErrors { field message } } }
"""
FILE_CREATE = """
mutation($f: [FileCreateInput!]!) { fileCreate(files: $f) {
  files { id fileStatus } userErrors { field message code } } }
"""
SET_FILES = """
mutation($input: ProductSetInput!, $id: ProductSetIdentifiers) {
  productSet(input: $input, identifier: $id) {
    product { id } userErrors { field message code } } }
"""


@attrs.define
class Media:
    api: GraphQL
    upload_http: HttpClient
    uploaded: dict[str, str] = attrs.field(factory=dict)

    async def upload(self, media: StagedMedia) -> str:
        if media.sha256 in self.uploaded:
            return self.uploaded[media.sha256]
        image = media.kind is MediaKind.IMAGE
        data = await self.api.call(
            STAGED,
            {
                "i": [
                    {
                        "resource": "IMAGE" if image else "FILE",
                        "filename": f"{media.sha256[:16]}-{media.filename}",
                        "mimeType": media.mime_type,
                        "httpMethod": "POST",
                        "fileSize": str(media.size),
                    }
                ]
            },
            cost=12,
            what=f"upload of {media.filename!r}",
        )
        target = data["stagedUploadsCreate"]["stagedTargets"][0]
        form = {p["name"]: p["value"] for p in target["parameters"]}
        content = (
            media.content
            if media.content is not None
            else media.path.read_bytes()
        )
        response = await self.upload_http.client.post(
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
                        }
                    ]
                },
                cost=12,
                what=f"file {media.filename!r}",
            )
        )["fileCreate"]
        if created["userErrors"]:
            message = created["userErrors"][0]["message"]
            raise SyncError(f"file {media.filename!r}: {message}")
        file_id = str(created["files"][0]["id"])
        self.uploaded[media.sha256] = file_id
        return file_id

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
            )
        )["productSet"]
        if answer["userErrors"]:
            raise SyncError(
                str(user_errors(target.number, answer["userErrors"]).error)
            )

"""
Images and documents of the Vendure adapter: assets named by the SHA-256
of their content (reused when the shop has one), attached to products
and collections in position order with the first image featured.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import attrs

from ..._contracts import MediaLink, Outcome, StagedMedia
from ..._model import MediaKind
from ...exceptions import SyncError
from ._catalog import Catalog, slugify
from ._categories import Categories
from ._client import JSON
from ._gql import aliased, union_error


@attrs.define
class Media:
    """
    Uploads assets and attaches them to products and collections.
    """

    catalog: Catalog
    categories: Categories
    _assets: dict[str, str] = attrs.field(factory=dict, init=False)

    async def upload(self, media: StagedMedia) -> str:
        """
        The asset id of *media*: from this run's cache, an asset with its
        name (SHA-256 plus extension), or a new upload.
        """
        name = _asset_name(media)
        if media.sha256 in self._assets:
            return self._assets[media.sha256]
        found = await self._named(name)
        if found is not None:
            self._assets[media.sha256] = found
            return found

        async def uploaded() -> JSON | None:
            # an upload whose answer was lost: the asset with the name
            made = await self._named(name)
            if made is None:
                return None
            return {"createAssets": [{"__typename": "Asset", "id": made}]}

        content = await anyio.to_thread.run_sync(media.read_bytes)
        answer, errors = await self.catalog.gql.request(
            """mutation ($input: [CreateAssetInput!]!) {
              createAssets(input: $input) { __typename
                ... on Asset { id name }
                ... on ErrorResult { errorCode message } } }""",
            {"input": [{"file": None, "tags": ["ecomsync"]}]},
            mutation=True,
            files={"variables.input.0.file": (name, content, media.mime_type)},
            confirm=uploaded,
        )
        created = (answer.get("createAssets") or [None])[0]
        problem = union_error(created)
        if problem is not None or errors:
            raise SyncError(
                f"Vendure refused the upload of {media.filename!r}: "
                f"{problem or errors[0].get('message')}"
            )
        assert created is not None
        self._assets[media.sha256] = str(created["id"])
        return self._assets[media.sha256]

    async def _named(self, name: str) -> str | None:
        """
        The id of the (oldest) asset named *name*, if there is one.
        """
        data = await self.catalog.gql.query(
            """query ($n: String!) { assets(options: {
                 filter: { name: { eq: $n } }, sort: { id: ASC }, take: 1 }) {
                 items { id } } }""",
            {"n": name},
        )
        items = data["assets"]["items"]
        return str(items[0]["id"]) if items else None

    async def attach(
        self, kind: str, target: Outcome, media: Sequence[MediaLink]
    ) -> None:
        """
        Make *media* exactly the assets of the product or collection of
        *target* (``kind``: ``"product"`` or ``"collection"``), the first
        image featured; nothing is written if it already is so.
        """
        ordered = sorted(media, key=lambda m: m.position)
        ids = list(dict.fromkeys(m.media_id for m in ordered))
        images = [m.media_id for m in ordered if m.kind is MediaKind.IMAGE]
        featured = images[0] if images else (ids[0] if ids else None)
        if target.platform_id is None:
            raise SyncError(f"{target.number} has no Vendure id to attach to")
        if kind == "product":
            current = (await self.catalog.products([target.platform_id])).get(
                target.platform_id
            )
            if current is None:
                raise SyncError(f"product {target.platform_id} is gone")
            have = [a["id"] for a in current.get("assets") or []]
            have_featured = (current.get("featuredAsset") or {}).get("id")
            field, input_type, entity = (
                "updateProduct",
                "UpdateProductInput!",
                target.platform_id,
            )
        else:
            values = await self.catalog.category_values()
            nodes = await self.categories.collections(
                {v["id"] for v in values.values()}
            )
            node = nodes.get(target.platform_id)
            if node is None:
                raise SyncError(f"category {target.number} has no collection")
            have, have_featured = node.asset_ids, node.featured
            field, input_type, entity = (
                "updateCollection",
                "UpdateCollectionInput!",
                node.id,
            )
        if have == ids and have_featured == featured:
            return
        results = await aliased(
            self.catalog.gql,
            field,
            {"input": input_type},
            [
                {
                    "input": {
                        "id": entity,
                        "assetIds": ids,
                        "featuredAssetId": featured,
                    }
                }
            ],
            "id",
            # the whole list of assets: a repeat sets the same
            idempotent=True,
        )
        if isinstance(results[0], str):
            raise SyncError(
                f"cannot attach media to {target.number}: {results[0]}"
            )


def _asset_name(media: StagedMedia) -> str:
    suffix = ""
    if "." in media.filename:
        suffix = "." + slugify(media.filename.rsplit(".", 1)[1])[:8]
    return f"{media.sha256}{suffix}"


__all__ = ["Media"]

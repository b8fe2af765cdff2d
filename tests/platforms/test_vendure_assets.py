"""
Vendure's media without a server: an asset uploaded once per content,
reused when present, and attach errors reported per record.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ecomsync import DataType
from ecomsync._contracts import MediaLink, Outcome, StagedMedia
from ecomsync.exceptions import EcomsyncError, SyncError
from ecomsync.platforms.vendure import Vendure

from ._vendure import Handler, query_of


pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("no_waits")]


def _media_shop(
    *, existing: str | None = None, refuse: bool = False
) -> tuple[Handler, list[str]]:
    """
    Answers the asset, product and collection reads and writes of
    `Vendure.upload_media` / `attach_media`; records what was sent.
    """
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["content-type"].startswith("multipart/"):
            sent.append("upload")
            result = (
                {
                    "__typename": "MimeTypeError",
                    "errorCode": "MIME",
                    "message": "bad type",
                }
                if refuse
                else {"__typename": "Asset", "id": "7", "name": "x"}
            )
            return httpx.Response(
                200, json={"data": {"createAssets": [result]}}
            )
        query = query_of(request)
        if "assets(options" in query:
            sent.append("find")
            items = [{"id": existing}] if existing else []
            return httpx.Response(
                200, json={"data": {"assets": {"items": items}}}
            )
        if "products(options" in query:
            return httpx.Response(
                200, json={"data": {"products": {"items": []}}}
            )
        if "facets(options" in query:
            default = {"id": "1", "code": "__default_channel__"}
            return httpx.Response(
                200,
                json={
                    "data": {
                        "activeChannel": default,
                        "facets": {"items": [{"id": "1"}]},
                    }
                },
            )
        if "facetValues(options" in query:
            item = {"id": "10", "code": "C-1", "name": "C"}
            return httpx.Response(
                200,
                json={
                    "data": {"facetValues": {"totalItems": 1, "items": [item]}}
                },
            )
        if "collections(options" in query:
            node = {
                "id": "3",
                "parentId": "1",
                "name": "C",
                "description": "",
                "isPrivate": False,
                "featuredAsset": None,
                "assets": [],
                "filters": [
                    {
                        "code": "facet-value-filter",
                        "args": [{"name": "facetValueIds", "value": '["10"]'}],
                    }
                ],
            }
            return httpx.Response(
                200,
                json={
                    "data": {"collections": {"totalItems": 1, "items": [node]}}
                },
            )
        sent.append("attach")
        return httpx.Response(
            200,
            json={
                "data": None,
                "errors": [{"message": "nope", "path": ["a0"]}],
            },
        )

    return answer, sent


def _staged(tmp_path: Any) -> StagedMedia:
    path = tmp_path / "f"
    path.write_bytes(b"png")
    return StagedMedia(
        sha256="ab" * 32,
        path=path,
        size=3,
        filename="logo.PNG",
        mime_type="image/png",
    )


class TestMedia:
    """
    Assets are uploaded once per content and attached exactly.
    """

    async def test_upload_once(self, tmp_path: Any) -> None:
        """The first upload looks for the content's name, then uploads; a
        second upload of the same content sends nothing."""
        handler, sent = _media_shop()
        async with Vendure(
            "http://shop.test",
            api_key="k",
            transport=httpx.MockTransport(handler),
        ) as shop:
            first = await shop.upload_media(_staged(tmp_path))
            second = await shop.upload_media(_staged(tmp_path))

        assert ("7", "7") == (first, second)
        assert ["find", "upload"] == sent

    async def test_existing_content_is_linked(self, tmp_path: Any) -> None:
        """Content the shop already has is linked, not uploaded."""
        handler, sent = _media_shop(existing="5")
        async with Vendure(
            "http://shop.test",
            api_key="k",
            transport=httpx.MockTransport(handler),
        ) as shop:
            found = await shop.upload_media(_staged(tmp_path))

        assert "5" == found
        assert ["find"] == sent

    async def test_refused_upload(self, tmp_path: Any) -> None:
        """A refused upload is a SyncError naming the file and the
        reason."""
        handler, _ = _media_shop(refuse=True)
        async with Vendure(
            "http://shop.test",
            api_key="k",
            transport=httpx.MockTransport(handler),
        ) as shop:
            with pytest.raises(SyncError, match=r"logo\.PNG.*bad type"):
                await shop.upload_media(_staged(tmp_path))

    @pytest.mark.parametrize(
        ("data_type", "target", "words"),
        [
            ("ARTICLES", (None,), "no Vendure id"),
            ("ARTICLES", ("99",), "product 99 is gone"),
            ("CATEGORIES", ("77",), "has no collection"),
            ("CATEGORIES", ("10",), "cannot attach media to N: nope"),
            ("STOCK", ("1",), "media for articles and categories"),
        ],
    )
    async def test_attach_errors(
        self, data_type: str, target: tuple[str | None], words: str
    ) -> None:
        """What cannot be attached says why."""
        handler, _ = _media_shop()
        link = MediaLink(media_id="7", sha256="ab" * 32, position=0)
        async with Vendure(
            "http://shop.test",
            api_key="k",
            transport=httpx.MockTransport(handler),
        ) as shop:
            with pytest.raises(EcomsyncError, match=words):
                await shop.attach_media(
                    DataType[data_type],
                    Outcome(number="N", platform_id=target[0]),
                    [link],
                )

"""
Media entities and uploads in the Shopware 6 emulator (platform-apis.md
§1.6).
"""

from __future__ import annotations

import hashlib

import httpx
import pytest

from ecomsync.testing.shopware6 import (
    ShopwareEmulator,
    seed_id,
)

from ._sw6 import (
    MEDIA,
    PM,
    create_media,
    pid,
    product,
    sync,
    upload,
    upsert,
)


pytestmark = pytest.mark.anyio


class TestMedia:
    async def test_upload_binary(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A binary upload answers 204 + Location and stores the bytes."""
        await create_media(client, MEDIA)
        r = await upload(client, MEDIA, b"\xff\xd8jpeg")
        assert r.status_code == 204
        assert r.headers["location"].endswith(f"/api/media/{MEDIA}")
        assert emu.media_bytes(MEDIA) == b"\xff\xd8jpeg"
        assert (
            emu.media_sha256(MEDIA)
            == hashlib.sha256(b"\xff\xd8jpeg").hexdigest()
        )
        row = emu.entities["media"][MEDIA]
        assert (row["fileName"], row["fileExtension"]) == ("hammer", "jpg")
        assert row["hasFile"] is True
        r = await client.post(
            "/api/search/media",
            json={
                "filter": [
                    {"type": "equals", "field": "fileName", "value": "hammer"}
                ]
            },
        )
        assert [m["id"] for m in r.json()["data"]] == [MEDIA]

    @pytest.mark.parametrize(
        ("data", "extension", "mime"),
        [
            (b"\x89PNG\r\n\x1a\n....", "jpg", "image/png"),
            (b"\xff\xd8\xff\xe0JFIF", "png", "image/jpeg"),
            (b"%PDF-1.7 ...", "pdf", "application/pdf"),
            (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp", "image/webp"),
            (b"GIF89a..", "gif", "image/gif"),
            (
                b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                "svg",
                "image/svg+xml",
            ),
            (b"number;name\nA-1;Hammer\n", "csv", "text/csv"),
            (b"just text", "txt", "text/plain"),
            (b"\x00\x01\x02\x03", "doc", "application/msword"),
            (
                b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
                "xls",
                "application/vnd.ms-excel",
            ),
            (
                b"PK\x03\x04....[Content_Types].xml....xl/workbook.xml",
                "xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
        ],
    )
    async def test_mime_type_from_bytes(
        self,
        client: httpx.AsyncClient,
        emu: ShopwareEmulator,
        data: bytes,
        extension: str,
        mime: str,
    ) -> None:
        """The mime type comes from the bytes (FileInfoHelper), whatever the
        Content-Type header says; text and unknown bytes fall back to the
        extension's type."""
        await create_media(client, MEDIA)
        r = await client.post(
            f"/api/_action/media/{MEDIA}/upload?extension={extension}",
            content=data,
            headers={"content-type": "image/jpeg"},
        )
        assert 204 == r.status_code, r.text
        assert mime == emu.entities["media"][MEDIA]["mimeType"]
        assert mime == emu.media_files[MEDIA].mime_type

    @pytest.mark.parametrize("extension", ["doc", "xls", "xlsx", "csv", "glb"])
    async def test_office_extensions_allowed(
        self, client: httpx.AsyncClient, extension: str
    ) -> None:
        """doc, xls and xlsx are in shopware.filesystem.allowed_extensions."""
        await create_media(client, MEDIA)
        r = await upload(client, MEDIA, b"x", f"extension={extension}")
        assert 204 == r.status_code, r.text

    async def test_zip_only_for_private_media(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """zip (and rar) are allowed for private media only."""
        private = seed_id("media.private")
        r = await sync(
            client,
            {
                "m": upsert(
                    "media", {"id": MEDIA}, {"id": private, "private": True}
                )
            },
        )
        assert 200 == r.status_code
        r = await upload(client, MEDIA, b"PK\x03\x04", "extension=zip")
        assert 400 == r.status_code
        [err] = r.json()["errors"]
        assert "CONTENT__MEDIA_FILE_TYPE_NOT_SUPPORTED" == err["code"]
        assert (
            f'The file extension "zip" for media object with id {MEDIA} is '
            "not supported."
        ) == err["detail"]
        assert {"mediaId": MEDIA, "extension": "zip"} == err["meta"][
            "parameters"
        ]
        r = await upload(client, private, b"PK\x03\x04", "extension=zip")
        assert 204 == r.status_code, r.text
        assert "application/zip" == emu.entities["media"][private]["mimeType"]

    @pytest.mark.parametrize("extension", ["exe", "php", "html"])
    async def test_other_extensions_refused(
        self, client: httpx.AsyncClient, extension: str
    ) -> None:
        """Extensions outside both lists are refused."""
        await create_media(client, MEDIA)
        r = await upload(client, MEDIA, b"x", f"extension={extension}")
        assert 400 == r.status_code
        assert (
            "CONTENT__MEDIA_FILE_TYPE_NOT_SUPPORTED"
            == (r.json()["errors"][0]["code"])
        )

    async def test_reupload_replaces(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Uploading to the same media id again replaces the file."""
        await create_media(client, MEDIA)
        assert (await upload(client, MEDIA, b"one")).status_code == 204
        assert (await upload(client, MEDIA, b"two")).status_code == 204
        assert emu.media_bytes(MEDIA) == b"two"

    async def test_duplicate_file_name(
        self, client: httpx.AsyncClient
    ) -> None:
        """The same fileName+extension on another media is a 400."""
        other = seed_id("media.2")
        await create_media(client, MEDIA, other)
        assert (await upload(client, MEDIA, b"a")).status_code == 204
        r = await upload(client, other, b"b")
        err = r.json()["errors"][0]
        assert r.status_code == 400
        assert err["code"] == "CONTENT__MEDIA_DUPLICATED_FILE_NAME"
        assert (
            err["detail"]
            == 'A file with the name "hammer.jpg" already exists.'
        )
        r = await upload(client, other, b"b", "extension=png&fileName=hammer")
        assert r.status_code == 204

    async def test_missing_extension(self, client: httpx.AsyncClient) -> None:
        """An upload without extension is 400."""
        await create_media(client, MEDIA)
        r = await upload(client, MEDIA, b"a", "fileName=x")
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] == (
            "CONTENT__MEDIA_MISSING_FILE_EXTENSION"
        )

    async def test_unknown_media(self, client: httpx.AsyncClient) -> None:
        """An upload to an unknown media id is 404."""
        r = await upload(client, seed_id("nope"), b"a")
        assert r.status_code == 404
        assert r.json()["errors"][0]["code"] == "CONTENT__MEDIA_NOT_FOUND"

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1/x.jpg",
            "http://169.254.169.254/latest",
            "http://[::1]/x.jpg",
            "http://0x7f000001/x.jpg",
            "http://2130706433/x.jpg",
            "http://10.0.0.1/x.jpg",
            "http://localhost/x.jpg",
            "file:///etc/passwd",
        ],
    )
    async def test_url_upload_refuses_internal(
        self, client: httpx.AsyncClient, url: str
    ) -> None:
        """The URL variant refuses private and loopback targets."""
        await create_media(client, MEDIA)
        r = await client.post(
            f"/api/_action/media/{MEDIA}/upload?extension=jpg",
            json={"url": url},
        )
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] == "CONTENT__MEDIA_ILLEGAL_URL"

    async def test_url_upload_public_fails_offline(
        self, client: httpx.AsyncClient
    ) -> None:
        """A public URL cannot be fetched by the offline emulator: 400."""
        await create_media(client, MEDIA)
        r = await client.post(
            f"/api/_action/media/{MEDIA}/upload?extension=jpg",
            json={"url": "https://93.184.215.14/x.jpg"},
        )
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] != "CONTENT__MEDIA_ILLEGAL_URL"

    async def test_patch_product_media_and_cover(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """PATCH product with media[] and coverId links and sets the cover."""
        await sync(client, {"p": upsert("product", product("PM", emu))})
        r = await client.patch(
            f"/api/product/{pid('PM')}",
            json={
                "media": [
                    {
                        "id": PM,
                        "mediaId": MEDIA,
                        "position": 1,
                        "media": {"id": MEDIA},
                    }
                ],
                "coverId": PM,
            },
        )
        assert r.status_code == 204, r.text
        assert emu.entities["product"][pid("PM")]["coverId"] == PM
        assert emu.entities["product_media"][PM]["productId"] == pid("PM")
        r = await client.post(
            "/api/search/product_media",
            json={
                "filter": [
                    {
                        "type": "equals",
                        "field": "productId",
                        "value": pid("PM"),
                    }
                ],
                "associations": {"media": {}},
            },
        )
        assert r.json()["data"][0]["media"]["id"] == MEDIA
        r = await sync(
            client,
            {
                "d": {
                    "entity": "product_media",
                    "action": "delete",
                    "payload": [{"id": PM}],
                }
            },
        )
        assert r.status_code == 200
        assert emu.entities["product"][pid("PM")]["coverId"] is None

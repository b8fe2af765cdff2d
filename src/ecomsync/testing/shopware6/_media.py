"""
Media upload (``POST /api/_action/media/{id}/upload``, §1.6): the
extension lists, the file-name uniqueness Shopware enforces, MIME
sniffing, and the guard on the URL variant.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs

from ._errors import ApiError
from ._mime import detect_mime_type
from ._schema import ID_RE
from ._store import Row


if TYPE_CHECKING:
    from ._emulator import ShopwareEmulator


# (Resources/config/packages/shopware.yaml); FileSaver::
# validateFileExtension picks the list by the media's `private` flag.
ALLOWED_EXTENSIONS = frozenset(
    {
        *("jpg", "jpeg", "png", "webp", "avif", "gif", "svg", "bmp"),
        *("tiff", "tif", "eps", "webm", "mkv", "flv", "ogv", "ogg", "mov"),
        *("mp4", "avi", "wmv", "pdf", "aac", "mp3", "wav", "flac", "oga"),
        *("wma", "txt", "doc", "ico", "glb", "csv", "xls", "xlsx"),
    }
)
PRIVATE_ALLOWED_EXTENSIONS = ALLOWED_EXTENSIONS | {"zip", "rar"}


@attrs.frozen
class MediaFile:
    sha256: str
    size: int
    mime_type: str
    data: bytes | None


def drop_file_name(
    file_names: dict[tuple[str, str], str], media_id: str, row: Row
) -> None:
    """
    Free the ``(fileName, extension)`` *row* of *media_id* holds.
    """
    name, ext = row.get("fileName"), row.get("fileExtension")
    if isinstance(name, str) and isinstance(ext, str):
        k = (name.casefold(), ext.casefold())
        if file_names.get(k) == media_id:
            del file_names[k]


def upload(
    emu: ShopwareEmulator,
    media_id: str,
    data: bytes,
    *,
    extension: str | None,
    file_name: str | None,
    content_type: str,
    base_url: str,
) -> None:
    """
    Store *data* as the file of *media_id*, or raise Shopware's error.
    """
    if not ID_RE.match(media_id):
        raise ApiError.one(
            400,
            "FRAMEWORK__INVALID_UUID",
            f'The string "{media_id}" is not a valid uuid.',
        )
    row = emu.store.get("media", media_id)
    if row is None:
        raise ApiError.one(
            404,
            "CONTENT__MEDIA_NOT_FOUND",
            f'Media for id "{media_id}" not found.',
            parameters={"mediaId": media_id},
        )
    if not extension:
        raise ApiError.one(
            400,
            "CONTENT__MEDIA_MISSING_FILE_EXTENSION",
            'No file extension provided. Please use the "extension" '
            "query parameter to specify the extension of the uploaded "
            "file.",
        )
    if content_type.split(";", 1)[0].strip() == "application/json":
        fetch_url(data)
    ext = extension.lower()
    allowed = (
        PRIVATE_ALLOWED_EXTENSIONS
        if row.get("private")
        else ALLOWED_EXTENSIONS
    )
    if ext not in allowed:
        # MediaException::fileExtensionNotSupported.
        raise ApiError.one(
            400,
            "CONTENT__MEDIA_FILE_TYPE_NOT_SUPPORTED",
            f'The file extension "{ext}" for media object with id '
            f"{media_id} is not supported.",
            parameters={"mediaId": media_id, "extension": ext},
        )
    if not data:
        raise ApiError.one(
            400,
            "CONTENT__MEDIA_EMPTY_FILE",
            "Expected a file, but the uploaded file is empty.",
        )
    name = file_name or media_id
    k = (name.casefold(), ext)
    owner = emu._file_names.get(k)
    if owner is not None and owner != media_id:
        raise ApiError.one(
            400,
            "CONTENT__MEDIA_DUPLICATED_FILE_NAME",
            f'A file with the name "{name}.{ext}" already exists.',
            parameters={"fileName": name, "fileExtension": ext},
        )
    drop_file_name(emu._file_names, media_id, row)
    emu._file_names[k] = media_id
    # FileFetcher::fetchRequestData ignores the Content-Type header:
    # FileInfoHelper::getMimeType sniffs the stored bytes.
    mime = detect_mime_type(data, ext)
    digest = hashlib.sha256(data).hexdigest()
    emu.media_files[media_id] = MediaFile(
        digest, len(data), mime, data if emu.keep_media_bytes else None
    )
    now = emu.now_str()
    emu.store.put(
        "media",
        media_id,
        {
            **row,
            "fileName": name,
            "fileExtension": ext,
            "mimeType": mime,
            "fileSize": len(data),
            "hasFile": True,
            "uploadedAt": now,
            "path": f"media/{digest[:2]}/{digest[2:4]}/{name}.{ext}",
            "url": (
                f"{base_url}/media/{digest[:2]}/{digest[2:4]}/{name}.{ext}"
            ),
            "updatedAt": now,
        },
    )


def fetch_url(body: bytes) -> None:
    """
    The URL variant.  Private, loopback and reserved targets are
    refused like Shopware's FileUrlValidator; anything else fails
    because the emulator has no internet.
    """
    try:
        url = json.loads(body)["url"]
        parts = urlsplit(str(url))
    except (ValueError, KeyError, TypeError):
        raise ApiError.one(
            400,
            "CONTENT__MEDIA_INVALID_URL",
            "Provided URL is invalid.",
        ) from None
    host = parts.hostname or ""
    illegal = parts.scheme not in ("http", "https") or not host
    if not illegal:
        illegal = host == "localhost" or host.endswith(".localhost")
    if not illegal:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            try:  # legacy forms: 0x7f000001, 2130706433, 127.1
                ip = ipaddress.ip_address(socket.inet_aton(host))
            except OSError:
                ip = None
        if ip is not None:
            illegal = not ip.is_global
    if illegal:
        raise ApiError.one(
            400,
            "CONTENT__MEDIA_ILLEGAL_URL",
            f'Provided URL "{url}" is not allowed.',
            parameters={"url": url},
        )
    raise ApiError.one(
        400,
        "CONTENT__MEDIA_CANNOT_OPEN_SOURCE_STREAM_TO_READ",
        f'Cannot open source stream to read from "{url}".',
        parameters={"url": url},
    )

"""
The mime type Shopware stores for an uploaded file.

``FileFetcher::fetchRequestData`` writes the request body to a temporary
file and ``FileInfoHelper::getMimeType`` asks Symfony's ``MimeTypes``
guesser (libmagic) about its *content*; the request's ``Content-Type``
header plays no part.  Only when the content says nothing specific
(``text/plain`` or ``application/octet-stream``) does the extension's
first mime type win.  The emulator sniffs the magic numbers of the
formats Shopware accepts (a subset of libmagic's database).
"""

from __future__ import annotations


_OCTET = "application/octet-stream"
_TEXT = "text/plain"

# Symfony\Component\Mime\MimeTypes: the first mime type of an extension.
EXTENSION_MIME = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "avif": "image/avif",
    "gif": "image/gif",
    "svg": "image/svg+xml",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "eps": "application/postscript",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "flv": "video/x-flv",
    "ogv": "video/ogg",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "mov": "video/quicktime",
    "mp4": "video/mp4",
    "avi": "video/x-msvideo",
    "wmv": "video/x-ms-wmv",
    "pdf": "application/pdf",
    "aac": "audio/aac",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "wma": "audio/x-ms-wma",
    "txt": "text/plain",
    "csv": "text/csv",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ),
    "ico": "image/vnd.microsoft.icon",
    "glb": "model/gltf-binary",
    "zip": "application/zip",
    "rar": "application/x-rar",
}

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE2_BY_EXTENSION = {
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
}
_FTYP = {
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"qt  ": "video/quicktime",
}


def sniff(data: bytes, extension: str = "") -> str:
    """
    What libmagic says about *data*: a mime type, ``text/plain`` for
    text it cannot place, ``application/octet-stream`` for anything else.
    """
    head = data[:64]
    simple = (
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"%!PS", "application/postscript"),
        (b"BM", "image/bmp"),
        (b"II*\x00", "image/tiff"),
        (b"MM\x00*", "image/tiff"),
        (b"\x00\x00\x01\x00", "image/vnd.microsoft.icon"),
        (b"glTF", "model/gltf-binary"),
        (b"ID3", "audio/mpeg"),
        (b"fLaC", "audio/flac"),
        (b"OggS", "audio/ogg"),
        (b"Rar!\x1a\x07", "application/x-rar"),
        (b"FLV", "video/x-flv"),
    )
    for magic, mime in simple:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/x-wav"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head[4:8] == b"ftyp":
        return _FTYP.get(head[8:12], "video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head else "video/x-matroska"
    if head.startswith(b"PK\x03\x04"):
        if b"[Content_Types].xml" in data[:2048] and b"xl/" in data[:4096]:
            return EXTENSION_MIME["xlsx"]
        return "application/zip"
    if head.startswith(_OLE2):
        return _OLE2_BY_EXTENSION.get(extension, "application/CDFV2")
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio/mpeg"
    try:
        text = data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return _OCTET
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("<svg") or (
        stripped.startswith("<?xml") and "<svg" in stripped
    ):
        return "image/svg+xml"
    if all(c.isprintable() or c in "\t\r\n\f" for c in text):
        return _TEXT
    return _OCTET


def detect_mime_type(data: bytes, extension: str) -> str:
    """
    ``FileInfoHelper::getMimeType(file, extension)``: the sniffed type,
    or the extension's when the content is only text or bytes.
    """
    guessed = sniff(data, extension)
    if guessed in (_TEXT, _OCTET):
        return EXTENSION_MIME.get(extension, guessed)
    return guessed

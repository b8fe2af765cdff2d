"""
`build_request`: the httpx request ``client.build_request`` makes, built
with less client CPU where that is safe (every request of every adapter
is built here, so its microseconds count per request).
"""

from __future__ import annotations

import json as _json
import re
from collections.abc import Mapping
from typing import Any

import httpx

from ._http_aiohttp import KEEPS_ROWS


__all__ = ["build_request"]

#: A relative path whose segments need no escaping or normalising, and a
#: query value that needs no escaping: `build_request` joins them to the
#: base URL without httpx's URL parser.
_PLAIN_PATH = re.compile(r"(?:/[A-Za-z0-9_~-][A-Za-z0-9_.~-]*)*/?")
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.~-]*")

#: httpx's rows of a header: (name as written, name lower-cased, value).
_Row = tuple[bytes, bytes, bytes]


def _request_state() -> frozenset[str]:
    # What httpx's constructor leaves on a request built from a stream
    # and then read: `_bare_request` sets exactly these.
    request = httpx.Request(
        "POST",
        httpx.URL("http://a.test/"),
        headers=httpx.Headers(),
        stream=httpx.ByteStream(b"x"),
        extensions={},
    )
    request.read()
    return frozenset(vars(request))


_BARE_STATE = frozenset(
    {"method", "url", "headers", "extensions", "stream", "_content"}
)
#: Whether this httpx keeps a request as `_bare_request` fills it in.
_BARE = _request_state() == _BARE_STATE


def build_request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    json: Any = None,
    content: bytes | None = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Request:
    """
    ``client.build_request(...)``, the same request, built without parsing
    URLs where that is safe: httpx parses the URL three times per request
    (the path, the path joined to the base, the query added), checking
    every character each time, about 70 us of a request's client CPU.

    A path of plain segments (letters, digits, ``_~-``, dots inside) with
    plain query values is joined to the client's already parsed base URL;
    anything else, or a client holding cookies, goes through httpx.
    """
    ref = getattr(client.base_url, "_uri_reference", None)
    # httpx keeps the base URL's path with a trailing slash ("" is "/").
    base_path = (getattr(ref, "path", None) or "/") if ref else ""
    if (
        ref is not None
        and ref.query is None
        and base_path.endswith("/")
        and _PLAIN_PATH.fullmatch(url)
        and all(
            _PLAIN_VALUE.fullmatch(k) and _PLAIN_VALUE.fullmatch(v)
            for k, v in (params or {}).items()
        )
        and not client.cookies
        and (content is None or type(content) is bytes)
    ):
        query = (
            "&".join(f"{k}={v}" for k, v in params.items()) if params else None
        )
        # httpx.URL() would parse "": an empty instance, then its parts.
        joined = httpx.URL.__new__(httpx.URL)
        joined._uri_reference = ref._replace(
            path=base_path + url.lstrip("/"), query=query, fragment=None
        )
        request = _plain_request(
            client, method, joined, json=json, content=content, headers=headers
        )
        if request is not None:
            return request
    return client.build_request(
        method, url, json=json, content=content, params=params, headers=headers
    )


def _client_rows(client: httpx.AsyncClient) -> list[_Row]:
    """
    A copy of the client's header rows, lower-cased names included.
    """
    if KEEPS_ROWS:
        return list(client.headers._list)
    return [  # pragma: no cover - another httpx
        (key, key.lower(), value) for key, value in client.headers.raw
    ]


def _plain_request(
    client: httpx.AsyncClient,
    method: str,
    url: httpx.URL,
    *,
    json: Any,
    content: bytes | None,
    headers: Mapping[str, str] | None,
) -> httpx.Request | None:
    """
    ``httpx.Request(method, url, json=json, content=content, headers=...)``
    with the client's headers updated by *headers*, built in one pass:
    httpx builds the headers four times (the client's copied, updated,
    the body's added one by one, then ``Host`` put in front), each time
    normalising every header.  The same headers in the same order, the
    same body; ``None`` (build it with httpx) for a header that is not
    ASCII.
    """
    rows = _client_rows(client)
    if headers:
        if not all(k.isascii() and v.isascii() for k, v in headers.items()):
            return None
        given = [
            (k.encode(), k.lower().encode(), v.encode())
            for k, v in headers.items()
        ]
        replaced = {row[1] for row in given}
        rows = [row for row in rows if row[1] not in replaced]
        rows += given
    where = {row[1] for row in rows}
    # The body's headers where the caller set none (httpx's setdefault).
    if content is not None:
        body = content
        if body and b"content-length" not in where:
            length = str(len(body)).encode()
            rows.append((b"Content-Length", b"content-length", length))
    elif json is not None:
        body = _json.dumps(
            json, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode()
        if b"content-length" not in where:
            length = str(len(body)).encode()
            rows.append((b"Content-Length", b"content-length", length))
        if b"content-type" not in where:
            kind = b"application/json"
            rows.append((b"Content-Type", b"content-type", kind))
    else:
        body = b""
    front: list[_Row] = []
    if b"host" not in where:
        front.append((b"Host", b"host", url.netloc))
    method = method.upper()
    if (
        method in ("POST", "PUT", "PATCH")
        and not body
        and b"content-length" not in where
        and b"transfer-encoding" not in where
    ):
        front.append((b"Content-Length", b"content-length", b"0"))
    return _bare_request(
        method,
        url,
        front + rows if front else rows,
        body,
        {"timeout": client.timeout.as_dict()},
    )


def _bare_request(
    method: str,
    url: httpx.URL,
    rows: list[_Row],
    body: bytes,
    extensions: dict[str, Any],
) -> httpx.Request:
    """
    ``httpx.Request(method, url, headers=rows, stream=ByteStream(body),
    extensions=extensions)``, read, for a method in upper case and rows
    httpx would keep as they are: the same object without the
    constructor's copies of the URL, the headers and the extensions, and
    without reading the body through its stream.
    """
    if not (KEEPS_ROWS and _BARE):  # pragma: no cover - another httpx
        request = httpx.Request(
            method,
            url,
            headers=httpx.Headers([(key, value) for key, _, value in rows]),
            stream=httpx.ByteStream(body),
            extensions=extensions,
        )
        request.read()  # as httpx does for a body in memory
        return request
    headers = httpx.Headers.__new__(httpx.Headers)
    headers._list = rows
    headers._encoding = None
    request = httpx.Request.__new__(httpx.Request)
    request.method = method
    request.url = url
    request.headers = headers
    request.extensions = extensions
    request.stream = httpx.ByteStream(body)
    request._content = body
    return request

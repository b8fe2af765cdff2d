"""
Answers that are not JSON although their status says all went well: a
maintenance page or a proxy's error page sent with 200, or PHP notices
printed before the JSON (WordPress with ``WP_DEBUG_DISPLAY`` on).  Caught
where the adapters judge a status, so that the run fails naming the
platform and the request instead of with Python's bare
``JSONDecodeError``.  And JSON answers of a shape the adapter did not
expect (a key missing or null, a value of another type): `rows_of` and
`field_of` read them, failing with a `SyncError` naming the request and
the field instead of a bare ``KeyError`` or ``TypeError``.

Private: each adapter's errors are the public face.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from ..exceptions import SyncError


#: How every JSON text starts (after white space): an object, an array,
#: a string, a number, true, false or null.
_JSON_START = re.compile(rb"\s*[\[{\"0-9tfn-]")


def require_json(platform: str, what: str, response: httpx.Response) -> None:
    """
    Raise `SyncError` if *response* has a body that cannot be JSON.  Looks
    at the first bytes only; the body itself is parsed where it is used.
    The body is not quoted: it may echo what was sent.
    """
    content = response.content
    if not content or _JSON_START.match(content):
        return
    kind = response.headers.get("content-type") or "no content type"
    hint = (
        " (an HTML page: a maintenance or proxy page, or PHP notices "
        "printed before the answer)"
        if content.lstrip()[:1] == b"<"
        else ""
    )
    raise SyncError(
        f"{platform} answered {what} with HTTP {response.status_code} and "
        f"{len(content)} bytes that are not JSON ({kind}){hint}"
    )


# -- answers of an odd shape ------------------------------------------------
#
# A real shop may answer with a shape the adapter did not expect: a plugin
# that rewrites an endpoint, an older or newer version, a proxy's JSON.
# Indexing such an answer raised a bare KeyError or TypeError that named
# neither the platform nor the request; these name both, and the field.


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"


def odd_answer(platform: str, what: str, problem: str) -> SyncError:
    """
    The error for an answer to *what* (``GET taxes/classes``) whose shape
    is not the one documented: *problem* says where.
    """
    return SyncError(
        f"{platform} answered {what} with an unexpected shape: {problem}"
    )


def rows_of(platform: str, what: str, answer: object) -> list[Any]:
    """
    *answer* if it is a list of objects.

    Raises:
        SyncError: Naming the request and what came instead.
    """
    if not isinstance(answer, list):
        raise odd_answer(
            platform, what, f"{_kind(answer)} where a list was expected"
        )
    for i, row in enumerate(answer):
        if not isinstance(row, Mapping):
            raise odd_answer(
                platform,
                what,
                f"item {i} is {_kind(row)} where an object was expected",
            )
    return answer


def field_of(
    platform: str,
    what: str,
    row: object,
    key: str,
    kinds: type | tuple[type, ...] = str,
    *,
    where: str = "",
) -> Any:
    """
    ``row[key]`` if *row* is an object and the value is one of *kinds*
    (never null, a boolean only if *kinds* names `bool`).

    Raises:
        SyncError: Naming the request, the field (*where* says which row:
            ``item 3``) and what came instead.  The value is not quoted:
            it may echo what was sent.
    """
    name = f"{where}.{key}" if where else key
    if not isinstance(row, Mapping):
        raise odd_answer(
            platform,
            what,
            f"{where or 'the answer'} is {_kind(row)}, "
            f"not an object with {key!r}",
        )
    if key not in row:
        raise odd_answer(platform, what, f"{name} is missing")
    value = row[key]
    wanted = kinds if isinstance(kinds, tuple) else (kinds,)
    if (
        value is None
        or not isinstance(value, wanted)
        or (isinstance(value, bool) and bool not in wanted)
    ):
        raise odd_answer(platform, what, f"{name} is {_kind(value)}")
    return value

"""
Answers that are not JSON although their status says all went well: a
maintenance page or a proxy's error page sent with 200, or PHP notices
printed before the JSON (WordPress with ``WP_DEBUG_DISPLAY`` on).  Caught
where the adapters judge a status, so that the run fails naming the
platform and the request instead of with Python's bare
``JSONDecodeError``.

Private: each adapter's errors are the public face.
"""

from __future__ import annotations

import re

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

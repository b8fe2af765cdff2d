"""
What the Shopware 6 adapter tests share: the secret that must never show,
and a mock answer to the token request.
"""

from __future__ import annotations

import httpx


SECRET = "s3cr3t-NEVER-SHOWN"


def token_ok(request: httpx.Request) -> httpx.Response | None:
    """
    A token for a token request, ``None`` for any other.
    """
    if request.url.path == "/api/oauth/token":
        return httpx.Response(
            200,
            json={
                "token_type": "Bearer",
                "expires_in": 600,
                "access_token": "tok-1",
            },
        )
    return None


#: The navigation category `channels_ok`'s sales channel shows.
HOME = "0" * 31 + "1"


def channels_ok(request: httpx.Request) -> httpx.Response | None:
    """
    One sales channel showing `HOME` for a sales-channel search (where a
    category push looks for the navigation category), ``None`` for any
    other request.
    """
    if request.url.path == "/api/search/sales-channel":
        channel = {"id": "0" * 31 + "2", "navigationCategoryId": HOME}
        return httpx.Response(200, json={"total": 1, "data": [channel]})
    return None

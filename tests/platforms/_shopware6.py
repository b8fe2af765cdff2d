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

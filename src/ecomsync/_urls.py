"""
Base URLs as the adapters take them: `check_url` refuses one that is not
an absolute http(s) URL or carries credentials, `public_url` strips what
must never reach a message (user info, query, fragment).  Pure functions
over httpx's URL type; no I/O.
"""

from __future__ import annotations

import httpx

from .exceptions import ConfigurationError


def check_url(url: str, *, what: str) -> str:
    """
    *url* if it is an absolute http(s) URL without user info.

    Raises:
        ConfigurationError: Naming *what* but never echoing the URL when it
            carries credentials (those have their own parameters).
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise ConfigurationError(f"{what}: not a valid URL") from None
    if parsed.userinfo:
        raise ConfigurationError(
            f"{what}: the URL carries user info (user:password@); pass "
            "credentials in their own parameters, never in the URL"
        )
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(
            f"{what}: {url!r} is not an absolute http(s) URL"
        )
    return url


def public_url(url: str) -> str:
    """
    *url* without user info, query string or fragment: safe for messages.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid URL>"
    return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))


__all__ = ["check_url", "public_url"]

"""
Talking to the WooCommerce REST API v3: signing (HTTP Basic over https,
OAuth 1.0a one-legged over plain http, as ``WC_REST_Authentication``
accepts them), WordPress' error shape, paging, and the WordPress media
endpoint with an application password.

Private: `ecomsync.platforms.woocommerce.WooCommerce` is the public face.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Mapping
from itertools import pairwise
from typing import Any
from urllib.parse import quote

import attrs
import httpx

from ..._http import HttpClient
from ..._urls import public_url
from ...exceptions import (
    AuthenticationError,
    ConfigurationError,
    SyncError,
)
from .._answers import field_of, odd_answer, require_json, rows_of


API = "/wp-json/wc/v3"
#: ``per_page`` may not exceed this (``get_collection_params``).
MAX_PER_PAGE = 100


class WooApiError(SyncError):
    """
    WooCommerce answered with an error that is not about credentials.
    """

    def __init__(
        self, what: str, status: int, code: str, message: str
    ) -> None:
        self.status = status
        self.code = code
        super().__init__(f"{what}: HTTP {status}: {code}: {message}")


def _enc(value: str) -> str:
    return quote(value, safe="-_.~")


def oauth_params(
    method: str,
    url: str,
    params: Mapping[str, str],
    key: str,
    secret: str,
) -> dict[str, str]:
    """
    *params* plus the OAuth 1.0a parameters and HMAC-SHA256 signature
    that ``WC_REST_Authentication::check_oauth_signature`` recomputes.
    """
    signed = {
        **params,
        "oauth_consumer_key": key,
        "oauth_timestamp": str(int(time.time())),
        "oauth_nonce": secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA256",
    }
    query = "%26".join(
        _enc(f"{_enc(k)}={_enc(v)}") for k, v in sorted(signed.items())
    )
    base = f"{method.upper()}&{_enc(url)}&{query}"
    digest = hmac.new(
        f"{secret}&".encode(), base.encode(), hashlib.sha256
    ).digest()
    signed["oauth_signature"] = base64.b64encode(digest).decode()
    return signed


@attrs.define(repr=False)
class RestApi:
    """
    One shop's REST API; never shows its secrets.
    """

    url: str
    key: str
    secret: str
    http: HttpClient
    wp_user: str | None = None
    wp_password: str | None = None

    def __repr__(self) -> str:
        return f"<RestApi {public_url(self.url)!r}>"

    @property
    def tls(self) -> bool:
        return self.url.startswith("https:")

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201),
        retry: bool = True,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """
        Send one request to ``/wc/v3/{path}``, signed afresh per attempt
        (a retried OAuth request needs a new nonce).  Raises
        `AuthenticationError` for 401/403, `WooApiError` for other
        answers not in *ok*.  Without *retry*, one attempt: the caller
        retries (a write that must first look whether a lost attempt
        landed: ``http.policy.call(confirm=...)``).  *idempotent* as
        `HttpClient.request` takes it: a POST is not, unless the caller
        says so; where it may have landed, `MaybeApplied`.
        """
        full = f"{API}/{path.lstrip('/')}"
        url = self.url.rstrip("/") + full
        query = dict(params or {})

        async def attempt() -> httpx.Response:
            headers: dict[str, str] = {"Accept": "application/json"}
            sent = query
            if self.tls:
                token = base64.b64encode(
                    f"{self.key}:{self.secret}".encode()
                ).decode()
                headers["Authorization"] = f"Basic {token}"
            else:
                sent = oauth_params(method, url, query, self.key, self.secret)
            return await self.http.request(
                method,
                full,
                json=json,
                params=sent,
                headers=headers,
                retry=False,
                idempotent=idempotent,
            )

        response = await (
            self.http.policy.call(attempt) if retry else attempt()
        )
        return self.judge(f"{method} {full}", response, ok)

    @staticmethod
    def judge(
        what: str, response: httpx.Response, ok: tuple[int, ...]
    ) -> httpx.Response:
        if response.status_code in ok:
            require_json("WooCommerce", what, response)
            return response
        code, message = error_of(response)
        if response.status_code in (401, 403):
            raise AuthenticationError(
                f"WooCommerce refused {what}: {code}: {message}"
            )
        raise WooApiError(what, response.status_code, code, message)

    async def _page(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        per_page: int,
        **position: int,
    ) -> tuple[httpx.Response, list[Any]]:
        """
        One page of a list (at ``page`` or ``offset``) and its rows.
        """
        response = await self.call(
            "GET",
            path,
            params={
                **params,
                "per_page": str(per_page),
                **{k: str(v) for k, v in position.items()},
            },
        )
        rows = rows_of("WooCommerce", f"GET {API}/{path}", response.json())
        return response, rows

    @staticmethod
    def pages_of(rows: int, *, per_page: int = MAX_PER_PAGE) -> int:
        """
        The requests `pages` sends for a list of *rows* that does not
        change meanwhile: one, then one for each *per_page* - 1 rows
        more (each page after the first starts at the last row read).
        """
        per_page = max(2, per_page)
        return 1 + max(0, math.ceil((rows - per_page) / (per_page - 1)))

    async def pages(
        self, path: str, params: Mapping[str, str], *, per_page: int
    ) -> Any:
        """
        Yield the rows of a list, each once, page by page, though the
        list changes between pages (in ascending id where the shop sorts
        by id; else in the shop's own order).  Page numbers would
        drift: WooCommerce's lists have no id-range filter, so a row
        deleted (or trashed) behind the read moves the rest up, and the
        row that moved onto the page read already is never read (a
        product a SKU look-up misses is created a second time, a category
        the term listing misses too); one modified into a
        ``modified_after`` list behind the read moves the rest down, and
        a row is read twice.  So each page starts at the last row read
        (``offset``), which it must show, or a row before it: else rows
        were deleted behind the read, and it steps back.  Rows up to the
        last one read are skipped.  A list that fits one page is one
        request, as by page number; a longer one reads one row of each
        page twice.  Every list read takes ``orderby=id`` (the posts
        lists through ``WC_REST_CRUD_Controller::get_collection_params``,
        WP_Query ``ID``; the terms lists through ``WC_REST_Terms_
        Controller``, ``t.term_id``) and ``offset`` (``prepare_objects_
        query``; ``get_items`` of the terms controller, in place of the
        page).  A shop may ignore ``orderby`` (the "Category Order and
        Taxonomy Terms Order" plugin's autosort forces ``t.term_order``
        on every ``get_terms`` outside wp-admin, REST included): a page
        whose ids do not ascend ends the anchoring, and the rest of the
        read takes the pages after it whole, each id yielded once.
        """
        per_page = max(2, per_page)  # one row of each page is the last one
        query = {**params, "orderby": "id", "order": "asc"}
        what = f"GET {API}/{path}"
        offset = 0
        last: int | None = None
        seen: list[int] = []
        ordered = True  # the shop honours orderby=id
        read: set[int] = set()
        while True:
            response, rows = await self._page(
                path, query, per_page=per_page, offset=offset
            )
            total_pages = response.headers.get("x-wp-totalpages")
            if total_pages is not None and not total_pages.strip().isdigit():
                raise odd_answer(
                    "WooCommerce",
                    what,
                    "its X-WP-TotalPages header is not a whole number",
                )
            ids = [
                field_of(
                    "WooCommerce", what, row, "id", int, where=f"item {i}"
                )
                for i, row in enumerate(rows)
            ]
            ordered = ordered and all(a < b for a, b in pairwise(ids))
            if (
                ordered
                and offset
                and last is not None
                and (not rows or ids[0] > last)
            ):
                offset = max(0, offset - (per_page - 1))
                continue
            if offset and ids == seen:
                # a full page at another offset, the same rows: the shop
                # (or a proxy) ignores ``offset``, and the read would
                # never end
                raise odd_answer(
                    "WooCommerce",
                    what,
                    f"offset={offset} answered the rows of the page before",
                )
            seen = ids
            new = [
                r
                for r, i in zip(rows, ids, strict=True)
                if (i > (last or 0) if ordered else i not in read)
            ]
            if new:
                yield new
                last = max(ids)
            read.update(ids)
            total = (response.headers.get("x-wp-total") or "").strip()
            if len(rows) < per_page or (
                total.isdigit() and offset + len(rows) >= int(total)
            ):
                return
            # in the shop's own order the last row read is no anchor
            offset += len(rows) - 1 if ordered else len(rows)

    async def upload(
        self, content: bytes, filename: str, mime_type: str
    ) -> dict[str, Any]:
        """
        ``POST /wp-json/wp/v2/media`` with the raw bytes; WooCommerce
        keys do not reach ``wp/v2``, so this takes the WordPress user's
        application password.
        """
        headers = {
            "Authorization": self._wp_basic(),
            "Content-Type": mime_type,
            "Content-Disposition": f'attachment; filename="{filename}"',
        }
        what = "POST /wp-json/wp/v2/media"

        async def send() -> dict[str, Any]:
            response = await self.http.request(
                "POST",
                "/wp-json/wp/v2/media",
                content=content,
                headers=headers,
                retry=False,
            )
            body: dict[str, Any] = self.judge(what, response, (201,)).json()
            field_of("WooCommerce", what, body, "id", int)
            return body

        async def landed() -> dict[str, Any] | None:
            # An upload whose answer was lost: found by its name (the
            # content hash), else sent again.
            stem = filename.rsplit(".", 1)[0]
            for row in await self.find_media(stem):
                title = row.get("title")
                raw = title.get("raw") if isinstance(title, dict) else None
                if raw and str(raw).startswith(stem):
                    return row
            return None

        return await self.http.policy.call(send, confirm=landed)

    def _wp_basic(self) -> str:
        if not self.wp_user or not self.wp_password:
            raise ConfigurationError(
                "WooCommerce media uploads need wp_user and "
                "wp_application_password (a WordPress application "
                "password; WooCommerce API keys cannot upload media)"
            )
        token = base64.b64encode(
            f"{self.wp_user}:{self.wp_password}".encode()
        ).decode()
        return f"Basic {token}"

    async def check_media(self) -> None:
        """
        One authenticated read of ``wp/v2/media`` (``context=edit``,
        which WordPress answers only for a user who may edit media):
        `AuthenticationError` for a wrong user or application password.
        """
        response = await self.http.request(
            "GET",
            "/wp-json/wp/v2/media",
            params={"per_page": "1", "context": "edit"},
            headers={"Authorization": self._wp_basic()},
        )
        self.judge("GET /wp-json/wp/v2/media", response, (200,))

    async def find_media(self, search: str) -> list[dict[str, Any]]:
        response = await self.http.request(
            "GET",
            "/wp-json/wp/v2/media",
            params={"search": search, "per_page": "10"},
        )
        rows: list[dict[str, Any]] = self.judge(
            "GET /wp-json/wp/v2/media", response, (200,)
        ).json()
        return rows

    async def media_by_slug(self, slug: str) -> list[dict[str, Any]]:
        """
        The attachments whose slug is *slug* (``wp/v2/media?slug=``).
        """
        response = await self.http.request(
            "GET", "/wp-json/wp/v2/media", params={"slug": slug}
        )
        rows: list[dict[str, Any]] = self.judge(
            "GET /wp-json/wp/v2/media", response, (200,)
        ).json()
        return rows

    async def has_media(self, media_id: str) -> bool:
        """
        Whether attachment *media_id* exists (``wp/v2/media/{id}``; 404
        once deleted).
        """
        response = await self.http.request(
            "GET",
            f"/wp-json/wp/v2/media/{media_id}",
            headers={"Authorization": self._wp_basic()},
        )
        if response.status_code == 404:
            return False
        self.judge("GET /wp-json/wp/v2/media", response, (200,))
        return True

    async def delete_media(self, media_id: str) -> None:
        """
        Delete attachment *media_id* (attachments are not trashed:
        ``force=true``).
        """
        response = await self.http.request(
            "DELETE",
            f"/wp-json/wp/v2/media/{media_id}",
            params={"force": "true"},
            headers={"Authorization": self._wp_basic()},
        )
        self.judge("DELETE /wp-json/wp/v2/media", response, (200,))

    async def aclose(self) -> None:
        await self.http.aclose()


def error_of(response: httpx.Response) -> tuple[str, str]:
    """
    ``code`` and ``message`` of WordPress' error body.
    """
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:300]
    if isinstance(body, dict):
        return str(body.get("code") or ""), str(body.get("message") or "")
    return "", str(body)[:300]


def item_error(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """
    The ``error`` of one batch answer item, if it failed.
    """
    error = row.get("error")
    return error if isinstance(error, dict) else None

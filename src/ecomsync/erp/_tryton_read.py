"""
What every Tryton reader shares: the context that includes inactive
records, a changed-since domain, image references and their version
stamps, category numbers, and concurrent reads that fail as the first
failure.  Used by the article, stock and session readers alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import anyio

from .._model import MediaKind, MediaRef


#: The model of product (and template) images.
IMAGE_KEY = "product.image"

#: Products are read with inactive ones (reused codes, deactivations).
ALL = {"active_test": False}


async def concurrently(*calls: Callable[[], Awaitable[object]]) -> None:
    """
    Run *calls* at once; the first failure cancels the others and is
    raised as itself (never as an exception group).
    """
    errors: list[Exception] = []

    async def guarded(
        call: Callable[[], Awaitable[object]], scope: anyio.CancelScope
    ) -> None:
        try:
            await call()
        except Exception as exc:
            errors.append(exc)
            scope.cancel()

    async with anyio.create_task_group() as tg:
        for call in calls:
            tg.start_soon(guarded, call, tg.cancel_scope)
    if errors:
        raise errors[0]


def naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def changed(moment: datetime, *paths: str) -> list[Any]:
    ts = naive_utc(moment)
    return ["OR", *([path, ">=", ts] for path in paths)]


def stamp(row: dict[str, Any]) -> str:
    moment = row.get("write_date") or row.get("create_date")
    return moment.isoformat() if isinstance(moment, datetime) else ""


def image_ref(model: str, row: dict[str, Any], position: int) -> MediaRef:
    return MediaRef(
        key=f"{model}:{row['id']}",
        filename=f"{row.get('description') or 'image'}-{position + 1}.jpg",
        mime_type="image/jpeg",  # Tryton stores every image as JPEG
        kind=MediaKind.IMAGE,
        format="original",
        version=stamp(row),
    )


def category_number(row: dict[str, Any]) -> str:
    return str(row.get("code") or f"#{row['id']}")

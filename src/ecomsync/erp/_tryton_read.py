"""
What every Tryton reader shares: the context that includes inactive
records, a changed-since domain, image references and their version
stamps, category numbers.  Used by the article, stock and session
readers alike (their concurrent reads: `_anyio_util.concurrently`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .._model import MediaKind, MediaRef


#: The model of product (and template) images.
IMAGE_KEY = "product.image"

#: Products are read with inactive ones (reused codes, deactivations).
ALL = {"active_test": False}


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

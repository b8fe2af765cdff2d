"""
A scheduled run against a shop emulator served by the parent, in a child
process that SIGKILLs itself at one chosen point:
``python -m tests.faults._adopt_child DIR PLATFORM URL POINT N [ANCHOR K]``
(the points and their counting as in `._kill_child`: store calls, the
platform's pushes and uploads, the ERP's media reads, the staging
directory's steps); ``ADOPT_CHILD_STAGING`` names the media staging
(`STAGINGS`).

The parent keeps the shop (the emulator outlives the child), so after the
kill it sees what reached the shop but never reached the state store.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio

from ecomsync import (
    Article,
    Category,
    DataType,
    MediaRef,
    MediaStaging,
    MemoryErp,
    StockLevel,
    Synchronizer,
    Trigger,
    Variant,
)
from ecomsync.typing import Platform

from .._push import PUSH as SPEC
from ._kill_child import Killer, KillingErp, KillingStore, hook_staging


T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
SECRET = "adopt-S3CR3T"
BATCH = 3


def catalogue() -> list[Category | Article | StockLevel]:
    """
    Categories in a tree, articles with an image each (two share one),
    articles with variants, stock for all.
    """
    records: list[Category | Article | StockLevel] = [
        Category(number="C-1", name="Werkzeug"),
        Category(number="C-2", name="Hämmer", parent="C-1"),
        Category(number="C-3", name="Farben"),
    ]
    for i in range(1, 9):
        records.append(
            Article(
                number=f"A-{i}",
                name=f"Artikel {i}",
                price=Decimal("9.99") + i,
                categories=("C-2" if i % 2 else "C-3",),
                media=(
                    MediaRef(
                        key=f"img-{min(i, 7)}",
                        filename=f"a{i}.jpg",
                        mime_type="image/jpeg",
                    ),
                ),
            )
        )
        records.append(StockLevel(number=f"A-{i}", quantity=i * 10))
    for i in (1, 2):
        sizes = ("S", "M", "L")
        records.append(
            Article(
                number=f"V-{i}",
                name=f"Shirt {i}",
                price=Decimal("19.90"),
                categories=("C-1",),
                variants=tuple(
                    Variant(number=f"V-{i}-{s}", options=(("Size", s),))
                    for s in sizes
                ),
            )
        )
        for s in sizes:
            records.append(StockLevel(number=f"V-{i}-{s}", quantity=5))
    return records


def image(i: int) -> bytes:
    """The content of ``img-<i>`` (each image is `FILE` bytes)."""
    return b"\xff\xd8\xff\xe0" + f"image {i}".encode() * 30


#: The bytes of each image.
FILE = len(image(1))

#: The media staging of each ``ADOPT_CHILD_STAGING``: "memory" is
#: `MediaStaging`'s default settings (every file in memory); "overflow"
#: has memory for two files, the rest go to disk; "full" has memory and
#: disk for one file each, so the rest of a chunk's files, held for the
#: uploads after the push, overflow into memory.
STAGINGS = {
    "memory": {},
    "overflow": {"memory_bytes": 2 * FILE},
    "full": {"memory_bytes": FILE, "max_bytes": FILE},
}


def erp() -> MemoryErp:
    return MemoryErp(
        catalogue(),
        media={f"img-{i}": image(i) for i in range(1, 8)},
        clock=lambda: T0,
    )


def platform(name: str, url: str) -> Platform:
    """The adapter for *name* over the emulator at *url*."""
    if name == "shopware6":
        from ecomsync.platforms.shopware6 import Shopware6

        return Shopware6(url, "SWIAADOPT", SECRET)
    if name == "woocommerce":
        from ecomsync.platforms.woocommerce import WooCommerce

        return WooCommerce(
            url,
            "ck_adopt",
            SECRET,
            wp_user="sync",
            wp_application_password=SECRET,
        )
    from ecomsync.platforms.shopify import Shopify

    return Shopify(url, SECRET)


def hooked(shop: Platform, killer: Killer) -> Platform:
    """
    *shop*, its pushes (``platform.push.before:<type>``,
    ``platform.push.after:<type>``) and uploads
    (``platform.upload_media``) counted by *killer*.
    """
    base: Any = type(shop)

    class Hooked(base):  # type: ignore[misc]
        __slots__ = ()  # the adapter's layout: its class can be swapped

        async def push(self, data_type: DataType, items: Sequence[Any]) -> Any:
            killer.hit(f"platform.push.before:{data_type.value}")
            result = await super().push(data_type, items)
            killer.hit(f"platform.push.after:{data_type.value}")
            return result

        async def upload_media(self, media: Any) -> str:
            killer.hit("platform.upload_media")
            media_id: str = await super().upload_media(media)
            return media_id

    shop.__class__ = Hooked
    return shop


def synchronizer(
    directory: Path,
    name: str,
    url: str,
    killer: Killer | None = None,
    staging: str = "memory",
) -> Synchronizer:
    """
    The run's synchroniser over the shop *name* at *url*, its store and
    its staging (as *staging* names, `STAGINGS`) in *directory*.
    """
    killer = killer or Killer()
    return Synchronizer(
        erp=KillingErp(killer, erp()),  # type: ignore[arg-type]
        platforms={"shop": hooked(platform(name, url), killer)},
        store=KillingStore(directory / "state.db", killer),  # type: ignore[arg-type]
        staging=MediaStaging(directory / "staging", **STAGINGS[staging]),
        batch_size=BATCH,
        clock=lambda: T0 + timedelta(hours=1),
        owns=True,
    )


async def main(
    directory: Path,
    name: str,
    url: str,
    point: str,
    at: int,
    after: tuple[str, int] | None,
) -> None:
    killer = Killer(point, at, after)
    hook_staging(killer)
    staging = os.environ.get("ADOPT_CHILD_STAGING", "memory")
    async with (
        synchronizer(directory, name, url, killer, staging) as sync,
        sync.run(SPEC, trigger=Trigger.SCHEDULED) as events,
    ):
        print(events.run_id, flush=True)
        async for _ in events:
            pass
    # Not killed: say how often each point was reached.
    print(json.dumps(dict(killer.seen)), flush=True)


if __name__ == "__main__":
    anchor = (sys.argv[6], int(sys.argv[7])) if len(sys.argv) > 6 else None
    anyio.run(
        main,
        Path(sys.argv[1]),
        sys.argv[2],
        sys.argv[3],
        sys.argv[4],
        int(sys.argv[5]),
        anchor,
    )

"""
A scheduled run against a shop emulator served by the parent, in a child
process that SIGKILLs itself at one chosen store call:
``python -m tests.faults._adopt_child DIR PLATFORM URL POINT N``.

The parent keeps the shop (the emulator outlives the child), so after the
kill it sees what reached the shop but never reached the state store.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import anyio

from ecomsync import (
    Article,
    Category,
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
from ._kill_child import Killer, KillingStore


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


def erp() -> MemoryErp:
    return MemoryErp(
        catalogue(),
        media={
            f"img-{i}": b"\xff\xd8\xff\xe0" + f"image {i}".encode() * 30
            for i in range(1, 8)
        },
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


def synchronizer(
    directory: Path, name: str, url: str, killer: Killer | None = None
) -> Synchronizer:
    return Synchronizer(
        erp=erp(),
        platforms={"shop": platform(name, url)},
        store=KillingStore(directory / "state.db", killer or Killer()),  # type: ignore[arg-type]
        staging=MediaStaging(directory / "staging"),
        batch_size=BATCH,
        clock=lambda: T0 + timedelta(hours=1),
        owns=True,
    )


async def main(
    directory: Path, name: str, url: str, point: str, at: int
) -> None:
    killer = Killer(point, at)
    async with (
        synchronizer(directory, name, url, killer) as sync,
        sync.run(SPEC, trigger=Trigger.SCHEDULED) as events,
    ):
        print(events.run_id, flush=True)
        async for _ in events:
            pass
    # Not killed: say how often each point was reached.
    print(json.dumps(dict(killer.seen)), flush=True)


if __name__ == "__main__":
    anyio.run(
        main,
        Path(sys.argv[1]),
        sys.argv[2],
        sys.argv[3],
        sys.argv[4],
        int(sys.argv[5]),
    )

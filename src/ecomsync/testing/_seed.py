"""
Seeded, deterministic data sets: a merchant's catalogue in a `MemoryErp`
and shop orders, for the demo, tests and benchmarks.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from .._model import (
    Address,
    Article,
    Category,
    Customer,
    MediaKind,
    MediaRef,
    Order,
    OrderLine,
    OrderState,
    OrderStatus,
    StockLevel,
    Variant,
)
from ..erp.memory import MemoryErp


_WORDS = [
    "Hammer",
    "Zange",
    "Schraube",
    "Dübel",
    "Säge",
    "Bohrer",
    "Feile",
    "Leiter",
    "Kelle",
    "Pinsel",
    "Farbe",
    "Lack",
    "Kabel",
    "Lampe",
    "Schalter",
    "Rohr",
    "Ventil",
    "Pumpe",
    "Filter",
    "Schlauch",
]


#: Every this many articles of `catalogue_records` has variants.
_VARIANTS_EVERY = 20


def _image(rng: random.Random, size: int) -> bytes:
    # Random bytes behind a JPEG/PNG-like header: unique content per file
    # so that content-hash de-duplication is exercised honestly.
    return rng.randbytes(size)


def category_numbers(count: int) -> list[str]:
    return [f"C-{i:03d}" for i in range(1, count + 1)]


def catalogue_records(
    *,
    articles: int = 2000,
    categories: int = 50,
    image_bytes: int = 2048,
    images_per_article: int = 1,
    documents_every: int = 10,
    seed: int = 0,
) -> tuple[list[Category | Article | StockLevel], dict[str, bytes]]:
    """
    Records and media of a catalogue: a category tree, articles (every
    image in two formats, every *documents_every*-th with a PDF), stock.
    """
    rng = random.Random(seed)  # noqa: S311 -- test data, not secrets
    records: list[Category | Article | StockLevel] = []
    media: dict[str, bytes] = {}
    numbers = category_numbers(categories)
    for i, number in enumerate(numbers):
        # A tree: the first five are roots, the rest hang below earlier ones.
        parent = None if i < 5 else numbers[rng.randrange(0, i)]
        records.append(
            Category(
                number=number,
                name=f"{_WORDS[i % len(_WORDS)]} {i}",
                parent=parent,
                position=i,
            )
        )
    for i in range(1, articles + 1):
        number = f"A-{i:05d}"
        refs = []
        for j in range(images_per_article):
            for fmt, mime, ext in (
                ("original", "image/jpeg", "jpg"),
                ("webp", "image/webp", "webp"),
            ):
                key = f"{number}-{j}-{fmt}"
                media[key] = _image(rng, image_bytes)
                refs.append(
                    MediaRef(
                        key=key,
                        filename=f"{number}-{j}.{ext}",
                        mime_type=mime,
                        format=fmt,
                        version="1",
                    )
                )
        if documents_every and i % documents_every == 0:
            key = f"{number}-datasheet"
            media[key] = b"%PDF-1.4\n" + _image(rng, image_bytes // 2)
            refs.append(
                MediaRef(
                    key=key,
                    filename=f"{number}-datasheet.pdf",
                    mime_type="application/pdf",
                    kind=MediaKind.DOCUMENT,
                    version="1",
                )
            )
        variants: tuple[Variant, ...] = ()
        if i % _VARIANTS_EVERY == 0:
            variants = tuple(
                Variant(number=f"{number}-{size}", options=(("Größe", size),))
                for size in ("S", "M", "L")
            )
        word = _WORDS[i % len(_WORDS)]
        records.append(
            Article(
                number=number,
                name=f"{word} {i}",
                description=f"<p>{word} in Werkstattqualität, Nr. {i}.</p>",
                price=Decimal(rng.randrange(199, 19999)) / 100,
                categories=(numbers[rng.randrange(categories)],),
                variants=variants,
                media=tuple(refs),
            )
        )
        records.append(
            StockLevel(number=number, quantity=rng.randrange(0, 500))
        )
    return records, media


def demo_erp(
    *,
    articles: int = 2000,
    categories: int = 50,
    image_bytes: int = 2048,
    seed: int = 0,
) -> MemoryErp:
    """
    A `MemoryErp` holding `catalogue_records`.
    """
    records, media = catalogue_records(
        articles=articles,
        categories=categories,
        image_bytes=image_bytes,
        seed=seed,
    )
    return MemoryErp(records, media=media)


def _sold(i: int) -> str:
    """
    The number a shop sells article *i* of `catalogue_records` by: its
    own, or its variant "M" (an article with variants is not sold).
    """
    return f"A-{i:05d}-M" if i % _VARIANTS_EVERY == 0 else f"A-{i:05d}"


def shop_orders(
    count: int,
    *,
    articles: int = 2000,
    seed: int = 0,
    start: datetime | None = None,
) -> Iterator[Order]:
    """
    *count* orders as shop customers would place them, for the articles
    of `catalogue_records` (``articles`` of them): a line names an
    article without variants, or a variant of one with variants (every
    twentieth), as an ERP sells them.
    """
    rng = random.Random(seed)  # noqa: S311 -- test data, not secrets
    moment = start or datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(1, count + 1):
        address = Address(
            first_name="Erika",
            last_name=f"Muster{i}",
            street=f"Hauptstraße {i}",
            zip_code=f"{10000 + i}",
            city="Berlin",
            country="DE",
        )
        lines = tuple(
            OrderLine(
                article_number=_sold(rng.randrange(1, articles + 1)),
                name="Artikel",
                quantity=rng.randrange(1, 4),
                unit_price=Decimal("9.99"),
            )
            for _ in range(rng.randrange(1, 4))
        )
        yield Order(
            number=f"{10000 + i}",
            customer=Customer(
                number=f"K-{i:05d}",
                email=f"kunde{i}@example.com",
                first_name="Erika",
                last_name=f"Muster{i}",
                addresses=(address,),
            ),
            billing=address,
            shipping=address,
            lines=lines,
            total=sum(
                (line.unit_price * line.quantity for line in lines),
                Decimal(0),
            ),
            ordered_at=moment + timedelta(minutes=i),
        )


def shipped(order: Order, tracking: str) -> OrderStatus:
    """
    The ERP's status of *order* once it shipped with *tracking*.
    """
    return OrderStatus(
        number=order.number,
        state=OrderState.SHIPPED,
        tracking_numbers=(tracking,),
    )

"""
Shared fixtures: the anyio backend, a seeded ERP, a platform and a
synchroniser on a throwaway store and staging directory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest


# Contract suites live in the package, shared checks in tests' own helper
# modules (not test files): rewrite their asserts too, for details.
pytest.register_assert_rewrite(
    "ecomsync.testing._erp_contract",
    "ecomsync.testing._licence_contract",
    "ecomsync.testing._platform_contract",
    "tests._engine_contract",
    "tests._plans",
    "tests.e2e._scenario",
)

from ecomsync import (  # noqa: E402
    Article,
    Category,
    MediaRef,
    MediaStaging,
    MemoryErp,
    MemoryPlatform,
    SqliteStore,
    StockLevel,
    Synchronizer,
)

# The live Vendure server, registered here so that the Vendure adapter
# tests and the state machine on Vendure (tests/faults) share one server
# per session.
from .platforms.vendure_server import (  # noqa: E402, F401
    _fresh_vendure,
    _vendure_server,
)


@pytest.fixture(name="anyio_backend")
def _anyio_backend() -> str:
    return "asyncio"


T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def small_catalogue() -> list[Category | Article | StockLevel]:
    """
    Three categories (a tree), six articles, stock for each.
    """
    records: list[Category | Article | StockLevel] = [
        Category(number="C-1", name="Werkzeug"),
        Category(number="C-2", name="Hämmer", parent="C-1"),
        Category(number="C-10", name="Farben"),
    ]
    for i in range(1, 7):
        records.append(
            Article(
                number=f"A-{i}",
                name=f"Artikel {i}",
                price=Decimal("9.99") + i,
                categories=("C-2" if i % 2 else "C-10",),
                media=(
                    MediaRef(
                        key=f"img-{i}",
                        filename=f"../../etc/passwd-{i}.jpg",
                        mime_type="image/jpeg",
                    ),
                ),
            )
        )
        records.append(StockLevel(number=f"A-{i}", quantity=i * 10))
    return records


def flat_catalogue(
    indices: Iterable[int],
    number: Callable[[int], str] = "B-{}".format,
    price: Callable[[int], Decimal] = lambda i: Decimal("9.90"),
) -> list[Category | Article | StockLevel]:
    """
    One category, C-1, and for each index *i* an article in it (named
    "Artikel *i*") with *i* in stock: a catalogue as large as a test needs.
    """
    records: list[Category | Article | StockLevel] = [
        Category(number="C-1", name="Werkzeug")
    ]
    for i in indices:
        records.append(
            Article(
                number=number(i),
                name=f"Artikel {i}",
                price=price(i),
                categories=("C-1",),
            )
        )
        records.append(StockLevel(number=number(i), quantity=i))
    return records


@pytest.fixture(name="erp")
def _erp() -> MemoryErp:
    return MemoryErp(
        small_catalogue(),
        media={f"img-{i}": f"image {i}".encode() for i in range(1, 7)},
        clock=lambda: T0,
    )


@pytest.fixture(name="platform")
def _platform() -> MemoryPlatform:
    return MemoryPlatform()


@pytest.fixture(name="store")
async def _store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "state.db")
    yield store
    await store.aclose()


@pytest.fixture(name="sync")
def _sync(
    erp: MemoryErp,
    platform: MemoryPlatform,
    store: SqliteStore,
    tmp_path: Path,
) -> Synchronizer:
    return Synchronizer(
        erp=erp,
        platforms={"shop": platform},
        store=store,
        # On disk: the tests that use this fixture check the staging's
        # files, journal and disk faults (small files stay in memory by
        # default).
        staging=MediaStaging(tmp_path / "staging", memory_bytes=0),
        license_timeout=1.0,
    )

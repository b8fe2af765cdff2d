"""
Test helpers for hosts and adapter authors: event capture, seeded data,
contract suites and platform emulators.

- `capture_events` runs a spec and collects its events;
- `demo_erp`, `catalogue_records`, `shop_orders`, `shipped` make seeded,
  deterministic data;
- `dirty_catalogue` is merchant data as it really is (duplicates, bad
  values, odd numbers, a category cycle, ...), each record a `Trap` with
  the outcome a correct sync must reach;
- `postgres_server` starts a throwaway PostgreSQL for tests;
- `ErpSourceContract`, `PlatformContract`, `StateStoreContract` and
  `LicensePoolContract` are pytest base classes:
  subclass them to run the standard tests against your adapter (they need
  pytest, so they are imported on first use);
- `ecomsync.testing.shopware6` is an emulator of the Shopware 6 Admin API
  (extra ``testing``).

.. versionadded:: 26.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._capture import CapturedRun, capture_events
from ._dirty import DirtyCatalogue, Trap, dirty_catalogue
from ._pg import PostgresUnavailable, postgres_server
from ._seed import catalogue_records, demo_erp, shipped, shop_orders


if TYPE_CHECKING:
    from ._erp_contract import (
        STANDARD_SEED,
        ErpSeed,
        ErpSourceContract,
    )
    from ._licence_contract import LicensePoolContract
    from ._platform_contract import PlatformContract
    from ._store_contract import StateStoreContract


__all__ = [
    "STANDARD_SEED",
    "CapturedRun",
    "DirtyCatalogue",
    "ErpSeed",
    "ErpSourceContract",
    "LicensePoolContract",
    "PlatformContract",
    "PostgresUnavailable",
    "StateStoreContract",
    "Trap",
    "capture_events",
    "catalogue_records",
    "demo_erp",
    "dirty_catalogue",
    "postgres_server",
    "shipped",
    "shop_orders",
]

# The contract suites import pytest, which a host's production code may
# not have: load them only when asked for.
_LAZY = {
    "STANDARD_SEED": "._erp_contract",
    "ErpSeed": "._erp_contract",
    "ErpSourceContract": "._erp_contract",
    "LicensePoolContract": "._licence_contract",
    "PlatformContract": "._platform_contract",
    "StateStoreContract": "._store_contract",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""
Test helpers for hosts and adapter authors: platform emulators, event
capture and contract suites.

The Shopware 6 emulator lives in `ecomsync.testing.shopware6` (extra
``testing``); the contract suites are base classes to subclass in your
own pytest suite.

.. versionadded:: 26.1.0
"""

from ._capture import CapturedRun, capture_events
from ._seed import catalogue_records, demo_erp, shipped, shop_orders


__all__ = [
    "CapturedRun",
    "capture_events",
    "catalogue_records",
    "demo_erp",
    "shipped",
    "shop_orders",
]

"""
Serving the emulator on loopback with uvicorn, for tests that need a real
socket and for benchmarks.
"""

from __future__ import annotations

from .._serve import Serve, serving
from ._emulator import ShopwareEmulator


# "Shopware 6" names the thread shopware6-emulator:<port>.
serve: Serve[ShopwareEmulator] = serving(ShopwareEmulator, "Shopware 6")

"""
Serving the emulator on loopback with uvicorn, for tests that need a real
socket and for benchmarks.
"""

from __future__ import annotations

from .._serve import Serve, serving
from ._emulator import ShopifyEmulator


serve: Serve[ShopifyEmulator] = serving(ShopifyEmulator, "Shopify")

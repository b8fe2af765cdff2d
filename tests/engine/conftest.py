"""
The engine tests run on both anyio backends.
"""

from __future__ import annotations

from .._backends import both_backends


_anyio_backend = both_backends

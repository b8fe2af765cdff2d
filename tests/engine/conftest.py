"""
The engine tests run on both anyio backends.
"""

from __future__ import annotations

import pytest


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def _anyio_backend(request: pytest.FixtureRequest) -> str:
    """The engine uses anyio only: prove it on both backends."""
    return str(request.param)

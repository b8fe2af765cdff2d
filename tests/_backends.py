"""
The anyio backends a module's tests run on.
"""

from __future__ import annotations

import pytest


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def both_backends(request: pytest.FixtureRequest) -> str:
    """
    asyncio and trio: the code under test uses anyio only (and
    cancellation differs between them), so prove it on both.  A module
    takes it with ``_anyio_backend = both_backends``.
    """
    return str(request.param)

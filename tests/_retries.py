"""
Retries without waiting, for modules whose shops fail on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import stamina


def fast_retries(attempts: int) -> Callable[[], Iterator[None]]:
    """
    An autouse fixture for a module (assign it to a module-level name):
    stamina retries at once, at most *attempts* times, while each test
    runs.
    """

    @pytest.fixture(autouse=True)
    def _fast_retries() -> Iterator[None]:
        with stamina.set_testing(True, attempts=attempts):
            yield

    return _fast_retries

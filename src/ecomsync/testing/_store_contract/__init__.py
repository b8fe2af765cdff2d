"""
`StateStoreContract`: what every `StateStore` must do, as a pytest base
class.  Subclass it and provide a ``store`` fixture (a fresh, empty store);
provide ``other_store`` too if a second handle on the *same* data can be
opened (another connection or process view), so the suite also proves
that writes are visible and claims exclusive across handles.

The suite's tests are async: your conftest must provide ``anyio_backend``.
"""

from __future__ import annotations

import pytest

from ...typing import StateStore
from ._claims import ClaimContract
from ._data import a_run as a_run
from ._data import a_schedule as a_schedule
from ._leases import LeaseContract
from ._ledger import LedgerContract
from ._links import LinkContract
from ._runs import RunContract


__all__ = ["StateStoreContract"]


class StateStoreContract(
    LinkContract, RunContract, LedgerContract, LeaseContract, ClaimContract
):
    """
    The behaviour every `StateStore` shares; subclass and provide a
    ``store`` fixture (and optionally ``other_store``).

    .. versionadded:: 26.1.0
    """

    pytestmark = pytest.mark.anyio

    @pytest.fixture(name="other_store")
    def _other_store(self, store: StateStore) -> StateStore:
        """
        A second handle on the same data; by default the same object.
        """
        return store

    # -- lifecycle --------------------------------------------------------

    async def test_aclose_twice(self, store: StateStore) -> None:
        """Closing is idempotent."""
        await store.put_media_id("shop", "ab", "m1")
        await store.aclose()
        await store.aclose()

"""
A fresh live Tryton per end-to-end test, started with the same script and
helpers as the ERP tests (``tests/erp/conftest.py``): every scenario
starts from the pristine database, so what it asserts about sales and
parties is all its own.

In CI (``CI=true``) a server that cannot start fails the test; elsewhere
it is skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ecomsync.erp.tryton import TrytonErp
from tests.erp.conftest import make_erp, start_tryton, stop_tryton


__all__ = ["make_erp"]


@pytest.fixture(name="tryton_server")
def _tryton_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """
    A running Tryton of this test's own, on the pristine database.
    """
    directory = tmp_path_factory.mktemp("tryton-e2e")
    info = start_tryton(directory)
    try:
        yield info
    finally:
        stop_tryton(directory)


@pytest.fixture(name="tryton_admin")
def _tryton_admin(tryton_server: dict[str, Any]) -> TrytonErp:
    """
    A `TrytonErp` for seeding and inspecting, apart from the runs'.
    """
    return make_erp(tryton_server)

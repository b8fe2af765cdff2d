"""
A fresh live Tryton per end-to-end test, started with the same script and
helpers as the ERP tests (``tests/erp/conftest.py``): every scenario
starts from the pristine database, so what it asserts about sales and
parties is all its own.

In CI (``CI=true``) a server that cannot start fails the test; elsewhere
it is skipped with the reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ecomsync.erp.tryton import TrytonErp
from tests.erp.conftest import SCRIPT, _unavailable, make_erp


__all__ = ["make_erp"]


def start_tryton(directory: str) -> dict[str, Any]:
    """
    Start a Tryton on a copy of the pristine database in *directory*;
    return what the script reports (URL, database, user, ...).
    """
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, str(SCRIPT), "start", directory],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"{type(exc).__name__}: {exc}")
    if done.returncode:
        _unavailable(f"{SCRIPT.name} start failed:\n{done.stderr[-3000:]}")
    info: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    info["startup_seconds"] = round(time.monotonic() - started, 1)
    return info


def stop_tryton(directory: str) -> None:
    subprocess.run(
        [sys.executable, str(SCRIPT), "stop", directory],
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(name="tryton_server")
def _tryton_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """
    A running Tryton of this test's own, on the pristine database.
    """
    directory = str(tmp_path_factory.mktemp("tryton-e2e"))
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

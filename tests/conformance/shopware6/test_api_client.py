"""
The Shopware 6 emulator driven by Shopware's own Admin API client,
``@shopware/api-client`` (npm, pinned in package-lock.json), from
conformance.mjs: tokens and their renewal, CRUD, search criteria, the
Sync API with valid and invalid rows, media uploads and the order state
machine.

The emulator runs as ``python -m ecomsync.testing.shopware6 --port 0``,
as a host would start it.  The client is installed with ``npm ci`` on
first use.  Without Node the tests are skipped, and fail in CI
(``CI=true``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecomsync.testing.shopware6.__main__ import READY

from ..._emulator_process import emulator_process


HERE = Path(__file__).parent
CHECKS = (
    "token",
    "token_renewal",
    "token_refused",
    "crud",
    "search_criteria",
    "total_count_modes",
    "aggregations",
    "sync_valid",
    "sync_invalid_rows",
    "sync_database_errors",
    "media_upload",
    "order_state_machine",
)
_READY = re.compile(
    rf"^{READY} base_url=(?P<url>\S+) client_id=(?P<id>\S+) "
    r"client_secret=(?P<secret>\S+)$"
)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"Shopware conformance suite cannot run: {reason}")
    pytest.skip(f"Shopware conformance suite cannot run: {reason}")


def _node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm (Node >= 20) are needed")
    assert node is not None
    assert npm is not None
    major = subprocess.run(
        [node, "-p", "process.versions.node.split('.')[0]"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if int(major) < 20:
        _unavailable(f"Node >= 20 is needed, found {major}")
    # npm ci once, also when several test processes start at once.
    with (HERE / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (HERE / "node_modules/@shopware/api-client").is_dir():
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=HERE,
                capture_output=True,
                text=True,
                timeout=240,
                check=False,
            )
            if done.returncode:
                _unavailable(f"npm ci failed: {done.stderr[-2000:]}")
    return node


@pytest.fixture(name="emulator", scope="module")
def _emulator() -> Iterator[dict[str, str]]:
    with emulator_process(
        "shopware6",
        "--client-id",
        "SWIACONFORMANCE",
        "--client-secret",
        "conformance-secret",
    ) as ready:
        match = _READY.match(ready.line)
        assert match is not None, "the emulator printed no ready line"
        yield {
            "SHOPWARE_URL": match["url"],
            "SHOPWARE_CLIENT_ID": match["id"],
            "SHOPWARE_CLIENT_SECRET": match["secret"],
            "SHOPWARE_TOKEN_TTL": "600",
        }


@pytest.fixture(name="results", scope="module")
def _results(emulator: dict[str, str]) -> dict[str, dict[str, Any]]:
    node = _node()
    done = subprocess.run(
        [node, "conformance.mjs"],
        cwd=HERE,
        env={**os.environ, **emulator},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    results = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            result = json.loads(line)
            results[result["check"]] = result
    assert set(CHECKS) == set(results), done.stderr[-3000:]
    return results


class TestShopwareApiClient:
    @pytest.mark.parametrize("check", CHECKS)
    def test_check(
        self, results: dict[str, dict[str, Any]], check: str
    ) -> None:
        """Shopware's own client gets the answers Shopware 6.6 gives."""
        result = results[check]

        assert result["ok"], result.get("error")

"""
Across real processes: two processes importing the same orders at once
make one ERP order per shop order; a killed importer's lease does not
block the next import.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import anyio
import pytest

from ecomsync import SqliteStore

from ._order_importer import FileSales
from ._two_importers import ORDERS, SharedErp, importer, placed


pytestmark = pytest.mark.anyio

ROOT = Path(__file__).parent.parent


def start(directory: Path, gap: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests._order_importer",
            str(directory),
            str(gap),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def sales(directory: Path) -> Counter[str]:
    return Counter(FileSales(directory / "sales.txt"))


class TestTwoProcesses:
    def test_same_orders_at_once_make_one_erp_order_each(
        self, tmp_path: Path
    ) -> None:
        """Two processes sharing one SqliteStore file, each with its own
        licence pool, import the same new orders at the same moment: both
        succeed, and the ERP has one order per shop order."""
        children = [start(tmp_path, 3.0) for _ in range(2)]
        ended = [c.communicate(timeout=120)[0].strip() for c in children]

        assert ["succeeded", "succeeded"] == ended
        assert {1} == set(sales(tmp_path).values())
        assert 3 == len(sales(tmp_path))

    async def test_killed_importer_does_not_block(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An importer killed (SIGKILL) while it holds the lease leaves it
        behind; the next import takes it over at once and imports."""
        child = start(tmp_path, 600.0)
        try:
            async with SqliteStore(tmp_path / "state.db") as store:
                with anyio.fail_after(60):
                    for _ in range(6000):
                        held = await store.lease_holder("orders:shop")
                        if held is not None:
                            break
                        await anyio.sleep(0.01)
                os.kill(child.pid, signal.SIGKILL)
                child.wait(timeout=30)
                erp = SharedErp(
                    gap=0.1,
                    sales=FileSales(tmp_path / "sales.txt"),  # type: ignore[arg-type]
                )
                sync = importer(erp, placed(3), store, tmp_path / "staging")
                caplog.set_level(logging.WARNING, "ecomsync")
                async with sync:
                    with anyio.fail_after(30):
                        run = await sync.execute(ORDERS)
        finally:
            if child.poll() is None:
                child.kill()
            child.communicate()

        assert held is not None
        assert held.owner is not None
        assert child.pid == held.owner.pid
        assert "succeeded" == run.status.value
        assert {1} == set(sales(tmp_path).values())
        assert 3 == len(sales(tmp_path))
        assert any(
            f"over from run {held.run_id}" in m and "is gone" in m
            for m in caplog.messages
        )

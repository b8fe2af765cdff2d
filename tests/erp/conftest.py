"""
A live Tryton server for the ERP tests, started by the project's own
script (scripts/tryton/tryton_server.py): cached venv and pristine
database, a copy of it per test session, a free loopback port.

In CI (``CI=true``) a server that cannot start fails the tests; elsewhere
they are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from ecomsync.erp._tryton_sales import (
    MARK_FIELDS,
    marks_attachment,
    marks_values,
)
from ecomsync.erp.tryton import TrytonErp
from ecomsync.testing._erp_contract import STANDARD_SEED
from ecomsync.testing._tryton_seed import (
    seed_traps,
    seed_tryton,
    set_stock,
    storage_location,
)


SCRIPT = Path(__file__).parents[2] / "scripts" / "tryton" / "tryton_server.py"
PASSWORD = os.environ.get("TRYTON_ADMIN_PASSWORD", "admin")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"Tryton server unavailable in CI: {reason}")
    pytest.skip(f"Tryton server unavailable: {reason}")


def start_tryton(directory: Path) -> dict[str, Any]:
    """
    Start a Tryton on a copy of the pristine database in *directory*;
    return what the script reports (URL, database, user, ...).
    """
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, str(SCRIPT), "start", str(directory)],
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


def stop_tryton(directory: Path) -> None:
    subprocess.run(
        [sys.executable, str(SCRIPT), "stop", str(directory)],
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(name="tryton_server", scope="session")
def _tryton_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """
    A running Tryton (URL, database, ...) on a fresh copy of the pristine
    database.
    """
    directory = tmp_path_factory.mktemp("tryton")
    info = start_tryton(directory)
    try:
        yield info
    finally:
        stop_tryton(directory)


@pytest.fixture(name="traps_server", scope="session")
def _traps_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """
    A second running Tryton holding the traps of merchant data
    (`seed_traps`) and nothing else.
    """
    with tryton_with_traps(tmp_path_factory.mktemp("tryton-traps")) as info:
        yield info


@contextmanager
def tryton_with_traps(directory: Path) -> Iterator[dict[str, Any]]:
    """
    A Tryton started in *directory* and seeded with the traps of merchant
    data (`seed_traps`; their product ids under ``"products"``), stopped
    on exit.
    """
    info = start_tryton(directory)
    try:
        erp = make_erp(info)

        async def seed() -> None:
            async with erp.session() as session:
                info["products"] = await seed_traps(session.rpc)

        anyio.run(seed)
        yield info
    finally:
        stop_tryton(directory)


class CountingTransport(httpx.AsyncBaseTransport):
    """
    Counts the Tryton sessions open at once through it.
    """

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.open = 0
        self.most = 0
        self.logins = 0

    async def handle_async_request(
        self, request: httpx.Request
    ) -> httpx.Response:
        body = request.content
        response = await self.inner.handle_async_request(request)
        if response.status_code == 200 and b'"common.db.login"' in body:
            self.open += 1
            self.logins += 1
            self.most = max(self.most, self.open)
        if b'"common.db.logout"' in body:
            self.open -= 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def make_erp(info: dict[str, Any], **options: Any) -> TrytonErp:
    return TrytonErp(
        info["url"], info["database"], info["user"], PASSWORD, **options
    )


def seeded_erp(info: dict[str, Any]) -> TrytonErp:
    """
    A `TrytonErp` on the server *info*, seeded with the contract's data.
    """
    erp = make_erp(info)

    async def seed() -> None:
        async with erp.session() as session:
            await seed_tryton(session.rpc, STANDARD_SEED)

    anyio.run(seed)
    return erp


@pytest.fixture(name="tryton", scope="session")
def _tryton(tryton_server: dict[str, Any]) -> TrytonErp:
    """
    A `TrytonErp` on the live server, seeded with the contract's data.
    """
    return seeded_erp(tryton_server)


@pytest.fixture(name="tryton_unsold", scope="session")
def _tryton_unsold(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TrytonErp]:
    """
    A `TrytonErp` on a server of its own, seeded with the contract's data,
    that no test sells from: the stock the contract reads there is the
    seeded stock whichever tests ran before (on the shared server their
    open sales hold some of it).
    """
    directory = tmp_path_factory.mktemp("tryton-unsold")
    info = start_tryton(directory)
    try:
        yield seeded_erp(info)
    finally:
        stop_tryton(directory)


async def twin_sale(rpc: Any, sale: int, reference: str) -> int:
    """
    A copy of the imported *sale* under *reference*, with its marks (as a
    second import of the order at once would make it): Tryton's copy
    leaves out a sale's attachments.
    """
    (twin,) = await rpc.model(
        "sale.sale", "copy", [sale], {"reference": reference}
    )
    (row,) = await rpc.read("sale.sale", [sale], MARK_FIELDS)
    marks = marks_attachment(row)
    if marks is not None:
        await rpc.model(
            "ir.attachment",
            "create",
            [marks_values(int(twin), str(marks["description"]))],
        )
    return int(twin)


async def flour(rpc: Any, code: str) -> int:
    """A product kept in kg and sold in g, 2.5 kg of it in WH."""
    units = {
        row["symbol"]: row["id"]
        for row in await rpc.search_read(
            "product.uom", [["symbol", "in", ["kg", "g"]]], ["symbol"]
        )
    }
    (template,) = await rpc.model(
        "product.template",
        "create",
        [
            {
                "name": "Flour",
                "type": "goods",
                "default_uom": units["kg"],
                "salable": True,
                "sale_uom": units["g"],
                "list_price": Decimal("0.0040"),
                "products": [["create", [{"suffix_code": code}]]],
            }
        ],
    )
    (product,) = await rpc.model(
        "product.product", "search", [["template", "=", template]]
    )
    await set_stock(
        rpc, await storage_location(rpc), {product: Decimal("2.5")}
    )
    return int(product)

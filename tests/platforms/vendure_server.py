"""
A live Vendure server for the Vendure adapter tests.

`vendure_server` (session) installs and starts the server in
``vendure-server/`` through ``scripts/vendure/vendure.sh`` on a free
loopback port with its own data directory, creates the sync role and API
key, and keeps a snapshot of that store.  `fresh_vendure` (per test)
puts the snapshot's rows back into the running server's database in one
transaction (about 0.1 s instead of 3-8 s for a restart), so every test
sees an empty shop.  Row ids keep growing across tests (the
``sqlite_sequence`` counters are not reset), so nothing Vendure may still
hold in memory about an entity of an earlier test can match one of a
later test.  ``VENDURE_TEST_RESET=restart`` restores the file and restarts
the server instead.  In CI (``CI=true``) a server that cannot start fails
the tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import attrs
import httpx
import pytest

from ecomsync.platforms.vendure import SYNC_PERMISSIONS, Vendure


REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "vendure" / "vendure.sh"
SUPERADMIN = ("superadmin", "superadmin")


def unavailable(reason: str) -> NoReturn:
    """
    Fail in CI, skip elsewhere.
    """
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"Vendure test server unavailable: {reason}")
    pytest.skip(f"Vendure test server unavailable: {reason}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@attrs.define
class VendureServer:
    """
    A running test server and how to reset it.
    """

    data_dir: Path
    port: int
    api_key: str = attrs.field(default="", repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        return self.data_dir / "vendure.sqlite"

    @property
    def template(self) -> Path:
        return self.data_dir.parent / "template.sqlite"

    def _run(self, *args: str, **env: str) -> str:
        result = subprocess.run(
            [str(SCRIPT), *args],
            env={
                **os.environ,
                "VENDURE_DATA_DIR": str(self.data_dir),
                "VENDURE_PORT": str(self.port),
                **env,
            },
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if result.returncode != 0:
            unavailable(
                f"vendure.sh {' '.join(args)} failed: {result.stderr[-2000:]}"
            )
        return result.stdout

    def start(self) -> None:
        self._run("start")

    def stop(self, *, fast: bool = False) -> None:
        self._run("stop", **({"VENDURE_STOP_SIGNAL": "KILL"} if fast else {}))

    def reset(self) -> None:
        """
        Back to the empty shop of the snapshot.
        """
        if os.environ.get("VENDURE_TEST_RESET") == "restart":
            self.restart_from_snapshot()
            return
        con = sqlite3.connect(self.db, timeout=60, isolation_level=None)
        try:
            con.execute("PRAGMA foreign_keys = OFF")
            con.execute("ATTACH DATABASE ? AS snap", (str(self.template),))
            tables = [
                row[0]
                for row in con.execute(
                    "SELECT name FROM snap.sqlite_master WHERE type = "
                    "'table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            con.execute("BEGIN IMMEDIATE")
            for table in tables:
                con.execute(f'DELETE FROM main."{table}"')
                con.execute(
                    f'INSERT INTO main."{table}" SELECT * FROM snap."{table}"'
                )
            con.execute("COMMIT")
        finally:
            con.close()
        assets = self.data_dir / "assets"
        if assets.is_dir():
            for child in assets.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)

    def restart_from_snapshot(self) -> None:
        """
        Stop the server, put the snapshot file back, start it again.
        """
        self.stop(fast=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(self.data_dir / "assets", ignore_errors=True)
        shutil.copyfile(self.template, self.db)
        self.start()

    def platform(self, **options: Any) -> Vendure:
        """
        The adapter on this server with the sync job's API key.
        """
        return Vendure(self.url, api_key=self.api_key, **options)

    def admin(self) -> VendureAdmin:
        return VendureAdmin(f"{self.url}/admin-api")

    def sql(self, statement: str, *params: Any) -> None:
        """
        Change the store behind Vendure's back (test set-up only).
        """
        con = sqlite3.connect(self.db, timeout=30)
        try:
            con.execute(statement, params)
            con.commit()
        finally:
            con.close()


def sql_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@attrs.define
class VendureAdmin:
    """
    A superadmin session on the Admin API: the tests' view from outside.
    """

    url: str
    client: httpx.AsyncClient = attrs.field(
        factory=lambda: httpx.AsyncClient(timeout=60)
    )
    token: str = attrs.field(default="", repr=False)

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        if not self.token:
            response = await self.client.post(
                self.url,
                json={
                    "query": "mutation ($u: String!, $p: String!) { "
                    "login(username: $u, password: $p) { __typename } }",
                    "variables": {"u": SUPERADMIN[0], "p": SUPERADMIN[1]},
                },
            )
            self.token = response.headers["vendure-auth-token"]
        response = await self.client.post(
            self.url,
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        self.client.cookies.clear()
        body = response.json()
        if body.get("errors"):
            raise AssertionError(body["errors"])
        data: dict[str, Any] = body["data"]
        return data

    async def aclose(self) -> None:
        await self.client.aclose()


def _create_api_key(url: str) -> str:
    with httpx.Client(base_url=url, timeout=60) as client:
        login = client.post(
            "/admin-api",
            json={
                "query": 'mutation { login(username: "superadmin", '
                'password: "superadmin") { __typename } }'
            },
        )
        headers = {
            "Authorization": f"Bearer {login.headers['vendure-auth-token']}"
        }
        client.cookies.clear()

        def gql(query: str, variables: dict[str, Any]) -> dict[str, Any]:
            body = client.post(
                "/admin-api",
                json={"query": query, "variables": variables},
                headers=headers,
            ).json()
            client.cookies.clear()
            assert not body.get("errors"), body
            data: dict[str, Any] = body["data"]
            return data

        role = gql(
            "mutation ($input: CreateRoleInput!) { createRole(input: $input)"
            " { id } }",
            {
                "input": {
                    "code": "ecomsync-sync",
                    "description": "ecomsync sync job",
                    "permissions": list(SYNC_PERMISSIONS),
                    "channelIds": ["1"],
                }
            },
        )["createRole"]
        # Vendure creates the root collection with the first collection
        # and keeps it in memory: it must be in the snapshot the tests go
        # back to, so one collection is made and removed.
        made = gql(
            "mutation ($input: CreateCollectionInput!) { createCollection("
            "input: $input) { id } }",
            {
                "input": {
                    "translations": [
                        {
                            "languageCode": "en",
                            "name": "root maker",
                            "slug": "root-maker",
                            "description": "",
                        }
                    ],
                    "filters": [],
                }
            },
        )["createCollection"]
        gql(
            "mutation ($id: ID!) { deleteCollection(id: $id) { result } }",
            {"id": made["id"]},
        )
        key = gql(
            "mutation ($input: CreateApiKeyInput!) { createApiKey("
            "input: $input) { apiKey } }",
            {
                "input": {
                    "roleIds": [role["id"]],
                    "translations": [
                        {"languageCode": "en", "name": "ecomsync"}
                    ],
                }
            },
        )["createApiKey"]
        return str(key["apiKey"])


@pytest.fixture(name="vendure_server", scope="session")
def _vendure_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[VendureServer]:
    if shutil.which("node") is None:
        unavailable("node (>= 20) is not installed")
    base = tmp_path_factory.mktemp("vendure")
    server = VendureServer(data_dir=base / "data", port=_free_port())
    server.start()
    try:
        server.api_key = _create_api_key(server.url)
        server.stop()  # a clean stop checkpoints the WAL into the file
        shutil.copyfile(server.db, server.template)
        server.start()
        yield server
    finally:
        server.stop(fast=True)


@pytest.fixture(name="fresh_vendure")
def _fresh_vendure(vendure_server: VendureServer) -> VendureServer:
    vendure_server.reset()
    return vendure_server

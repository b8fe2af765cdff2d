"""
The command line over a config with a PostgreSQL store and licence pool.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..state.conftest import (  # noqa: F401 -- fixtures
    _postgres_dsn,
    _postgres_server_dsn,
)
from .conftest import ALL_OK, Cli, write_config


pytestmark = pytest.mark.postgres


def test_check_and_sync_with_postgres_store_and_licences(
    tmp_path: Path, shop: dict[str, str], postgres_dsn: str
) -> None:
    """
    ``check`` reaches the store and the licence pool in PostgreSQL (the
    DSN from a variable, never printed); ``sync`` records its run there;
    a wrong DSN is a problem on the store's and the licences' lines.
    """
    config = write_config(tmp_path, shop)
    config.write_text(
        config.read_text().replace(
            '[store]\npath = "state.db"\n',
            '[store]\ntype = "postgres"\ndsn_env = "TEST_DSN"\n'
            'schema = "cli"\n\n[licenses]\ntype = "postgres"\ncount = 2\n',
        )
    )
    env = {**Cli.env_of(), "TEST_SHOP_SECRET": shop["client_secret"]}
    cli = Cli(config, {**env, "TEST_DSN": postgres_dsn})

    checked = cli("check")
    synced = cli("sync", "categories", "--json")
    runs = cli("runs", "--json")

    assert 0 == checked.returncode, checked.stdout + checked.stderr
    assert ALL_OK == checked.stdout.splitlines()
    assert 0 == synced.returncode, synced.stderr
    assert [json.loads(synced.stdout)["id"]] == [
        r["id"] for r in json.loads(runs.stdout)
    ]

    wrong = postgres_dsn.rsplit("/", 1)[0] + "/no_such_database"
    bad = Cli(config, {**env, "TEST_DSN": wrong})("check", "--json")

    assert 1 == bad.returncode, bad.stderr
    parts = {p["part"]: p for p in json.loads(bad.stdout)["parts"]}
    assert (False, False) == (parts["store"]["ok"], parts["licenses"]["ok"])
    assert "no_such_database" in parts["store"]["problems"][0]

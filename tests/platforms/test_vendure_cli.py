"""
The command line over a config naming a live Vendure server (here, not in
tests/cli, so that it shares the session's one Vendure server).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..cli.conftest import Cli
from .vendure_server import VendureServer


pytestmark = [pytest.mark.vendure, pytest.mark.slow]


def test_check_against_live_vendure(
    tmp_path: Path, vendure_server: VendureServer
) -> None:
    """
    ``check`` reaches Vendure with the API key from a file and the login
    from a variable; a ``stock_locations`` name Vendure lacks is a
    problem on that platform's line.
    """
    (tmp_path / "vendure-key").write_text(vendure_server.api_key + "\n")
    config = tmp_path / "ecomsync.toml"
    config.write_text(
        f"""
[erp]
type = "demo"
articles = 3
categories = 1

[platforms.by-key]
type = "vendure"
url = "{vendure_server.url}"
api_key_file = "vendure-key"
stock_locations = {{ WH = "Default Stock Location" }}

[platforms.by-login]
type = "vendure"
url = "{vendure_server.url}/admin-api"
username = "superadmin"
password_env = "TEST_VENDURE_PASSWORD"
stock_locations = {{ WH = "Nowhere" }}

[store]
path = "state.db"
""",
        encoding="utf-8",
    )
    cli = Cli(config, {**Cli.env_of(), "TEST_VENDURE_PASSWORD": "superadmin"})

    done = cli("check", timeout=180)

    assert 1 == done.returncode, done.stderr
    lines = done.stdout.splitlines()
    assert [
        "store: ok",
        "licenses: ok",
        "schedules: ok",
        "ERP: ok",
        "by-key: ok",
    ] == lines[:5]
    assert lines[5].startswith("by-login: ")
    assert "Nowhere" in lines[5]
    assert vendure_server.api_key not in done.stdout + done.stderr

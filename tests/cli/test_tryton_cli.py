"""
The command line over a config naming a live Tryton server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..erp.conftest import PASSWORD, _tryton_server  # noqa: F401 -- fixture
from .conftest import ALL_OK, Cli, write_config


pytestmark = pytest.mark.tryton


def test_check_and_plan_against_live_tryton(
    tmp_path: Path, shop: dict[str, str], tryton_server: dict[str, Any]
) -> None:
    """
    ``check`` reaches Tryton with the password from the environment, and
    ``plan`` reads it; no Python written.
    """
    config = write_config(tmp_path, shop)
    text = config.read_text().replace(
        '[erp]\ntype = "demo"\narticles = 40\ncategories = 5\n',
        f'[erp]\ntype = "tryton"\nurl = "{tryton_server["url"]}"\n'
        f'database = "{tryton_server["database"]}"\n'
        f'user = "{tryton_server["user"]}"\n'
        'password_env = "TEST_TRYTON_PASSWORD"\n',
    )
    assert 'type = "tryton"' in text
    config.write_text(text)
    cli = Cli(
        config,
        {
            **Cli.env_of(),
            "TEST_SHOP_SECRET": shop["client_secret"],
            "TEST_TRYTON_PASSWORD": PASSWORD,
        },
    )

    checked = cli("check")
    planned = cli("plan", "categories", "articles", "--json")

    assert 0 == checked.returncode, checked.stdout + checked.stderr
    assert ALL_OK == checked.stdout.splitlines()
    assert 0 == planned.returncode, planned.stderr
    assert {"categories", "articles"} == set(
        json.loads(planned.stdout)["types"]
    )
    assert PASSWORD not in checked.stdout + planned.stdout

"""
A throwaway PostgreSQL for the whole session, started by the project's own
helper; each test gets a fresh database on it.

Outside CI a missing PostgreSQL skips these tests; in CI (``CI=true``) it
fails them.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import psycopg
import pytest

from ecomsync.testing._pg import PostgresUnavailable, postgres_server


_databases = itertools.count()


@pytest.fixture(scope="session", name="postgres_server_dsn")
def _postgres_server_dsn() -> Iterator[str]:
    try:
        with postgres_server() as dsn:
            yield dsn
    except PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot start PostgreSQL in CI: {exc}")
        pytest.skip(f"no PostgreSQL to test against: {exc}")


@pytest.fixture(name="postgres_dsn")
def _postgres_dsn(postgres_server_dsn: str) -> str:
    """
    The DSN of a new, empty database on the session's server.
    """
    name = f"t{os.getpid()}_{next(_databases)}"
    with psycopg.connect(postgres_server_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres_server_dsn.rsplit("/", 1)[0] + f"/{name}"

"""
The settings of the state stores and licence pools: a value out of its
range is a ConfigurationError naming the setting when the object is made
(never the DSN's value), instead of a busy loop, a pool that never opens
a connection, or a flag given as text counting as true.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ecomsync import FileLicensePool, PostgresLicensePool, PostgresStore
from ecomsync.exceptions import ConfigurationError


DSN = "postgresql://u:s3cret@h/db"
NOT_SECONDS = [0, -1, float("nan"), float("inf"), "1", True, None]


class TestPostgresStore:
    @pytest.mark.parametrize(
        ("setting", "value"),
        [
            ("max_connections", 0),
            ("max_connections", -1),
            ("max_connections", 2.5),
            ("max_connections", "4"),
            ("application_name", ""),
            ("application_name", None),
            ("prepared_statements", "false"),
            ("prepared_statements", 0),
        ],
    )
    def test_out_of_range_refused(self, setting: str, value: Any) -> None:
        """A setting out of its range is a ConfigurationError naming it
        (max_connections=0 never opened a connection: every call waited
        for ever; prepared_statements="false" counted as true)."""
        with pytest.raises(
            ConfigurationError, match=f"PostgresStore {setting} must be"
        ):
            PostgresStore(DSN, **{setting: value})

    @pytest.mark.parametrize("dsn", ["", 12345678])
    def test_dsn_refused_unquoted(self, dsn: Any) -> None:
        """An empty or non-text DSN is refused without its value."""
        with pytest.raises(ConfigurationError, match="dsn") as info:
            PostgresStore(dsn)

        assert "12345678" not in str(info.value)


class TestFileLicensePool:
    @pytest.mark.parametrize("setting", ["poll_interval", "max_poll_interval"])
    @pytest.mark.parametrize("value", NOT_SECONDS)
    def test_interval_out_of_range_refused(
        self, tmp_path: Path, setting: str, value: Any
    ) -> None:
        """An interval that is not a number of seconds above 0 is a
        ConfigurationError naming it (0 polled in a busy loop)."""
        with pytest.raises(
            ConfigurationError, match=f"FileLicensePool {setting} must be"
        ):
            FileLicensePool(tmp_path, size=1, **{setting: value})


class TestPostgresLicensePool:
    @pytest.mark.parametrize("setting", ["poll_interval", "max_poll_interval"])
    @pytest.mark.parametrize("value", NOT_SECONDS)
    def test_interval_out_of_range_refused(
        self, setting: str, value: Any
    ) -> None:
        """An interval that is not a number of seconds above 0 is a
        ConfigurationError naming it (0 polled in a busy loop)."""
        with pytest.raises(
            ConfigurationError, match=f"PostgresLicensePool {setting} must be"
        ):
            PostgresLicensePool(DSN, size=1, **{setting: value})

    @pytest.mark.parametrize("name", ["", "  ", 3])
    def test_name_refused(self, name: Any) -> None:
        """A pool name that is empty or not a text is refused naming it."""
        with pytest.raises(
            ConfigurationError, match="PostgresLicensePool name must be"
        ):
            PostgresLicensePool(DSN, size=1, name=name)

    def test_dsn_refused_unquoted(self) -> None:
        """A non-text DSN is refused without its value."""
        with pytest.raises(ConfigurationError, match="dsn") as info:
            PostgresLicensePool(12345678, size=1)  # type: ignore[arg-type]

        assert "12345678" not in str(info.value)

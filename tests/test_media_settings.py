"""
Media staging's settings: sizes out of range refused, the documented defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ecomsync import (
    ConfigurationError,
    MediaStaging,
)

from ._backends import both_backends


pytestmark = pytest.mark.anyio


_anyio_backend = both_backends


class TestSettings:
    @pytest.mark.parametrize(
        ("setting", "value"),
        [
            ("max_bytes", -1),
            ("max_bytes", 0),
            ("max_bytes", 1.5),
            ("max_bytes", "100"),
            ("memory_bytes", -1),
            ("memory_bytes", True),
            ("memory_file_bytes", -1),
        ],
    )
    def test_size_out_of_range_refused(
        self, tmp_path: Path, setting: str, value: Any
    ) -> None:
        """A size that is not a whole number of bytes in its range is a
        ConfigurationError naming it when the staging is made
        (max_bytes=-1 was taken and failed every file later)."""
        with pytest.raises(ConfigurationError, match=f"{setting} must be"):
            MediaStaging(tmp_path, **{setting: value})

    def test_defaults_taken(self, tmp_path: Path) -> None:
        """The documented defaults pass: 256 MiB on disk, 64 MiB in
        memory, files up to 1 MiB kept in memory."""
        staging = MediaStaging(tmp_path)

        assert (256 * 2**20, 64 * 2**20, 2**20) == (
            staging.max_bytes,
            staging.memory_bytes,
            staging.memory_file_bytes,
        )

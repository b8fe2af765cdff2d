"""
The error tree: one root, split by what the caller should do, carrying
the context a handler needs.
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta

import pytest

from ecomsync import (
    AuthenticationError,
    ConfigurationError,
    EcomsyncError,
    LicenseError,
    MediaStagingError,
    NoFreeLicense,
    RecordRejected,
    RetryableError,
    RunCancelled,
    SpecError,
    StateStoreError,
    SyncError,
    exceptions,
)
from ecomsync._run import PRIORITY
from ecomsync.licensing._file import _portalocker


class TestTree:
    @pytest.mark.parametrize(
        ("error", "parent"),
        [
            (SpecError, ConfigurationError),
            (NoFreeLicense, LicenseError),
            (AuthenticationError, SyncError),
            (RetryableError, SyncError),
            (RecordRejected, SyncError),
            (StateStoreError, EcomsyncError),
            (MediaStagingError, EcomsyncError),
            (RunCancelled, EcomsyncError),
        ],
    )
    def test_parents(self, error: type, parent: type) -> None:
        """Every error sits under its group and the one root."""
        assert issubclass(error, parent)
        assert issubclass(error, EcomsyncError)

    def test_record_rejected(self) -> None:
        """RecordRejected names the record and the field."""
        error = RecordRejected("too long", number="A-1", field="name")

        assert ("A-1", "name", "too long") == (
            error.number,
            error.field,
            str(error),
        )

    def test_retryable(self) -> None:
        """RetryableError carries what the server asked us to wait."""
        error = RetryableError("429", retry_after=timedelta(seconds=3))

        assert timedelta(seconds=3) == error.retry_after

    def test_no_free_license(self) -> None:
        """NoFreeLicense says how many licences exist and who holds them."""
        error = NoFreeLicense(2, ("run-a", "run-b"), 1.5)

        assert "all 2 licence(s) are held by run-a, run-b" in str(error)
        assert "unknown holders" in str(NoFreeLicense(1, (), 0))


class TestPriority:
    def test_documented_order_is_the_order(self) -> None:
        """The priority the module docstring documents is the one runs
        use to pick their one error."""
        doc = exceptions.__doc__ or ""
        section = doc[doc.index("One error per failed run") :]
        documented = [
            name
            for line in re.findall(r"^\d\. (.*)$", section, re.MULTILINE)
            for name in re.findall(r"`(\w+)`", line.split(":")[0])
        ]

        assert [k.__name__ for k in PRIORITY] == documented[: len(PRIORITY)]
        assert "RunCancelled" == documented[-1]


class TestMissingExtra:
    def test_names_the_extra(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A missing optional dependency is a ConfigurationError naming
        who needs which extra and how to install it."""
        monkeypatch.setitem(sys.modules, "portalocker", None)

        with pytest.raises(ConfigurationError) as info:
            _portalocker()

        assert (
            "FileLicensePool needs the 'locking' extra: "
            "pip install 'ecomsync[locking]'"
        ) == str(info.value)
        assert isinstance(info.value.__cause__, ImportError)

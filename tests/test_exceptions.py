"""
The error tree: one root, split by what the caller should do, carrying
the context a handler needs.
"""

from __future__ import annotations

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
)


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

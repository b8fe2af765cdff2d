"""
The one exception tree of *ecomsync*, split by what the caller should do.

::

    EcomsyncError
    ├── ConfigurationError          fix the setup (bad adapter config, ...)
    │   ├── SpecError               fix the SyncSpec (caught before a run)
    │   └── ResourceClosed          used after aclose() (also a RuntimeError)
    ├── InvalidRecord               a record cannot even be built (ValueError)
    ├── LicenseError
    │   └── NoFreeLicense           all ERP connection licences are in use
    ├── StateStoreError             the state store is unusable
    ├── MediaStagingError           the staging directory is unusable
    ├── RunCancelled                the run was cancelled (monitor or task)
    └── SyncError                   talking to the ERP or a platform failed
        ├── AuthenticationError     credentials refused: stops the run
        ├── RetryableError          transient (429, 5xx, reset, timeout)
        └── RecordRejected          one record is bad: fails alone

Adapters translate vendor errors at the boundary (``raise ... from exc``).
No message ever contains a credential.

**One error per failed run.**  `Synchronizer.run`, `~Synchronizer.resume`,
`~Synchronizer.execute` and `~Synchronizer.plan` never raise an exception
group.  When several things fail at once (uploads in flight when the shop
refuses the secret, batches writing to a store that turned read-only),
the run raises the one that ranks first here and attaches the others to
it as notes (``error.__notes__``, ``also: <type>: <message>``, one per
distinct text, counted):

1. `AuthenticationError`: nothing else can work until credentials change;
2. `StateStoreError`: the record of what happened cannot be kept;
3. `MediaStagingError`: the local disk;
4. `LicenseError`;
5. `ConfigurationError`;
6. `RetryableError`: transport that did not recover;
7. any other `SyncError`, then any other `EcomsyncError`;
8. `RunCancelled` only when nothing else went wrong (the run then ends
   ``cancelled`` and raises nothing).

An error that is not the library's (a bug in an adapter, say) comes out as
an `EcomsyncError` naming it (``KeyError: 'img-1'``), the original as its
``__cause__``.  `RunRecord.error <ecomsync.RunRecord>` names the error
raised, type and message: ``AuthenticationError: Shopware at ... refused
the integration credentials ...``.

.. versionadded:: 26.1.0
"""

from __future__ import annotations

from datetime import timedelta


__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "EcomsyncError",
    "InvalidRecord",
    "LicenseError",
    "MediaStagingError",
    "NoFreeLicense",
    "RecordRejected",
    "ResourceClosed",
    "RetryableError",
    "RunCancelled",
    "SpecError",
    "StateStoreError",
    "SyncError",
]


class EcomsyncError(Exception):
    """
    Root of every error *ecomsync* raises on purpose.
    """


class ConfigurationError(EcomsyncError):
    """
    The library is set up wrongly; retrying will not help.
    """


class SpecError(ConfigurationError):
    """
    A `SyncSpec` is invalid or does not fit the synchroniser it is run on.
    """


class ResourceClosed(ConfigurationError, RuntimeError):
    """
    A synchroniser, adapter, store, licence pool or staging directory was
    used after its ``aclose()`` (or after its ``async with`` block ended).
    The message names the object.

    .. versionadded:: 26.1.0
    """


class InvalidRecord(EcomsyncError, ValueError):
    """
    A record cannot be built from the values given: a field that must be
    a number got text that is none, for instance.  The message names the
    record type, the field and the value.

    Values that *are* numbers but unusable ones (NaN, infinity, out of
    range) build fine and are judged later: the record then fails alone
    in a run, it never stops one.

    Attributes:
        record_type: The record class's name (``"Article"``).
        field: The field at fault.

    .. versionadded:: 26.1.0
    """

    def __init__(
        self,
        message: str,
        *,
        record_type: str,
        field: str,
    ) -> None:
        super().__init__(message)
        self.record_type = record_type
        self.field = field


class LicenseError(EcomsyncError):
    """
    Base for licence problems.
    """


class NoFreeLicense(LicenseError):
    """
    Every ERP connection licence stayed in use for the whole wait.

    Attributes:
        size: How many licences the pool has.
        holders: Who holds them (run ids), as far as the pool knows.
    """

    def __init__(
        self, size: int, holders: tuple[str, ...], waited: float
    ) -> None:
        self.size = size
        self.holders = holders
        self.waited = waited
        held = ", ".join(holders) if holders else "unknown holders"
        super().__init__(
            f"no free ERP licence after {waited:.1f} s: "
            f"all {size} licence(s) are held by {held}"
        )


class StateStoreError(EcomsyncError):
    """
    The state store cannot be read or written.
    """


class MediaStagingError(EcomsyncError):
    """
    The media staging directory cannot be used.
    """


class RunCancelled(EcomsyncError):
    """
    The run was cancelled from the monitoring view or by its host.
    """


class SyncError(EcomsyncError):
    """
    Talking to the ERP or a platform failed.
    """


class AuthenticationError(SyncError):
    """
    The remote side refused the credentials; the run stops.
    """


class RetryableError(SyncError):
    """
    A transient failure: rate limit, server error, reset or timeout.

    Attributes:
        retry_after: What the server asked us to wait, if it said.
    """

    def __init__(
        self, message: str, *, retry_after: timedelta | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RecordRejected(SyncError):
    """
    One record was refused; it fails alone and the run goes on.

    Attributes:
        number: The record's number.
        field: The field at fault, where known.
        media_gone: Raised by `Platform.attach_media`: media ids of the
            links it was given that the shop no longer has (deleted
            there); the engine forgets them, so the next run uploads
            their content again (as ``Outcome.media_gone`` does for a
            push).

    .. versionchanged:: 26.1.0 *media_gone*.
    """

    def __init__(
        self,
        message: str,
        *,
        number: str,
        field: str | None = None,
        media_gone: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.number = number
        self.field = field
        self.media_gone = media_gone

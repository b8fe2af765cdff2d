"""
What a run reports while it works: small frozen classes, one union type.

A host reads them from ``async with sync.run(spec) as events`` and draws
what it likes; `Progress` comes periodically so a progress bar needs no
counting.  No event ever carries a credential.

.. versionadded:: 26.1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

import attrs

from ._contracts import RunRecord, RunStatus, TypeCounts
from ._spec import DataType, Selection, SyncSpec, Trigger


__all__ = [
    "DependencySynced",
    "Event",
    "MediaUploaded",
    "Progress",
    "RecordFailed",
    "RecordSkipped",
    "RecordSynced",
    "RunFinished",
    "RunStarted",
    "TypeFinished",
    "TypeStarted",
]


@attrs.frozen(kw_only=True)
class RunStarted:
    """
    The run holds its licence and starts; *spec* is what it resolved to
    (scheduled runs turn into `ChangedSince` selections).  *widened*: the
    types it reads in full though it asked for less, and why (its stock,
    after the platform's stock layout changed:
    `~ecomsync.typing.StockLayouts`).

    .. versionchanged:: 26.1.0
       *widened*.
    """

    run_id: str
    platform: str
    trigger: Trigger
    spec: SyncSpec
    widened: Mapping[DataType, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class TypeStarted:
    """
    A data type starts; *total* is the expected record count if known.
    """

    run_id: str
    data_type: DataType
    selection: Selection
    total: int | None


@attrs.frozen(kw_only=True)
class RecordSynced:
    """
    A record was written; *created* tells a first write from an update.
    """

    run_id: str
    data_type: DataType
    number: str
    created: bool
    platform_id: str | None


@attrs.frozen(kw_only=True)
class RecordSkipped:
    """
    A record was left alone because its checksum did not change.
    """

    run_id: str
    data_type: DataType
    number: str


@attrs.frozen(kw_only=True)
class RecordFailed:
    """
    A record failed alone; *message* is the far side's own words (a
    failed order's with its customer's personal data replaced by the
    fields, ``<customer.email>``: docs/security.md).
    """

    run_id: str
    data_type: DataType
    number: str
    field: str | None
    message: str


@attrs.frozen(kw_only=True)
class DependencySynced:
    """
    A category was synced first because *required_by* (an article) uses it
    and the platform did not have it yet.
    """

    run_id: str
    data_type: DataType
    number: str
    required_by: str


@attrs.frozen(kw_only=True)
class MediaUploaded:
    """
    A file of record *number* is on the platform; *reused* when the
    platform had the same content already and nothing was uploaded.
    """

    run_id: str
    data_type: DataType
    number: str
    sha256: str
    size: int
    reused: bool


@attrs.frozen(kw_only=True)
class Progress:
    """
    Periodic progress of the running data type.

    *rate* is records per second; *eta* seconds left, when *total* is known.
    """

    run_id: str
    data_type: DataType
    done: int
    total: int | None
    rate: float
    eta: float | None


@attrs.frozen(kw_only=True)
class TypeFinished:
    """
    A data type is done.
    """

    run_id: str
    data_type: DataType
    counts: TypeCounts


@attrs.frozen(kw_only=True)
class RunFinished:
    """
    The run ended; *run* is its final record.
    """

    run_id: str
    status: RunStatus
    counts: Mapping[DataType, TypeCounts] = attrs.field(hash=False)
    run: RunRecord


Event: TypeAlias = (
    RunStarted
    | TypeStarted
    | RecordSynced
    | RecordSkipped
    | RecordFailed
    | DependencySynced
    | MediaUploaded
    | Progress
    | TypeFinished
    | RunFinished
)

"""
ecomsync: synchronise an ERP with the online shops a merchant sells on.

The curated public API; everything else lives in private modules or the
public sub-namespaces `ecomsync.events`, `ecomsync.exceptions`,
`ecomsync.typing`, `ecomsync.state`, `ecomsync.erp`,
`ecomsync.platforms` and `ecomsync.testing`.
"""

from __future__ import annotations

from ._check import CheckResult
from ._contracts import (
    Failure,
    Lease,
    Link,
    MediaLink,
    NumberClaim,
    Outcome,
    Outgoing,
    RunLease,
    RunOwner,
    RunRecord,
    RunStatus,
    Schedule,
    StagedMedia,
    TypeCounts,
)
from ._engine import RunEvents, Synchronizer
from ._model import (
    Address,
    Article,
    Category,
    Customer,
    MediaKind,
    MediaRef,
    Order,
    OrderLine,
    OrderState,
    OrderStatus,
    StockLevel,
    Variant,
)
from ._partition import submit_partitioned
from ._planning import Plan, Refusal, TypePlan
from ._spec import (
    All,
    ChangedSince,
    DataType,
    Direction,
    NumberRange,
    Only,
    SyncSpec,
    Trigger,
)
from .erp.memory import MemoryErp
from .events import (
    DependencySynced,
    Event,
    MediaUploaded,
    Progress,
    RecordFailed,
    RecordSkipped,
    RecordSynced,
    RunFinished,
    RunStarted,
    TypeFinished,
    TypeStarted,
)
from .exceptions import (
    AuthenticationError,
    ConfigurationError,
    EcomsyncError,
    InvalidRecord,
    LicenseError,
    MediaStagingError,
    NoFreeLicense,
    RecordRejected,
    ResourceClosed,
    RetryableError,
    RunCancelled,
    SpecError,
    StateStoreError,
    SyncError,
)
from .licensing import (
    FileLicensePool,
    LocalLicensePool,
    PostgresLicensePool,
)
from .media import MediaStaging
from .platforms.memory import MemoryPlatform
from .state import PostgresStore, SqliteStore
from .state._board import PartitionLost
from .typing import (
    ErpSession,
    ErpSource,
    LicensePool,
    Platform,
    Record,
    Selection,
    StateStore,
)


__all__ = [
    "Address",
    "All",
    "Article",
    "AuthenticationError",
    "Category",
    "ChangedSince",
    "CheckResult",
    "ConfigurationError",
    "Customer",
    "DataType",
    "DependencySynced",
    "Direction",
    "EcomsyncError",
    "ErpSession",
    "ErpSource",
    "Event",
    "Failure",
    "FileLicensePool",
    "InvalidRecord",
    "Lease",
    "LicenseError",
    "LicensePool",
    "Link",
    "LocalLicensePool",
    "MediaKind",
    "MediaLink",
    "MediaRef",
    "MediaStaging",
    "MediaStagingError",
    "MediaUploaded",
    "MemoryErp",
    "MemoryPlatform",
    "NoFreeLicense",
    "NumberClaim",
    "NumberRange",
    "Only",
    "Order",
    "OrderLine",
    "OrderState",
    "OrderStatus",
    "Outcome",
    "Outgoing",
    "PartitionLost",
    "Plan",
    "Platform",
    "PostgresLicensePool",
    "PostgresStore",
    "Progress",
    "Record",
    "RecordFailed",
    "RecordRejected",
    "RecordSkipped",
    "RecordSynced",
    "Refusal",
    "ResourceClosed",
    "RetryableError",
    "RunCancelled",
    "RunEvents",
    "RunFinished",
    "RunLease",
    "RunOwner",
    "RunRecord",
    "RunStarted",
    "RunStatus",
    "Schedule",
    "Selection",
    "SpecError",
    "SqliteStore",
    "StagedMedia",
    "StateStore",
    "StateStoreError",
    "StockLevel",
    "SyncError",
    "SyncSpec",
    "Synchronizer",
    "Trigger",
    "TypeCounts",
    "TypeFinished",
    "TypePlan",
    "TypeStarted",
    "Variant",
    "submit_partitioned",
]


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import version

        return version("ecomsync")
    raise AttributeError(f"module 'ecomsync' has no attribute {name!r}")

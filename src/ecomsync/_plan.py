"""
A preview of a run: what it would create, update, leave alone and refuse,
which categories it would pull in, which media it would upload, and how
many platform requests that takes.  Pure data; the engine fills it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs

from ._spec import DataType, Selection, SyncSpec


@attrs.frozen(kw_only=True)
class Refusal:
    """
    A record that would fail validation, and why.

    .. versionadded:: 26.1.0
    """

    number: str
    field: str
    reason: str


@attrs.frozen(kw_only=True)
class TypePlan:
    """
    What a run would do with one data type.

    Attributes:
        create: Numbers of records the platform (or, for orders, the ERP)
            does not have yet.
        update: Numbers of records whose checksum changed.
        unchanged: Numbers of records that would be skipped.
        invalid: Records that would fail validation.
        dependencies: Categories the run would sync first for articles.
        media_upload: Distinct files that would be uploaded.
        media_reused: Files the platform already has (linked, not sent).
        staging_bytes: Bytes that would pass through the staging directory.
        requests: Estimated platform requests.

    .. versionadded:: 26.1.0
    """

    data_type: DataType
    selection: Selection
    create: tuple[str, ...] = ()
    update: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    invalid: tuple[Refusal, ...] = ()
    dependencies: tuple[str, ...] = ()
    media_upload: int = 0
    media_reused: int = 0
    staging_bytes: int = 0
    requests: int = 0


@attrs.frozen(kw_only=True)
class Plan:
    """
    What `Synchronizer.run` would do with a spec, right now.

    .. versionadded:: 26.1.0
    """

    run_id: str
    platform: str
    spec: SyncSpec
    types: Mapping[DataType, TypePlan] = attrs.field(hash=False)

    @property
    def requests(self) -> int:
        """
        Estimated platform requests of the whole run.
        """
        return sum(t.requests for t in self.types.values())

    def table(self) -> str:
        """
        The plan as a plain-text table, one row per data type.
        """
        head = (
            f"{'type':<22}{'create':>8}{'update':>8}{'same':>8}"
            f"{'invalid':>8}{'deps':>6}{'upload':>8}{'reuse':>7}"
            f"{'MB':>8}{'requests':>10}"
        )
        rows = [head, "-" * len(head)]
        for t in self.types.values():
            rows.append(
                f"{t.data_type.value:<22}{len(t.create):>8}"
                f"{len(t.update):>8}{len(t.unchanged):>8}"
                f"{len(t.invalid):>8}{len(t.dependencies):>6}"
                f"{t.media_upload:>8}{t.media_reused:>7}"
                f"{t.staging_bytes / 2**20:>8.1f}{t.requests:>10}"
            )
        return "\n".join(rows)


def estimate_requests(
    platform: object,
    data_type: DataType,
    *,
    writes: int,
    uploads: int,
    with_media: int,
    batch_size: int,
) -> int:
    """
    Platform requests for a type: the adapter's own estimate where it has
    one (``estimate_requests``), else one per batch, per upload and per
    media attachment.
    """
    own = getattr(platform, "estimate_requests", None)
    if own is not None:
        return int(
            own(
                data_type,
                writes=writes,
                uploads=uploads,
                with_media=with_media,
            )
        )
    return math.ceil(writes / batch_size) + uploads + with_media

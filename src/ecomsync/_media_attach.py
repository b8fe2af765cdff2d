"""
Media attached after the record, for platforms that take them so
(`Platform.attach_media`): every landed record's links at once, and a
record's failed uploads taken off it again.  The moves of the files
themselves are `ecomsync._media_transfer`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ._anyio_util import task_group
from ._contracts import MediaLink, Outcome
from ._run import Run
from ._spec import DataType
from .exceptions import AuthenticationError, RecordRejected, SyncError


_log = logging.getLogger("ecomsync")

#: Per record: its media links, a failed outcome naming the file at
#: fault, or None (the record has no media).
Found = list[MediaLink] | Outcome | None


async def attach_all(
    run: Run,
    data_type: DataType,
    outcomes: Sequence[Outcome],
    media: Sequence[Found],
) -> list[Outcome]:
    """
    For platforms that take media after the record: attach them.
    """
    final = list(outcomes)

    async def one(index: int, links: list[MediaLink]) -> None:
        try:
            await run.platform.attach_media(data_type, outcomes[index], links)
        except RecordRejected as exc:
            media_field = exc.field or ""
            final[index] = Outcome(
                number=outcomes[index].number,
                error=str(exc),
                field=media_field
                if media_field.startswith("media.")
                else "media",
                # forgotten, their content uploaded again and
                # attached once more (`Writer`)
                media_gone=exc.media_gone,
            )

    async with task_group() as tg:
        for index, links in enumerate(media):
            if isinstance(links, Outcome):
                final[index] = links
            elif links is not None and outcomes[index].ok:
                tg.start_soon(one, index, links)
    return final


async def detach(
    run: Run, data_type: DataType, target: Outcome, keep: list[MediaLink]
) -> None:
    """
    Make *keep* the media of *target* (a record whose other uploads
    failed); the record fails anyway, so a refusal here changes nothing
    but the log.
    """
    try:
        await run.platform.attach_media(data_type, target, keep)
    except (RecordRejected, SyncError) as exc:
        if isinstance(exc, AuthenticationError):
            raise
        _log.warning(
            "could not detach the failed media of %s %s: %s",
            data_type.value,
            target.number,
            exc,
        )

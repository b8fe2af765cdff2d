"""
Whether the parts of a synchroniser can be used before a run: the ERP and
each platform reachable, accepting their credentials, granting what a run
needs.  An adapter that declares `SupportsCheck` checks itself; any other
is probed with one cheap read.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import attrs

from ._anyio_util import aclose
from ._spec import All, DataType, Only
from .exceptions import ConfigurationError, EcomsyncError
from .typing import ErpSource, LicensePool, Platform, SupportsCheck


#: A number no record has: the probe reads nothing, but asks.
_PROBE = "ecomsync-check-probe"


@attrs.frozen
class CheckResult:
    """
    What `Synchronizer.check` found: one message per problem, each naming
    the part it is about (``ERP: ...``, ``platform 'shop-de': ...``).

    .. versionadded:: 26.1.0
    """

    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """
        Whether nothing stands in a run's way.
        """
        return not self.problems


def _text(error: Exception) -> str:
    if isinstance(error, EcomsyncError):
        return str(error)
    return f"{type(error).__name__}: {error}"


async def probe_platform(platform: Platform) -> None:
    """
    One cheap read from *platform*: raises what the platform answers.
    """
    orders = platform.fetch_orders(Only({_PROBE}), batch_size=1)
    try:
        await anext(orders, None)
    finally:
        await aclose(orders)


async def platform_problems(name: str, platform: Platform) -> list[str]:
    """
    The problems of one platform, each naming it.
    """
    try:
        if isinstance(platform, SupportsCheck):
            found = await platform.check()
        else:
            await probe_platform(platform)
            found = []
    except Exception as exc:
        found = [_text(exc)]
    return [f"platform {name!r}: {message}" for message in found]


async def erp_problems(
    erp: ErpSource, licenses: LicensePool, timeout: float
) -> list[str]:
    """
    The problems of the ERP; checking it holds a licence, like a run.
    """
    try:
        async with licenses.lease(
            f"check-{uuid.uuid4().hex[:6]}", timeout=timeout
        ):
            if isinstance(erp, SupportsCheck):
                found = await erp.check()
            else:
                async with erp.session() as session:
                    await session.count(DataType.CATEGORIES, All())
                found = []
    except Exception as exc:
        found = [_text(exc)]
    return [f"ERP: {message}" for message in found]


async def check(
    erp: ErpSource,
    platforms: Mapping[str, Platform],
    licenses: LicensePool,
    timeout: float,
) -> CheckResult:
    """
    The problems of the ERP and of *platforms*.
    """
    problems = await erp_problems(erp, licenses, timeout)
    for name, platform in platforms.items():
        problems += await platform_problems(name, platform)
    return CheckResult(tuple(problems))


async def refuse_unusable(name: str, platform: Platform) -> None:
    """
    Raise if *platform* cannot be used: the platform's own typed error
    (`AuthenticationError` for refused credentials) with every problem
    its check found as a note, or `ConfigurationError` listing them.
    """
    if not isinstance(platform, SupportsCheck):
        await probe_platform(platform)
        return
    problems = await platform.check()
    if not problems:
        return
    try:
        await probe_platform(platform)
    except EcomsyncError as exc:
        for problem in problems:
            exc.add_note(problem)
        raise
    raise ConfigurationError(f"platform {name!r}: {'; '.join(problems)}")

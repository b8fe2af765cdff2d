"""
Synchronizer.check(): one clear message per problem of the ERP and the
platforms; plan() refuses a platform that cannot be used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager

import pytest

from ecomsync import (
    All,
    AuthenticationError,
    CheckResult,
    ConfigurationError,
    DataType,
    LocalLicensePool,
    MemoryErp,
    MemoryPlatform,
    Order,
    RunStatus,
    Selection,
    SpecError,
    Synchronizer,
)
from ecomsync.typing import ErpSession

from ._support import BrokenErp, spec


pytestmark = pytest.mark.anyio


class _Unchecked:
    """
    A platform without `check()`: probed with one read, which is refused.
    """

    supported = frozenset(DataType)
    batch_size = 10
    reads = 0

    async def fetch_orders(
        self, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Order]]:
        self.reads += 1
        raise AuthenticationError("the shop refused the access key")
        yield []  # pragma: no cover -- makes this an async generator


class _Quiet(_Unchecked):
    """
    A platform without `check()` whose probe read goes through.
    """

    async def fetch_orders(
        self, selection: Selection, *, batch_size: int
    ) -> AsyncIterator[Sequence[Order]]:
        self.reads += 1
        yield []


class _BuggyCheck:
    """
    An ERP whose own check has a bug.
    """

    def session(self) -> AbstractAsyncContextManager[ErpSession]:
        raise AssertionError("not called")

    async def check(self) -> list[str]:
        raise KeyError("tryton.version")


class _SelfCheckingErp:
    """
    An ERP that checks itself.
    """

    def session(self) -> AbstractAsyncContextManager[ErpSession]:
        raise AssertionError("a check of a self-checking ERP logs in")

    async def check(self) -> list[str]:
        return ["user 'sync' may not read product.template"]


class TestCheck:
    async def test_all_well(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """With everything usable the result is ok, and each platform's own
        check() was asked."""
        result = await sync.check()

        assert CheckResult() == result
        assert result.ok
        assert 1 == platform.calls["check"]
        assert 0 == sync.licenses.in_use  # type: ignore[attr-defined]

    async def test_one_message_per_problem(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """Every broken part has its own message, naming the part."""
        sync.erp = BrokenErp()  # type: ignore[assignment]
        await platform.aclose()

        result = await sync.check()

        assert (
            "ERP: ERP went away",
            "platform 'shop': the memory platform is closed",
        ) == result.problems
        assert not result.ok

    async def test_platform_without_check_is_probed(
        self, erp: MemoryErp
    ) -> None:
        """A platform without check() is probed with one read; what it
        answers is the message."""
        other = _Unchecked()
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": MemoryPlatform(), "other": other},  # type: ignore[dict-item]
        )

        result = await sync.check("other")

        assert (
            "platform 'other': the shop refused the access key",
        ) == result.problems
        assert 1 == other.reads

    async def test_erp_checks_itself(self, platform: MemoryPlatform) -> None:
        """An ERP with its own check() is asked, not logged into."""
        sync = Synchronizer(
            erp=_SelfCheckingErp(),  # type: ignore[arg-type]
            platforms={"shop": platform},
        )

        result = await sync.check()

        assert (
            "ERP: user 'sync' may not read product.template",
        ) == result.problems

    async def test_no_free_licence(
        self, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """Checking the ERP needs a licence like a run; none free is a
        problem, not a hang."""
        pool = LocalLicensePool(1)
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": platform},
            licenses=pool,
            license_timeout=0.05,
        )

        async with pool.lease("nightly", timeout=1):
            result = await sync.check()

        (problem,) = result.problems
        assert problem.startswith("ERP: no free ERP licence")
        assert "nightly" in problem

    async def test_unknown_platform(self, sync: Synchronizer) -> None:
        """Checking a platform the synchroniser does not have is a
        SpecError."""
        with pytest.raises(SpecError, match="unknown platform 'nope'"):
            await sync.check("nope")

    async def test_probe_goes_through(self, erp: MemoryErp) -> None:
        """A platform without check() whose probe read goes through has no
        problem, and a plan against it runs."""
        quiet = _Quiet()
        sync = Synchronizer(erp=erp, platforms={"shop": quiet})  # type: ignore[dict-item]

        result = await sync.check()
        plan = await sync.plan(spec(addresses_and_orders=All()))

        assert result.ok
        assert 2 <= quiet.reads
        assert () == plan.types[DataType.ADDRESSES_AND_ORDERS].create

    async def test_foreign_error_named(self, platform: MemoryPlatform) -> None:
        """A check that fails with an error not of the library's names
        the error type."""
        sync = Synchronizer(
            erp=_BuggyCheck(),  # type: ignore[arg-type]
            platforms={"shop": platform},
        )

        result = await sync.check()

        assert ("ERP: KeyError: 'tryton.version'",) == result.problems


class TestPlanRefuses:
    async def test_refused_credentials(self, erp: MemoryErp) -> None:
        """A plan for a platform that refuses us fails with the platform's
        AuthenticationError instead of answering "create all"."""
        sync = Synchronizer(
            erp=erp,
            platforms={"shop": _Unchecked()},  # type: ignore[dict-item]
        )

        with pytest.raises(AuthenticationError, match="refused"):
            await sync.plan(spec(categories=All()))

        (run,) = await sync.runs()
        assert RunStatus.FAILED == run.status

    async def test_unusable_platform(
        self, sync: Synchronizer, platform: MemoryPlatform
    ) -> None:
        """A platform whose check finds problems but whose read goes
        through fails the plan with a ConfigurationError listing them."""
        await platform.aclose()

        with pytest.raises(ConfigurationError, match="closed"):
            await sync.plan(spec(categories=All()))

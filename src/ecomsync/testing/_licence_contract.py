"""
`LicensePoolContract`: what every `LicensePool` must do, as a pytest base
class.  Subclass it and provide a ``pool_factory`` fixture: a function
that makes a fresh pool of a given number of licences, sharing nothing
with the pools of other tests.

The suite's tests are async: your conftest must provide ``anyio_backend``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import anyio
import pytest

from ..exceptions import ConfigurationError, NoFreeLicense
from ..typing import LicensePool


__all__ = ["LicensePoolContract"]

PoolFactory = Callable[[int], LicensePool]


class LicensePoolContract:
    """
    The behaviour every `LicensePool` shares: a lease names its holder
    and slot, no more licences are out than exist, a lease that cannot be
    had in time says who holds them all, and a licence comes back however
    its block ends (success, error, cancellation, holding or waiting) and
    goes to a waiter soon after.

    Subclass and provide a ``pool_factory`` fixture.

    .. versionadded:: 26.1.0
    """

    pytestmark = pytest.mark.anyio

    #: How long after its return a waiter must have a licence, in seconds
    #: (pools shared between processes poll).
    handover_seconds: float = 1.5

    def test_size(self, pool_factory: PoolFactory) -> None:
        """The pool says how many licences exist."""
        assert 3 == pool_factory(3).size

    def test_needs_a_licence(self, pool_factory: PoolFactory) -> None:
        """A pool of no licences is refused, and a size that is not a
        whole number (it was a TypeError from a comparison)."""
        for size in (0, "2", 1.5):
            # ">= 1": the message of the pools before 26.1.0's settings
            # validators, which pools of your own may have copied.
            with pytest.raises(ConfigurationError, match=r"at least 1|>= 1"):
                pool_factory(size)  # type: ignore[arg-type]

    async def test_lease_and_return(self, pool_factory: PoolFactory) -> None:
        """A lease names its holder and slot while held and is returned
        after."""
        pool = pool_factory(2)

        async with pool.lease("run-a", timeout=1) as lease:
            held = await pool.holders()

        assert ("run-a", True) == (lease.holder, 0 <= lease.slot < 2)
        assert ("run-a",) == held
        assert () == await pool.holders()

    async def test_leases_take_distinct_slots(
        self, pool_factory: PoolFactory
    ) -> None:
        """Leases held at once hold different slots."""
        pool = pool_factory(2)

        async with (
            pool.lease("run-a", timeout=1) as a,
            pool.lease("run-b", timeout=1) as b,
        ):
            held = sorted(await pool.holders())

        assert {0, 1} == {a.slot, b.slot}
        assert ["run-a", "run-b"] == held

    async def test_no_free_licence(self, pool_factory: PoolFactory) -> None:
        """With every licence held, a lease waits its timeout, then says
        how many licences exist and which runs hold them."""
        pool = pool_factory(2)
        async with (
            pool.lease("run-a", timeout=1),
            pool.lease("run-b", timeout=1),
        ):
            started = time.monotonic()
            with pytest.raises(NoFreeLicense) as info:
                async with pool.lease("run-c", timeout=0.3):
                    pytest.fail(
                        "a third lease of two licences"
                    )  # pragma: no cover
            waited = time.monotonic() - started

        assert waited >= 0.3
        assert 2 == info.value.size
        assert ["run-a", "run-b"] == sorted(info.value.holders)
        assert "all 2 licence(s) are held by run-" in str(info.value)

    async def test_no_time_to_wait(self, pool_factory: PoolFactory) -> None:
        """With a timeout of 0 a free licence is granted at once, and with
        none free the lease fails at once naming the holders."""
        pool = pool_factory(1)

        async with pool.lease("run-a", timeout=0) as lease:
            with pytest.raises(NoFreeLicense) as info:
                async with pool.lease("run-b", timeout=0):
                    pytest.fail(
                        "two leases of one licence"
                    )  # pragma: no cover

        assert "run-a" == lease.holder
        assert ("run-a",) == info.value.holders

    async def test_endless_wait(self, pool_factory: PoolFactory) -> None:
        """With a timeout of ``inf`` (`Synchronizer` license_timeout) a
        lease waits until a licence is free, and a cancel still ends the
        wait, taking nothing."""
        pool = pool_factory(1)
        got: list[str] = []

        async def wait(holder: str) -> None:
            async with pool.lease(holder, timeout=math.inf) as lease:
                got.append(lease.holder)

        async with pool.lease("run-a", timeout=1):
            with anyio.move_on_after(0.3) as scope:
                await wait("run-b")
        async with (
            anyio.create_task_group() as tg,
            pool.lease("run-a", timeout=1),
        ):
            tg.start_soon(wait, "run-c")
            await anyio.sleep(0.2)

        assert scope.cancelled_caught
        assert ["run-c"] == got
        assert () == await pool.holders()

    async def test_returned_on_error(self, pool_factory: PoolFactory) -> None:
        """A block that raises returns its licence."""
        pool = pool_factory(1)

        with pytest.raises(RuntimeError):
            async with pool.lease("run-a", timeout=1):
                raise RuntimeError("boom")

        async with pool.lease("run-b", timeout=0.5):
            assert ("run-b",) == await pool.holders()

    async def test_returned_on_cancel(self, pool_factory: PoolFactory) -> None:
        """A cancelled block, holding or waiting, returns its licence."""
        pool = pool_factory(1)
        with anyio.move_on_after(0.2):
            async with pool.lease("run-a", timeout=1):
                await anyio.sleep(10)
        async with pool.lease("run-b", timeout=1):
            with anyio.move_on_after(0.2):
                async with pool.lease("run-c", timeout=10):
                    pytest.fail(
                        "two leases of one licence"
                    )  # pragma: no cover

        async with pool.lease("run-d", timeout=0.5):
            assert ("run-d",) == await pool.holders()

    async def test_waiter_gets_freed_licence(
        self, pool_factory: PoolFactory
    ) -> None:
        """A waiter gets the licence soon after it is returned, not
        before."""
        pool = pool_factory(1)
        got: list[float] = []

        async def wait() -> None:
            async with pool.lease("run-b", timeout=5):
                got.append(time.monotonic())

        async with (
            anyio.create_task_group() as tg,
            pool.lease("run-a", timeout=1),
        ):
            tg.start_soon(wait)
            await anyio.wait_all_tasks_blocked()
            released = time.monotonic()

        assert released <= got[0] < released + self.handover_seconds

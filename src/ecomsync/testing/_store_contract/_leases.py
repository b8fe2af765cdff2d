"""
The contract of leases by name (`RunLeases`, optional).
"""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from ..._contracts import RunLease, RunOwner
from ...typing import RunLeases, StateStore
from ._data import T0


def a_lease(
    token: str = "t1",  # noqa: S107 -- a lease's token, no secret
    *,
    name: str = "orders:shop",
    run_id: str = "run-1",
) -> RunLease:
    return RunLease(
        name=name,
        run_id=run_id,
        token=token,
        owner=RunOwner(host="h", pid=42, started=1700000000.25),
        heartbeat_at=T0,
    )


class LeaseContract:
    """
    Leases by name, held by one run at a time; part of
    `StateStoreContract` (skipped for a store without `RunLeases`).
    """

    @staticmethod
    def _leasing(store: StateStore) -> RunLeases:
        if not isinstance(store, RunLeases):
            pytest.skip("the store keeps no leases (RunLeases)")
        return store

    async def test_lease_free(self, store: StateStore) -> None:
        """A lease nobody took has no holder; a free lease is taken."""
        leasing = self._leasing(store)

        assert await leasing.lease_holder("orders:shop") is None
        assert await leasing.take_lease(a_lease(), seen=None) is True
        assert a_lease() == await leasing.lease_holder("orders:shop")

    async def test_lease_held_once(
        self, store: StateStore, other_store: StateStore
    ) -> None:
        """A held lease is not taken as free, through any handle; other
        names are leases of their own."""
        leasing, other = self._leasing(store), self._leasing(other_store)
        await leasing.take_lease(a_lease(), seen=None)

        assert await other.take_lease(a_lease("t2"), seen=None) is False
        assert a_lease() == await other.lease_holder("orders:shop")
        assert await other.take_lease(
            a_lease("t3", name="orders:other"), seen=None
        )

    async def test_lease_taken_over_as_seen(
        self, store: StateStore, other_store: StateStore
    ) -> None:
        """A lease is taken over only as it was seen: a stale view (another
        token, or a beat since) is refused."""
        leasing, other = self._leasing(store), self._leasing(other_store)
        await leasing.take_lease(a_lease(), seen=None)
        seen = await other.lease_holder("orders:shop")
        assert seen is not None
        beat = T0 + timedelta(minutes=1)
        await leasing.renew_lease("orders:shop", "t1", beat)
        second = a_lease("t2", run_id="run-2")

        assert await other.take_lease(second, seen=seen) is False
        now = await other.lease_holder("orders:shop")
        assert attrs.evolve(a_lease(), heartbeat_at=beat) == now
        assert await other.take_lease(second, seen=now) is True
        assert await leasing.take_lease(a_lease("t3"), seen=now) is False
        assert second == await leasing.lease_holder("orders:shop")

    async def test_lease_renew_and_release(self, store: StateStore) -> None:
        """Only the token that holds a lease renews or releases it."""
        leasing = self._leasing(store)
        first = a_lease()
        await leasing.take_lease(first, seen=None)
        second = a_lease("t2", run_id="run-2")
        await leasing.take_lease(second, seen=first)
        beat = T0 + timedelta(minutes=2)

        assert await leasing.renew_lease("orders:shop", "t1", beat) is False
        await leasing.release_lease("orders:shop", "t1")
        assert second == await leasing.lease_holder("orders:shop")
        assert await leasing.renew_lease("orders:shop", "t2", beat) is True
        await leasing.release_lease("orders:shop", "t2")
        assert await leasing.lease_holder("orders:shop") is None
        assert await leasing.renew_lease("orders:shop", "t2", beat) is False

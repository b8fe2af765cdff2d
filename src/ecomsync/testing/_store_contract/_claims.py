"""
The contract of numbers claimed by identity (`IdentityClaims`, optional).
"""

from __future__ import annotations

import anyio
import pytest

from ..._contracts import NumberClaim
from ..._identity_claims import HeldClaims
from ...typing import IdentityClaims, StateStore
from ._data import ARTICLES, STOCK


def a_claim(
    number: str = "A-01",
    *,
    identity: str = "a-01",
    holder: str | None = None,
    run_id: str = "run-1",
) -> NumberClaim:
    return NumberClaim(
        identity=identity,
        number=number,
        holder=number if holder is None else holder,
        run_id=run_id,
    )


class ClaimContract:
    """
    Numbers claimed by the platform's identity of them, one spelling per
    identity; part of `StateStoreContract` (skipped for a store without
    `IdentityClaims`).
    """

    @staticmethod
    def _claiming(store: StateStore) -> IdentityClaims:
        if not isinstance(store, IdentityClaims):
            pytest.skip("the store claims no numbers (IdentityClaims)")
        return store

    async def test_claim_free(self, store: StateStore) -> None:
        """A free identity is taken; the spelling that took it counts as
        taken again, by any run; nothing asked, nothing held."""
        claiming = self._claiming(store)

        assert [] == await claiming.claim_numbers(
            "shop", ARTICLES, [a_claim()]
        )
        assert [] == await claiming.claim_numbers(
            "shop", ARTICLES, [a_claim(run_id="run-2", holder="P-01")]
        )
        assert [] == await claiming.claim_numbers("shop", ARTICLES, [])

    async def test_claim_held_by_another_spelling(
        self, store: StateStore, other_store: StateStore
    ) -> None:
        """An identity held under another spelling is not taken, through
        any handle: the holding claim comes back as it was taken; other
        identities of the call are taken."""
        claiming, other = self._claiming(store), self._claiming(other_store)
        await claiming.claim_numbers(
            "shop", ARTICLES, [a_claim(holder="P-01")]
        )
        twin = a_claim("A-01 ", run_id="run-2")
        free = a_claim("B-01", identity="b-01", run_id="run-2")

        held = await other.claim_numbers("shop", ARTICLES, [twin, free])

        assert [a_claim(holder="P-01")] == held
        assert [a_claim(holder="P-01")] == await other.claim_numbers(
            "shop", ARTICLES, [twin]
        )
        assert [free] == await claiming.claim_numbers(
            "shop", ARTICLES, [a_claim("b-01 ", identity="b-01")]
        )

    async def test_held_claims_read_without_taking(
        self, store: StateStore, other_store: StateStore
    ) -> None:
        """The claims held of identities are read as taken, through any
        handle, and reading takes none (a plan writes no claim); skipped
        for a store that cannot read them so."""
        claiming, other = self._claiming(store), self._claiming(other_store)
        if not isinstance(claiming, HeldClaims) or not isinstance(
            other, HeldClaims
        ):
            pytest.skip("the store reads no claims without taking them")
        await claiming.claim_numbers(
            "shop", ARTICLES, [a_claim(holder="P-01")]
        )

        assert [a_claim(holder="P-01")] == await other.held_claims(
            "shop", ARTICLES, ["a-01", "b-01"]
        )
        assert [] == await other.held_claims("shop", STOCK, ["a-01"])
        assert [] == await other.held_claims("shop", ARTICLES, [])
        free = a_claim("B-01", identity="b-01", run_id="run-2")
        assert [] == await other.claim_numbers("shop", ARTICLES, [free])

    async def test_claims_scoped(self, store: StateStore) -> None:
        """Claims are kept per platform and data type."""
        claiming = self._claiming(store)
        await claiming.claim_numbers("shop", ARTICLES, [a_claim()])

        twin = a_claim("A-01 ")
        assert [] == await claiming.claim_numbers("other", ARTICLES, [twin])
        assert [] == await claiming.claim_numbers("shop", STOCK, [twin])

    async def test_claim_taken_over_as_seen(
        self, store: StateStore, other_store: StateStore
    ) -> None:
        """A held identity is taken over only as it was seen: once taken
        over, the claim seen before takes nothing back."""
        claiming, other = self._claiming(store), self._claiming(other_store)
        await claiming.claim_numbers("shop", ARTICLES, [a_claim()])
        twin = a_claim("A-01 ", run_id="run-2")
        (seen,) = await other.claim_numbers("shop", ARTICLES, [twin])

        assert [] == await other.claim_numbers(
            "shop", ARTICLES, [twin], seen=[seen]
        )
        third = a_claim("á-01", run_id="run-3")
        assert [twin] == await claiming.claim_numbers(
            "shop", ARTICLES, [third], seen=[seen]
        )

    async def test_claimed_once_at_once(
        self, store: StateStore, other_store: StateStore
    ) -> None:
        """Two handles claiming two spellings of one identity at once:
        exactly one takes it, and the other is told which."""
        claiming, other = self._claiming(store), self._claiming(other_store)
        first, second = a_claim(), a_claim("A-01 ", run_id="run-2")
        held: dict[str, list[NumberClaim]] = {}

        async def claim(
            name: str, via: IdentityClaims, c: NumberClaim
        ) -> None:
            held[name] = await via.claim_numbers("shop", ARTICLES, [c])

        async with anyio.create_task_group() as tg:
            tg.start_soon(claim, "first", claiming, first)
            tg.start_soon(claim, "second", other, second)

        assert [0, 1] == sorted(len(h) for h in held.values())
        loser = "first" if held["first"] else "second"
        winner = second if loser == "first" else first
        assert [winner] == held[loser]

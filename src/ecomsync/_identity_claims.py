"""
Twins side by side: two runs on one store (a manual run beside a
scheduled one, two processes with different selections), each with one
spelling of a number the platform takes for one (``A-01`` and
``"A-01 "`` on WooCommerce), both new to the store.

`_ambiguity` catches twins read by one run, `_twins` those that landed
before a run looked at the store's links (it reads them once per run).
Neither sees a twin another run is landing meanwhile: on WooCommerce
the second write was taken for the first's product (SKUs kept trimmed)
and overwrote it, and both links named that product.  So a number new
to the store is claimed by the platform's identity of it before its
first write (`~ecomsync.typing.IdentityClaims`), one spelling per
identity, atomically across processes.  A batch that finds an identity
held under another spelling reads the record carrying that spelling
from the ERP, as `_twins` reads a landed twin, and both fail as twins
read together do: the holder's run writes its product, this one writes
nothing.  A spelling the ERP no longer has (respelt, or moved to
another article) is no rival: its claim is taken over, and the
newcomer goes on.

Claims stay after the write: released when their link lands, a claim
would miss a twin landed after the other run loaded its links (a long
scheduled run beside a short manual one).  So the claims are the
store's index of identities for numbers new since; nothing is blocked
for ever, since a claim whose spelling is gone from the ERP is taken
over on the first conflict.

What it costs: one store call per batch holding a number without a
link (every batch of a first sync; none on a delta of known records or
a rerun without changes), no platform request; an ERP read only for a
batch that found an identity held under another spelling.  Only
articles claim (their numbers and their variants' make products; stock
is written to products that exist), and only where the platform says
how it compares numbers (`~ecomsync.typing.SupportsNumberIdentity`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

import attrs

from ._ambiguity import NumberClaims
from ._contracts import Link, NumberClaim
from ._model import Record
from ._spec import DataType
from ._twins import Reader, identity_of, new_numbers, read_records
from .typing import ErpSession, IdentityClaims, Platform, StateStore


__all__ = ["Claiming", "HeldClaims", "Taken"]


@runtime_checkable
class HeldClaims(Protocol):  # pragma: no cover -- a Protocol only
    """
    A store that reads the claims of identities without taking them
    (both built-in stores): a plan sees the twins a run would.
    """

    async def held_claims(
        self, platform: str, data_type: DataType, identities: Sequence[str]
    ) -> list[NumberClaim]: ...


@attrs.frozen
class Taken:
    """
    What one batch's claim found: its claims by identity, and those
    its identities were held by under another spelling.
    """

    mine: Mapping[str, NumberClaim]
    held: Sequence[NumberClaim]


_NONE = Taken({}, ())


@attrs.define
class Claiming:
    """
    The claims of one type's new numbers in one run.
    """

    store: IdentityClaims
    platform_name: str
    data_type: DataType
    run_id: str
    identity: Callable[[str], str]
    #: Holders read as a rival that failed: a later batch of the read
    #: that yields them again yields a party that failed already.
    pulled: set[str] = attrs.field(init=False, factory=set)

    @classmethod
    def of(
        cls,
        platform: Platform,
        platform_name: str,
        store: StateStore,
        data_type: DataType,
        run_id: str,
    ) -> Claiming | None:
        """
        The claims of a run's *data_type*; ``None`` where it claims
        nothing: not articles, a platform comparing numbers exactly, or
        a store without `IdentityClaims`.
        """
        identity = identity_of(platform, data_type)
        if (
            identity is None
            or data_type is not DataType.ARTICLES
            or not isinstance(store, IdentityClaims)
        ):
            return None
        return cls(store, platform_name, data_type, run_id, identity)

    async def take(
        self,
        session: ErpSession,
        read: Reader,
        batch: Sequence[Record],
        links: Mapping[str, Link],
        claims: NumberClaims,
        rivals: Sequence[Record],
    ) -> tuple[Taken, list[Record]]:
        """
        Claim the numbers of *batch* new to the store (no link in
        *links*, or a variant its article's link does not list); return
        what the claim found, and the ERP's records carrying the other
        spellings of identities held so, to be claimed with *batch*
        (those not in it, nor in *rivals*, nor claimed by this read).
        """
        mine = self._mine(batch, links)
        if not mine:
            return _NONE, []
        held = await self.store.claim_numbers(
            self.platform_name, self.data_type, list(mine.values())
        )
        if not held:
            return Taken(mine, ()), []
        found = await self._holders(session, read, batch, held, claims, rivals)
        return Taken(mine, held), found

    async def peek(
        self,
        session: ErpSession,
        read: Reader,
        batch: Sequence[Record],
        links: Mapping[str, Link],
        claims: NumberClaims,
        rivals: Sequence[Record],
    ) -> list[Record]:
        """
        The records `take` would read for *batch*, claiming nothing: a
        plan's rivals (a plan writes no claim).  None where the store
        cannot read claims without taking them (`HeldClaims`).
        """
        store = self.store
        mine = self._mine(batch, links)
        if not mine or not isinstance(store, HeldClaims):
            return []
        held = [
            c
            for c in await store.held_claims(
                self.platform_name, self.data_type, sorted(mine)
            )
            if c.identity in mine and c.number != mine[c.identity].number
        ]
        if not held:
            return []
        return await self._holders(session, read, batch, held, claims, rivals)

    def _mine(
        self, batch: Sequence[Record], links: Mapping[str, Link]
    ) -> dict[str, NumberClaim]:
        """The claims of *batch*'s numbers new to the store, by identity."""
        mine: dict[str, NumberClaim] = {}
        for record in batch:
            for number in new_numbers(record, links):
                key = self.identity(number)
                mine.setdefault(
                    key,
                    NumberClaim(
                        identity=key,
                        number=number,
                        holder=record.number,
                        run_id=self.run_id,
                    ),
                )
        return mine

    async def _holders(
        self,
        session: ErpSession,
        read: Reader,
        batch: Sequence[Record],
        held: Sequence[NumberClaim],
        claims: NumberClaims,
        rivals: Sequence[Record],
    ) -> list[Record]:
        """
        The ERP's records holding *held* under another spelling, not in
        *batch* nor *rivals*, nor claimed by this read.
        """
        here = {r.number for r in batch} | {r.number for r in rivals}
        wanted = {
            c.holder
            for c in held
            if c.holder not in here
            and c.holder not in self.pulled
            and not claims.known(c.identity)
        }
        return await read_records(session, read, self.data_type, wanted)

    async def settle(
        self, taken: Taken, kept: Sequence[Record]
    ) -> dict[str, str]:
        """
        Take over the claims held under another spelling whose newcomer
        in *kept* goes on (the ERP no longer has that spelling as it
        was claimed); return, by number, why a newcomer fails whose
        identity another run claimed meanwhile.
        """
        going = {r.number for r in kept}
        seen = [
            c
            for c in taken.held
            if c.identity in taken.mine
            and taken.mine[c.identity].holder in going
        ]
        if not seen:
            return {}
        still = await self.store.claim_numbers(
            self.platform_name,
            self.data_type,
            [taken.mine[c.identity] for c in seen],
            seen=seen,
        )
        why: dict[str, str] = {}
        for claim in still:
            ours = taken.mine[claim.identity]
            why.setdefault(
                ours.holder,
                f"{ours.number!r} and {claim.number!r} are one number "
                f"to the platform, which compares them as equal, and "
                f"run {claim.run_id} claimed {claim.number!r} (for "
                f"{claim.holder!r}) while this run looked at it; it is "
                "tried again in the next scheduled run",
            )
        return why

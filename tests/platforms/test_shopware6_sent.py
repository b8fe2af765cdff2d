"""
The product ids a Shopware 6 adapter has sent: every one found, little
held per id.
"""

from __future__ import annotations

import tracemalloc
import uuid

from hypothesis import given
from hypothesis import strategies as st

from ecomsync.platforms.shopware6._sent import SentIds


class TestSentIds:
    def test_every_sent_id_is_found(self) -> None:
        """Ids sent in any order and batch are found again, in the recent
        set and in the sorted blocks alike; others are not."""
        ids = [
            uuid.uuid5(uuid.NAMESPACE_OID, str(i)).hex for i in range(20_000)
        ]
        sent = SentIds()
        for start in range(0, 15_000, 100):
            sent.add_all(ids[start : start + 100])

        assert all(sent.any_of([i]) for i in ids[:15_000])
        assert not any(sent.any_of([i]) for i in ids[15_000:])
        assert sent.any_of([ids[19_000], ids[7]])

    @given(st.lists(st.lists(st.text(max_size=3), max_size=50), max_size=200))
    def test_membership_matches_a_set(self, batches: list[list[str]]) -> None:
        """Whatever the batches, `any_of` answers as a set of the ids would."""
        sent, plain = SentIds(), set[str]()
        for batch in batches:
            sent.add_all(batch)
            plain.update(batch)

        for batch in batches:
            assert sent.any_of(batch) == (not plain.isdisjoint(batch))
        assert not sent.any_of(["not sent: too long for the strategy"])

    def test_little_held_per_id(self) -> None:
        """50,000 ids (the benchmark's largest catalogue) cost at most 16
        bytes each, not the ~120 of a set of strings."""
        count = 50_000
        ids = [
            uuid.uuid5(uuid.NAMESPACE_OID, str(i)).hex for i in range(count)
        ]
        sent = SentIds()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for start in range(0, count, 100):
                sent.add_all(ids[start : start + 100])
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()

        assert held / count <= 16

"""
The SHA-256 digests a run keeps (content it uploaded): exact membership,
little held per digest.
"""

from __future__ import annotations

import hashlib
import tracemalloc

from hypothesis import given
from hypothesis import strategies as st

from ecomsync._digests import Digests


def sha(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


class TestDigests:
    def test_every_digest_added_is_found(self) -> None:
        """Digests added are found again, in the recent set and in the
        merged blocks alike; others are not, however close."""
        digests = Digests()
        for i in range(15_000):
            digests.add(sha(i))

        assert all(sha(i) in digests for i in range(15_000))
        assert not any(sha(i) in digests for i in range(15_000, 20_000))
        # Exact, not by a prefix or a hash: one digit off is not held.
        near = sha(3)[:-1] + ("0" if sha(3)[-1] != "0" else "1")
        assert near not in digests
        assert sha(3).upper() not in digests

    def test_discarded_digest_is_gone_until_added_again(self) -> None:
        """A digest discarded (content gone from the shop) is no longer
        held, whether it was recent or in a block; added again, it is."""
        digests = Digests()
        for i in range(10_000):
            digests.add(sha(i))
        digests.discard(sha(5))  # in a block
        digests.discard(sha(9_999))  # recent
        digests.discard(sha(20_000))  # never added

        assert sha(5) not in digests
        assert sha(9_999) not in digests
        assert sha(6) in digests
        digests.add(sha(5))
        assert sha(5) in digests

    @given(
        st.lists(
            st.tuples(
                st.booleans(),
                st.one_of(st.integers(0, 300).map(sha), st.text(max_size=3)),
            ),
            max_size=400,
        )
    )
    def test_membership_matches_a_set(
        self, steps: list[tuple[bool, str]]
    ) -> None:
        """Whatever is added and discarded, in any order, membership
        answers as a set of the strings would (odd strings too)."""
        digests, plain = Digests(), set[str]()
        for add, text in steps:
            if add:
                digests.add(text)
                plain.add(text)
            else:
                digests.discard(text)
                plain.discard(text)

        for _, text in steps:
            assert (text in digests) == (text in plain)

    def test_little_held_per_digest(self) -> None:
        """150,000 digests (the benchmark's 50,000 articles with 3 images)
        cost at most 40 bytes each, not the ~160 of a set of strings."""
        count = 150_000
        digests = Digests()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            # Each string made here, as a run makes it per image: what the
            # set keeps of it counts.
            for i in range(count):
                digests.add(sha(i))
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()

        assert held / count <= 40

    def test_a_merge_holds_at_most_its_blocks_twice(self) -> None:
        """The merge of every block into one (139,264 digests: about
        46,000 articles of 3 images) holds at most the blocks and the
        merged one at once: 70 bytes per digest at the peak, not the
        ~100 of a buffer grown digest by digest and copied to bytes."""
        count = 34 * 4096
        shas = [sha(i) for i in range(count)]
        digests = Digests()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for text in shas:
                digests.add(text)
            peak = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()

        assert all(text in digests for text in shas[::997])
        assert peak / count <= 70

"""
The contract of links, media ids and the staging journal.
"""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..._contracts import Link, PendingMedia
from ...typing import LinkedNumbers, StateStore, SupportsPendingBatch
from ._data import ARTICLES, STOCK, T0, TEXT


class LinkContract:
    """
    Links, media ids and the staging journal; part of `StateStoreContract`.
    """

    # -- links ------------------------------------------------------------

    async def test_links_unknown(self, store: StateStore) -> None:
        """Numbers never written have no link."""
        assert await store.get_links("shop", ARTICLES, ["A-1"]) == {}
        assert await store.get_links("shop", ARTICLES, []) == {}

    async def test_links_round_trip(self, store: StateStore) -> None:
        """Links come back as written, only for the numbers asked."""
        await store.put_links(
            "shop",
            ARTICLES,
            {"A-1": Link("p1", "c1"), "A-2": Link(None, "c2")},
        )
        assert await store.get_links(
            "shop", ARTICLES, ["A-1", "A-2", "X"]
        ) == {
            "A-1": Link("p1", "c1"),
            "A-2": Link(None, "c2"),
        }
        assert await store.get_links("shop", ARTICLES, ["A-2"]) == {
            "A-2": Link(None, "c2")
        }

    async def test_links_replace(self, store: StateStore) -> None:
        """Writing a link again replaces id and checksum."""
        await store.put_links("shop", ARTICLES, {"A-1": Link("p1", "c1")})
        await store.put_links("shop", ARTICLES, {"A-1": Link("p9", "c9")})
        assert await store.get_links("shop", ARTICLES, ["A-1"]) == {
            "A-1": Link("p9", "c9")
        }

    async def test_linked_numbers(self, store: StateStore) -> None:
        """A store with the `LinkedNumbers` role lists the numbers of a
        platform's and type's links, spelt exactly, with the variants
        each landed with, and no others."""
        if not isinstance(store, LinkedNumbers):
            pytest.skip("the store has no LinkedNumbers role")
        await store.put_links(
            "shop",
            ARTICLES,
            {
                "A-1": Link("p1", "c1", variants=("A-1-S", "A-1-M")),
                "a-1 ": Link("p2", "c2"),
            },
        )
        await store.put_links("other", ARTICLES, {"B": Link("p3", "c3")})
        await store.put_links("shop", STOCK, {"C": Link("p4", "c4")})

        assert {"A-1": ("A-1-S", "A-1-M"), "a-1 ": ()} == (
            await store.linked_numbers("shop", ARTICLES)
        )
        assert {"C": ()} == await store.linked_numbers("shop", STOCK)
        assert {} == await store.linked_numbers("none", ARTICLES)

    async def test_links_scoped(self, store: StateStore) -> None:
        """Links are kept per platform and data type."""
        await store.put_links("shop", ARTICLES, {"A-1": Link("p1", "c1")})
        assert await store.get_links("other", ARTICLES, ["A-1"]) == {}
        assert await store.get_links("shop", STOCK, ["A-1"]) == {}

    async def test_links_many(self, store: StateStore) -> None:
        """Thousands of numbers in one call work both ways."""
        links = {f"A-{i}": Link(f"p{i}", f"c{i}") for i in range(2500)}
        await store.put_links("shop", ARTICLES, links)
        assert await store.get_links("shop", ARTICLES, list(links)) == links

    async def test_links_empty_put(self, store: StateStore) -> None:
        """Writing no links is allowed and changes nothing."""
        await store.put_links("shop", ARTICLES, {})
        assert await store.get_links("shop", ARTICLES, ["A-1"]) == {}

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(number=TEXT, platform_id=st.none() | TEXT, digest=TEXT)
    async def test_links_any_text(
        self,
        store: StateStore,
        number: str,
        platform_id: str | None,
        digest: str,
    ) -> None:
        """Any text survives the trip: numbers, ids and checksums."""
        await store.put_links(
            "shop", ARTICLES, {number: Link(platform_id, digest)}
        )
        assert await store.get_links("shop", ARTICLES, [number]) == {
            number: Link(platform_id, digest)
        }

    # -- media ------------------------------------------------------------

    async def test_media_ids(self, store: StateStore) -> None:
        """Media ids are kept per platform and content hash; rewritable."""
        assert await store.get_media_id("shop", "ab") is None
        await store.put_media_id("shop", "ab", "m1")
        assert await store.get_media_id("shop", "ab") == "m1"
        assert await store.get_media_id("other", "ab") is None
        await store.put_media_id("shop", "ab", "m2")
        assert await store.get_media_id("shop", "ab") == "m2"

    # -- staging journal --------------------------------------------------

    async def test_pending(self, store: StateStore) -> None:
        """The journal lists transfers oldest first, with their meta."""
        late = PendingMedia(
            sha256="bb", size=2, registered_at=T0, meta={"name": "ä.jpg"}
        )
        early = PendingMedia(
            sha256="aa",
            size=10,
            registered_at=T0 - timedelta(seconds=1),
            meta={"n": [1, 2], "x": None},
        )
        assert await store.list_pending() == []
        await store.add_pending(late)
        await store.add_pending(early)
        listed = await store.list_pending()
        assert listed == [early, late]
        assert [dict(p.meta) for p in listed] == [
            {"n": [1, 2], "x": None},
            {"name": "ä.jpg"},
        ]

    async def test_pending_replace_and_remove(self, store: StateStore) -> None:
        """Registering a hash again replaces it; removing is idempotent."""
        first = PendingMedia(sha256="aa", size=1, registered_at=T0)
        again = PendingMedia(
            sha256="aa", size=5, registered_at=T0 + timedelta(seconds=1)
        )
        await store.add_pending(first)
        await store.add_pending(again)
        assert await store.list_pending() == [again]
        await store.remove_pending("aa")
        await store.remove_pending("aa")
        await store.remove_pending("never")
        assert await store.list_pending() == []

    async def test_pending_scopes(self, store: StateStore) -> None:
        """One content staged in two scopes (two runs' directories) keeps
        an entry per scope: closing one by key leaves the other; closing
        by hash alone closes both."""
        batch = self._batch(store)
        one = PendingMedia(
            scope="/s/run-1", sha256="aa", size=1, registered_at=T0
        )
        two = PendingMedia(
            scope="/s/run-2", sha256="aa", size=2, registered_at=T0
        )
        await store.add_pending(one)
        await store.add_pending(two)
        both = await store.list_pending()

        await batch.remove_pending_many([("/s/run-1", "aa")])
        left = await store.list_pending()
        await store.add_pending(one)
        await store.remove_pending("aa")

        assert ([one, two], [two], []) == (
            both,
            left,
            await store.list_pending(),
        )

    async def test_pending_many(self, store: StateStore) -> None:
        """Entries are registered and closed many at a time; the last of
        one key wins, closing unknown keys does nothing."""
        batch = self._batch(store)
        entries = [
            PendingMedia(
                scope="/s/run-1",
                sha256=f"{i:02x}",
                size=i,
                registered_at=T0 + timedelta(seconds=i),
            )
            for i in range(3)
        ]
        again = attrs.evolve(entries[0], size=9)
        await batch.add_pending_many([*entries, again])
        await batch.add_pending_many([])
        listed = await store.list_pending()

        await batch.remove_pending_many(
            [("/s/run-1", "00"), ("/s/run-1", "02"), ("/s/run-9", "01")]
        )
        await batch.remove_pending_many([])

        assert ([again, *entries[1:]], [entries[1]]) == (
            listed,
            await store.list_pending(),
        )

    @staticmethod
    def _batch(store: StateStore) -> SupportsPendingBatch:
        if not isinstance(store, SupportsPendingBatch):
            pytest.skip("the store has no batch journal methods")
        return store

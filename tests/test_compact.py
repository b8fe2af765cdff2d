"""
The compact map of a run's per-article entries (claims, landed levels):
a dict's answers, exact keys, little held per entry.
"""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecomsync import _compact
from ecomsync._compact import CompactMap


class TestCompactMap:
    def test_every_entry_is_found_in_order(self) -> None:
        """Entries set are found again, recent or sorted into the index,
        and come back in the order they were set; others are not."""
        entries = CompactMap()
        for i in range(10_000):
            entries.set(f"A-{i}", str(i).encode())

        assert 10_000 == len(entries)
        assert all(
            entries.get(f"A-{i}") == str(i).encode() for i in range(10_000)
        )
        assert "A-10000" not in entries
        assert "a-1" not in entries  # exact: case is not folded
        assert [f"A-{i}" for i in range(10_000)] == list(entries)

    def test_colliding_keys_stay_apart(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Keys whose hashes collide are told apart by the keys
        themselves: none stands for another (a missed duplicate)."""
        # 64 hashes for 5,000 keys: each collides with about 80 others.
        monkeypatch.setattr(_compact, "_hash", lambda key: hash(key) % 64)
        entries = CompactMap()
        for i in range(5_000):
            entries.set(f"N{i:04d}", bytes([i % 256]))

        assert all(
            entries.get(f"N{i:04d}") == bytes([i % 256]) for i in range(5_000)
        )
        assert "N5000" not in entries
        assert "N0001" in entries
        assert "N0001 " not in entries
        assert entries.pop("N0002") == b"\x02"
        assert "N0002" not in entries
        assert "N0003" in entries

    def test_popped_entries_are_gone_and_come_back(self) -> None:
        """A popped entry is gone wherever it was held; set again, it is
        back (at the end); popping every entry leaves an empty map."""
        entries = CompactMap()
        for i in range(5_000):
            entries.set(str(i), b"x")
        assert b"x" == entries.pop("7")  # in a block
        assert b"x" == entries.pop("4999")  # recent
        assert entries.pop("7") is None
        assert "7" not in entries
        entries.set("7", b"again")

        assert b"again" == entries.get("7")
        assert "7" == list(entries)[-1]
        for key in list(entries):
            entries.pop(key)
        assert 0 == len(entries)
        assert [] == list(entries)

    def test_a_key_set_again_keeps_its_place_with_a_same_size_value(
        self,
    ) -> None:
        """Set again with a value of the same size, a key keeps its place
        (as in a dict); with another size it moves to the end."""
        entries = CompactMap()
        for key in "abc":
            entries.set(key, b"1")
        entries.set("a", b"2")
        entries.set("b", b"22")

        assert [("a", b"2"), ("c", b"1"), ("b", b"22")] == list(
            entries.items()
        )

    def test_popping_while_walking(self) -> None:
        """A walk over the entries may pop each one it reaches (the stock
        step reporting the landed levels) and sees each once."""
        entries = CompactMap()
        for i in range(3_000):
            entries.set(str(i), b"v")
        seen = []
        for key in entries:
            seen.append(key)
            assert b"v" == entries.pop(key)

        assert [str(i) for i in range(3_000)] == seen
        assert 0 == len(entries)

    def test_long_keys_and_values(self) -> None:
        """Keys and values past 65,535 bytes are kept whole."""
        entries = CompactMap()
        entries.set("k" * 70_000, b"v" * 70_000)
        entries.set("short", b"")

        assert b"v" * 70_000 == entries.get("k" * 70_000)
        assert b"" == entries.get("short")
        assert ["k" * 70_000, "short"] == list(entries)

    def test_little_held_per_entry(self) -> None:
        """An 8-character key with a 32-byte value costs at most 80 bytes
        (a dict of the strings and bytes: about 150)."""
        count = 30_000
        entries = CompactMap()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for i in range(count):
                entries.set(f"A-{i:06d}", i.to_bytes(32, "big"))
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()

        assert held / count <= 80

    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["set", "pop"]),
                st.text(max_size=3),
                st.binary(max_size=3),
            ),
            max_size=300,
        ),
        st.integers(1, 8),
    )
    def test_it_answers_as_a_dict(
        self, steps: list[tuple[str, str, bytes]], recent: int
    ) -> None:
        """Any sets and pops: the same answers, in the same order, as a
        dict (a key set again with another size moves to the end)."""
        original = _compact._RECENT
        _compact._RECENT = recent  # small: blocks and merges early
        try:
            entries, model = CompactMap(), dict[str, bytes]()
            for step, key, value in steps:
                if step == "set":
                    if key in model and len(model[key]) != len(value):
                        del model[key]
                    model[key] = value
                    entries.set(key, value)
                else:
                    assert model.pop(key, None) == entries.pop(key)
                assert len(model) == len(entries)
            assert list(model.items()) == list(entries.items())
            assert all(entries.get(key) == v for key, v in model.items())
        finally:
            _compact._RECENT = original

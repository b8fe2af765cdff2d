"""
Specs and selections: validated on construction, round-trip through the
store's JSON, natural number order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecomsync import (
    All,
    ChangedSince,
    DataType,
    Direction,
    NumberRange,
    Only,
    Selection,
    SpecError,
    SyncSpec,
)
from ecomsync._model import number_key
from ecomsync._spec import selected, spec_from_plain, spec_to_plain


numbers = st.from_regex(r"[A-Z]{1,2}-[0-9]{1,5}", fullmatch=True)
aware = st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC))
selections = st.one_of(
    st.just(All()),
    st.tuples(numbers, numbers).map(
        lambda p: NumberRange(*sorted(p, key=number_key))
    ),
    aware.map(ChangedSince),
    st.frozensets(numbers, min_size=1).map(Only),
)
specs = st.builds(
    SyncSpec,
    types=st.dictionaries(st.sampled_from(DataType), selections, min_size=1),
    platform=st.none() | st.text(min_size=1, max_size=8),
    force=st.booleans(),
)


class TestSelections:
    def test_range_reversed(self) -> None:
        """A NumberRange whose first comes after its last is a SpecError."""
        with pytest.raises(SpecError, match="comes after"):
            NumberRange("A-10", "A-9")

    def test_range_natural(self) -> None:
        """NumberRange compares digit runs as numbers: A-2 < A-10."""
        selection = NumberRange("A-2", "A-10")

        assert "A-9" in selection
        assert "A-10" in selection
        assert "A-11" not in selection
        assert "A-100" not in selection
        assert 5 not in selection

    @pytest.mark.parametrize(
        ("first", "last", "bound"),
        [("", "A-1", "first"), ("A-1", " ", "last"), (1, "A-1", "first")],
    )
    def test_range_unusable_bounds(
        self, first: object, last: object, bound: str
    ) -> None:
        """A bound that is no record number is a SpecError naming it."""
        with pytest.raises(SpecError, match=f"NumberRange {bound} "):
            NumberRange(first, last)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "number",
        [
            "A-\u0663",  # Arabic-Indic three
            "A-\uff13",  # fullwidth three
            "A-\u09e9",  # Bengali three
            "A-0003",
        ],
    )
    def test_range_unicode_digits(self, number: str) -> None:
        """Decimal digits of any script compare by their value."""
        assert number in NumberRange("A-2", "A-4")
        assert number not in NumberRange("A-4", "A-9")
        assert NumberRange(number, "A-3") == NumberRange(number, "A-3")

    @pytest.mark.parametrize("number", ["A-\u00b2", "\u00b2", "A-1\u00b2"])
    def test_range_digit_lookalikes(self, number: str) -> None:
        """Characters that only look like digits (superscript two) are
        text: usable as a bound and as a record number, never a crash."""
        selection = NumberRange("A-1", "A-9")

        assert (number in selection) is (
            number_key("A-1") <= number_key(number) <= number_key("A-9")
        )
        assert number in NumberRange(number, number)

    def test_range_huge_numbers(self) -> None:
        """Digit runs longer than int() converts compare correctly."""
        big = "A-" + "9" * 5000

        assert big not in NumberRange("A-1", "A-" + "9" * 4999)
        assert big in NumberRange("A-1", big + "0")

    def test_naive_datetime(self) -> None:
        """A naive datetime is refused; an aware one in any zone is fine."""
        with pytest.raises(SpecError, match="naive"):
            ChangedSince(datetime(2026, 1, 1))

        ChangedSince(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2))))

    def test_not_a_datetime(self) -> None:
        """ChangedSince needs a datetime."""
        with pytest.raises(SpecError):
            ChangedSince("2026-01-01")  # type: ignore[arg-type]

    def test_only_empty(self) -> None:
        """Only() with no numbers is refused."""
        with pytest.raises(SpecError, match="at least one"):
            Only(())

    def test_only_string(self) -> None:
        """Only("A-1") means the one record, not its characters."""
        assert frozenset({"A-1"}) == Only("A-1").numbers

    def test_only_blank_number(self) -> None:
        """Only() refuses blank numbers."""
        with pytest.raises(SpecError):
            Only({""})

    @given(st.tuples(numbers, numbers))
    def test_range_order_property(self, pair: tuple[str, str]) -> None:
        """A range is valid exactly when its bounds are in natural order."""
        first, last = pair
        if number_key(first) <= number_key(last):
            assert first in NumberRange(first, last)
        else:
            with pytest.raises(SpecError):
                NumberRange(first, last)


T0 = datetime(2026, 1, 1, tzinfo=UTC)


class TestSelected:
    @pytest.mark.parametrize(
        ("selection", "number", "changed_at", "expected"),
        [
            (All(), "A-1", None, True),
            (NumberRange("A-2", "A-10"), "A-9", T0, True),
            (NumberRange("A-2", "A-10"), "A-11", T0, False),
            (ChangedSince(T0), "A-1", T0, True),
            (ChangedSince(T0), "A-1", T0 - timedelta(seconds=1), False),
            (ChangedSince(T0), "A-1", None, False),
            (Only({"A-1"}), "A-1", None, True),
            (Only({"A-1"}), "A-2", None, False),
        ],
    )
    def test_selected(
        self,
        selection: Selection,
        number: str,
        changed_at: datetime | None,
        expected: bool,
    ) -> None:
        """Each selection admits exactly its records; an unknown change time
        is never 'changed since'."""
        assert expected is selected(selection, number, changed_at)


class TestNumberOrder:
    @given(st.text(), st.text(), st.text())
    def test_total_order(self, a: str, b: str, c: str) -> None:
        """number_key orders any text without raising, transitively."""
        ka, kb, kc = number_key(a), number_key(b), number_key(c)

        if ka <= kb <= kc:
            assert ka <= kc

    @given(
        st.text(min_size=1).filter(str.strip),
        st.text(min_size=1).filter(str.strip),
    )
    def test_any_text_is_a_bound(self, a: str, b: str) -> None:
        """Any two non-blank numbers make a range (in natural order)
        that contains both of them."""
        first, last = sorted((a, b), key=number_key)

        selection = NumberRange(first, last)

        assert a in selection
        assert b in selection

    @given(st.integers(0, 10**30), st.integers(0, 10**30))
    def test_digits_as_numbers(self, x: int, y: int) -> None:
        """Digit runs compare as their numbers, leading zeros aside, in
        ASCII and fullwidth alike."""
        wide = str.maketrans(
            "0123456789", "".join(chr(0xFF10 + i) for i in range(10))
        )

        assert (x < y) == (number_key(f"A{x}") < number_key(f"A0{y}"))
        assert number_key(f"A{x}") == number_key(f"A{x}".translate(wide))


class TestSyncSpec:
    def test_needs_a_type(self) -> None:
        """A spec without data types is refused."""
        with pytest.raises(SpecError):
            SyncSpec(types={})

    def test_unknown_type(self) -> None:
        """Keys must be DataTypes."""
        with pytest.raises(SpecError, match="unknown data type"):
            SyncSpec(types={"articles": All()})  # type: ignore[dict-item]

    def test_not_a_selection(self) -> None:
        """Values must be selections."""
        with pytest.raises(SpecError, match="not a selection"):
            SyncSpec(types={DataType.ARTICLES: "all"})  # type: ignore[dict-item]

    @pytest.mark.parametrize("force", ["no", 1, None])
    def test_force_is_a_flag(self, force: object) -> None:
        """force must be True or False: force="no" would resend
        everything."""
        with pytest.raises(SpecError, match="force must be True or False"):
            SyncSpec(types={DataType.ARTICLES: All()}, force=force)  # type: ignore[arg-type]

    @pytest.mark.parametrize("platform", [3, "", b"shop"])
    def test_platform_is_a_name(self, platform: object) -> None:
        """platform is a registered name or None."""
        with pytest.raises(SpecError, match="platform is the name"):
            SyncSpec(types={DataType.ARTICLES: All()}, platform=platform)  # type: ignore[arg-type]

    def test_execution_order(self) -> None:
        """Types are kept in dependency order whatever order they came in."""
        spec = SyncSpec(
            types={
                DataType.ORDER_STATUS: All(),
                DataType.STOCK: All(),
                DataType.ADDRESSES_AND_ORDERS: All(),
                DataType.ARTICLES: All(),
                DataType.CATEGORIES: All(),
            }
        )

        assert [
            DataType.CATEGORIES,
            DataType.ARTICLES,
            DataType.ADDRESSES_AND_ORDERS,
            DataType.STOCK,
            DataType.ORDER_STATUS,
        ] == list(spec.types)

    def test_directions(self) -> None:
        """Only addresses and orders move from the platform to the ERP."""
        assert {DataType.ADDRESSES_AND_ORDERS} == {
            t for t in DataType if t.direction is Direction.TO_ERP
        }

    @given(specs)
    def test_round_trip(self, spec: SyncSpec) -> None:
        """A spec survives the store's JSON unchanged."""
        assert spec == spec_from_plain(spec_to_plain(spec))

    def test_repr_all(self) -> None:
        """All() reprs as written."""
        assert "All()" == repr(All())

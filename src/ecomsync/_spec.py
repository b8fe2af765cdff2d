"""
What a run should do: data types, selections, trigger.  Pure, no I/O.

Everything here validates on construction and raises `SpecError`, so a
bad spec is refused before any licence is taken or record is read.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Container, Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol, TypeAlias, TypeVar

import attrs

from ._model import number_key
from .exceptions import ConfigurationError, SpecError


class Direction(enum.Enum):
    """
    Which way a data type moves.
    """

    TO_PLATFORM = "erp->platform"
    TO_ERP = "platform->erp"


class DataType(enum.Enum):
    """
    The five kinds of data a run can move, each with its direction.

    .. versionadded:: 26.1.0
    """

    ADDRESSES_AND_ORDERS = "addresses_and_orders"
    ORDER_STATUS = "order_status"
    CATEGORIES = "categories"
    ARTICLES = "articles"
    STOCK = "stock"

    @property
    def direction(self) -> Direction:
        """
        Platform → ERP for orders, ERP → platform for everything else.
        """
        if self is DataType.ADDRESSES_AND_ORDERS:
            return Direction.TO_ERP
        return Direction.TO_PLATFORM


#: The order types run in: categories before the articles that use them,
#: articles before their stock, orders imported before status is pushed.
#: Orders come just before stock: the shop has already taken an order's
#: units off its own stock, and the ERP holds them only once the order is
#: imported, so stock pushed before the import would raise the shop's stock
#: again until the next run (overselling in between).  Where the stock
#: goes with the articles, orders come before them (`_stock_fold.run_order`).
EXECUTION_ORDER = (
    DataType.CATEGORIES,
    DataType.ARTICLES,
    DataType.ADDRESSES_AND_ORDERS,
    DataType.STOCK,
    DataType.ORDER_STATUS,
)


class Trigger(enum.Enum):
    """
    Why a run happens.  Only `SCHEDULED` runs move watermarks; `PREVIEW`
    marks a `Synchronizer.plan` in the monitoring view (it writes nothing).

    .. versionadded:: 26.1.0
    """

    MANUAL = "manual"
    SCHEDULED = "scheduled"
    PREVIEW = "preview"


@attrs.frozen
class All:
    """
    Every record of the type.

    .. versionadded:: 26.1.0
    """

    def __repr__(self) -> str:
        return "All()"


def _bound(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise SpecError(
            f"NumberRange {attribute.name} must be a record number "
            f"(non-empty text), got {value!r}"
        )


def _check_range(
    instance: NumberRange, attribute: attrs.Attribute[str], last: str
) -> None:
    _bound(instance, attribute, last)
    if number_key(instance.first) > number_key(last):
        raise SpecError(
            f"NumberRange first {instance.first!r} comes after last {last!r}"
        )


@attrs.frozen
class NumberRange:
    """
    Records whose number lies between *first* and *last*, both included,
    in natural order (digit runs compare as numbers: ``A-2 < A-10``).

    Any text is a usable bound and any text a record number: digits of
    every script compare by their value, other characters (``²``) as
    text, so comparing never fails; a record outside the range is simply
    not selected.

    .. versionadded:: 26.1.0
    """

    first: str = attrs.field(validator=_bound)
    last: str = attrs.field(validator=_check_range)
    _low: tuple[tuple[int, int, str], ...] = attrs.field(
        init=False, eq=False, repr=False
    )
    _high: tuple[tuple[int, int, str], ...] = attrs.field(
        init=False, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_low", number_key(self.first))
        object.__setattr__(self, "_high", number_key(self.last))

    def __contains__(self, number: object) -> bool:
        if not isinstance(number, str):
            return False
        return self._low <= number_key(number) <= self._high


def _aware(_: object, __: object, moment: datetime) -> None:
    if not isinstance(moment, datetime):
        raise SpecError(f"ChangedSince needs a datetime, got {moment!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise SpecError(
            f"ChangedSince needs a timezone-aware datetime, got naive "
            f"{moment.isoformat()}"
        )


def aware(moment: datetime, what: str) -> datetime:
    """
    *moment* if it is a timezone-aware datetime (a change time a
    `ChangedSince` can be compared with).

    Raises:
        ConfigurationError: Naming *what*, for a naive one.
    """
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ConfigurationError(
            f"{what} must be a timezone-aware datetime, got {moment!r}"
        )
    return moment


@attrs.frozen
class ChangedSince:
    """
    Records changed at or after *moment* (timezone-aware).

    .. versionadded:: 26.1.0
    """

    moment: datetime = attrs.field(validator=_aware)


def _numbers(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        value = (value,)
    return frozenset(value)


def _not_empty(_: object, __: object, numbers: frozenset[str]) -> None:
    if not numbers:
        raise SpecError("Only() needs at least one record number")
    if not all(isinstance(n, str) and n for n in numbers):
        raise SpecError(f"Only() takes non-empty numbers, got {numbers!r}")


@attrs.frozen
class Only:
    """
    Exactly the records with these numbers (the "sync this record" button).

    .. versionadded:: 26.1.0
    """

    numbers: frozenset[str] = attrs.field(
        converter=_numbers, validator=_not_empty
    )


Selection: TypeAlias = All | NumberRange | ChangedSince | Only


def selected(
    selection: Selection, number: str, changed_at: datetime | None
) -> bool:
    """
    Whether a record with *number*, last changed at *changed_at*, is in
    *selection*: the one meaning of a selection, for every source that
    filters in memory.  A record whose change time is unknown (``None``)
    is never "changed since".
    """
    if isinstance(selection, NumberRange):
        return number in selection
    if isinstance(selection, ChangedSince):
        return changed_at is not None and changed_at >= selection.moment
    if isinstance(selection, Only):
        return number in selection.numbers
    return isinstance(selection, All)


class _Numbered(Protocol):
    @property
    def number(self) -> str: ...


_N = TypeVar("_N", bound=_Numbered)


def without_single(rows: Sequence[_N], exclude: Container[str]) -> list[_N]:
    """
    *rows* (stock levels, or what an adapter makes them from) without
    those whose number is in *exclude* and no other row's: what a stock
    read with ``exclude`` may leave out (`ErpSession.read`).
    """
    many = Counter(row.number for row in rows)
    return [r for r in rows if r.number not in exclude or many[r.number] > 1]


def _freeze_types(
    value: Mapping[DataType, Selection],
) -> Mapping[DataType, Selection]:
    if not isinstance(value, Mapping) or not value:
        raise SpecError("a SyncSpec needs at least one data type")
    for data_type, selection in value.items():
        if not isinstance(data_type, DataType):
            raise SpecError(f"unknown data type {data_type!r}")
        if not isinstance(selection, All | NumberRange | ChangedSince | Only):
            raise SpecError(
                f"{data_type.name}: {selection!r} is not a selection"
            )
    ordered = {t: value[t] for t in EXECUTION_ORDER if t in value}
    return MappingProxyType(ordered)


def _platform_name(_: object, __: object, name: str | None) -> None:
    if name is not None and (not isinstance(name, str) or not name):
        raise SpecError(
            f"a SyncSpec's platform is the name a platform was registered "
            f"under (or None), got {name!r}"
        )


def _flag(_: object, __: object, force: bool) -> None:
    # force="no" would be true: resend everything.
    if not isinstance(force, bool):
        raise SpecError(f"SyncSpec force must be True or False, got {force!r}")


@attrs.frozen(kw_only=True)
class SyncSpec:
    """
    What one run moves: a selection per data type, on one platform.

    Args:
        types: One selection per ticked data type.
        platform: The platform's registered name; may be omitted when the
            synchroniser has exactly one platform.
        force: Resend records even when their checksum is unchanged.

    .. versionadded:: 26.1.0
    """

    types: Mapping[DataType, Selection] = attrs.field(
        converter=_freeze_types, hash=False
    )
    platform: str | None = attrs.field(default=None, validator=_platform_name)
    force: bool = attrs.field(default=False, validator=_flag)


# -- (de)serialisation for the state store --------------------------------


def selection_to_plain(selection: Selection) -> dict[str, Any]:
    if isinstance(selection, NumberRange):
        return {
            "mode": "range",
            "first": selection.first,
            "last": selection.last,
        }
    if isinstance(selection, ChangedSince):
        return {"mode": "since", "moment": selection.moment.isoformat()}
    if isinstance(selection, Only):
        return {"mode": "only", "numbers": sorted(selection.numbers)}
    return {"mode": "all"}


def selection_from_plain(data: Mapping[str, Any]) -> Selection:
    mode = data["mode"]
    if mode == "range":
        return NumberRange(data["first"], data["last"])
    if mode == "since":
        return ChangedSince(datetime.fromisoformat(data["moment"]))
    if mode == "only":
        return Only(data["numbers"])
    return All()


def spec_to_plain(spec: SyncSpec) -> dict[str, Any]:
    return {
        "platform": spec.platform,
        "force": spec.force,
        "types": {
            t.value: selection_to_plain(s) for t, s in spec.types.items()
        },
    }


def spec_from_plain(data: Mapping[str, Any]) -> SyncSpec:
    return SyncSpec(
        platform=data.get("platform"),
        force=bool(data.get("force", False)),
        types={
            DataType(t): selection_from_plain(s)
            for t, s in data["types"].items()
        },
    )

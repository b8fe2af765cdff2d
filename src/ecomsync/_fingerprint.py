"""
Fingerprints: what identifies a record's payload (`checksum`, kept per
record in the store to skip unchanged ones) and a media file's content
(`content_hash`, its staged name and its identity on a platform).

Pure, no I/O.  A checksum must stay byte-identical across versions: the
stores hold them, and a new one would make every record look changed.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import math
import operator
from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from json.encoder import encode_basestring
from typing import Any, cast

import attrs

from ._model import Customer, Order, OrderState, OrderStatus, Record


#: Per attrs class, its field names: `to_plain` walks records in one pass
#: instead of `attrs.asdict` and a second walk (a checksum per record and
#: run makes this the manual rerun's largest cost).
_FIELDS: dict[type, tuple[str, ...] | None] = {}
#: Values that are their own plain form.
_ATOMS = frozenset({str, int, bool, float, type(None)})

#: The context Decimals are normalised in: Python's default one (so the
#: text stays what the stores hold), whatever decimal context the host
#: set (a precision of 6 made 12345.67 and 12345.71 one checksum), and
#: never raising (an exponent beyond it raised `decimal.Overflow` and
#: failed the whole run: such a value, invalid, is text like "Infinity").
_DEFAULT = Context(
    prec=28,
    rounding=ROUND_HALF_EVEN,
    Emin=-999999,
    Emax=999999,
    capitals=1,
    clamp=0,
    traps=[],
)


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind in _FIELDS:
        names = _FIELDS[kind]
    else:
        names = _FIELDS[kind] = (
            tuple(a.name for a in attrs.fields(kind))
            if attrs.has(kind)
            else None
        )
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, Decimal):
        # normalize() raises on a signalling NaN; non-finite values are
        # only ever fingerprinted, never sent.
        return str(value.normalize(_DEFAULT) if value.is_finite() else value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def to_plain(record: Record) -> dict[str, Any]:
    """
    *record* as JSON-able data (Decimals as text), for checksums and stores.
    """
    return {"type": type(record).__name__, **_plain(record)}


def checksum(record: Record) -> str:
    """
    A fingerprint of everything about *record* that a platform would see.

    An order's state is left out (it is what *we* push back to the shop,
    order status, so it must not make the order look new to import),
    except a cancellation: an order cancelled in the shop after it was
    imported must reach the ERP again, to cancel the ERP's order there or
    fail saying that it could not.

    An order's or order status's *platform* is left out too: checksums
    are kept per platform already, and the engine names the platform on
    orders only after their checksum (an ERP that starts to name it on
    statuses must not make every status look changed).  So is the
    customer's *platform_id*: an order's customer stays its customer,
    and a store's orders keep the checksums they had before it existed.
    """
    try:
        blob = _fast_blob(record)
    except _Slow:
        blob = _blob(record)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[
        :32
    ]


def laid_out(digest: str, layout: str) -> str:
    """
    A stock level's checksum *digest* with the platform's stock *layout*
    (`~ecomsync.typing.SupportsStockLayout`) folded in: a level sent
    where the mapping no longer points must look changed.  Without a
    layout, *digest* itself (stores keep the checksums they hold).
    """
    if not layout:
        return digest
    blob = f"{layout}\x1e{digest}"
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[
        :32
    ]


def _blob(record: Record) -> str:
    """
    The JSON text `checksum` hashes, by the general walk: `to_plain`,
    then `json.dumps` with sorted keys.  `_fast_blob` writes the same
    text in one pass where every value is of a kind it knows.
    """
    plain = to_plain(record)
    if isinstance(record, Order | OrderStatus):
        plain.pop("platform", None)
    if isinstance(record, Order):
        plain.pop("state", None)
        customer = plain.get("customer")
        if isinstance(customer, dict):
            customer.pop("platform_id", None)
        if record.state is OrderState.CANCELLED:
            plain["cancelled"] = True
        # added after 26.1's stores were written: absent while zero, so
        # an order without them keeps the fingerprint it had
        for name in ("shipping_total", "discount_total"):
            if plain.get(name) == "0":
                del plain[name]
    return json.dumps(plain, sort_keys=True, ensure_ascii=False)


# -- the one-pass writer -------------------------------------------------
#
# A checksum per record read makes the manual rerun's largest cost.
# `_fast_blob` writes `_blob`'s text directly: per attrs class its field
# names sorted once, per value an encoder chosen by its *exact* type,
# each writing what `json.dumps` writes for what `_plain` makes of it
# (strings by json's own escaping, ints and floats by their repr, json's
# spellings of non-finite floats, Decimals as normalised text, datetimes
# in ISO form, enums by their value).  Any other value (a subclass, a
# dict, a set, an enum with a composite value) raises `_Slow`, and the
# record goes the general way: the text is the same or it is not written
# here.


class _Slow(Exception):
    """
    A value this writer does not know exactly: use `_blob`.
    """


_Encoder = Callable[[Any], str]


def _float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if value == float("inf"):
        return "Infinity"
    if value == float("-inf"):
        return "-Infinity"
    return float.__repr__(value)


def _decimal(value: Decimal) -> str:
    return encode_basestring(
        str(value.normalize(_DEFAULT) if value.is_finite() else value)
    )


def _sequence(value: tuple[Any, ...] | list[Any]) -> str:
    return "[" + ", ".join([_fast(v) for v in value]) + "]"


_ENCODERS: dict[type, _Encoder] = {
    str: encode_basestring,
    bool: lambda v: "true" if v else "false",
    int: int.__repr__,
    type(None): lambda v: "null",
    float: _float,
    Decimal: _decimal,
    datetime: lambda v: encode_basestring(v.isoformat()),
    tuple: _sequence,
    list: _sequence,
}

#: Per record class: its encoder, compiled once (a nested attrs class's
#: is in `_ENCODERS`).
_RECORDS: dict[type, _Encoder] = {}


def _compile(
    kind: type, *, record: bool, omit: tuple[str, ...] = ()
) -> _Encoder:
    """
    An encoder of *kind*'s instances: its fields (and, for a *record*,
    its ``"type"``, which a field of that name overrides, as in
    `to_plain`) in sorted order, each value by `_fast`, strings inline.
    An order's exceptions are `_order_blob`'s; *omit* names fields left
    out.
    """
    names = [a.name for a in attrs.fields(kind)]
    kept = [name for name in names if name not in omit]
    keys = sorted({*kept, "type"} if record else kept)
    parts = []
    for key in keys:
        head = repr(encode_basestring(key) + ": ")
        if key in names:
            at = names.index(key)
            value = f"(e(v{at}) if v{at}.__class__ is str else f(v{at}))"
        else:
            value = repr(encode_basestring(kind.__name__))
        parts.append(f"{head} + {value}")
    joined = ' + ", " + '.join(parts) if parts else '""'
    unpack = "".join(f"v{i}, " for i in range(len(names)))
    source = (
        "def encode(value):\n"
        + (f"    {unpack}= get(value)\n" if names else "")
        + f"    return '{{' + {joined} + '}}'\n"
    )
    scope: dict[str, Any] = {
        "e": encode_basestring,
        "f": _fast,
        "get": _getter(names),
    }
    exec(source, scope)  # noqa: S102 - field names are identifiers
    encoder: _Encoder = scope["encode"]
    return encoder


def _getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    if len(names) == 1:
        one = operator.attrgetter(names[0])
        return lambda v: (one(v),)
    if not names:
        return lambda v: ()
    return operator.attrgetter(*names)


def _enum(value: enum.Enum) -> str:
    inner = value.value
    if type(inner) not in _ATOMS:
        raise _Slow  # json would write the value as it is: leave it to json
    return _ENCODERS[type(inner)](inner)


def _members(kind: type[enum.Enum]) -> _Encoder:
    """
    An encoder of *kind*'s members: each member's text written once (by
    identity: members live as long as their class), others by `_enum`.
    """
    texts = {}
    for member in kind.__members__.values():
        # one that cannot be written now is written (or fails) when met
        with contextlib.suppress(Exception):
            texts[id(member)] = _enum(member)
    get = texts.get

    def encode(value: enum.Enum) -> str:
        text = get(id(value))
        return _enum(value) if text is None else text

    return encode


def _fast(value: Any) -> str:
    encoder = _ENCODERS.get(type(value))
    if encoder is None:
        encoder = _encoder_for(type(value))
    return encoder(value)


def _encoder_for(kind: type) -> _Encoder:
    """
    The encoder of an attrs class or an enum, registered on first use, in
    `_plain`'s order of checks; anything else is `_Slow`.
    """
    if attrs.has(kind):
        omit = _NOT_IN_CUSTOMER if issubclass(kind, Customer) else ()
        encoder: _Encoder = _compile(kind, record=False, omit=omit)
    elif issubclass(kind, enum.Enum) and not issubclass(
        kind, Decimal | datetime
    ):
        encoder = _members(kind)
    else:
        raise _Slow
    _ENCODERS[kind] = encoder
    return encoder


def _fast_blob(record: Record) -> str:
    """
    `_blob`'s text in one pass, or `_Slow`.
    """
    kind = type(record)
    encoder = _RECORDS.get(kind)
    if encoder is None:
        if kind is Order:
            encoder = cast("_Encoder", _order_blob)
        elif not attrs.has(kind) or isinstance(record, Order):
            raise _Slow
        else:
            omit = _PLATFORM if issubclass(kind, OrderStatus) else ()
            encoder = _compile(kind, record=True, omit=omit)
        _RECORDS[kind] = encoder
    return encoder(record)


#: An order's fields in sorted order, as json writes them before a value.
_ORDER_KEYS = tuple(
    (name, encode_basestring(name) + ": ")
    for name in sorted(a.name for a in attrs.fields(Order))
)


def _order_blob(order: Order) -> str:
    """
    An order's text: without its state, ``"cancelled": true`` if it was,
    without shipping and discount totals while they are "0".
    """
    pairs = {
        key: _fast(getattr(order, name))
        for name, key in _ORDER_KEYS
        if name not in _NOT_IN_ORDER
    }
    pairs[_TYPE] = encode_basestring("Order")
    if order.state is OrderState.CANCELLED:
        pairs[_CANCELLED] = "true"
    for key in _ZERO_UNLESS:
        if pairs.get(key) == '"0"':
            del pairs[key]
    return "{" + ", ".join([k + v for k, v in sorted(pairs.items())]) + "}"


#: Fields of an order or order status that are no part of its checksum.
_PLATFORM = ("platform",)
_NOT_IN_ORDER = frozenset({"state", *_PLATFORM})
#: Fields of an order's customer that are no part of its checksum.
_NOT_IN_CUSTOMER = ("platform_id",)
_TYPE = encode_basestring("type") + ": "
_CANCELLED = encode_basestring("cancelled") + ": "
#: Order fields left out of its fingerprint while "0" (see `_blob`).
_ZERO_UNLESS = frozenset(
    encode_basestring(n) + ": " for n in ("shipping_total", "discount_total")
)


def content_hash(content: bytes) -> str:
    """
    The identity of a media file's *content*: its SHA-256, in hex.

    Staged files are named by it, a platform's copy is found again by it,
    and `MediaLink.sha256` carries it: hash media here and nowhere else.
    """
    return hashlib.sha256(content).hexdigest()

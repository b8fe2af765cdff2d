"""
Fingerprints: what identifies a record's payload (`checksum`, kept per
record in the store to skip unchanged ones) and a media file's content
(`content_hash`, its staged name and its identity on a platform).

Pure, no I/O.  A checksum must stay byte-identical across versions: the
stores hold them, and a new one would make every record look changed.
"""

from __future__ import annotations

import enum
import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from ._model import Order, OrderState, Record


#: Per attrs class, its field names: `to_plain` walks records in one pass
#: instead of `attrs.asdict` and a second walk (a checksum per record and
#: run makes this the manual rerun's largest cost).
_FIELDS: dict[type, tuple[str, ...] | None] = {}
#: Values that are their own plain form.
_ATOMS = frozenset({str, int, bool, float, type(None)})


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
        return str(value.normalize() if value.is_finite() else value)
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
    """
    plain = to_plain(record)
    if isinstance(record, Order):
        plain.pop("state", None)
        if record.state is OrderState.CANCELLED:
            plain["cancelled"] = True
        # added after 26.1's stores were written: absent while zero, so
        # an order without them keeps the fingerprint it had
        for name in ("shipping_total", "discount_total"):
            if plain.get(name) == "0":
                del plain[name]
    blob = json.dumps(plain, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[
        :32
    ]


def content_hash(content: bytes) -> str:
    """
    The identity of a media file's *content*: its SHA-256, in hex.

    Staged files are named by it, a platform's copy is found again by it,
    and `MediaLink.sha256` carries it: hash media here and nowhere else.
    """
    return hashlib.sha256(content).hexdigest()

"""
The emulator's database: rows by entity and id, with the few secondary
indexes that keep per-item work O(1), and `Tx`, the overlay one request
writes into so that it can be thrown away whole (Shopware writes a sync
request in one transaction, §1.3).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

from ._schema import ENTITIES, EntityDef, collate


Row = dict[str, Any]
_MISSING = object()
_COLLATED = frozenset((n, f) for n, d in ENTITIES.items() for f in d.collated)
#: Entities with Shopware's ``AutoIncrementField`` (column
#: ``auto_increment``, read as ``autoIncrement``): OrderDefinition,
#: ProductDefinition, CategoryDefinition, CustomerDefinition
#: (shopware/shopware@cfc087db).
SERIAL = frozenset({"order", "product", "category", "customer"})


def fmt_date(dt: datetime) -> str:
    """
    Shopware's response format (RFC 3339 with milliseconds), UTC.
    """
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="milliseconds")


def index_key(entity: str, field: str, value: Any) -> Any:
    """
    What the index on *field* stores *value* under: the value, or its
    `collate` key for collated columns (the product number).
    """
    if (entity, field) in _COLLATED:
        return collate(value)
    return value


def same(entity: str, field: str, a: Any, b: Any) -> bool:
    """
    Whether the database finds *b* when looking for *a* on *field*.
    """
    return bool(index_key(entity, field, a) == index_key(entity, field, b))


def row_key(d: EntityDef, row: Row) -> str:
    """
    The storage key: the id, or ``"<a>-<b>"`` for mapping entities.
    """
    if d.mapping is None:
        return str(row["id"])
    a, b = d.mapping
    return f"{row[a]}-{row[b]}"


def primary_key(d: EntityDef, key: str, row: Row) -> Any:
    """
    What Shopware reports for a written/deleted row: the id, or an object
    of both foreign keys for mapping entities.
    """
    if d.mapping is None:
        return key
    a, b = d.mapping
    return {a: row[a], b: row[b]}


class View(Protocol):
    """
    Read access shared by the committed store and a transaction.
    """

    def get(self, entity: str, key: str) -> Row | None: ...

    def find(self, entity: str, field: str, value: Any) -> list[str]: ...

    def keys(self, entity: str) -> Iterator[str]: ...


class Store:
    """
    Committed rows.  ``entities[name][key] -> row``.
    """

    def __init__(self) -> None:
        self.entities: dict[str, dict[str, Row]] = {n: {} for n in ENTITIES}
        self.index: dict[tuple[str, str], dict[Any, set[str]]] = {
            (n, f): {} for n, d in ENTITIES.items() for f in d.indexed
        }
        #: The last ``autoIncrement`` given out, by entity (`SERIAL`).
        self.serial: dict[str, int] = dict.fromkeys(SERIAL, 0)

    def get(self, entity: str, key: str) -> Row | None:
        return self.entities[entity].get(key)

    def find(self, entity: str, field: str, value: Any) -> list[str]:
        idx = self.index.get((entity, field))
        if idx is not None:
            try:
                hits = idx.get(index_key(entity, field, value), ())
            except TypeError:  # unhashable filter value
                return []
            # Only rows that hold *value* now: a test edits `entities` by
            # hand (a merchant's delete or renumbering in the
            # administration) without the index, and a variant deleted so
            # and made anew under another parent was otherwise still its
            # old parent's child (a search's ``children`` listed it, and a
            # write of the old parent deactivated it).
            rows = self.entities[entity]
            return [
                k
                for k in list(hits)
                if (row := rows.get(k)) is not None
                and same(entity, field, row.get(field), value)
            ]
        # Unindexed: scan.  Only used off the hot paths.
        return [
            k
            for k, r in self.entities[entity].items()
            if r.get(field) == value
        ]

    def keys(self, entity: str) -> Iterator[str]:
        return iter(list(self.entities[entity]))

    def put(self, entity: str, key: str, row: Row | None) -> None:
        """
        Replace (or with ``None`` delete) one row, keeping indexes right.
        """
        rows = self.entities[entity]
        old = rows.get(key)
        if entity in SERIAL and row is not None:
            row = self._numbered(entity, old, row)
        for f in ENTITIES[entity].indexed:
            idx = self.index[(entity, f)]
            ov = index_key(entity, f, old.get(f)) if old is not None else None
            nv = index_key(entity, f, row.get(f)) if row is not None else None
            # The new value is indexed even where it equals the old one: a
            # test may have set it in `entities` by hand (`find` drops
            # what the index holds under the value the row had before).
            if ov is not None and ov != nv and _hashable(ov):
                s = idx.get(ov)
                if s is not None:
                    s.discard(key)
                    if not s:
                        del idx[ov]
            if nv is not None and _hashable(nv):
                idx.setdefault(nv, set()).add(key)
        if row is None:
            rows.pop(key, None)
        else:
            rows[key] = row

    def _numbered(self, entity: str, old: Row | None, row: Row) -> Row:
        """
        *row* with its ``autoIncrement``: the one it had, or for a new
        row the next of its table (MySQL's AUTO_INCREMENT: unique,
        growing, not given again after a delete).  A number a test
        seeds a row with is kept and counted past.  (A write rolled
        back takes none here; MySQL's would leave a gap.)
        """
        if old is not None and "autoIncrement" in old:
            return {**row, "autoIncrement": old["autoIncrement"]}
        seeded = row.get("autoIncrement")
        if isinstance(seeded, int) and not isinstance(seeded, bool):
            self.serial[entity] = max(self.serial[entity], seeded)
            return row
        self.serial[entity] += 1
        return {**row, "autoIncrement": self.serial[entity]}


_SCALARS = (str, int, float, bool)


def _hashable(v: Any) -> bool:
    return isinstance(v, _SCALARS)


class Tx:
    """
    Writes staged over a `Store`; `commit` applies them, dropping the
    object discards them.  Reads see staged writes first.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows: dict[str, dict[str, Row | None]] = defaultdict(dict)
        self._idx: dict[tuple[str, str], dict[Any, set[str]]] = defaultdict(
            dict
        )

    def get(self, entity: str, key: str) -> Row | None:
        staged = self.rows.get(entity)
        if staged is not None:
            r = staged.get(key, _MISSING)
            if r is not _MISSING:
                return r  # type: ignore[return-value]
        return self.store.get(entity, key)

    def find(self, entity: str, field: str, value: Any) -> list[str]:
        cands = set(self.store.find(entity, field, value))
        if _hashable(value):
            cands.update(
                self._idx[(entity, field)].get(
                    index_key(entity, field, value), ()
                )
            )
        staged = self.rows.get(entity)
        if staged and (entity, field) not in self.store.index:
            cands.update(
                k
                for k, r in staged.items()
                if r is not None and r.get(field) == value
            )
        out = []
        for k in cands:
            r = self.get(entity, k)
            if r is not None and same(entity, field, r.get(field), value):
                out.append(k)
        return out

    def keys(self, entity: str) -> Iterator[str]:
        staged = self.rows.get(entity, {})
        for k in list(self.store.entities[entity]):
            if staged.get(k, _MISSING) is not None:
                yield k
        for k, r in list(staged.items()):
            if r is not None and k not in self.store.entities[entity]:
                yield k

    def put(self, entity: str, key: str, row: Row | None) -> None:
        self.rows[entity][key] = row
        if row is None:
            return
        for f in ENTITIES[entity].indexed:
            v = row.get(f)
            if v is not None and _hashable(v):
                self._idx[(entity, f)].setdefault(
                    index_key(entity, f, v), set()
                ).add(key)

    def commit(self) -> None:
        for entity, rows in self.rows.items():
            for key, row in rows.items():
                self.store.put(entity, key, row)
        self.rows.clear()
        self._idx.clear()

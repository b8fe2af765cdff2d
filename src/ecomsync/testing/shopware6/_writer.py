"""
The write path of the Admin API: sync operations (§1.3) and single-entity
writes, staged in a `Tx` and applied only if nothing failed.

As in Shopware's ``EntityWriter::sync``, every operation of a sync request
is extracted and validated first and the violations of *all* operations
are reported together, with ``/{key}/{index}/{field}`` pointers (through
``/translations/{languageId}`` for translated fields).  Only a request
without violations reaches the database (`Writer.check_database`), where
MySQL refuses the first statement that breaks a unique or foreign key:
one error, without a pointer (``EntityWriteGateway::executeCommands``).
The constraint checks live in `._validation`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ._criteria import Resolver, compile_filters
from ._errors import ApiError, database_error
from ._schema import (
    ENTITIES,
    ID_RE,
    NOT_UUID_FIELDS,
    SYSTEM_LANGUAGE,
    TRANSLATED,
    EntityDef,
    ToMany,
    ToOne,
)
from ._store import SERIAL, Row, Store, Tx, primary_key, row_key
from ._validation import Validation, blank


#: Rows one Sync delete by criteria removes at most: SyncService::
#: handleCriteriaDelete builds its search with the RequestCriteriaBuilder
#: whose default limit is ``shopware.api.store.max_limit``, 100 (6.5:
#: ``api.max_limit``, 100); Shopware 6.6.7 and older delete the first 100
#: matches and say nothing (shopware/shopware#4908 lifted the limit and
#: the mapping-only rule for later releases).
CRITERIA_DELETE_LIMIT = 100

#: The scale of ``tax.tax_rate`` (DECIMAL(10, 2)).
_CENT = Decimal("0.01")


def _assocs(d: EntityDef) -> dict[str, ToOne | ToMany]:
    out: dict[str, ToOne | ToMany] = {a.name: a for a in d.to_one}
    out.update({m.name: m for m in d.to_many})
    return out


_ASSOC = {n: _assocs(d) for n, d in ENTITIES.items()}
_JSON_MERGED = frozenset({"customFields"})
_DEFAULTS: dict[str, dict[str, Any]] = {
    "order_delivery": {"trackingCodes": []},
    "media": {"hasFile": False, "private": False},
}


class Writer(Validation):
    """
    One request's writes.  *on_delete* lets the emulator drop side data
    (uploaded files) of deleted rows once the transaction commits.
    """

    def __init__(
        self,
        store: Store,
        now: str,
        on_delete: Callable[[str, str, Row], None] | None = None,
    ) -> None:
        self.tx = Tx(store)
        self.now = now
        self.errors: list[dict[str, Any]] = []
        self.written: dict[str, list[Any]] = defaultdict(list)
        self.deleted: dict[str, list[Any]] = defaultdict(list)
        self.not_found: dict[str, list[Any]] = defaultdict(list)
        # What the database checks when the statements run, in write
        # order: ("fk", field, entity, target, value), ("number", key, "",
        # "", "") for the product number's unique key, ("visibility", key,
        # "", "", "") for product_visibility's.
        self._db_checks: list[tuple[str, str, str, str, str]] = []
        self._deleted_rows: list[tuple[str, str, Row]] = []
        self._on_delete = on_delete

    # -- upsert ---------------------------------------------------------

    def upsert(  # noqa: PLR0915 - the DAL write path in one place
        self,
        d: EntityDef,
        item: Any,
        ptr: str,
        implied: dict[str, Any] | None = None,
    ) -> str | None:
        """
        Insert or merge one payload item (and its nested associations);
        returns its storage key, or ``None`` if it could not be written.
        """
        if not isinstance(item, dict):
            self.violation(
                ptr,
                f"Expected data at {ptr or '/'} to be an array.",
                "FRAMEWORK__WRITE_MALFORMED_INPUT",
            )
            return None
        data = {**item, **implied} if implied else item
        assocs = _ASSOC[d.name]
        fields: dict[str, Any] = {}
        to_one: list[tuple[str, ToOne, Any]] = []
        to_many: list[tuple[str, ToMany, Any]] = []
        bad_id: str | None = None
        for k, v in data.items():
            a = assocs.get(k)
            if a is None or k == "id":
                fields[k] = v
                if (
                    k[-2:] == "Id"
                    and v is not None
                    and bad_id is None
                    and (not isinstance(v, str) or not ID_RE.match(v))
                    and k not in NOT_UUID_FIELDS
                ):
                    bad_id = k
            elif isinstance(a, ToOne):
                if isinstance(v, dict):
                    to_one.append((k, a, v))
                elif v is not None:
                    self.violation(
                        f"{ptr}/{k}",
                        f"Expected data at {ptr}/{k} to be an array.",
                        "FRAMEWORK__WRITE_MALFORMED_INPUT",
                    )
            elif isinstance(v, list):
                to_many.append((k, a, v))
            else:
                self.violation(
                    f"{ptr}/{k}",
                    f"Expected data at {ptr}/{k} to be an array.",
                    "FRAMEWORK__WRITE_MALFORMED_INPUT",
                )

        if d.name in SERIAL and "autoIncrement" in fields:
            # AutoIncrementField is WriteProtected for every scope
            # (AutoIncrementField.php; WriteCommandExtractor
            # ::validateContextHasPermission)
            self.violation(
                f"{ptr}/autoIncrement", "This field is write-protected."
            )
            del fields["autoIncrement"]
        # Ids first: everything else hangs off them.
        if d.mapping is None:
            rid = fields.get("id")
            if rid is None:
                rid = fields["id"] = uuid.uuid4().hex
            elif not isinstance(rid, str) or not ID_RE.match(rid):
                self._invalid_uuid(f"{ptr}/id", rid)
                return None
        if bad_id is not None:
            self._invalid_uuid(f"{ptr}/{bad_id}", fields[bad_id])
            return None

        # To-one nested rows are written before us: we point at them.
        for k, a, v in to_one:
            if a.reverse:
                continue
            tid = self.upsert(ENTITIES[a.target], v, f"{ptr}/{k}")
            if tid is not None:
                fields.setdefault(a.fk, tid)

        if d.mapping is not None:
            fa, fb = d.mapping
            for f in (fa, fb):
                if blank(fields.get(f)):
                    self.not_blank(f"{ptr}/{f}")
                    return None
            key = f"{fields[fa]}-{fields[fb]}"
        else:
            key = str(fields["id"])
        existing = self.tx.get(d.name, key)
        if d.name in TRANSLATED:
            self._translate(d, fields, existing, ptr)
        self._validate(d, fields, existing, ptr)

        if existing is None:
            row: Row = dict(_DEFAULTS.get(d.name, {}))
            row.update(fields)
            row["createdAt"] = self.now
            row["updatedAt"] = None
        else:
            row = dict(existing)
            for k, v in fields.items():
                if (
                    k in _JSON_MERGED
                    and isinstance(v, dict)
                    and isinstance(row.get(k), dict)
                ):
                    row[k] = {**row[k], **v}
                else:
                    row[k] = v
            row["updatedAt"] = self.now
        rate = row.get("taxRate") if d.name == "tax" else None
        if isinstance(rate, (int, float)) and not isinstance(rate, bool):
            # tax.tax_rate is DECIMAL(10, 2): MySQL rounds, half away
            # from zero (Migration1536232660Tax).
            row["taxRate"] = float(
                Decimal(str(rate)).quantize(_CENT, rounding=ROUND_HALF_UP)
            )
        if d.name == "product_visibility":
            self._db_checks.append(("visibility", key, "", "", ""))
        if d.name == "product" and "productNumber" in fields:
            self._db_checks.append(("number", key, "", "", ""))
        for f, target in d.fks:
            v = row.get(f) if f in fields else None
            if isinstance(v, str):
                self._db_checks.append(("fk", f, d.name, target, v))
        self.tx.put(d.name, key, row)
        self.written[d.name].append(primary_key(d, key, row))

        # Reverse to-one and to-many rows point at us: written after us.
        for k, a, v in to_one:
            if a.reverse:
                self.upsert(ENTITIES[a.target], v, f"{ptr}/{k}", {a.fk: key})
        for k, m, items in to_many:
            for j, child in enumerate(items):
                self._write_child(m, key, child, f"{ptr}/{k}/{j}")
        return key

    def _unique_visibility(self, key: str) -> None:
        # A unique key on (product, sales channel): a second visibility
        # under another id fails in the database, not in validation.
        row = self.tx.get("product_visibility", key)
        if row is None:
            return
        for other in self.tx.find(
            "product_visibility", "productId", row["productId"]
        ):
            o = self.tx.get("product_visibility", other)
            if (
                other != key
                and o is not None
                and o.get("salesChannelId") == row.get("salesChannelId")
            ):
                raise database_error(
                    1062,
                    "Duplicate entry for key "
                    "'product_visibility.uniq.product_id__sales_channel_id'",
                )

    def _unique_number(self, key: str, pending: set[str]) -> None:
        # `uniq.product.product_number__version_id` under the table's
        # utf8mb4_unicode_ci collation (Migration1536233120Product).
        # ProductExceptionHandler maps MySQL's 1062 to
        # DuplicateProductNumberException: a 400 without a pointer,
        # naming the number of the row that was being written: of two
        # rows of one request, the later one (rows in *pending* are not
        # written yet).
        row = self.tx.get("product", key)
        number = row.get("productNumber") if row is not None else None
        if not isinstance(number, str):
            return
        pending.discard(key)
        if any(
            k != key and k not in pending
            for k in self.tx.find("product", "productNumber", number)
        ):
            raise ApiError(
                400,
                [
                    {
                        "status": "400",
                        "code": "CONTENT__DUPLICATE_PRODUCT_NUMBER",
                        "title": "Bad Request",
                        "detail": f'Product with number "{number}" already '
                        "exists.",
                        "meta": {"parameters": {"number": number}},
                    }
                ],
            )

    def _translate(
        self, d: EntityDef, fields: Row, existing: Row | None, ptr: str
    ) -> None:
        """
        Move translated fields onto the system-language translation and
        validate them there, like TranslatedFieldSerializer and
        TranslationsAssociationFieldSerializer: pointers run through
        ``/translations/{languageId}/{field}``.  The emulator keeps the
        system language's values on the row; other languages are checked
        and dropped.
        """
        spec = TRANSLATED[d.name]
        tptr = f"{ptr}/translations"
        raw = fields.pop("translations", None)
        by_lang: dict[str, dict[str, Any]] = {}
        if raw is not None:
            items: list[tuple[Any, Any]]
            if isinstance(raw, dict):
                items = list(raw.items())
            elif isinstance(raw, list):
                items = list(enumerate(raw))
            else:
                self.violation(
                    tptr,
                    f"Expected data at {tptr} to be an array.",
                    "FRAMEWORK__WRITE_MALFORMED_INPUT",
                )
                items = []
            for ident, values in items:
                if not isinstance(values, dict):
                    self.violation(
                        f"{tptr}/{ident}",
                        f"Expected data at {tptr}/{ident} to be an array.",
                        "FRAMEWORK__WRITE_MALFORMED_INPUT",
                    )
                    continue
                lang: Any = ident
                if isinstance(ident, int) or str(ident).isdigit():
                    language = values.get("language")
                    lang = values.get("languageId") or (
                        language.get("id")
                        if isinstance(language, dict)
                        else None
                    )
                    if not isinstance(lang, str):
                        self.violation(
                            f"{tptr}/{ident}",
                            "Translation requires a language id.",
                            "MISSING-TRANSLATION-LANGUAGE",
                        )
                        continue
                elif not ID_RE.match(str(ident)):
                    # A locale code: only the system language's is known.
                    if ident != "en-GB":
                        continue
                    lang = SYSTEM_LANGUAGE
                by_lang.setdefault(lang, {}).update(values)
        system = {f: fields.pop(f) for f in list(fields) if f in spec}
        system.update(
            {
                k: v
                for k, v in by_lang.pop(SYSTEM_LANGUAGE, {}).items()
                if k in spec
            }
        )
        for lang, values in [(SYSTEM_LANGUAGE, system), *by_lang.items()]:
            for f, v in values.items():
                t = spec.get(f)
                if t is None:
                    continue
                if blank(v) and not isinstance(v, (list, dict)):
                    values[f] = None
                elif not isinstance(v, str):
                    self._not_string(f"{tptr}/{lang}/{f}", v)
                elif t.max_length is not None and len(v) > t.max_length:
                    self._too_long(f"{tptr}/{lang}/{f}", v, t.max_length)
        merged = {**existing, **fields} if existing else fields
        inherited = d.name == "product" and merged.get("parentId") is not None
        required = (
            [] if inherited else [f for f, t in spec.items() if t.required]
        )
        if existing is None and by_lang and not system:
            # MissingSystemTranslationException.
            self.violation(
                f"{tptr}/{SYSTEM_LANGUAGE}",
                f"Translation required for system language {SYSTEM_LANGUAGE}",
                "MISSING-SYSTEM-TRANSLATION",
                {"{{ systemLanguage }}": SYSTEM_LANGUAGE},
                "Translation required for system language "
                "{{ systemLanguage }}",
            )
        else:
            for f in required:
                given = f in system
                if (existing is None and system.get(f) is None) or (
                    existing is not None and given and system[f] is None
                ):
                    self.not_blank(
                        f"{tptr}/{SYSTEM_LANGUAGE}/{f}",
                        system.get(f) if given else None,
                    )
        fields.update(system)

    def _write_child(self, m: ToMany, key: str, child: Any, ptr: str) -> None:
        if m.mapping is None:
            # One-to-many: PATCH/upsert only adds or updates children.
            self.upsert(ENTITIES[m.target], child, ptr, {m.fk: key})
            return
        assert m.ref_fk is not None
        if (
            isinstance(child, dict)
            and set(child) == {"id"}
            and isinstance(child["id"], str)
            and self.tx.get(m.target, child["id"]) is not None
        ):
            # A bare reference to an existing row: link, don't touch it.
            tid: str | None = child["id"]
        else:
            tid = self.upsert(ENTITIES[m.target], child, ptr)
        if tid is not None:
            self.upsert(ENTITIES[m.mapping], {m.fk: key, m.ref_fk: tid}, ptr)

    # -- delete ---------------------------------------------------------

    def delete(self, d: EntityDef, item: Any, ptr: str) -> None:
        if not isinstance(item, dict):
            self.violation(
                ptr,
                f"Expected data at {ptr} to be an array.",
                "FRAMEWORK__WRITE_MALFORMED_INPUT",
            )
            return
        pk_fields = d.mapping or ("id",)
        if any(not isinstance(item.get(f), str) for f in pk_fields):
            self.violation(
                ptr,
                f'The primary key for "{d.name}" is incomplete. It should '
                f"have the following fields: {', '.join(pk_fields)}.",
                "FRAMEWORK__INCOMPLETE_PRIMARY_KEY",
            )
            return
        for f in pk_fields:
            if not ID_RE.match(item[f]):
                self._invalid_uuid(f"{ptr}/{f}", item[f])
                return
        key = row_key(d, item)
        row = self.tx.get(d.name, key)
        if row is None:
            self.not_found[d.name].append(primary_key(d, key, item))
            return
        self.cascade_delete(d, key, row)

    def cascade_delete(self, d: EntityDef, key: str, row: Row) -> None:
        self.tx.put(d.name, key, None)
        self.deleted[d.name].append(primary_key(d, key, row))
        self._deleted_rows.append((d.name, key, row))
        for m in d.to_many:
            if not m.cascade:
                continue
            child = m.mapping or m.target
            for ck in self.tx.find(child, m.fk, key):
                crow = self.tx.get(child, ck)
                if crow is not None:
                    self.cascade_delete(ENTITIES[child], ck, crow)
        for a in d.to_one:
            if a.reverse:
                for ck in self.tx.find(a.target, a.fk, key):
                    crow = self.tx.get(a.target, ck)
                    if crow is not None:
                        self.cascade_delete(ENTITIES[a.target], ck, crow)
        if d.name == "media":
            # category.mediaId is ON DELETE SET NULL (fk.category.media_id)
            for ck in self.tx.find("category", "mediaId", key):
                crow = self.tx.get("category", ck)
                if crow is not None:
                    self.tx.put("category", ck, {**crow, "mediaId": None})
        if d.name == "product_media":
            # product.coverId is ON DELETE SET NULL.
            pid = row.get("productId")
            prod = (
                self.tx.get("product", pid) if isinstance(pid, str) else None
            )
            if (
                isinstance(pid, str)
                and prod is not None
                and prod.get("coverId") == key
            ):
                self.tx.put("product", pid, {**prod, "coverId": None})

    def criteria_payload(
        self, d: EntityDef, criteria: list[Any], ptr: str
    ) -> list[dict[str, Any]]:
        """
        The primary keys a criteria delete removes, found now (before any
        operation of the request is written): at most
        `CRITERIA_DELETE_LIMIT`, in primary-key order.
        """
        pred = compile_filters(d.name, criteria, Resolver(self.tx), ptr)
        found = []
        for key in self._criteria_candidates(d, criteria):
            row = self.tx.get(d.name, key)
            if row is not None and pred(row):
                pk = primary_key(d, key, row)
                found.append(pk if isinstance(pk, dict) else {"id": pk})
        found.sort(key=lambda pk: tuple(pk.values()))
        return found[:CRITERIA_DELETE_LIMIT]

    def _criteria_candidates(
        self, d: EntityDef, criteria: list[Any]
    ) -> list[str]:
        # An equals filter on an indexed foreign key (the usual "all
        # mappings of this product") narrows the scan to the index hit.
        for f in criteria:
            if (
                isinstance(f, dict)
                and f.get("type") == "equals"
                and f.get("field") in d.indexed
                and isinstance(f.get("value"), str)
            ):
                return self.tx.find(d.name, f["field"], f["value"])
        return list(self.tx.keys(d.name))

    # -- commit ---------------------------------------------------------

    def check_database(self) -> None:
        """
        Run the statements: the first one MySQL refuses fails the whole
        request.  No validator looks at foreign keys or the product
        number's unique key; the database does, so the client gets the
        SQL error, without a pointer to the row (EntityWriteGateway:
        the DBAL exception goes through ExceptionHandlerRegistry, which
        maps only the duplicate product number).
        """
        pending = {a for kind, a, *_ in self._db_checks if kind == "number"}
        for kind, a, entity, target, value in self._db_checks:
            if kind == "number":
                self._unique_number(a, pending)
            elif kind == "visibility":
                self._unique_visibility(a)
            elif self.tx.get(target, value) is None:
                raise database_error(
                    1452,
                    "Cannot add or update a child row: a foreign key "
                    f"constraint fails (`shopware`.`{entity}`, CONSTRAINT "
                    f"`fk.{entity}.{_snake(a)}` FOREIGN KEY "
                    f"(`{_snake(a)}`) REFERENCES `{target}` (`id`))",
                )
        self._db_checks.clear()

    def commit(self) -> None:
        self.raise_if_failed()
        self.check_database()
        self.tx.commit()
        if self._on_delete is not None:
            for entity, key, row in self._deleted_rows:
                self._on_delete(entity, key, row)

    def result(self) -> dict[str, Any]:
        return {
            "data": {k: self.written[k] for k in sorted(self.written)},
            "notFound": {k: self.not_found[k] for k in sorted(self.not_found)},
            "deleted": {k: self.deleted[k] for k in sorted(self.deleted)},
            "extensions": [],
        }


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)

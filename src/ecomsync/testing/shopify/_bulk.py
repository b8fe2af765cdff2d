"""
Bulk mutations (platform-apis.md §3.8): a JSONL of variables staged with
``BULK_MUTATION_VARIABLES``, ``bulkOperationRunMutation``, an operation
that works through its lines while it is polled, ``bulkOperationCancel``
and the result file.

Less kind than a shortcut would be, as Shopify is: nothing runs when the
operation is created; lines run a share per poll; the result file is not
in input order (``__lineNumber`` says which line a result belongs to); a
cancelled or failed operation keeps what it did and offers it as
``partialDataUrl``.
"""

from __future__ import annotations

import json
import math

from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    execute,
    parse,
    validate,
)

from ._shop import Shop
from ._views import Row, gid, parse_gid, refused


#: Shopify's limit on a bulk mutation's variables file (20 MiB).
BULK_FILE_LIMIT = 20 * 1024 * 1024
_BUSY = ("CREATED", "RUNNING", "CANCELING")


def bulk_lines(payload: bytes) -> list[Row]:
    """
    The variables of a bulk mutation, one JSON object per line.
    """
    out = []
    for i, line in enumerate(payload.decode("utf-8").splitlines()):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"line {i + 1}: {exc}") from None
        if not isinstance(value, dict):
            raise ValueError(f"line {i + 1}: not an object")  # noqa: TRY004
        out.append(value)
    return out


def check_bulk_mutation(schema: GraphQLSchema, text: str) -> str | None:
    """
    Why *text* cannot run as a bulk mutation (None: it can): it must
    parse, validate against the schema and hold exactly one mutation
    with one root field.
    """
    try:
        doc = parse(text)
    except GraphQLError as exc:
        return exc.message
    ops = [
        d for d in doc.definitions if isinstance(d, OperationDefinitionNode)
    ]
    if (
        len(ops) != 1
        or ops[0].operation.value != "mutation"
        or len(ops[0].selection_set.selections) != 1
    ):
        return (
            "Invalid mutation: a bulk operation runs exactly one mutation "
            "field"
        )
    errors = validate(schema, doc)
    return errors[0].message if errors else None


def _err(exc: GraphQLError) -> Row:
    return dict(exc.formatted)


class Bulk:
    """
    The emulator's bulk operations (mixed into `ShopifyEmulator`).

    ``bulk_polls`` polls see an operation RUNNING, each running a share
    of its lines; the next completes it.  ``bulk_fail_after`` (None: never)
    makes the next operation FAIL with ``INTERNAL_SERVER_ERROR`` once that
    many lines have run.
    """

    shop: Shop
    schema: GraphQLSchema
    bulk_polls: int
    bulk_fail_after: int | None = None

    def run_bulk(self, mutation: str, path: str, context: Row) -> Row:
        shop = self.shop
        if any(
            b["status"] in _BUSY and b["type"] == "MUTATION"
            for b in shop.bulk_operations.values()
        ):
            return refused(
                "bulkOperation",
                ["mutation"],
                "A bulk mutation operation for this app and shop is already "
                "in progress.",
                "OPERATION_IN_PROGRESS",
            )
        why = check_bulk_mutation(self.schema, mutation)
        if why:
            return refused(
                "bulkOperation", ["mutation"], why, "INVALID_MUTATION"
            )
        payload = shop.staged.get(path)
        if payload is None:
            return refused(
                "bulkOperation",
                ["stagedUploadPath"],
                "The JSONL file could not be found. Try uploading the file "
                "again, and check that you've entered the URL correctly for "
                "the stagedUploadPath mutation argument.",
                "NO_SUCH_FILE",
            )
        try:
            if len(payload) > BULK_FILE_LIMIT:
                raise ValueError(  # noqa: TRY301
                    f"{len(payload)} bytes, more than {BULK_FILE_LIMIT}"
                )
            lines = bulk_lines(payload)
        except ValueError as exc:
            return refused(
                "bulkOperation",
                ["stagedUploadPath"],
                f"Invalid JSONL: {exc}",
                "INVALID_STAGED_UPLOAD_FILE",
            )
        n = shop.next_id()
        shop.bulk_operations[n] = {
            "id": gid("BulkOperation", n),
            "status": "CREATED",
            "type": "MUTATION",
            "errorCode": None,
            "createdAt": shop.now(),
            "completedAt": None,
            "objectCount": "0",
            "rootObjectCount": "0",
            "fileSize": None,
            "url": None,
            "partialDataUrl": None,
            "query": mutation,
            "_lines": lines,
            "_results": [],
            "_polls": self.bulk_polls,
            "_context": dict(context),
            "_fail_after": self.bulk_fail_after,
            "_url": f"{context['base_url']}/_bulk/{n}.jsonl",
        }
        self.bulk_fail_after = None
        return {
            "bulkOperation": self._bulk_view(shop.bulk_operations[n]),
            "userErrors": [],
        }

    def _run_lines(self, b: Row, count: int) -> bool:
        """
        Run up to *count* more lines of *b*; False when it failed.
        """
        doc = parse(b["query"])
        lines: list[Row] = b["_lines"]
        done: list[str] = b["_results"]
        for i in range(len(done), min(len(lines), len(done) + count)):
            if b["_fail_after"] is not None and len(done) >= b["_fail_after"]:
                return False
            res = execute(
                self.schema,
                doc,
                variable_values=lines[i],
                context_value=b["_context"],
            )
            assert isinstance(res, ExecutionResult)
            row: Row = {}
            if res.errors:
                row["errors"] = [_err(e) for e in res.errors]
            if res.data is not None:
                row["data"] = res.data
            row["__lineNumber"] = i
            done.append(json.dumps(row))
        b["objectCount"] = b["rootObjectCount"] = str(len(done))
        return True

    def _finish(self, b: Row, status: str, error: str | None = None) -> None:
        # Shopify gives no order; here: the last line first
        text = "".join(f"{line}\n" for line in reversed(b["_results"]))
        data = text.encode()
        b.update(
            status=status,
            errorCode=error,
            completedAt=self.shop.now(),
            fileSize=str(len(data)) if data else None,
            _file=data,
        )
        if data and status == "COMPLETED":
            b["url"] = b["_url"]
        elif data:
            b["partialDataUrl"] = b["_url"]

    def poll_bulk(self, n: int) -> Row:
        """
        One look at operation *n*, which moves it on.
        """
        b = self.shop.bulk_operations[n]
        if b["status"] == "CANCELING":
            self._finish(b, "CANCELED")
        elif b["status"] in ("CREATED", "RUNNING"):
            total = len(b["_lines"])
            if b["_polls"] > 0:
                b["_polls"] -= 1
                b["status"] = "RUNNING"
                share = math.ceil(total / (self.bulk_polls + 1))
                ok = self._run_lines(b, share)
            else:
                ok = self._run_lines(b, total)
                if ok:
                    self._finish(b, "COMPLETED")
            if not ok:
                self._finish(b, "FAILED", "INTERNAL_SERVER_ERROR")
        return self._bulk_view(b)

    def cancel_bulk(self, bulk_id: str) -> Row:
        n = parse_gid(bulk_id, "BulkOperation")
        b = self.shop.bulk_operations.get(n) if n is not None else None
        if b is None:
            return refused(
                "bulkOperation",
                ["id"],
                "Bulk operation does not exist",
                "NOT_FOUND",
            )
        if b["status"] not in ("CREATED", "RUNNING"):
            return refused(
                "bulkOperation",
                ["id"],
                "A bulk operation cannot be canceled when it is "
                f"{b['status'].lower()}",
                "INVALID",
            )
        b["status"] = "CANCELING"
        return {"bulkOperation": self._bulk_view(b), "userErrors": []}

    def bulk_file(self, n: int) -> bytes | None:
        """
        The result (or partial result) file of operation *n*, once it
        ended.
        """
        b = self.shop.bulk_operations.get(n)
        return None if b is None else b.get("_file")

    @staticmethod
    def _bulk_view(b: Row) -> Row:
        return {k: v for k, v in b.items() if not k.startswith("_")}

"""
Bulk mutations: one mutation run once per line of a JSONL file of
variables (platform-apis.md §3.8).

Staged upload (``BULK_MUTATION_VARIABLES``), multipart upload of the
JSONL, ``bulkOperationRunMutation``, polling ``bulkOperation(id:)``
through the paced GraphQL client, and the result file read back by
``__lineNumber`` (Shopify gives no order).  One bulk mutation per shop at
a time: this adapter runs its own one after the other, and one already
running (another app run, another process) is waited for.  A run
cancelled while its operation works asks Shopify to cancel it.

Private: `ecomsync.platforms.shopify.Shopify` is the public face.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import attrs

from ..._http import HttpClient
from ...exceptions import SyncError
from .._answers import odd_answer
from ._client import GraphQL, Row, outside, staged_target


#: Shopify's limit on one variables file (20 MiB); larger runs are split.
FILE_LIMIT = 20 * 1024 * 1024

STAGE = """
mutation($i: [StagedUploadInput!]!) { stagedUploadsCreate(input: $i) {
  stagedTargets { url parameters { name value } }
  userErrors { field message } } }
"""
RUN = """
mutation($m: String!, $path: String!, $client: String) {
  bulkOperationRunMutation(mutation: $m, stagedUploadPath: $path,
                           clientIdentifier: $client) {
    bulkOperation { id status } userErrors { field message code } } }
"""
POLL = """
query($id: ID!) { bulkOperation(id: $id) {
  id status errorCode objectCount url partialDataUrl } }
"""
CURRENT = "{ currentBulkOperation(type: MUTATION) { id status } }"
CANCEL = """
mutation($id: ID!) { bulkOperationCancel(id: $id) {
  bulkOperation { status } userErrors { field message } } }
"""
_RUNNING = ("CREATED", "RUNNING", "CANCELING")


@attrs.frozen
class BulkResult:
    """
    How one bulk operation ended and its result lines by line number
    (a line that never ran is absent).
    """

    status: str
    error_code: str | None
    lines: dict[int, Row]


def split(lines: Sequence[str], limit: int = FILE_LIMIT) -> list[range]:
    """
    Consecutive ranges of *lines* whose JSONL stays within *limit* bytes.
    """
    parts: list[range] = []
    start, size = 0, 0
    for i, line in enumerate(lines):
        length = len(line.encode()) + 1
        if size + length > limit and i > start:
            parts.append(range(start, i))
            start, size = i, 0
        size += length
    if start < len(lines):
        parts.append(range(start, len(lines)))
    return parts


@attrs.define
class BulkRunner:
    """
    Runs bulk mutations on one shop, one at a time.

    *poll_interval* is the first wait between two polls; it grows by half
    up to *max_interval*.
    """

    api: GraphQL
    upload_http: HttpClient
    poll_interval: float = 1.0
    max_interval: float = 5.0
    sleep: Callable[[float], Any] = anyio.sleep
    operations: int = 0
    _lock: anyio.Lock = attrs.field(factory=anyio.Lock)

    async def run(
        self, mutation: str, variables: Sequence[Row], *, what: str
    ) -> BulkResult:
        """
        Run *mutation* once per element of *variables*; the result lines
        by index into *variables*.  Over 20 MiB of variables run as
        several operations, one after the other; the first that does not
        complete ends the run.
        """
        texts = [json.dumps(v, separators=(",", ":")) for v in variables]
        found: dict[int, Row] = {}
        status, code = "COMPLETED", None
        for part in split(texts):
            async with self._lock:
                done = await self._one(
                    mutation, texts[part.start : part.stop], what
                )
            found.update(
                {part.start + n: row for n, row in done.lines.items()}
            )
            status, code = done.status, done.error_code
            if status != "COMPLETED":
                break
        return BulkResult(status, code, found)

    async def _one(
        self, mutation: str, texts: Sequence[str], what: str
    ) -> BulkResult:
        path = await self._stage("".join(f"{t}\n" for t in texts), what)
        op = await self._start(mutation, path, what)
        self.operations += 1
        try:
            final = await self._until_done(op, what)
        except BaseException:
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                await self.api.call(
                    CANCEL,
                    {"id": op},
                    cost=11,
                    what=f"{what}: cancel",
                    idempotent=True,
                )
            raise
        url = final.get("url") or final.get("partialDataUrl")
        lines = await self._read(url, what) if url else {}
        return BulkResult(final["status"], final.get("errorCode"), lines)

    async def _stage(self, jsonl: str, what: str) -> str:
        data = await self.api.call(
            STAGE,
            {
                "i": [
                    {
                        "resource": "BULK_MUTATION_VARIABLES",
                        "filename": "ecomsync-bulk.jsonl",
                        "mimeType": "text/jsonl",
                        "httpMethod": "POST",
                    }
                ]
            },
            cost=13,
            what=f"{what}: staged upload",
            idempotent=True,  # a staged target: nothing in the shop
        )
        target = staged_target(data, f"{what}: staged upload", resource=False)
        form = {p["name"]: p["value"] for p in target["parameters"]}
        if "key" not in form:
            raise odd_answer(
                "Shopify",
                f"{what}: staged upload",
                "stagedTargets.0.parameters has no key",
            )
        response = await outside(
            self.upload_http,
            f"{what}: staged upload target",
            "POST",
            target["url"],
            data=form,
            files={
                "file": ("ecomsync-bulk.jsonl", jsonl.encode(), "text/jsonl")
            },
        )
        if response.status_code >= 300:
            raise SyncError(
                f"{what}: the staged upload target answered HTTP "
                f"{response.status_code}"
            )
        return str(form["key"])

    async def _start(self, mutation: str, path: str, what: str) -> str:
        for _ in range(100):
            answer = (
                await self.api.call(
                    RUN,
                    {"m": mutation, "path": path, "client": "ecomsync"},
                    cost=12,
                    what=f"{what}: bulk operation",
                    # sent again after it started: OPERATION_IN_PROGRESS,
                    # waited for below, then run again; every bulk
                    # mutation is itself an upsert (productSet by custom
                    # id, inventorySetQuantities)
                    idempotent=True,
                )
            )["bulkOperationRunMutation"]
            errors = answer["userErrors"]
            if not errors:
                return str(answer["bulkOperation"]["id"])
            if errors[0].get("code") != "OPERATION_IN_PROGRESS":
                raise SyncError(
                    f"{what}: Shopify refused the bulk operation: "
                    f"{errors[0].get('code')}: {errors[0].get('message')}"
                )
            # another app run's operation: wait until it ended
            current = (
                await self.api.call(
                    CURRENT, cost=1, what=f"{what}: current bulk operation"
                )
            )["currentBulkOperation"]
            if current and current["status"] in _RUNNING:
                await self._until_done(str(current["id"]), what)
        raise SyncError(f"{what}: another bulk operation never ended")

    async def _until_done(self, op: str, what: str) -> Row:
        interval = self.poll_interval
        while True:
            state: Row = (
                await self.api.call(
                    POLL, {"id": op}, cost=1, what=f"{what}: bulk operation"
                )
            )["bulkOperation"]
            if state is None:
                raise SyncError(f"{what}: bulk operation {op} vanished")
            if state["status"] not in _RUNNING:
                return state
            await self.sleep(interval)
            interval = min(self.max_interval, interval * 1.5)

    async def _read(self, url: str, what: str) -> dict[int, Row]:
        response = await outside(
            self.upload_http, f"{what}: bulk result file", "GET", url
        )
        if response.status_code != 200:
            raise SyncError(
                f"{what}: the bulk result file answered HTTP "
                f"{response.status_code}"
            )
        out: dict[int, Row] = {}
        for line in response.text.splitlines():
            if line.strip():
                row = json.loads(line)
                out[int(row["__lineNumber"])] = row
        return out


__all__ = ["BulkResult", "BulkRunner", "split"]

"""
Talking to the GraphQL Admin API: the access token header, Shopify's
error shapes, and cost-aware pacing with a local model of the bucket.

Private: `ecomsync.platforms.shopify.Shopify` is the public face.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio
import attrs
import httpx

from ..._http import HttpClient, status_error, transport_errors
from ..._urls import public_url
from ...exceptions import AuthenticationError, SyncError
from .._answers import field_of


Row = dict[str, Any]

#: The single-query maximum; the adapter never asks for more.
MAX_QUERY_COST = 1000
#: Input arrays (and ``first``) at most.
INPUT_LIMIT = 250


def sku_terms(skus: Sequence[str]) -> str:
    """
    A search query matching any of *skus*: ``sku:'A' OR sku:'B'``, each
    quoted with its backslashes and single quotes escaped by a backslash
    (Shopify's search syntax), so a SKU such as ``O'NEILL-1`` is one term
    and not a broken query.
    """
    return " OR ".join(
        "sku:'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"
        for s in skus
    )


def staged_target(data: Row, what: str, *, resource: bool = True) -> Row:
    """
    The one target of a ``stagedUploadsCreate`` answer, with its ``url``
    and ``parameters`` (texts by name) and, with *resource* (files, not
    bulk variables, which are found by their ``key`` parameter), its
    ``resourceUrl``.

    Raises:
        SyncError: Shopify gave no target (naming its userErrors: a file
            too large, a MIME type it refuses) or one without those
            fields, instead of a bare IndexError, KeyError or TypeError.
    """
    payload = data.get("stagedUploadsCreate")
    payload = payload if isinstance(payload, Mapping) else {}
    targets = payload.get("stagedTargets")
    if not isinstance(targets, list) or not targets:
        errors = payload.get("userErrors")
        said = "; ".join(
            f"{'.'.join(map(str, e.get('field') or ()))}: {e.get('message')}"
            for e in (errors if isinstance(errors, list) else ())
            if isinstance(e, Mapping)
        )
        raise SyncError(
            f"{what}: Shopify answered stagedUploadsCreate without a "
            f"staged target{f' ({said})' if said else ''}"
        )
    where = f"{what}: stagedUploadsCreate"
    target = targets[0]
    field_of("Shopify", where, target, "url", str, where="stagedTargets.0")
    if resource:
        field_of(
            "Shopify",
            where,
            target,
            "resourceUrl",
            str,
            where="stagedTargets.0",
        )
    for i, parameter in enumerate(
        field_of(
            "Shopify",
            where,
            target,
            "parameters",
            list,
            where="stagedTargets.0",
        )
    ):
        at = f"stagedTargets.0.parameters.{i}"
        field_of("Shopify", where, parameter, "name", str, where=at)
        field_of("Shopify", where, parameter, "value", str, where=at)
    return dict(target)


def is_mutation(document: str) -> bool:
    """
    Whether the GraphQL *document* is a mutation (else a query, which
    changes nothing).
    """
    return document.lstrip().startswith("mutation")


#: The uplink an upload's deadline allows for (256 KiB/s, a slow office
#: line): a 20 MiB bulk variables file gets 80 s on top of the deadline.
UPLINK_BYTES_PER_S = 256 * 1024


def _body_size(send: Mapping[str, Any]) -> int:
    # the bytes of the files and content *send* posts
    size = len(send.get("content") or b"")
    for spec in (send.get("files") or {}).values():
        if isinstance(spec, tuple) and isinstance(spec[1], (bytes, str)):
            size += len(spec[1])
    return size


async def outside(
    http: HttpClient, what: str, method: str, url: str, **send: Any
) -> httpx.Response:
    """
    ``http.client.request(method, url, **send)`` to a URL outside the
    Admin API (a staged upload target, a bulk result file) with the HTTP
    layer's deadline, error map and retries: such a request is safe to
    repeat (the target keeps the last file posted for its key, a read
    changes nothing).  Named by *what* only: the URL carries a
    signature.  Answers that are not "try again later" go back to the
    caller.  An upload's deadline grows by its size at
    `UPLINK_BYTES_PER_S`, so a large file on a slow line is not cut off.
    """
    deadline = http.deadline
    if deadline is not None:
        deadline += _body_size(send) / UPLINK_BYTES_PER_S

    async def attempt() -> httpx.Response:
        with transport_errors(what, deadline=deadline):
            response = await http.client.request(method, url, **send)
        error = status_error(what, response)
        if error is not None:
            raise error
        return response

    return await http.policy.call(attempt)


class ShopifyApiError(SyncError):
    """
    Shopify answered a request with top-level GraphQL errors.
    """

    def __init__(self, what: str, code: str, message: str) -> None:
        self.code = code
        super().__init__(f"{what}: {code}: {message}")


@attrs.define
class CostModel:
    """
    The local model of the leaky bucket, from the last ``throttleStatus``:
    a request waits until the model holds its expected cost, and reserves
    it, so requests in flight together do not overdraw the bucket.

    Shopify charges a request when it arrives, not when it is sent, and a
    full bucket loses the refill of that interval: so a reservation is
    taken off the refilled level *after* the cap at the maximum, and an
    answer's ``currentlyAvailable`` (which does not know the requests
    still in flight) is taken with the reservations kept off it.
    """

    clock: Callable[[], float] = time.monotonic
    maximum: float | None = None
    restore_rate: float = 50.0
    #: The shop's level at `at` as far as known, reservations not taken off.
    available: float = 0.0
    at: float = 0.0
    waited: float = 0.0
    throttled: int = 0
    #: Points reserved by requests sent and not answered yet.
    pending: float = 0.0

    def level(self) -> float:
        """
        Points a new request may count on now: the refilled level, capped
        at the maximum, less the reservations in flight.
        """
        if self.maximum is None:
            return float("inf")
        now = self.clock()
        self.available = min(
            self.maximum, self.available + (now - self.at) * self.restore_rate
        )
        self.at = now
        return self.available - self.pending

    def wait_for(self, cost: float) -> float | None:
        """
        Seconds until the bucket holds *cost* (0: send now), or None when
        only an answer can make room: the reservations in flight and
        *cost* together exceed the maximum, and the shop may charge those
        at any moment, from a full bucket.
        """
        level = self.level()
        if self.maximum is None:
            return 0.0
        need = min(cost, self.maximum)  # more: the shop says THROTTLED
        if level + 1e-9 >= need:
            return 0.0
        if self.pending and self.maximum - self.pending < need:
            return None
        return (need - level) / self.restore_rate

    def reserve(self, cost: float) -> None:
        self.pending += cost

    def answered(self, cost: float) -> None:
        """
        A request that reserved *cost* got its answer: the shop charged
        it (until the answer's ``throttleStatus`` says otherwise).
        """
        if self.maximum is not None:
            self.level()
            self.available -= cost
        self.pending = max(0.0, self.pending - cost)

    def update(self, status: Mapping[str, Any]) -> None:
        """
        Take Shopify's bucket from an answer (call `answered` first).
        """
        self.maximum = float(status["maximumAvailable"])
        self.restore_rate = float(status["restoreRate"])
        self.available = float(status["currentlyAvailable"])
        self.at = self.clock()

    @staticmethod
    def throttle_wait(cost: Mapping[str, Any]) -> float:
        """
        Shopify's rule: ``(requested - available) / restoreRate``.
        """
        status = cost["throttleStatus"]
        missing = float(cost["requestedQueryCost"]) - float(
            status["currentlyAvailable"]
        )
        return max(0.0, missing / float(status["restoreRate"]))


@attrs.define(repr=False)
class GraphQL:
    """
    One shop's GraphQL endpoint.
    """

    url: str
    http: HttpClient
    path: str = "/admin/api/2026-01/graphql.json"
    model: CostModel = attrs.field(factory=CostModel)
    sleep: Callable[[float], Any] = anyio.sleep
    max_throttled: int = 20
    _lock: anyio.Lock | None = attrs.field(init=False, default=None)
    _answer: anyio.Event = attrs.field(init=False, factory=anyio.Event)

    def __repr__(self) -> str:
        return f"<GraphQL {public_url(self.url)!r}>"

    async def _pace(self, cost: float) -> None:
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            # an answer that comes in meanwhile corrects the model: look again
            while (wait := self.model.wait_for(cost)) != 0.0:
                if wait is None:
                    started = self.model.clock()
                    await self._answer.wait()
                    self.model.waited += self.model.clock() - started
                    continue
                self.model.waited += wait
                await self.sleep(wait)
            self.model.reserve(cost)

    def _answered(self, cost: float) -> None:
        self.model.answered(cost)
        self._answer.set()
        self._answer = anyio.Event()

    async def call(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        cost: float = 10.0,
        what: str = "Shopify",
        retry: bool = True,
        idempotent: bool | None = None,
    ) -> Row:
        """
        Run *query*; its ``data``.  *cost* is the expected requested cost
        (for pacing).  A THROTTLED answer waits as Shopify says and
        retries; other top-level errors raise `ShopifyApiError`.  Without
        *retry*, a failed connection is not tried again.

        *idempotent*: whether running *query* twice does what running it
        once does (``None``: a query is, a mutation is not).  A mutation
        that is not is sent again only after a failure that proves it did
        not reach Shopify; where it may have landed, `MaybeApplied`.
        """
        if cost > MAX_QUERY_COST:
            raise ValueError(f"{what}: a query of {cost} points")
        if idempotent is None:
            idempotent = not is_mutation(query)
        body = {"query": query, "variables": dict(variables or {})}
        for _ in range(self.max_throttled + 1):
            await self._pace(cost)
            try:
                response = await self.http.request(
                    "POST",
                    self.path,
                    json=body,
                    retry=retry,
                    idempotent=idempotent,
                )
            finally:
                self._answered(cost)
            if response.status_code in (401, 403):
                raise AuthenticationError(
                    f"{what}: Shopify at {public_url(self.url)} refused the "
                    f"access token (HTTP {response.status_code})"
                )
            try:
                answer = response.json()
            except json.JSONDecodeError:
                answer = None
            if response.status_code != 200 and not (
                isinstance(answer, dict) and "extensions" in answer
            ):
                raise SyncError(f"{what}: HTTP {response.status_code}")
            if not isinstance(answer, dict):
                raise SyncError(f"{what}: an answer that is not JSON")
            extension = (answer.get("extensions") or {}).get("cost")
            if extension and extension.get("throttleStatus"):
                self.model.update(extension["throttleStatus"])
            errors = answer.get("errors")
            if errors:
                first = errors[0] if isinstance(errors, list) else {}
                code = (first.get("extensions") or {}).get("code", "ERROR")
                if code == "THROTTLED" and extension:
                    self.model.throttled += 1
                    wait = CostModel.throttle_wait(extension)
                    self.model.waited += wait
                    await self.sleep(wait)
                    continue
                raise ShopifyApiError(what, code, str(first.get("message")))
            data = answer.get("data")
            if not isinstance(data, dict):
                raise SyncError(f"{what}: an answer without data")
            return data
        raise SyncError(f"{what}: still throttled after retries")

    async def aclose(self) -> None:
        await self.http.aclose()


_BY_SKUS = """
query($q: String, $n: Int, $after: String) {
  productVariants(first: $n, after: $after, query: $q) {
    pageInfo { hasNextPage endCursor } nodes { %s } } }
"""


async def variants_with_skus(
    api: GraphQL,
    skus: Sequence[str],
    fields: str,
    *,
    per_node: int,
    what: str,
) -> list[Row]:
    """
    Every variant holding one of *skus* (its *fields*), page by page: a
    page of two variants per SKU is one request in the usual case (the
    article's own and a copy), and further pages read the rest, so a
    SKU that many products hold hides neither its holders nor the other
    SKUs' behind them.  *per_node* is a variant's cost.
    """
    n = min(INPUT_LIMIT, 2 * len(skus))
    query, found = _BY_SKUS % fields, []
    after: str | None = None
    while True:
        data = await api.call(
            query,
            {"q": sku_terms(skus), "n": n, "after": after},
            cost=2 + per_node * n,
            what=what,
        )
        page = data["productVariants"]
        found.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]

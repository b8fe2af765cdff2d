"""
`ShopifyEmulator`: the shop, the access tokens with their cost buckets,
inventory, orders and fulfillment, bulk operations, and GraphQL execution
with Shopify's cost accounting.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from graphql import (
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    build_schema,
    execute,
    parse,
    validate,
)

from .._faults import Faults, FaultSwitch
from ._app import App, RequestRecord
from ._bulk import Bulk
from ._cancel import Cancels
from ._cost import MAX_QUERY_COST, Bucket, query_cost
from ._inventory import Inventory
from ._ops import bind
from ._orders import Orders
from ._schema import SDL
from ._shop import Shop
from ._tracking import Tracking
from ._views import Row


_RATE_LIMITS = "https://shopify.dev/api/usage/rate-limits"


class ShopifyEmulator(FaultSwitch, Orders, Cancels, Tracking, Bulk, Inventory):
    """
    An emulated Shopify shop behind the GraphQL Admin API at
    ``/admin/api/{version}/graphql.json``.

    Args:
        access_token: The token ``X-Shopify-Access-Token`` must carry.
        maximum: The bucket size in points (Standard plan: 2,000).
        restore_rate: Points per second (Standard plan: 100).
        clock: Seconds, monotonic (tests pass their own to step time).
        throttle_status: The HTTP status of a THROTTLED answer (200 as
            Shopify's GraphQL API; 429 as a switch).
        bulk_polls: How many polls a bulk operation stays RUNNING (each
            runs a share of its lines); ``bulk_fail_after`` (an attribute)
            makes the next one FAIL after that many lines.
        cancel_job_reads: How many ``job(id:)`` reads an ``orderCancel``
            job stays queued before it cancels its order (Shopify
            cancels in a job, after the mutation answers);
            ``failing_cancels`` (an attribute, order GIDs) makes such
            jobs end without cancelling, and ``run_jobs()`` runs the
            queued ones.  ``cancel`` cancels at once, as the merchant
            does in the admin.
        faults: Latency, 429/5xx storms, dropped connections (`Faults`).

    Inspect ``shop`` (`Shop`), ``requests`` (the request log) and
    ``buckets`` after a test.
    """

    def __init__(
        self,
        access_token: str = "shpat_emulator",  # noqa: S107 - an emulator
        *,
        maximum: float = 2000.0,
        restore_rate: float = 100.0,
        clock: Callable[[], float] = time.monotonic,
        throttle_status: int = 200,
        bulk_polls: int = 1,
        cancel_job_reads: int = 0,
        faults: Faults | None = None,
    ) -> None:
        self.shop = Shop()
        self.tokens = {access_token}
        self.maximum = maximum
        self.restore_rate = restore_rate
        self.clock = clock
        self.throttle_status = throttle_status
        self.bulk_polls = bulk_polls
        self.jobs: dict[int, Row] = {}
        self.cancel_job_reads = cancel_job_reads
        self.failing_cancels: set[str] = set()
        self.buckets: dict[str, Bucket] = {}
        self.abort_mode: Literal["raise", "close"] = "raise"
        self.requests: deque[RequestRecord] = deque(maxlen=100_000)
        self.schema = build_schema(SDL)
        bind(self.schema, self)
        self._switch_faults(faults)
        self.app = App(self)

    def __repr__(self) -> str:
        return (
            f"<ShopifyEmulator products={len(self.shop.products)} "
            f"orders={len(self.shop.orders)}>"
        )

    def bucket(self, token: str) -> Bucket:
        if token not in self.buckets:
            self.buckets[token] = Bucket(
                self.maximum, self.restore_rate, self.clock
            )
        return self.buckets[token]

    # -- GraphQL ----------------------------------------------------------

    def graphql(
        self,
        token: str,
        body: Any,
        *,
        version: str = "2026-01",
        base_url: str = "http://shop.example",
    ) -> tuple[int, Row]:
        """
        Answer one GraphQL request body: (HTTP status, JSON answer).
        """
        if not isinstance(body, dict) or not isinstance(
            body.get("query"), str
        ):
            return 400, {
                "errors": {"query": "Required parameter missing or invalid"}
            }
        variables = body.get("variables") or {}
        bucket = self.bucket(token)
        try:
            doc = parse(body["query"])
        except GraphQLError as exc:
            return 200, {
                "errors": [_err(exc, "PARSE_ERROR")],
                "extensions": _free(bucket),
            }
        errors = validate(self.schema, doc)
        if errors:
            return 200, {
                "errors": [
                    _err(e, "GRAPHQL_VALIDATION_FAILED") for e in errors
                ],
                "extensions": _free(bucket),
            }
        ops = [
            d
            for d in doc.definitions
            if isinstance(d, OperationDefinitionNode)
        ]
        name = body.get("operationName")
        op = next(
            (
                o
                for o in ops
                if name is None or (o.name and o.name.value == name)
            ),
            None,
        )
        if op is None:
            return 200, {
                "errors": [{"message": f'Unknown operation named "{name}".'}]
            }
        frags = {
            d.name.value: d
            for d in doc.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        try:
            cost = query_cost(self.schema, op, frags, variables)
        except GraphQLError as exc:
            return 200, {"errors": [_err(exc, "BAD_REQUEST")]}
        ext: Row = {"requestedQueryCost": cost, "actualQueryCost": None}
        if cost > MAX_QUERY_COST:
            bucket.refill()
            ext["throttleStatus"] = bucket.status()
            message = (
                f"Query cost is {cost}, which exceeds the single query max "
                f"cost limit ({MAX_QUERY_COST}).\n\nSee "
                "https://shopify.dev/concepts/about-apis/rate-limits for more "
                "information on how the cost of a query is calculated.\n\nTo "
                "query larger amounts of data with fewer limits, bulk "
                "operations should be used instead."
            )
            return 200, {
                "errors": [
                    {
                        "message": message,
                        "extensions": {
                            "code": "MAX_COST_EXCEEDED",
                            "cost": cost,
                            "maxCost": MAX_QUERY_COST,
                        },
                    }
                ],
                "extensions": {"cost": ext},
            }
        if not bucket.take(cost):
            ext["throttleStatus"] = bucket.status()
            return self.throttle_status, {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {
                            "code": "THROTTLED",
                            "documentation": _RATE_LIMITS,
                        },
                    }
                ],
                "extensions": {"cost": ext},
            }
        context = {"version": version, "base_url": base_url, "token": token}
        result = execute(
            self.schema,
            doc,
            variable_values=variables,
            operation_name=name,
            context_value=context,
        )
        assert not hasattr(result, "__await__")
        ext["actualQueryCost"] = cost
        ext["throttleStatus"] = bucket.status()
        assert isinstance(result, ExecutionResult)
        answer: Row = {"data": result.data}
        if result.errors:
            answer["errors"] = [_err(e, None) for e in result.errors]
        answer["extensions"] = {"cost": ext}
        return 200, answer


def _err(exc: GraphQLError, code: str | None) -> Row:
    out = exc.formatted
    if code and "code" not in (out.get("extensions") or {}):
        out["extensions"] = {**(out.get("extensions") or {}), "code": code}
    return dict(out)


def _free(bucket: Bucket) -> Row:
    """
    The cost extension of an answer refused before execution.
    """
    bucket.refill()
    return {
        "cost": {
            "requestedQueryCost": 0,
            "actualQueryCost": 0,
            "throttleStatus": bucket.status(),
        }
    }

"""
Order statuses: walking orders' state machines to the status the ERP
says, with tracking codes (reading orders: `._order_read`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
import attrs
import httpx

from ..._contracts import Outcome, Outgoing
from ..._model import OrderState, OrderStatus
from ._claims import STATUS_RULE, screen, status_claims
from ._client import MAX_LIMIT, AdminApi, ApiProblem, ShopwareApiError
from ._keyset import ORDERS, read_all
from ._order_mapping import (
    DELIVERY_GRAPH,
    NOT_ON_THE_WAY,
    ORDER_GRAPH,
    STATE_TARGETS,
    transitions,
)
from ._writer import first_problem, wrong_type


@attrs.frozen
class Orders:
    """
    The order status side of one `Shopware6`.
    """

    api: AdminApi
    send_mail: bool

    async def _orders_by_number(
        self, numbers: Sequence[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """
        The orders holding each of *numbers*: Shopware does not keep
        order numbers unique (sales channels may have number ranges of
        their own), so a number may name two.
        """
        found: dict[str, list[dict[str, Any]]] = {}
        unique = list(dict.fromkeys(numbers))
        for start in range(0, len(unique), MAX_LIMIT):
            part = unique[start : start + MAX_LIMIT]
            # Every page: a number held twice gives more rows than numbers;
            # paged by key, so an order deleted meanwhile hides no other.
            rows = await read_all(
                self.api,
                "order",
                {
                    "filter": [
                        {
                            "type": "equalsAny",
                            "field": "orderNumber",
                            "value": part,
                        }
                    ],
                    "associations": {
                        "stateMachineState": {},
                        "deliveries": {
                            "associations": {"stateMachineState": {}}
                        },
                    },
                },
                ORDERS,
            )
            for row in rows:
                found.setdefault(str(row.get("orderNumber")), []).append(row)
        return found

    async def push_statuses(self, items: Sequence[Outgoing]) -> list[Outcome]:
        if any(not isinstance(i.record, OrderStatus) for i in items):
            return wrong_type(items, OrderStatus)
        statuses = [
            i.record for i in items if isinstance(i.record, OrderStatus)
        ]
        screened = screen(statuses, status_claims, rule=STATUS_RULE)
        send = screened.sendable(len(statuses))
        orders = await self._orders_by_number(
            [statuses[i].number for i in send]
        )
        outcomes: list[Outcome | None] = [None] * len(statuses)
        for i, (error, field) in screened.failures.items():
            outcomes[i] = Outcome(
                number=statuses[i].number, error=error, field=field
            )
        errors: list[Exception] = []

        async def one(i: int) -> None:
            try:
                outcomes[i] = await self._set_status(
                    statuses[i], orders.get(statuses[i].number)
                )
            except Exception as exc:
                errors.append(exc)

        async with anyio.create_task_group() as tg:
            for i in send:
                tg.start_soon(one, i)
        if errors:
            # Auth or transport trouble: raise it as itself, not wrapped
            # in an exception group.
            raise errors[0]
        for twin, original in screened.twins.items():
            done = outcomes[original]
            if done is not None:
                outcomes[twin] = attrs.evolve(
                    done, number=statuses[twin].number
                )
        return [o for o in outcomes if o is not None]

    async def _set_status(
        self, status: OrderStatus, held: list[dict[str, Any]] | None
    ) -> Outcome:
        if not held:
            return Outcome(
                number=status.number,
                error=f"order {status.number} does not exist in Shopware",
                field="number",
            )
        if len(held) > 1:
            # never "first wins": the other may be the one the ERP has
            ids = ", ".join(sorted(str(o["id"]) for o in held))
            return Outcome(
                number=status.number,
                error=(
                    f"order number {status.number} is held by {len(held)} "
                    f"Shopware orders ({ids}): not changed; give the "
                    f"sales channels number ranges that do not overlap"
                ),
                field="number",
            )
        (order,) = held
        oid = str(order["id"])
        if (
            _technical(order) == "cancelled"
            and status.state is not OrderState.CANCELLED
        ):
            # the shop cancelled it since the ERP last read it: walking
            # it to the ERP's state would reopen it unseen
            return Outcome(
                number=status.number,
                error=(
                    f"order {status.number} is cancelled in Shopware, the "
                    f"ERP has it {status.state.value}: not reopened; cancel "
                    f"it in the ERP, or reopen it in Shopware by hand"
                ),
                field="state",
            )
        deliveries = sorted(
            (d for d in order.get("deliveries") or [] if isinstance(d, dict)),
            key=lambda d: str(d.get("id")),
        )
        delivery = deliveries[0] if deliveries else None
        order_target, delivery_target = STATE_TARGETS[status.state]
        if status.state is OrderState.SHIPPED and (
            _technical(order) == "completed"
        ):
            # completed includes shipped: reopen, process would take the
            # merchant's completion back
            order_target = None
        try:
            if delivery is not None and status.tracking_numbers:
                codes = list(dict.fromkeys(status.tracking_numbers))
                if list(delivery.get("trackingCodes") or []) != codes:
                    await self.api.call(
                        "PATCH",
                        f"/api/order-delivery/{delivery['id']}",
                        json={"trackingCodes": codes},
                        idempotent=True,  # by id
                    )
            moves: list[tuple[str, str, str | None, str, Any]] = []
            if delivery is not None and delivery_target is not None:
                moves.append(
                    (
                        "order_delivery",
                        str(delivery["id"]),
                        _technical(delivery),
                        delivery_target,
                        DELIVERY_GRAPH,
                    )
                )
            if order_target is not None:
                moves.append(
                    (
                        "order",
                        oid,
                        _technical(order),
                        order_target,
                        ORDER_GRAPH,
                    )
                )
            if status.state is OrderState.CANCELLED:
                moves.reverse()
            for entity, eid, current, target, graph in moves:
                await self._move(entity, eid, current, target, graph)
        except _NoWay as exc:
            return Outcome(
                number=status.number,
                error=(
                    f"order {status.number}: the {exc.entity} is "
                    f"{exc.current} in Shopware, the ERP has the order "
                    f"{status.state.value}; Shopware leads from "
                    f"{exc.current!r} to {exc.target!r} only through "
                    f"{' or '.join(sorted(NOT_ON_THE_WAY))}, whose flows "
                    f"(mails, documents, stock) must not run for it: not "
                    f"moved; move it by hand in Shopware or the ERP"
                ),
                field="state",
            )
        except ShopwareApiError as exc:
            detail, field = first_problem(exc)
            return Outcome(number=status.number, error=detail, field=field)
        return Outcome(number=status.number, platform_id=oid)

    async def _move(
        self,
        entity: str,
        eid: str,
        current: str | None,
        target: str,
        graph: Any,
    ) -> None:
        """
        Walk *entity* from *current* to *target* (already there: nothing
        to do).  An illegal transition (another writer, or our own
        request that committed before its answer was lost) re-reads the
        state and plans again, once.
        """
        for attempt in range(2):
            if current is None:
                current = await self._read_state(entity, eid)
            path = transitions(graph, current, target)
            if path is None:
                if transitions(graph, current, target, avoid=frozenset()):
                    raise _NoWay(entity.replace("_", " "), current, target)
                raise ShopwareApiError(
                    f"{entity} {eid}",
                    400,
                    [
                        _problem(
                            f"no transition leads the {entity} from "
                            f"{current!r} to {target!r}"
                        )
                    ],
                )
            try:
                for action in path:
                    response = await self.api.call(
                        "POST",
                        f"/api/_action/{entity}/{eid}/state/{action}",
                        json={"sendMail": self.send_mail},
                        # sent again after it landed: refused as an
                        # illegal transition, planned again below
                        idempotent=True,
                    )
                    current = _answer_state(response) or graph[current][action]
            except ShopwareApiError as exc:
                if attempt or not exc.has_code(
                    "SYSTEM__ILLEGAL_STATE_TRANSITION"
                ):
                    raise
                current = None
                continue
            return

    async def _read_state(self, entity: str, eid: str) -> str:
        rows = await self.api.search(
            entity,
            {
                "filter": [{"type": "equals", "field": "id", "value": eid}],
                "associations": {"stateMachineState": {}},
                "limit": 1,
            },
        )
        state = _technical(rows[0]) if rows else None
        if state is None:
            raise ShopwareApiError(
                f"{entity} {eid}",
                404,
                [_problem(f"{entity} {eid} has no readable state")],
            )
        return state


class _NoWay(Exception):
    """
    No transitions lead *entity* from *current* to *target* but through
    a state of `NOT_ON_THE_WAY`.
    """

    def __init__(self, entity: str, current: str, target: str) -> None:
        super().__init__(entity, current, target)
        self.entity = entity
        self.current = current
        self.target = target


def _technical(entity: dict[str, Any]) -> str | None:
    state = entity.get("stateMachineState")
    if isinstance(state, dict) and state.get("technicalName"):
        return str(state["technicalName"])
    return None


def _answer_state(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        data = body.get("data", body)
        if isinstance(data, dict) and data.get("technicalName"):
            return str(data["technicalName"])
    return None


def _problem(detail: str) -> ApiProblem:
    return ApiProblem(status="400", code="", detail=detail)

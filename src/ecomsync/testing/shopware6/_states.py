"""
The order, delivery and transaction state machines at work: reading the
current state, listing and applying transitions, and the stock a
cancellation gives back (§1.7).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from ._errors import ApiError
from ._schema import ID_RE
from ._state_machines import STATE_MACHINES
from ._store import Row


if TYPE_CHECKING:
    from ._emulator import ShopwareEmulator


@attrs.frozen
class TransitionRecord:
    """
    One applied state transition and whether it would have mailed.
    """

    entity: str
    entity_id: str
    action: str
    from_state: str
    to_state: str
    send_mail: bool
    mail_sent: bool
    internal_comment: str | None
    at: datetime


def current_state(
    emu: ShopwareEmulator, entity: str, entity_id: str
) -> tuple[Row, str]:
    sm = STATE_MACHINES.get(entity)
    row = emu.store.get(entity, entity_id) if sm else None
    if sm is None or row is None or not ID_RE.match(entity_id):
        raise ApiError.one(
            400,
            "SYSTEM__STATE_MACHINE_INVALID_ENTITY_ID",
            f'The entity id "{entity_id}" is invalid for the state '
            f'machine entity "{entity}".',
            parameters={"entityName": entity, "entityId": entity_id},
        )
    state = emu.store.get("state_machine_state", row["stateId"])
    assert state is not None
    return row, state["technicalName"]


def available_transitions(
    emu: ShopwareEmulator, entity: str, entity_id: str
) -> list[dict[str, Any]]:
    sm = STATE_MACHINES.get(entity)
    _, state = current_state(emu, entity, entity_id)
    assert sm is not None
    out = []
    for action, to in sm.possible(state):
        to_row = emu.store.get("state_machine_state", sm.state_id(to))
        assert to_row is not None
        out.append(
            {
                "name": to_row["name"],
                "technicalName": to,
                "actionName": action,
                "fromStateName": state,
                "toStateName": to,
                "url": (
                    f"/api/_action/state-machine/{entity}/{entity_id}"
                    f"/state/{action}"
                ),
            }
        )
    return out


def transition(
    emu: ShopwareEmulator,
    entity: str,
    entity_id: str,
    action: str,
    *,
    send_mail: bool = True,
    skip_flow: bool = False,
    internal_comment: str | None = None,
) -> Row:
    """
    Apply *action*; returns the new ``state_machine_state`` row.
    """
    sm = STATE_MACHINES.get(entity)
    row, state = current_state(emu, entity, entity_id)
    assert sm is not None
    possible = sm.possible(state)
    target = next((t for a, t in possible if a == action), None)
    if target is None:
        # IllegalTransitionException, thrown by
        # StateMachineRegistry::getTransitionDestination with the id
        # of the current state (not its technical name).
        names = [a for a, _ in possible]
        current = row["stateId"]
        listed = ", ".join(names)
        raise ApiError.one(
            400,
            "SYSTEM__ILLEGAL_STATE_TRANSITION",
            f'Illegal transition "{action}" from state "{current}". '
            f"Possible transitions are: {listed}",
            parameters={
                "transition": action,
                "currentState": current,
                "possibleTransitionsString": listed,
                "possibleTransitions": names,
            },
        )
    now = emu.now_str()
    emu.store.put(
        entity,
        entity_id,
        {**row, "stateId": sm.state_id(target), "updatedAt": now},
    )
    if entity == "order":
        restock(emu, entity_id, state, target)
    emu.transitions.append(
        TransitionRecord(
            entity=entity,
            entity_id=entity_id,
            action=action,
            from_state=state,
            to_state=target,
            send_mail=send_mail,
            mail_sent=send_mail and not skip_flow,
            internal_comment=internal_comment,
            at=emu.now(),
        )
    )
    new = emu.store.get("state_machine_state", sm.state_id(target))
    assert new is not None
    return new


def restock(emu: ShopwareEmulator, order_id: str, old: str, new: str) -> None:
    # Since 6.6 stock is the live value: cancelling gives it back,
    # reopening a cancelled order takes it again (§1.7).
    if new == "cancelled":
        sign = 1
    elif old == "cancelled":
        sign = -1
    else:
        return
    for k in emu.store.find("order_line_item", "orderId", order_id):
        li = emu.store.get("order_line_item", k)
        pid = li.get("productId") if li else None
        prod = emu.store.get("product", pid) if pid else None
        if li is not None and prod is not None and pid is not None:
            stock = int(prod.get("stock") or 0) + sign * int(
                li.get("quantity") or 0
            )
            emu.store.put("product", pid, {**prod, "stock": stock})

"""
Shopware's three order state machines as the emulator runs them: order,
delivery and transaction states with their transitions
(platform-apis.md §1.9).  Ids are Shopware's seeded ones (`seed_id`).
"""

from __future__ import annotations

import attrs

from ._schema import seed_id


# -- state machines (§1.9) --------------------------------------------------


@attrs.frozen
class StateMachine:
    technical_name: str  # "order.state"
    entity: str  # "order"
    initial: str
    states: tuple[str, ...]
    # (action, from, to) in definition order: the order of
    # `possibleTransitions` in error messages follows it.
    transitions: tuple[tuple[str, str, str], ...]

    def state_id(self, state: str) -> str:
        return seed_id(f"{self.technical_name}.{state}")

    @property
    def id(self) -> str:
        return seed_id(self.technical_name)

    def possible(self, state: str) -> list[tuple[str, str]]:
        return [(a, t) for a, f, t in self.transitions if f == state]


ORDER_SM = StateMachine(
    "order.state",
    "order",
    "open",
    ("open", "in_progress", "completed", "cancelled"),
    (
        ("process", "open", "in_progress"),
        ("cancel", "open", "cancelled"),
        ("complete", "in_progress", "completed"),
        ("cancel", "in_progress", "cancelled"),
        ("reopen", "completed", "open"),
        ("reopen", "cancelled", "open"),
    ),
)

DELIVERY_SM = StateMachine(
    "order_delivery.state",
    "order_delivery",
    "open",
    (
        "open",
        "shipped",
        "shipped_partially",
        "returned",
        "returned_partially",
        "cancelled",
    ),
    (
        ("ship", "open", "shipped"),
        ("ship_partially", "open", "shipped_partially"),
        ("cancel", "open", "cancelled"),
        ("retour", "shipped", "returned"),
        ("retour_partially", "shipped", "returned_partially"),
        ("cancel", "shipped", "cancelled"),
        ("ship", "shipped_partially", "shipped"),
        ("retour", "shipped_partially", "returned"),
        ("retour_partially", "shipped_partially", "returned_partially"),
        ("cancel", "shipped_partially", "cancelled"),
        ("retour", "returned_partially", "returned"),
        ("reopen", "shipped", "open"),
        ("reopen", "shipped_partially", "open"),
        ("reopen", "returned", "open"),
        ("reopen", "returned_partially", "open"),
        ("reopen", "cancelled", "open"),
    ),
)


def _transaction_transitions() -> tuple[tuple[str, str, str], ...]:
    # The states and action names are documented (§1.9); which state
    # allows which action is reconstructed from Shopware's migrations and
    # approximate (⚠️ verify against a real instance).
    payable = (
        "open",
        "reminded",
        "in_progress",
        "authorized",
        "unconfirmed",
        "paid_partially",
        "chargeback",
    )
    t: list[tuple[str, str, str]] = []
    for f in payable:
        t.append(("do_pay", f, "paid"))
        t.append(("paid", f, "paid"))
    for f in ("open", "reminded", "in_progress", "authorized", "unconfirmed"):
        t.append(("paid_partially", f, "paid_partially"))
    t += [
        ("process", "open", "in_progress"),
        ("process_unconfirmed", "open", "unconfirmed"),
        ("authorize", "open", "authorized"),
        ("authorize", "in_progress", "authorized"),
        ("authorize", "unconfirmed", "authorized"),
        ("remind", "open", "reminded"),
        ("remind", "paid_partially", "reminded"),
        ("refund", "paid", "refunded"),
        ("refund", "paid_partially", "refunded"),
        ("refund", "refunded_partially", "refunded"),
        ("refund_partially", "paid", "refunded_partially"),
        ("refund_partially", "paid_partially", "refunded_partially"),
        ("chargeback", "paid", "chargeback"),
        ("chargeback", "paid_partially", "chargeback"),
    ]
    for f in (
        "open",
        "reminded",
        "in_progress",
        "authorized",
        "unconfirmed",
        "paid",
        "paid_partially",
        "chargeback",
    ):
        t.append(("cancel", f, "cancelled"))
    for f in ("open", "in_progress", "authorized", "unconfirmed", "reminded"):
        t.append(("fail", f, "failed"))
    for f in (
        "paid",
        "paid_partially",
        "refunded",
        "refunded_partially",
        "cancelled",
        "reminded",
        "authorized",
        "failed",
        "in_progress",
        "chargeback",
        "unconfirmed",
    ):
        t.append(("reopen", f, "open"))
    return tuple(t)


TRANSACTION_SM = StateMachine(
    "order_transaction.state",
    "order_transaction",
    "open",
    (
        "open",
        "paid",
        "paid_partially",
        "refunded",
        "refunded_partially",
        "cancelled",
        "reminded",
        "authorized",
        "failed",
        "in_progress",
        "chargeback",
        "unconfirmed",
    ),
    _transaction_transitions(),
)

STATE_MACHINES: dict[str, StateMachine] = {
    sm.entity: sm for sm in (ORDER_SM, DELIVERY_SM, TRANSACTION_SM)
}

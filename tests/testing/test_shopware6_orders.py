"""
The order, delivery and transaction state machines of the Shopware 6
emulator (platform-apis.md §1.9).
"""

from __future__ import annotations

import httpx
import pytest

from ecomsync.testing.shopware6 import (
    ShopwareEmulator,
    seed_id,
)

from ._sw6 import (
    Clock,
    login,
    pid,
    product,
    raw_client,
    sync,
    upsert,
)


pytestmark = pytest.mark.anyio


class TestStateMachine:
    async def test_order_graph(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """process then complete moves the order; response is the state."""
        oid = emu.place_order()
        r = await client.post(f"/api/_action/order/{oid}/state/process")
        assert r.status_code == 200
        assert r.json()["technicalName"] == "in_progress"
        assert r.json()["apiAlias"] == "state_machine_state"
        r = await client.post(f"/api/_action/order/{oid}/state/complete")
        assert r.json()["technicalName"] == "completed"

    async def test_illegal_transition(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """A second ship is 400 SYSTEM__ILLEGAL_STATE_TRANSITION; its
        parameters name the transition, the current state's id and the
        possible transitions, as IllegalTransitionException does."""
        oid = emu.place_order()
        did = seed_id(f"order_delivery.{oid}")
        url = f"/api/_action/order_delivery/{did}/state/ship"
        assert (await client.post(url)).status_code == 200
        r = await client.post(url)
        err = r.json()["errors"][0]
        shipped = seed_id("order_delivery.state.shipped")
        possible = ["retour", "retour_partially", "cancel", "reopen"]
        assert 400 == r.status_code
        assert "SYSTEM__ILLEGAL_STATE_TRANSITION" == err["code"]
        assert {
            "transition": "ship",
            "currentState": shipped,
            "possibleTransitionsString": ", ".join(possible),
            "possibleTransitions": possible,
        } == err["meta"]["parameters"]
        assert (
            f'Illegal transition "ship" from state "{shipped}". Possible '
            "transitions are: retour, retour_partially, cancel, reopen"
        ) == err["detail"]

    async def test_transition_answers_the_state_entity(
        self, emu: ShopwareEmulator
    ) -> None:
        """A transition answers the new state as plain JSON, also when the
        client asked for JSON:API (OrderActionController)."""
        oid = emu.place_order()
        async with raw_client(emu) as c:
            await login(c)
            r = await c.post(
                f"/api/_action/order/{oid}/state/process",
                headers={"Accept": "application/vnd.api+json"},
            )
        body = r.json()
        assert 200 == r.status_code
        assert ("in_progress", body["id"]) == (
            body["technicalName"],
            body["_uniqueIdentifier"],
        )

    async def test_send_mail_default_and_false(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """sendMail defaults to true; false and skip-flow suppress mails."""
        oid = emu.place_order()
        tid = seed_id(f"order_transaction.{oid}")
        did = seed_id(f"order_delivery.{oid}")
        await client.post(f"/api/_action/order_transaction/{tid}/state/paid")
        await client.post(
            f"/api/_action/order_delivery/{did}/state/ship",
            json={"sendMail": False},
        )
        await client.post(
            f"/api/_action/order/{oid}/state/process",
            headers={"sw-skip-trigger-flow": "1"},
        )
        sent = [(t.entity, t.send_mail, t.mail_sent) for t in emu.transitions]
        assert sent == [
            ("order_transaction", True, True),
            ("order_delivery", False, False),
            ("order", True, False),
        ]
        assert [t.entity for t in emu.mails] == ["order_transaction"]

    async def test_generic_endpoint_and_available(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """The generic endpoint transitions; GET lists what is possible."""
        oid = emu.place_order()
        r = await client.get(f"/api/_action/state-machine/order/{oid}/state")
        actions = [t["actionName"] for t in r.json()["transitions"]]
        assert actions == ["process", "cancel"]
        assert r.json()["transitions"][0]["toStateName"] == "in_progress"
        r = await client.post(
            f"/api/_action/state-machine/order/{oid}/state/cancel"
        )
        assert r.json()["technicalName"] == "cancelled"

    async def test_bad_entity_id(self, client: httpx.AsyncClient) -> None:
        """An unknown order id is 400 STATE_MACHINE_INVALID_ENTITY_ID."""
        r = await client.post(
            f"/api/_action/order/{seed_id('x')}/state/process"
        )
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] == (
            "SYSTEM__STATE_MACHINE_INVALID_ENTITY_ID"
        )

    async def test_transition_touches_updated_at(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator, clock: Clock
    ) -> None:
        """A transition sets updatedAt of the transitioned row."""
        oid = emu.place_order()
        tid = seed_id(f"order_transaction.{oid}")
        clock.advance(30)
        await client.post(f"/api/_action/order_transaction/{tid}/state/paid")
        assert emu.entities["order_transaction"][tid]["updatedAt"].startswith(
            "2025-06-01T12:00:30"
        )

    async def test_cancel_restocks(
        self, client: httpx.AsyncClient, emu: ShopwareEmulator
    ) -> None:
        """Cancelling an order gives its stock back."""
        await sync(client, {"p": upsert("product", product("RS", emu))})
        oid = emu.place_order(lines=[{"productNumber": "RS", "quantity": 2}])
        assert emu.entities["product"][pid("RS")]["stock"] == 3
        await client.post(f"/api/_action/order/{oid}/state/cancel")
        assert emu.entities["product"][pid("RS")]["stock"] == 5

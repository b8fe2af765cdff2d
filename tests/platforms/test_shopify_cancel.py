"""
Cancelling an order on Shopify: ``orderCancel`` answers with a job that
cancels the order later, so the status lands only once the order reads
cancelled.
"""

from __future__ import annotations

import httpx
import pytest

from ecomsync import DataType, Outgoing
from ecomsync._contracts import Outcome
from ecomsync._model import OrderState, OrderStatus
from ecomsync.platforms.shopify import Shopify
from ecomsync.platforms.shopify import _orders as shopify_orders
from ecomsync.testing.shopify import ShopifyEmulator


pytestmark = pytest.mark.anyio

TOKEN = "shpat_NEVER_SHOWN"
CANCEL = OrderStatus(number="1001", state=OrderState.CANCELLED)


def _emu(**kwargs: int) -> tuple[ShopifyEmulator, str]:
    emu = ShopifyEmulator(TOKEN, **kwargs)
    order = emu.place_order([("A-1", 1, "9.90")], name="#1001")
    return emu, order


async def _cancel(emu: ShopifyEmulator) -> Outcome:
    async with Shopify(
        "https://shop.test", TOKEN, transport=httpx.ASGITransport(app=emu.app)
    ) as shop:
        (outcome,) = await shop.push(
            DataType.ORDER_STATUS, [Outgoing(record=CANCEL)]
        )
    return outcome


async def test_status_lands_once_the_job_cancelled_the_order() -> None:
    """The cancellation job has not run when orderCancel answers: the
    status waits for it and lands with the order cancelled (it landed
    with the order still open)."""
    emu, _ = _emu(cancel_job_reads=2)

    outcome = await _cancel(emu)

    (order,) = emu.shop.orders.values()
    assert outcome.ok, outcome
    assert order["cancelledAt"] is not None
    assert {"CLOSED"} == {
        f["status"] for f in emu.shop.fulfillment_orders.values()
    }


async def test_job_that_did_not_cancel_fails_the_status() -> None:
    """A job that ran without cancelling the order fails the status on
    state, so the next run tries again (it was recorded as landed)."""
    emu, order = _emu()
    emu.failing_cancels.add(order)

    outcome = await _cancel(emu)

    (row,) = emu.shop.orders.values()
    assert row["cancelledAt"] is None
    assert ("1001", "state") == (outcome.number, outcome.field)
    assert "not cancelled" in str(outcome.error)


async def test_job_not_run_yet_fails_then_lands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A job still queued after the polls fails the status on state,
    saying so; once it has run, the next push finds the order cancelled
    and sends nothing more."""
    monkeypatch.setattr(shopify_orders, "JOB_WAITS", (0.0, 0.0))
    emu, _ = _emu(cancel_job_reads=10)

    first = await _cancel(emu)
    emu.run_jobs()
    cancels = len(emu.jobs)
    second = await _cancel(emu)

    assert ("1001", "state") == (first.number, first.field)
    assert "has not run yet" in str(first.error)
    assert second.ok, second
    assert cancels == len(emu.jobs)  # no second orderCancel

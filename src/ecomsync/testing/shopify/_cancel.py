"""
Cancelling orders: Shopify's ``orderCancel`` answers with a job that
cancels the order later (shopify.dev ``orderCancel``: "The job that
asynchronously cancels the order"); ``job(id:)`` says when it has run.
"""

from __future__ import annotations

from ._shop import Shop
from ._views import Row, gid, parse_gid, user_error


class Cancels:
    """
    The emulator's cancellations (mixed into `ShopifyEmulator`).
    """

    shop: Shop
    #: Queued jobs and those that ran, by number.
    jobs: dict[int, Row]
    #: How many ``job(id:)`` reads a cancellation job stays queued
    #: (``done: false``) before it runs; each read counts for every job
    #: queued (time passes for all of them).
    cancel_job_reads: int
    #: Orders (GIDs) whose cancellation job runs and cancels nothing: the
    #: job ends ``done``, the order stays open (a payment that could not
    #: be voided, say).
    failing_cancels: set[str]

    def cancel(self, order_id: str, reason: str, refund: bool | None) -> Row:
        """
        Cancel *order_id* at once, as the merchant does in Shopify's admin
        (the job run now): its fulfillment orders close.  Refused, as
        ``orderCancel`` refuses it, for an order that does not exist, is
        cancelled already or has fulfillments.
        """
        refused = self._refusal(order_id)
        if refused is not None:
            return refused
        self._cancelled(order_id, reason, refund)
        job = {"id": gid("Job", self.shop.next_id()), "done": True}
        return {"job": job, "orderCancelUserErrors": [], "userErrors": []}

    def cancel_later(
        self, order_id: str, reason: str, refund: bool | None
    ) -> Row:
        """
        ``orderCancel``: refused as `cancel` refuses it, else the answer's
        job is not done and the order not cancelled yet: the job cancels
        it when it runs (`job`, `run_jobs`).
        """
        refused = self._refusal(order_id)
        if refused is not None:
            return refused
        n = self.shop.next_id()
        self.jobs[n] = {
            "id": gid("Job", n),
            "done": False,
            "_reads": 0,
            "_order": (order_id, reason, refund),
        }
        job = {"id": gid("Job", n), "done": False}
        return {"job": job, "orderCancelUserErrors": [], "userErrors": []}

    def job(self, job_id: str) -> Row | None:
        """
        ``job(id:)``: every queued job comes one read nearer to running
        (`cancel_job_reads`); this one's ``id`` and ``done``.
        """
        n = parse_gid(job_id, "Job")
        if n is None or n not in self.jobs:
            return None
        for queued in self.jobs.values():
            if queued["done"]:
                continue
            if queued["_reads"] >= self.cancel_job_reads:
                self._run(queued)
            else:
                queued["_reads"] += 1
        return {"id": self.jobs[n]["id"], "done": self.jobs[n]["done"]}

    def run_jobs(self) -> None:
        """
        Run every queued job now (time passes).
        """
        for queued in self.jobs.values():
            if not queued["done"]:
                self._run(queued)

    def _run(self, job: Row) -> None:
        job["done"] = True
        order_id, reason, refund = job["_order"]
        order = self.shop.orders.get(parse_gid(order_id, "Order") or 0)
        if (
            order is None
            or order["cancelledAt"] is not None
            or order_id in self.failing_cancels
        ):
            return
        self._cancelled(order_id, reason, refund)

    def _refusal(self, order_id: str) -> Row | None:
        """
        ``orderCancel``'s answer refusing *order_id*, or None.
        """
        order = self.shop.orders.get(parse_gid(order_id, "Order") or 0)
        why = None
        if order is None:
            why = ("Order does not exist", "NOT_FOUND")
        elif order["cancelledAt"] is not None:
            why = ("Order has already been cancelled", "INVALID")
        elif order["fulfillments"]:
            why = (
                "Cannot cancel an order that has fulfillments; cancel them "
                "first",
                "INVALID",
            )
        if why is None:
            return None
        error = user_error(["orderId"], *why)
        return {
            "job": None,
            "orderCancelUserErrors": [error],
            "userErrors": [error],
        }

    def _cancelled(
        self, order_id: str, reason: str, refund: bool | None
    ) -> None:
        shop = self.shop
        order = shop.orders[parse_gid(order_id, "Order") or 0]
        order.update(
            cancelledAt=shop.now(), cancelReason=reason, updatedAt=shop.now()
        )
        if refund:
            order["displayFinancialStatus"] = "REFUNDED"
        for f in order["_fos"]:
            shop.fulfillment_orders[f]["status"] = "CLOSED"

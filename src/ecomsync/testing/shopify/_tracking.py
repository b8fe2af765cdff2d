"""
``fulfillmentTrackingInfoUpdate``: a fulfilment's tracking, replaced.

Shopify's mutation (Admin GraphQL 2026-01, successor of the deprecated
``fulfillmentTrackingInfoUpdateV2``) takes the fulfilment's id and a
``FulfillmentTrackingInput`` (``number`` or ``numbers``, ``company``,
``url`` or ``urls``) and answers the updated fulfilment, or
``userErrors``: https://shopify.dev/docs/api/admin-graphql/latest/
mutations/fulfillmentTrackingInfoUpdate.  The wording of the refusal of
an unknown fulfilment is the emulator's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._views import Row, parse_gid, refused


if TYPE_CHECKING:
    from ._shop import Shop


class Tracking:
    """
    The tracking side of the emulated shop's fulfilments.
    """

    shop: Shop

    def track(self, fulfillment_id: str, tracking: Row) -> Row:
        """
        Replace the tracking of fulfilment *fulfillment_id* with
        *tracking*; the order's ``updatedAt`` moves.
        """
        if tracking.get("url") and not (
            tracking.get("number") or tracking.get("numbers")
        ):
            return refused(
                "fulfillment",
                ["trackingInfoInput", "url"],
                "A tracking URL requires a tracking number.",
                "INVALID",
            )
        wanted = parse_gid(fulfillment_id, "Fulfillment")
        for order in self.shop.orders.values():
            for fulfilment in order["fulfillments"]:
                if parse_gid(fulfilment["id"], "Fulfillment") != wanted:
                    continue
                numbers = (
                    [tracking["number"]]
                    if tracking.get("number")
                    else list(tracking.get("numbers") or [])
                )
                fulfilment["trackingInfo"] = [
                    {
                        "company": tracking.get("company"),
                        "number": number,
                        "url": tracking.get("url"),
                    }
                    for number in numbers
                ]
                order["updatedAt"] = self.shop.now()
                return {"fulfillment": fulfilment, "userErrors": []}
        return refused(
            "fulfillment",
            ["fulfillmentId"],
            "Fulfillment does not exist.",
            "NOT_FOUND",
        )

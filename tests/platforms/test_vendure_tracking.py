"""
Tracking numbers the Vendure adapter tells as order notes, without a
server: what a fulfilment carries is not told again, whatever the
whitespace around it in the ERP.
"""

from __future__ import annotations

from ecomsync import OrderState, OrderStatus
from ecomsync.platforms.vendure._orders import _untracked


def _order(*codes: str) -> dict[str, object]:
    return {
        "fulfillments": [
            {"id": str(i), "state": "Shipped", "trackingCode": code}
            for i, code in enumerate(codes)
        ]
    }


class TestUntracked:
    """
    The tracking numbers of a shipped status no fulfilment carries.
    """

    def test_whitespace_is_not_a_new_number(self) -> None:
        """A number the ERP keeps with a trailing blank ("JJD1 "), on
        the fulfilment as sent, was taken for a new one: a public note
        "Tracking number: JJD1 " at each push, never found as posted
        (the notes are compared stripped).  It is carried."""
        status = OrderStatus(
            number="1",
            state=OrderState.SHIPPED,
            tracking_numbers=("JJD1 ", " JJD2"),
        )

        assert [] == _untracked(status, _order("JJD1 ,  JJD2"))

    def test_a_new_number_is_told_stripped(self) -> None:
        """A number the fulfilment lacks is told without its blanks, once
        (the note compares equal to the one posted); blank ones never."""
        status = OrderStatus(
            number="1",
            state=OrderState.COMPLETED,
            tracking_numbers=("JJD1", " JJD3 ", "JJD3", "  "),
        )

        assert ["JJD3"] == _untracked(status, _order("JJD1"))

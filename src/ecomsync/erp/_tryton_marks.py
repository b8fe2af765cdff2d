"""
Writing the marks of the sales ecomsync imported: the lines of their
attachment `MARKS_ATTACHMENT`.  A sale an import finds without that
attachment gets one (`SaleMarks.adopt`): the marks an earlier version
kept in its comment (which Tryton prints) and the shop's order it kept
in a note move there, and a sale whose marks the merchant deleted has
its platform's line again.  Marks added later (the platform of an order
imported for none, a cancellation in the shop) are written on the
attachment alone: order status reads a sale whose attachments changed
as a changed sale (`TrytonSession._sale_rows`), so the sale itself is
never written for a mark.
"""

from __future__ import annotations

from typing import Any

import attrs

from .._model import Order
from ._tryton_parties import Parties
from ._tryton_rpc import Rpc
from ._tryton_sales import (
    CANCELLED_MARK,
    IMPORTED_MARK,
    MARK_FIELDS,
    is_imported,
    is_mark,
    is_marked_cancelled,
    marks_attachment,
    marks_values,
    platform_line,
    sale_mark,
    sale_marks,
    sale_platform,
    with_line,
)
from ._tryton_shop_order import ORDER_MARK, order_line, recorded_digests


#: The fields of ``sale.sale`` `SaleMarks.adopt` needs of a sale: its
#: marks, and the notes where earlier versions kept the shop's order.
ADOPT_FIELDS = ["notes.message", *MARK_FIELDS]


@attrs.define
class SaleMarks:
    """
    The marks of the sales `OrderImporter` finds, for one session.
    """

    _rpc: Rpc
    _parties: Parties

    async def adopt(self, order: Order, row: dict[str, Any]) -> None:
        """
        Keep the marks of the sale *row* of *order* (read with
        `ADOPT_FIELDS`) on its marks attachment alone, made where it has
        none, *row* taking them: the marks lines of its comment (an
        earlier version's) move there, the comment keeping the
        merchant's lines, and so does the shop's order as an earlier
        version recorded it in a note (the note deleted); a sale with no
        marks left (found by its customer's party, `customer_sales`)
        gets the line of *order*'s platform.  One write of the sale, so
        a process stopped in the middle leaves the marks in one place or
        the other, never lost nor doubled (and one read, for the
        attachment made).  No call for a sale whose marks are where they
        belong.
        """
        attachment = marks_attachment(row)
        comment = (row.get("comment") or "").splitlines()
        moved = [line for line in comment if is_mark(line)]
        if attachment is not None and not moved:
            return
        sale = int(row["id"])
        values: dict[str, Any] = {}
        if moved:
            kept = [line for line in comment if not is_mark(line)]
            values["comment"] = "\n".join(kept) or None
        if attachment is not None:
            # a sale of the version before, recorded again: the shop's
            # order on the attachment, its marks still in the comment
            lines = [
                *moved,
                *(attachment.get("description") or "").splitlines(),
            ]
            text = _marks_text(lines)
            values["attachments"] = [
                ["write", [int(attachment["id"])], {"description": text}]
            ]
            await self._rpc.model("sale.sale", "write", [sale], values)
            row["comment"] = values["comment"]
            attachment["description"] = text
            row["attachments."] = [
                attachment if a.get("id") == attachment["id"] else a
                for a in row.get("attachments.") or []
            ]
            return
        if not is_imported("\n".join(moved)):
            moved.insert(0, sale_mark(order.platform))
        recorded, holder = recorded_digests(row)
        if holder is not None and holder[0] == "ir.note":
            moved.append(order_line(recorded))
            values["notes"] = [
                [
                    "delete",
                    [
                        int(note["id"])
                        for note in row.get("notes.") or []
                        if (note.get("message") or "").startswith(ORDER_MARK)
                    ],
                ]
            ]
        values["attachments"] = [
            ["create", [marks_values(None, _marks_text(moved))]]
        ]
        await self._rpc.model("sale.sale", "write", [sale], values)
        (fresh,) = await self._rpc.read("sale.sale", [sale], ADOPT_FIELDS)
        row.update(fresh)

    async def mark_platform(self, order: Order, rows: list[Any]) -> None:
        """
        Mark the sales of *order* made before imports named the platform
        (all of *rows*, the sales that held its number then, a cancelled
        twin too, each with its attachment: `adopt`) as its platform's,
        and their customer's party, so another platform's order and
        customer with those numbers no longer match them.
        """
        if order.platform is None:
            return
        for row in rows:
            if sale_platform(sale_marks(row)) is not None:
                continue
            line = platform_line(order.platform)
            await self._write(order, row, line, drop=IMPORTED_MARK)
            if row.get("party"):
                await self._parties.mark(order, int(row["party"]))

    async def mark_cancelled(self, order: Order, row: Any) -> None:
        """
        Note on a handled sale (*row*, with its attachment: `adopt`)
        that the shop cancelled its order, so order status reads it as
        cancelled (as the shop has it) instead of pushing "in progress"
        or "shipped" to a cancelled order, which the shop refuses on
        every run.
        """
        if is_marked_cancelled(sale_marks(row)):
            return
        await self._write(order, row, CANCELLED_MARK)

    async def _write(
        self, order: Order, row: Any, line: str, drop: str | None = None
    ) -> None:
        """
        Add *line* to the marks of the sale *row* of *order* (read with
        `ADOPT_FIELDS`), without the line *drop*, on its marks
        attachment: one write of the attachment, none of the sale.  *row*
        takes the marks written.
        """
        await self.adopt(order, row)  # no call: found, it was adopted
        attachment = marks_attachment(row)
        assert attachment is not None  # adopt made it
        text = attachment.get("description")
        kept = [ln for ln in (text or "").splitlines() if ln != drop]
        text = with_line("\n".join(kept), line)
        await self._rpc.model(
            "ir.attachment",
            "write",
            [int(attachment["id"])],
            {"description": text},
        )
        attachment["description"] = text
        row["attachments."] = [
            attachment if a.get("id") == attachment["id"] else a
            for a in row.get("attachments.") or []
        ]


def _marks_text(lines: list[str]) -> str:
    """
    The marks *lines* as one text, each once, without `IMPORTED_MARK`
    beside a platform's line (a platform named it since).
    """
    unique = list(dict.fromkeys(lines))
    if sale_platform("\n".join(unique)) is not None:
        unique = [line for line in unique if line != IMPORTED_MARK]
    return "\n".join(unique)

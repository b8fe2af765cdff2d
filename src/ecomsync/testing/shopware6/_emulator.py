"""
The emulated shop itself: configuration, tokens, and the records tests
and benchmarks inspect afterwards.  Seeding (`._seed`), media upload
(`._media`), state transitions (`._states`) and the checkout
(`._checkout`) live in their own modules; the HTTP surface in `._app`.
"""

from __future__ import annotations

import secrets
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from ..._model import Order
from .._faults import Faults, FaultSwitch
from . import _checkout, _media, _states
from ._errors import ApiError
from ._media import MediaFile
from ._schema import ENTITIES
from ._seed import SeedIds, seed_rows
from ._states import TransitionRecord
from ._store import Row, Store, fmt_date
from ._writer import Writer


@attrs.frozen
class RequestRecord:
    """
    One request as the emulator saw it.
    """

    method: str
    path: str
    route: str
    status: int
    items: int
    bytes_in: int
    bytes_out: int


def _default_clock() -> datetime:
    return datetime.now(UTC)


class ShopwareEmulator(FaultSwitch):
    """
    An in-memory Shopware 6 Admin API.  Serve `app` (ASGI) in-process
    with ``httpx.ASGITransport(app=emulator.app)`` or on loopback with
    `serve`.

    *clock* returns the shop's "now" (aware datetimes); tests inject one to
    expire tokens and stamp ``createdAt``/``updatedAt``.
    *auth_throttle_after* failed token requests in a row make the token
    endpoint answer 429 ``FRAMEWORK__AUTH_THROTTLED`` for
    *auth_throttle_seconds* (``None`` disables).  *keep_media_bytes*
    keeps uploaded bytes in memory (benchmarks keep only hash and size).
    """

    def __init__(
        self,
        *,
        client_id: str = "SWIAEMULATOR0000000000000",
        client_secret: str = "emulator-secret",  # noqa: S107 - a test double
        token_ttl: int = 600,
        faults: Faults | None = None,
        clock: Callable[[], datetime] | None = None,
        auth_throttle_after: int | None = 10,
        auth_throttle_seconds: int = 10,
        keep_media_bytes: bool = True,
        request_log_size: int = 100_000,
    ) -> None:
        from ._app import App

        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.clock = clock or _default_clock
        self.auth_throttle_after = auth_throttle_after
        self.auth_throttle_seconds = auth_throttle_seconds
        self.keep_media_bytes = keep_media_bytes
        self.ids = SeedIds()
        self.store = Store()
        self.tokens: dict[str, datetime] = {}
        self.requests: deque[RequestRecord] = deque(maxlen=request_log_size)
        self.route_counts: Counter[str] = Counter()
        self.bytes_received = 0
        self.bytes_sent = 0
        self.transitions: list[TransitionRecord] = []
        self.media_files: dict[str, MediaFile] = {}
        # (fileName, extension) casefolded -> media id; MySQL's default
        # collation compares case-insensitively.
        self._file_names: dict[tuple[str, str], str] = {}
        self._auth_failures = 0
        self._throttled_until: datetime | None = None
        self._order_seq = 10000
        # "raise": in-process resets raise httpx.ReadError; "close": on a
        # real server the connection is dropped.
        self.abort_mode = "raise"
        self._switch_faults(faults)
        self._seed()
        self.app = App(self)

    # -- configuration ---------------------------------------------------

    @property
    def entities(self) -> dict[str, dict[str, Row]]:
        """
        The committed rows, as ``entities["product"][id] -> dict``;
        mapping entities are keyed ``"<a>-<b>"``.

        A test may edit them by hand, as a merchant would in the
        administration: a row deleted here is gone for every search and
        association at once, and one whose field changed here is no
        longer found by the old value.  It is found by the new value of
        an indexed field (a product's ``productNumber`` or ``parentId``,
        an order's ``orderNumber``) only once written through the API.
        """
        return self.store.entities

    def now(self) -> datetime:
        return self.clock()

    def now_str(self) -> str:
        return fmt_date(self.clock())

    # -- seeding ---------------------------------------------------------

    def _put(self, entity: str, row: Row) -> None:
        row.setdefault("createdAt", self.now_str())
        row.setdefault("updatedAt", None)
        key = row["id"]
        self.store.put(entity, key, row)

    def _seed(self) -> None:
        for entity, row in seed_rows(self.ids):
            self._put(entity, row)

    # -- auth ------------------------------------------------------------

    def issue_token(self, client_id: str, client_secret: str) -> str:
        now = self.now()
        if (
            self.auth_throttle_after is not None
            and self._throttled_until is not None
        ):
            if now < self._throttled_until:
                secs = int((self._throttled_until - now).total_seconds()) + 1
                raise ApiError.one(
                    429,
                    "FRAMEWORK__AUTH_THROTTLED",
                    f"Auth throttled for {secs} seconds.",
                    parameters={"seconds": secs},
                )
            self._throttled_until = None
            self._auth_failures = 0
        if not (
            secrets.compare_digest(client_id, self.client_id)
            and secrets.compare_digest(client_secret, self.client_secret)
        ):
            self._auth_failures += 1
            if (
                self.auth_throttle_after is not None
                and self._auth_failures >= self.auth_throttle_after
            ):
                self._throttled_until = now + timedelta(
                    seconds=self.auth_throttle_seconds
                )
            raise ApiError.one(
                401, "4", None, title="Client authentication failed"
            )
        self._auth_failures = 0
        token = secrets.token_urlsafe(32)
        self.tokens[token] = now + timedelta(seconds=self.token_ttl)
        return token

    def check_token(self, authorization: str | None) -> None:
        def denied(detail: str) -> ApiError:
            return ApiError.one(
                401,
                "9",
                detail,
                title=(
                    "The resource owner or authorization server denied "
                    "the request."
                ),
            )

        if not authorization:
            raise denied('Missing "Authorization" header')
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise denied("Access token could not be verified")
        expires = self.tokens.get(token.strip())
        if expires is None:
            raise denied("Access token could not be verified")
        if self.now() >= expires:
            raise denied("Access token is expired")

    def revoke_tokens(self) -> None:
        """
        Invalidate every issued token (F11: the shop revokes early).
        """
        self.tokens.clear()

    # -- writes ----------------------------------------------------------

    def writer(self) -> Writer:
        return Writer(self.store, self.now_str(), self._on_delete)

    def _on_delete(self, entity: str, key: str, row: Row) -> None:
        if entity == "media":
            self.media_files.pop(key, None)
            _media.drop_file_name(self._file_names, key, row)

    # -- media -----------------------------------------------------------

    def upload_media(
        self,
        media_id: str,
        data: bytes,
        *,
        extension: str | None,
        file_name: str | None,
        content_type: str,
        base_url: str,
    ) -> None:
        """
        ``POST /api/_action/media/{id}/upload`` (§1.6).
        """
        _media.upload(
            self,
            media_id,
            data,
            extension=extension,
            file_name=file_name,
            content_type=content_type,
            base_url=base_url,
        )

    def media_bytes(self, media_id: str) -> bytes | None:
        """
        The bytes last uploaded to *media_id* (``None`` if none or not
        kept).
        """
        f = self.media_files.get(media_id)
        return f.data if f else None

    def media_sha256(self, media_id: str) -> str | None:
        f = self.media_files.get(media_id)
        return f.sha256 if f else None

    # -- state machines --------------------------------------------------

    def current_state(self, entity: str, entity_id: str) -> tuple[Row, str]:
        return _states.current_state(self, entity, entity_id)

    def available_transitions(
        self, entity: str, entity_id: str
    ) -> list[dict[str, Any]]:
        return _states.available_transitions(self, entity, entity_id)

    def transition(
        self,
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
        return _states.transition(
            self,
            entity,
            entity_id,
            action,
            send_mail=send_mail,
            skip_flow=skip_flow,
            internal_comment=internal_comment,
        )

    @property
    def mails(self) -> list[TransitionRecord]:
        """
        Transitions that would have sent a mail.
        """
        return [t for t in self.transitions if t.mail_sent]

    # -- helpers for tests and benchmarks --------------------------------

    def place_order(
        self,
        *,
        order_number: str | None = None,
        customer: Mapping[str, Any] | None = None,
        lines: Sequence[Mapping[str, Any]] = (),
        created_at: datetime | None = None,
        shipping_address: Mapping[str, Any] | None = None,
        shipping_costs: float = 0.0,
        customer_comment: str | None = None,
        order_id: str | None = None,
        tax_status: str = "gross",
    ) -> str:
        """
        Create an order as the storefront checkout would: order,
        order_customer, billing (and shipping) order_address, line items,
        one delivery and one transaction, all in state ``open``; products
        referenced by ``productNumber``/``productId`` lose stock.  Returns
        the order id.

        *customer*: ``email, firstName, lastName`` and optionally
        ``customerNumber, customerId, company, street, zipcode, city,
        countryId, phoneNumber, guest``; a ``customer`` row is created
        unless one with that email exists.  *lines*: ``productNumber`` or
        ``productId``, ``quantity``, optional ``unitPrice, label,
        taxRate``; a line with a ``type`` other than ``product`` (e.g.
        ``promotion``, with a negative ``unitPrice`` and optional
        ``identifier, referencedId, payload``) refers to no product.

        *tax_status* is the order's: ``gross`` (the storefront default),
        ``net`` (a B2B customer group: *unitPrice* and *shipping_costs*
        are net, each line's tax is added on top) or ``tax-free``.  Every
        line item and the shipping costs get Shopware's calculated
        ``price`` (total and tax rounded per line); the order's
        ``amountTotal`` is the gross sum.
        """
        self._order_seq += 1
        return _checkout.place_order(
            self,
            self._order_seq,
            order_number=order_number,
            customer=customer,
            lines=lines,
            created_at=created_at,
            shipping_address=shipping_address,
            shipping_costs=shipping_costs,
            customer_comment=customer_comment,
            order_id=order_id,
            tax_status=tax_status,
        )

    def place(
        self, order: Order, *, created_at: datetime | None = None
    ) -> str:
        """
        `place_order` for an ecomsync `Order`: its number, customer,
        billing address, lines, shipping and (as one promotion line)
        discount.  Returns the order id.
        """
        return self.place_order(
            order_number=order.number,
            customer={
                "email": order.customer.email,
                "firstName": order.customer.first_name,
                "lastName": order.customer.last_name,
                "customerNumber": order.customer.number,
                "street": order.billing.street,
                "zipcode": order.billing.zip_code,
                "city": order.billing.city,
            },
            lines=[
                {
                    "productNumber": line.article_number,
                    "quantity": line.quantity,
                    "unitPrice": float(line.unit_price),
                    "label": line.name,
                }
                for line in order.lines
            ]
            + (
                [
                    {
                        "type": "promotion",
                        "quantity": 1,
                        "unitPrice": -float(order.discount_total),
                        "label": "Discount",
                    }
                ]
                if order.discount_total
                else []
            ),
            shipping_costs=float(order.shipping_total),
            created_at=created_at,
        )

    def touch(self, entity: str, id: str, at: datetime | None = None) -> None:
        """
        Set ``updatedAt`` of one row, as a shop-side edit would.
        """
        if entity not in ENTITIES:
            raise KeyError(entity)
        row = self.store.get(entity, id)
        if row is None:
            raise KeyError(id)
        self.store.put(
            entity, id, {**row, "updatedAt": fmt_date(at or self.now())}
        )

    def record(self, rec: RequestRecord) -> None:
        self.requests.append(rec)
        self.route_counts[rec.route] += 1
        self.bytes_received += rec.bytes_in
        self.bytes_sent += rec.bytes_out

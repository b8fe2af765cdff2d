"""
The emulated shop itself: seeded data, tokens, uploaded files, state
transitions, and the records tests and benchmarks inspect afterwards.
The HTTP surface lives in `._app`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import socket
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import attrs

from ..._model import Order
from ._errors import ApiError
from ._faults import FaultRuntime, Faults
from ._mime import detect_mime_type
from ._schema import (
    DEFAULT_CURRENCY,
    ENTITIES,
    ID_RE,
    STATE_MACHINES,
    SYSTEM_LANGUAGE,
    seed_id,
)
from ._store import Row, Store
from ._writer import Writer


# shopware.filesystem.allowed_extensions and private_allowed_extensions
# (Resources/config/packages/shopware.yaml); FileSaver::
# validateFileExtension picks the list by the media's `private` flag.
ALLOWED_EXTENSIONS = frozenset(
    {
        *("jpg", "jpeg", "png", "webp", "avif", "gif", "svg", "bmp"),
        *("tiff", "tif", "eps", "webm", "mkv", "flv", "ogv", "ogg", "mov"),
        *("mp4", "avi", "wmv", "pdf", "aac", "mp3", "wav", "flac", "oga"),
        *("wma", "txt", "doc", "ico", "glb", "csv", "xls", "xlsx"),
    }
)
PRIVATE_ALLOWED_EXTENSIONS = ALLOWED_EXTENSIONS | {"zip", "rar"}


def fmt_date(dt: datetime) -> str:
    """
    Shopware's response format (RFC 3339 with milliseconds), UTC.
    """
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="milliseconds")


@attrs.frozen
class SeedIds:
    """
    Ids of the seeded rows.
    """

    currency: str = DEFAULT_CURRENCY
    language: str = SYSTEM_LANGUAGE
    tax_standard: str = seed_id("tax.19")
    tax_reduced: str = seed_id("tax.7")
    sales_channel: str = seed_id("sales_channel.storefront")
    # Shopware's Defaults::FALLBACK_CUSTOMER_GROUP.
    customer_group: str = "cfbd5018d38d41d8adca10d94fc8bdd6"
    country_de: str = seed_id("country.DE")
    salutation: str = seed_id("salutation.not_specified")
    payment_method: str = seed_id("payment_method.invoice")
    shipping_method: str = seed_id("shipping_method.standard")
    root_category: str = seed_id("category.home")


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


@attrs.frozen
class MediaFile:
    sha256: str
    size: int
    mime_type: str
    data: bytes | None


def _default_clock() -> datetime:
    return datetime.now(UTC)


class ShopwareEmulator:
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
        self._faults = faults or Faults()
        self.fault_runtime = FaultRuntime.from_faults(self._faults)
        self._seed()
        self.app = App(self)

    # -- configuration ---------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self._faults = faults
        self.fault_runtime = FaultRuntime.from_faults(faults)

    @property
    def entities(self) -> dict[str, dict[str, Row]]:
        """
        The committed rows, as ``entities["product"][id] -> dict``;
        mapping entities are keyed ``"<a>-<b>"``.
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
        i = self.ids
        self._put(
            "currency",
            {
                "id": i.currency,
                "isoCode": "EUR",
                "factor": 1.0,
                "symbol": "€",
                "name": "Euro",
                "shortName": "EUR",
            },
        )
        self._put("language", {"id": i.language, "name": "English"})
        self._put(
            "tax",
            {
                "id": i.tax_standard,
                "taxRate": 19.0,
                "name": "Standard rate",
                "position": 1,
            },
        )
        self._put(
            "tax",
            {
                "id": i.tax_reduced,
                "taxRate": 7.0,
                "name": "Reduced rate",
                "position": 2,
            },
        )
        self._put(
            "customer_group",
            {
                "id": i.customer_group,
                "name": "Standard customer group",
                "displayGross": True,
            },
        )
        self._put(
            "country",
            {
                "id": i.country_de,
                "iso": "DE",
                "iso3": "DEU",
                "name": "Germany",
                "active": True,
            },
        )
        self._put(
            "salutation",
            {
                "id": i.salutation,
                "salutationKey": "not_specified",
                "displayName": "Not specified",
            },
        )
        self._put(
            "payment_method",
            {
                "id": i.payment_method,
                "name": "Invoice",
                "technicalName": "payment_invoice",
                "active": True,
            },
        )
        self._put(
            "shipping_method",
            {
                "id": i.shipping_method,
                "name": "Standard",
                "technicalName": "shipping_standard",
                "active": True,
            },
        )
        self._put(
            "category",
            {
                "id": i.root_category,
                "name": "Home",
                "parentId": None,
                "active": True,
                "type": "page",
                "level": 1,
            },
        )
        self._put(
            "sales_channel",
            {
                "id": i.sales_channel,
                "name": "Storefront",
                "typeId": "8a243080f92e4c719546314b577cf82b",
                "accessKey": "SWSCEMULATOR",
                "currencyId": i.currency,
                "languageId": i.language,
                "customerGroupId": i.customer_group,
                "countryId": i.country_de,
                "paymentMethodId": i.payment_method,
                "shippingMethodId": i.shipping_method,
                "navigationCategoryId": i.root_category,
                "active": True,
            },
        )
        for sm in STATE_MACHINES.values():
            self._put(
                "state_machine",
                {
                    "id": sm.id,
                    "technicalName": sm.technical_name,
                    "name": sm.technical_name,
                    "initialStateId": sm.state_id(sm.initial),
                },
            )
            for s in sm.states:
                self._put(
                    "state_machine_state",
                    {
                        "id": sm.state_id(s),
                        "technicalName": s,
                        "name": s.replace("_", " ").capitalize(),
                        "stateMachineId": sm.id,
                    },
                )

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
            self._drop_file_name(key, row)

    def _drop_file_name(self, media_id: str, row: Row) -> None:
        name, ext = row.get("fileName"), row.get("fileExtension")
        if isinstance(name, str) and isinstance(ext, str):
            k = (name.casefold(), ext.casefold())
            if self._file_names.get(k) == media_id:
                del self._file_names[k]

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
        if not ID_RE.match(media_id):
            raise ApiError.one(
                400,
                "FRAMEWORK__INVALID_UUID",
                f'The string "{media_id}" is not a valid uuid.',
            )
        row = self.store.get("media", media_id)
        if row is None:
            raise ApiError.one(
                404,
                "CONTENT__MEDIA_NOT_FOUND",
                f'Media for id "{media_id}" not found.',
                parameters={"mediaId": media_id},
            )
        if not extension:
            raise ApiError.one(
                400,
                "CONTENT__MEDIA_MISSING_FILE_EXTENSION",
                'No file extension provided. Please use the "extension" '
                "query parameter to specify the extension of the uploaded "
                "file.",
            )
        if content_type.split(";", 1)[0].strip() == "application/json":
            self._fetch_url(data)
        ext = extension.lower()
        allowed = (
            PRIVATE_ALLOWED_EXTENSIONS
            if row.get("private")
            else ALLOWED_EXTENSIONS
        )
        if ext not in allowed:
            # MediaException::fileExtensionNotSupported.
            raise ApiError.one(
                400,
                "CONTENT__MEDIA_FILE_TYPE_NOT_SUPPORTED",
                f'The file extension "{ext}" for media object with id '
                f"{media_id} is not supported.",
                parameters={"mediaId": media_id, "extension": ext},
            )
        if not data:
            raise ApiError.one(
                400,
                "CONTENT__MEDIA_EMPTY_FILE",
                "Expected a file, but the uploaded file is empty.",
            )
        name = file_name or media_id
        k = (name.casefold(), ext)
        owner = self._file_names.get(k)
        if owner is not None and owner != media_id:
            raise ApiError.one(
                400,
                "CONTENT__MEDIA_DUPLICATED_FILE_NAME",
                f'A file with the name "{name}.{ext}" already exists.',
                parameters={"fileName": name, "fileExtension": ext},
            )
        self._drop_file_name(media_id, row)
        self._file_names[k] = media_id
        # FileFetcher::fetchRequestData ignores the Content-Type header:
        # FileInfoHelper::getMimeType sniffs the stored bytes.
        mime = detect_mime_type(data, ext)
        digest = hashlib.sha256(data).hexdigest()
        self.media_files[media_id] = MediaFile(
            digest, len(data), mime, data if self.keep_media_bytes else None
        )
        now = self.now_str()
        self.store.put(
            "media",
            media_id,
            {
                **row,
                "fileName": name,
                "fileExtension": ext,
                "mimeType": mime,
                "fileSize": len(data),
                "hasFile": True,
                "uploadedAt": now,
                "path": f"media/{digest[:2]}/{digest[2:4]}/{name}.{ext}",
                "url": (
                    f"{base_url}/media/{digest[:2]}/{digest[2:4]}/{name}.{ext}"
                ),
                "updatedAt": now,
            },
        )

    @staticmethod
    def _fetch_url(body: bytes) -> None:
        """
        The URL variant.  Private, loopback and reserved targets are
        refused like Shopware's FileUrlValidator; anything else fails
        because the emulator has no internet.
        """
        import json

        try:
            url = json.loads(body)["url"]
            parts = urlsplit(str(url))
        except (ValueError, KeyError, TypeError):
            raise ApiError.one(
                400,
                "CONTENT__MEDIA_INVALID_URL",
                "Provided URL is invalid.",
            ) from None
        host = parts.hostname or ""
        illegal = parts.scheme not in ("http", "https") or not host
        if not illegal:
            illegal = host == "localhost" or host.endswith(".localhost")
        if not illegal:
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                try:  # legacy forms: 0x7f000001, 2130706433, 127.1
                    ip = ipaddress.ip_address(socket.inet_aton(host))
                except OSError:
                    ip = None
            if ip is not None:
                illegal = not ip.is_global
        if illegal:
            raise ApiError.one(
                400,
                "CONTENT__MEDIA_ILLEGAL_URL",
                f'Provided URL "{url}" is not allowed.',
                parameters={"url": url},
            )
        raise ApiError.one(
            400,
            "CONTENT__MEDIA_CANNOT_OPEN_SOURCE_STREAM_TO_READ",
            f'Cannot open source stream to read from "{url}".',
            parameters={"url": url},
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
        sm = STATE_MACHINES.get(entity)
        row = self.store.get(entity, entity_id) if sm else None
        if sm is None or row is None or not ID_RE.match(entity_id):
            raise ApiError.one(
                400,
                "SYSTEM__STATE_MACHINE_INVALID_ENTITY_ID",
                f'The entity id "{entity_id}" is invalid for the state '
                f'machine entity "{entity}".',
                parameters={"entityName": entity, "entityId": entity_id},
            )
        state = self.store.get("state_machine_state", row["stateId"])
        assert state is not None
        return row, state["technicalName"]

    def available_transitions(
        self, entity: str, entity_id: str
    ) -> list[dict[str, Any]]:
        sm = STATE_MACHINES.get(entity)
        _, state = self.current_state(entity, entity_id)
        assert sm is not None
        out = []
        for action, to in sm.possible(state):
            to_row = self.store.get("state_machine_state", sm.state_id(to))
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
        sm = STATE_MACHINES.get(entity)
        row, state = self.current_state(entity, entity_id)
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
        now = self.now_str()
        self.store.put(
            entity,
            entity_id,
            {**row, "stateId": sm.state_id(target), "updatedAt": now},
        )
        if entity == "order":
            self._restock(entity_id, state, target)
        self.transitions.append(
            TransitionRecord(
                entity=entity,
                entity_id=entity_id,
                action=action,
                from_state=state,
                to_state=target,
                send_mail=send_mail,
                mail_sent=send_mail and not skip_flow,
                internal_comment=internal_comment,
                at=self.now(),
            )
        )
        new = self.store.get("state_machine_state", sm.state_id(target))
        assert new is not None
        return new

    def _restock(self, order_id: str, old: str, new: str) -> None:
        # Since 6.6 stock is the live value: cancelling gives it back,
        # reopening a cancelled order takes it again (§1.7).
        if new == "cancelled":
            sign = 1
        elif old == "cancelled":
            sign = -1
        else:
            return
        for k in self.store.find("order_line_item", "orderId", order_id):
            li = self.store.get("order_line_item", k)
            pid = li.get("productId") if li else None
            prod = self.store.get("product", pid) if pid else None
            if li is not None and prod is not None and pid is not None:
                stock = int(prod.get("stock") or 0) + sign * int(
                    li.get("quantity") or 0
                )
                self.store.put("product", pid, {**prod, "stock": stock})

    @property
    def mails(self) -> list[TransitionRecord]:
        """
        Transitions that would have sent a mail.
        """
        return [t for t in self.transitions if t.mail_sent]

    # -- helpers for tests and benchmarks --------------------------------

    def place_order(  # noqa: PLR0915 - one checkout, many rows
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
        ``productId``, ``quantity``, optional ``unitPrice, label``.
        """
        i = self.ids
        at = fmt_date(created_at or self.now())
        self._order_seq += 1
        number = order_number or str(self._order_seq)
        oid = order_id or seed_id(f"order.{number}")
        c = dict(customer or {})
        c.setdefault("email", f"customer{self._order_seq}@example.com")
        c.setdefault("firstName", "Erika")
        c.setdefault("lastName", "Mustermann")

        def row(entity: str, data: Row) -> str:
            data.setdefault("createdAt", at)
            data.setdefault("updatedAt", None)
            self.store.put(entity, data["id"], data)
            return str(data["id"])

        def address(prefix: str, src: Mapping[str, Any]) -> Row:
            return {
                "id": seed_id(f"{prefix}.{oid}"),
                "orderId": oid,
                "countryId": src.get("countryId", i.country_de),
                "salutationId": i.salutation,
                "firstName": src.get("firstName", c["firstName"]),
                "lastName": src.get("lastName", c["lastName"]),
                "street": src.get("street", "Musterstraße 1"),
                "zipcode": src.get("zipcode", "12345"),
                "city": src.get("city", "Musterstadt"),
                "company": src.get("company"),
                "phoneNumber": src.get("phoneNumber"),
                "additionalAddressLine1": src.get("additionalAddressLine1"),
                "vatId": src.get("vatId"),
            }

        cust_id = c.get("customerId")
        if cust_id is None:
            found = self.store.find("customer", "email", c["email"])
            cust_id = found[0] if found else None
        if cust_id is None:
            cust_id = seed_id(f"customer.{c['email']}")
            addr_id = seed_id(f"customer_address.{c['email']}")
            ca = address("customer_address", c)
            del ca["orderId"]
            row(
                "customer_address",
                {**ca, "id": addr_id, "customerId": cust_id},
            )
            row(
                "customer",
                {
                    "id": cust_id,
                    "groupId": i.customer_group,
                    "salesChannelId": i.sales_channel,
                    "languageId": i.language,
                    "defaultBillingAddressId": addr_id,
                    "defaultShippingAddressId": addr_id,
                    "customerNumber": c.get(
                        "customerNumber", str(self._order_seq)
                    ),
                    "firstName": c["firstName"],
                    "lastName": c["lastName"],
                    "email": c["email"],
                    "company": c.get("company"),
                    "guest": bool(c.get("guest", False)),
                    "salutationId": i.salutation,
                },
            )
        billing = row("order_address", address("billing", c))
        shipping = billing
        if shipping_address is not None:
            shipping = row(
                "order_address", address("shipping", shipping_address)
            )

        total = 0.0
        for n, line in enumerate(lines):
            pid = line.get("productId")
            number_ = line.get("productNumber")
            if pid is None and number_ is not None:
                found = self.store.find("product", "productNumber", number_)
                pid = found[0] if found else None
            prod = self.store.get("product", pid) if pid else None
            qty = int(line.get("quantity", 1))
            unit = line.get("unitPrice")
            if unit is None and prod is not None:
                unit = next(
                    (
                        p.get("gross")
                        for p in prod.get("price") or []
                        if p.get("currencyId") == DEFAULT_CURRENCY
                    ),
                    0.0,
                )
            unit = float(unit or 0.0)
            total += unit * qty
            if prod is not None and number_ is None:
                number_ = prod.get("productNumber")
            row(
                "order_line_item",
                {
                    "id": seed_id(f"line.{oid}.{n}"),
                    "orderId": oid,
                    "identifier": pid or f"custom-{n}",
                    "referencedId": pid,
                    "productId": pid,
                    "type": "product" if pid else "custom",
                    "quantity": qty,
                    "label": line.get(
                        "label", prod.get("name") if prod else f"Item {n}"
                    ),
                    "unitPrice": unit,
                    "totalPrice": round(unit * qty, 2),
                    "position": n + 1,
                    "payload": {"productNumber": number_},
                },
            )
            if prod is not None and pid is not None:
                self.store.put(
                    "product",
                    pid,
                    {**prod, "stock": int(prod.get("stock") or 0) - qty},
                )
        amount = round(total + shipping_costs, 2)
        row(
            "order",
            {
                "id": oid,
                "orderNumber": number,
                "currencyId": i.currency,
                "languageId": i.language,
                "salesChannelId": i.sales_channel,
                "billingAddressId": billing,
                "stateId": STATE_MACHINES["order"].state_id("open"),
                "orderDateTime": at,
                "amountTotal": amount,
                "amountNet": round(amount / 1.19, 2),
                "positionPrice": round(total, 2),
                "shippingTotal": shipping_costs,
                "taxStatus": "gross",
                "customerComment": customer_comment,
                "price": {
                    "totalPrice": amount,
                    "netPrice": round(amount / 1.19, 2),
                    "positionPrice": round(total, 2),
                    "rawTotal": amount,
                    "taxStatus": "gross",
                },
                "shippingCosts": {
                    "unitPrice": shipping_costs,
                    "quantity": 1,
                    "totalPrice": shipping_costs,
                },
            },
        )
        row(
            "order_customer",
            {
                "id": seed_id(f"order_customer.{oid}"),
                "orderId": oid,
                "customerId": cust_id,
                "email": c["email"],
                "firstName": c["firstName"],
                "lastName": c["lastName"],
                "company": c.get("company"),
                "customerNumber": c.get("customerNumber"),
                "salutationId": i.salutation,
            },
        )
        row(
            "order_delivery",
            {
                "id": seed_id(f"order_delivery.{oid}"),
                "orderId": oid,
                "shippingOrderAddressId": shipping,
                "shippingMethodId": i.shipping_method,
                "stateId": STATE_MACHINES["order_delivery"].state_id("open"),
                "trackingCodes": [],
                "shippingDateEarliest": at,
                "shippingDateLatest": at,
                "shippingCosts": {"totalPrice": shipping_costs},
            },
        )
        row(
            "order_transaction",
            {
                "id": seed_id(f"order_transaction.{oid}"),
                "orderId": oid,
                "paymentMethodId": i.payment_method,
                "stateId": STATE_MACHINES["order_transaction"].state_id(
                    "open"
                ),
                "amount": {"totalPrice": amount},
            },
        )
        return oid

    def place(
        self, order: Order, *, created_at: datetime | None = None
    ) -> str:
        """
        `place_order` for an ecomsync `Order`: its number, customer,
        billing address and lines.  Returns the order id.
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
            ],
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

"""
`TrytonErp`: a real Tryton server as the ERP, over JSON-RPC with httpx.

See ``docs/tryton.md`` for the modules and rights it needs and for what
maps to what.

.. versionadded:: 26.1.0
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from decimal import Decimal, InvalidOperation

import anyio
import attrs
import httpx

from .._anyio_util import task_group
from .._closing import AsyncResource
from .._settings import flag, name, seconds
from .._urls import check_url
from ..exceptions import ConfigurationError
from ._tryton_rpc import Rpc, TrytonError
from ._tryton_session import TrytonSession


__all__ = ["TrytonErp", "TrytonError"]


def _tax_rate(value: object) -> Decimal:
    # Decimal("x") raised a bare InvalidOperation; NaN and negative rates
    # were taken and reported for every article.
    try:
        rate = (
            value
            if isinstance(value, Decimal)
            else Decimal(str(value))
            if isinstance(value, int | float | str)
            and not isinstance(value, bool)
            else None
        )
    except InvalidOperation:
        rate = None
    if rate is None or not rate.is_finite() or rate < 0:
        raise ConfigurationError(
            f"TrytonErp tax_rate must be a percentage of 0 or more, "
            f"got {value!r}"
        )
    return rate


def _codes(value: Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = (value,)
    codes = tuple(value)
    if not codes or not all(isinstance(c, str) and c for c in codes):
        raise ConfigurationError(
            f"stock_warehouses must be warehouse codes, got {codes!r}"
        )
    return codes


def _url(_: object, __: object, value: str) -> None:
    check_url(value, what="the Tryton URL")


def _strip(url: str) -> str:
    return url.rstrip("/")


@attrs.frozen
class TrytonErp(AsyncResource):
    """
    A Tryton server (8.x) as the `ErpSource`.

    Every `session` is one Tryton session (login on enter, logout on exit),
    so a run holds exactly as many Tryton sessions as it holds licences.

    Args:
        url: The server, e.g. ``https://erp.example.com`` (no database).
        database: The Tryton database name.
        user: The login of the user *ecomsync* works as.
        password: Its password; never shown in a repr or a message.
        warehouse: The code of the warehouse imported orders ship from
            (default: the first by code); also the one warehouse whose
            stock counts unless *stock_warehouses* says otherwise.
        stock_warehouses: The codes of the warehouses whose stock counts
            (default: every warehouse, or *warehouse* when set).  An
            unknown code is a `ConfigurationError` on the first stock
            read.
        stock_per_warehouse: One `StockLevel` per counted warehouse, with
            the warehouse's code, for platforms with stock locations (the
            platform maps codes to its locations).  By default each
            article gets one level: the sum over the counted warehouses,
            with no warehouse.
        timeout: Seconds one request may take (a deadline, including
            connecting); past it the call fails as retryable.
        tax_rate: The tax rate reported for every article (Tryton's tax
            rules need accounting, which *ecomsync* does not read).
        gross_prices: Whether Tryton's list prices are gross (default);
            if not, the gross price is list price times ``1 + tax_rate``.
        confirm_orders: Quote and confirm imported sales (default), so that
            Tryton creates the shipments; otherwise they stay drafts.
        acknowledge_warnings: Acknowledge Tryton warnings raised while
            importing an order and retry once; by default a warning fails
            that order with Tryton's message.
        transport: An httpx transport (tests, proxies).

    Raises:
        ConfigurationError: A setting out of its range, naming it (never
            the password): the URL not an absolute http(s) one, an empty
            *database*, *user*, *password* or *warehouse*, a flag that is
            not ``True`` or ``False`` (``confirm_orders="no"`` would be
            true), *timeout* not a number of seconds above 0, *tax_rate*
            not a finite number of 0 or more.

    .. versionadded:: 26.1.0
    .. versionchanged:: 26.1.0
       Settings out of range are refused when the ERP is made.
    """

    url: str = attrs.field(converter=_strip, validator=_url)
    database: str = attrs.field(validator=name())
    user: str = attrs.field(validator=name())
    password: str = attrs.field(repr=False, validator=name(secret=True))
    warehouse: str | None = attrs.field(
        default=None, kw_only=True, validator=name(optional=True)
    )
    stock_warehouses: tuple[str, ...] | None = attrs.field(
        default=None, converter=_codes, kw_only=True
    )
    stock_per_warehouse: bool = attrs.field(
        default=False, kw_only=True, validator=flag
    )
    timeout: float = attrs.field(
        default=60.0, kw_only=True, validator=seconds()
    )
    tax_rate: Decimal = attrs.field(
        default=Decimal(19), converter=_tax_rate, kw_only=True
    )
    gross_prices: bool = attrs.field(
        default=True, kw_only=True, validator=flag
    )
    confirm_orders: bool = attrs.field(
        default=True, kw_only=True, validator=flag
    )
    acknowledge_warnings: bool = attrs.field(
        default=False, kw_only=True, validator=flag
    )
    transport: httpx.AsyncBaseTransport | None = attrs.field(
        default=None, repr=False, eq=False, kw_only=True
    )
    _closed: bool = attrs.field(
        init=False, default=False, repr=False, eq=False
    )
    #: Order and customer numbers being imported right now, by any session.
    _importing: dict[str, anyio.Event] = attrs.field(
        init=False, factory=dict, repr=False, eq=False
    )

    @asynccontextmanager
    async def _claimed(self, key: str) -> AsyncIterator[None]:
        """
        Hold *key* (an order or customer number) against every other
        session of this `TrytonErp`: Tryton has no unique sale reference or
        customer identifier, so two runs importing one order at once (a
        manual import while the scheduled one runs) would create it twice.
        """
        while (busy := self._importing.get(key)) is not None:
            await busy.wait()
        self._importing[key] = done = anyio.Event()
        try:
            yield
        finally:
            del self._importing[key]
            done.set()

    def __repr__(self) -> str:
        return f"<TrytonErp {self.url}/{self.database} as {self.user!r}>"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[TrytonSession]:
        """
        Log in, yield the session, log out (also on error/cancellation).
        Each session has its own connections; after ``aclose()`` a session
        raises `~ecomsync.exceptions.ResourceClosed`.
        """
        self._ensure_open()
        async with httpx.AsyncClient(
            transport=self.transport,
            timeout=self.timeout,
            # keep httpx's default Accept-Encoding: Tryton labels bodies
            # gzip only correctly when the client accepts gzip
            headers={"User-Agent": "ecomsync"},
        ) as client:
            rpc = Rpc(self.url, self.database, client, self.timeout)
            await rpc.login(self.user, self.password)
            try:
                async with task_group() as background:
                    try:
                        yield TrytonSession(self, rpc, background)
                    finally:
                        # a read ahead nobody will take
                        background.cancel_scope.cancel()
            finally:
                # the session dies with the server or expires anyway
                with anyio.CancelScope(shield=True), suppress(Exception):
                    await rpc.logout()

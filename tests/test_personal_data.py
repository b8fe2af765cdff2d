"""
Customers' personal data stays out of what a run records: an order that
fails, whatever says why (the engine's checks, the ERP's own words, an
error that ends the run), leaves no name, street, e-mail or phone number
in the failure ledger, the events, the logs or the exception; the
message names the field instead (the Tryton side is covered in
``tests/erp/test_tryton_sale_values.py``).
"""

from __future__ import annotations

import logging

import attrs
import pytest

from ecomsync import (
    Address,
    All,
    Customer,
    DataType,
    MemoryErp,
    MemoryPlatform,
    Order,
    Outcome,
    RecordFailed,
    RecordRejected,
    SqliteStore,
    Synchronizer,
    SyncSpec,
)
from ecomsync._personal import redact, redact_error
from ecomsync.erp.tryton import TrytonError
from ecomsync.exceptions import EcomsyncError, RetryableError, SyncError
from ecomsync.testing import capture_events

from ._shop_orders import orders_for


pytestmark = pytest.mark.anyio

#: One customer's personal data, distinctive enough that no message
#: holds any of it by chance.
FIRST, LAST = "Zacharias", "Quellenberger-Oestrich"
EMAIL = "zq.privat-7731@example.org"
COMPANY = "Quellenberger Feinkost GmbH"
STREET, ZIP, CITY = "Ufergasse 17b", "99421", "Niederwoerresbach"
PHONE = "+49 6781 998877"
MOVED = "Hinterhof 3c"
PERSONAL = (FIRST, LAST, EMAIL, COMPANY, STREET, ZIP, CITY, PHONE, MOVED)

ORDERS = SyncSpec(types={DataType.ADDRESSES_AND_ORDERS: All()})


def _address(**changes: str) -> Address:
    address = Address(
        first_name=FIRST,
        last_name=LAST,
        company=COMPANY,
        street=STREET,
        zip_code=ZIP,
        city=CITY,
        country="DE",
        phone=PHONE,
    )
    return attrs.evolve(address, **changes)


def _personal(order: Order) -> Order:
    """*order* placed by our one customer."""
    return attrs.evolve(
        order,
        customer=Customer(
            number=order.customer.number,
            email=EMAIL,
            first_name=FIRST,
            last_name=LAST,
            addresses=(_address(),),
        ),
        billing=_address(),
        shipping=_address(),
    )


def _no_personal_data(*texts: object) -> None:
    for text in texts:
        for value in PERSONAL:
            assert value.lower() not in str(text).lower(), (value, text)


async def _recorded(store: SqliteStore) -> list[object]:
    """What the store keeps of the runs: ledger rows and run records."""
    ledger = await store.list_failures("shop", DataType.ADDRESSES_AND_ORDERS)
    return [*ledger, *(await store.list_runs())]


def _placed(platform: MemoryPlatform, **changes: object) -> Order:
    """Our customer's order (with *changes*), placed in the shop."""
    (order,) = (_personal(o) for o in orders_for(1, articles=6))
    order = attrs.evolve(order, **changes)
    platform.place_order(order)
    return order


async def _failed_alone(
    sync: Synchronizer, store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> RecordFailed:
    """
    Import the orders: the one order fails, and no personal data is in
    the run's events, its summary, the store or the log.
    """
    async with capture_events(sync, ORDERS) as run:
        (failed,) = run.of(RecordFailed)
    _no_personal_data(
        *run.events, run.summary, *await _recorded(store), caplog.text
    )
    return failed


class TestFailedOrders:
    @pytest.fixture(autouse=True)
    def _debug(self, caplog: pytest.LogCaptureFixture) -> None:
        """The log is searched down to its debug records."""
        caplog.set_level(logging.DEBUG)

    async def test_erp_words_name_the_field(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        platform: MemoryPlatform,
        store: SqliteStore,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """An ERP refusing an order in its own words, which repeat the
        customer's e-mail and name (as Tryton's do), fails it with those
        words and the fields in place of the values."""
        order = _placed(platform)
        erp.refuse_orders[order.number] = (
            f'The email address "{EMAIL}" for party "{FIRST} {LAST}" '
            f"({COMPANY}, {STREET}, {ZIP} {CITY}, {PHONE}) is not valid."
        )

        failed = await _failed_alone(sync, store, caplog)

        assert (
            'The email address "<customer.email>" for party '
            '"<customer.first_name> <customer.last_name>" '
            "(<billing.company>, <billing.street>, <billing.zip_code> "
            "<billing.city>, <billing.phone>) is not valid."
        ) == failed.message

    async def test_rejected_by_a_raise(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        platform: MemoryPlatform,
        store: SqliteStore,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """An ERP raising `RecordRejected` with the customer's street in
        its message fails the order alone, the field in its place."""
        _placed(platform)

        def importing(order: Order) -> Outcome:
            raise RecordRejected(
                f"no delivery to {STREET.upper()}",
                number=order.number,
                field="shipping.street",
            )

        monkeypatch.setattr(erp, "_import", importing)

        failed = await _failed_alone(sync, store, caplog)

        assert "no delivery to <billing.street>" == failed.message

    async def test_changed_in_the_shop(
        self,
        sync: Synchronizer,
        platform: MemoryPlatform,
        store: SqliteStore,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """An order whose shipping street changed in the shop after its
        import fails naming the field, neither street."""
        order = _placed(platform)
        await sync.execute(ORDERS)
        platform.place_order(
            attrs.evolve(order, shipping=_address(street=MOVED))
        )

        failed = await _failed_alone(sync, store, caplog)

        assert "shipping.street" == failed.field
        assert "(shipping.street)" in failed.message

    async def test_refused_by_the_engine(
        self,
        sync: Synchronizer,
        platform: MemoryPlatform,
        store: SqliteStore,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """An order the engine refuses before the ERP sees it (a billing
        country that is no ISO code) fails on the field, with no value
        of the address."""
        _placed(platform, billing=_address(country="Deutschland"))

        failed = await _failed_alone(sync, store, caplog)

        assert "billing.country" == failed.field

    async def test_error_that_ends_the_run(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        platform: MemoryPlatform,
        store: SqliteStore,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """An ERP error that ends the run (a server error repeating the
        customer's e-mail) ends it with the field in the e-mail's place:
        in the exception, the run's record and the log."""
        _placed(platform)

        def importing(order: Order) -> Outcome:
            cause = ValueError(f"duplicate key (email)=({EMAIL})")
            raise SyncError(f"ERP server error for {FIRST}") from cause

        monkeypatch.setattr(erp, "_import", importing)

        with pytest.raises(SyncError) as info:
            await sync.execute(ORDERS)

        _no_personal_data(
            info.value,
            repr(info.value),
            *await _recorded(store),
            caplog.text,
        )
        assert "ERP server error for <customer.first_name>" == str(info.value)

    async def test_notes_of_an_error_that_ends_the_run(
        self,
        sync: Synchronizer,
        erp: MemoryErp,
        platform: MemoryPlatform,
        store: SqliteStore,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The notes an ERP adapter added to an error that ends the run
        (``add_note``, printed with its traceback) name the field too:
        in the exception's chain and the log."""
        _placed(platform)
        error = ValueError("the ERP refused the customer")

        def importing(order: Order) -> Outcome:
            error.add_note(f"while importing the order of {EMAIL}")
            raise error

        monkeypatch.setattr(erp, "_import", importing)

        with pytest.raises(EcomsyncError) as info:
            await sync.execute(ORDERS)

        assert error is info.value.__cause__
        _no_personal_data(
            *error.__notes__, *await _recorded(store), caplog.text
        )
        assert [
            "while importing the order of <customer.email>"
        ] == error.__notes__


class TestRedact:
    def test_numbers_stay(self) -> None:
        """A value that is also the order's, the customer's or an
        article's number stays: the merchant acts on those."""
        (order,) = (_personal(o) for o in orders_for(1, articles=6))
        order = attrs.evolve(order, billing=_address(zip_code=order.number))

        text = f"order {order.number} to {ZIP} in {CITY}"

        assert (
            f"order {order.number} to <shipping.zip_code> in <billing.city>"
            == redact(text, [order])
        )

    def test_shop_customer_id_stays(self) -> None:
        """The shop's customer id stays where it is also an e-mail's
        part: a refusal names it on purpose (two shop customers holding
        one number)."""
        (order,) = orders_for(1, articles=6)
        customer = attrs.evolve(
            order.customer,
            email="erika-4d92@example.org",
            platform_id="erika-4d92",
        )
        order = attrs.evolve(order, customer=customer)

        assert "held by shop customer erika-4d92" == redact(
            "held by shop customer erika-4d92", [order]
        )

    def test_whole_words_only(self) -> None:
        """A short name inside a longer word is no name ("Al" in
        "Almond")."""
        (order,) = orders_for(1, articles=6)
        order = attrs.evolve(
            order, billing=attrs.evolve(order.billing, first_name="Al")
        )

        assert "Almond for <billing.first_name>" == redact(
            "Almond for Al", [order]
        )

    def test_error_and_its_cause(self) -> None:
        """An error is redacted in place with its cause, its type kept
        (a `RetryableError` is still retried)."""
        (order,) = (_personal(o) for o in orders_for(1, articles=6))
        cause = ValueError(f"duplicate key (email)=({EMAIL})")
        error = RetryableError(f"conflict on {LAST}")
        error.__cause__ = cause

        redact_error(error, [order])

        assert "conflict on <customer.last_name>" == str(error)
        assert "duplicate key (email)=(<customer.email>)" == str(cause)
        assert isinstance(error, RetryableError)

    def test_tryton_error_keeps_its_parts(self) -> None:
        """`TrytonError`'s message and description are redacted too."""
        (order,) = (_personal(o) for o in orders_for(1, articles=6))
        error = TrytonError(
            "UserError",
            f'The email address "{EMAIL}" is not valid.',
            description=f"The domain {EMAIL.split('@')[1]} does not exist.",
        )

        redact_error(error, [order])

        _no_personal_data(error, error.message, error.description)
        assert error.text == (
            'The email address "<customer.email>" is not valid. '
            "(The domain <customer.email> does not exist.)"
        )

    def test_group_members(self) -> None:
        """The errors of a group are redacted, each in place."""
        (order,) = (_personal(o) for o in orders_for(1, articles=6))
        inner = SyncError(f"no party {FIRST} {LAST}")
        group = ExceptionGroup("import failed", [inner])

        redact_error(group, [order])

        assert "no party <customer.first_name> <customer.last_name>" == str(
            inner
        )

    def test_message_words_stay(self) -> None:
        """A name or an e-mail's part that is a word of the message
        itself ("Order", "shop@...") is left alone, so the message keeps
        its sense; the whole name and the whole e-mail still go."""
        (order,) = orders_for(1, articles=6)
        customer = attrs.evolve(
            order.customer,
            first_name="Max",
            last_name="Order",
            email="shop@mueller-bau.de",
        )
        order = attrs.evolve(order, customer=customer)
        text = (
            f"order {order.number} changed in the shop after its import "
            '(party "Max Order", e-mail shop@mueller-bau.de)'
        )

        assert redact(text, [order]) == (
            f"order {order.number} changed in the shop after its import "
            '(party "<customer.first_name> <customer.last_name>", '
            "e-mail <customer.email>)"
        )

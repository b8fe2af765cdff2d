"""
Records: judged by `problems()`, fingerprinted by `checksum()`.
"""

from __future__ import annotations

import enum
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, localcontext
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecomsync import (
    Address,
    Article,
    Category,
    Customer,
    InvalidRecord,
    MediaKind,
    MediaRef,
    Order,
    OrderLine,
    OrderState,
    OrderStatus,
    StockLevel,
    Variant,
    _fingerprint,
)
from ecomsync._field_checks import MAX_AMOUNT
from ecomsync._fingerprint import checksum, content_hash
from ecomsync._model import parents_first
from ecomsync._record_checks import problems


def article(**kw: object) -> Article:
    fields: dict[str, object] = {
        "number": "A-1",
        "name": "Hammer",
        "price": "9.99",
    }
    fields.update(kw)
    return Article(**fields)  # type: ignore[arg-type]


def _order_to(address: Address, quantity: int = 1) -> Order:
    """A one-line order (total 1) billed and shipped to *address*."""
    return Order(
        number="1",
        customer=Customer(
            number="K", email="e@x", first_name="E", last_name="M"
        ),
        billing=address,
        shipping=address,
        lines=[
            OrderLine(
                article_number="A", name="A", quantity=quantity, unit_price=1
            )
        ],
        total=1,
        ordered_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


class TestProblems:
    def test_valid(self) -> None:
        """A sound article has no problems."""
        assert [] == problems(article())

    @pytest.mark.parametrize("active", ["false", "0", 0, 1, None, ""])
    def test_active_must_be_a_bool(self, active: object) -> None:
        """An article or category whose active is no bool (text or a
        number from a CSV or a database) fails on active: "false" and 1
        were truthy and reached the shop on sale."""
        records = [
            article(active=active),
            Category(number="C-1", name="Werkzeug", active=active),  # type: ignore[arg-type]
        ]

        for record in records:
            assert [("active", f"must be True or False, got {active!r}")] == [
                (p.field, p.reason) for p in problems(record)
            ]

    @pytest.mark.parametrize("position", [None, "3", 1.5, True, 2**31])
    def test_category_position_is_a_whole_number(
        self, position: object
    ) -> None:
        """A category position that is no whole number an int32 holds fails
        on position: it failed the shop's write or the run (Vendure's
        max(position, 0) raised TypeError for None)."""
        found = problems(
            Category(number="C-1", name="Werkzeug", position=position)  # type: ignore[arg-type]
        )

        assert ["position"] == [p.field for p in found]

    @pytest.mark.parametrize(
        "option", [("Größe=S",), ("Größe", "S", "x"), "S"]
    )
    def test_an_option_is_a_pair(self, option: object) -> None:
        """A variant option that is no (name, value) pair fails on it: the
        adapters unpack it, and ("Größe=S",) crashed the whole push."""
        found = problems(
            article(variants=[Variant(number="V", options=(option,))])
        )

        assert [("variants.0.options.0", "pair")] == [
            (p.field, "pair" if "pair" in p.reason else p.reason)
            for p in found
        ]

    def test_missing_number(self) -> None:
        """A blank number is named."""
        assert ["number"] == [p.field for p in problems(article(number=" "))]

    def test_negative_price(self) -> None:
        """A negative price is named with its value."""
        (problem,) = problems(article(price="-1"))

        assert "price" == problem.field
        assert "-1" in problem.reason

    def test_invalid_utf8(self) -> None:
        """Text that cannot be UTF-8 (lone surrogates) is refused."""
        bad = b"caf\xe9".decode("utf-8", "surrogateescape")
        (problem,) = problems(article(description=bad))

        assert ("description", "is not valid UTF-8 text") == (
            problem.field,
            problem.reason,
        )

    @pytest.mark.parametrize(
        ("field", "text", "code"),
        [
            ("name", "Ham\x00mer", "U+0000 at position 3"),
            ("description", "bell\x07", "U+0007 at position 4"),
            ("number", "A-1\x1b", "U+001B at position 3"),
            ("name", "del\x7f", "U+007F at position 3"),
            ("name", "c1\x92", "U+0092 at position 2"),
        ],
    )
    def test_control_characters(
        self, field: str, text: str, code: str
    ) -> None:
        """A control character in a text is refused, naming the field, the
        character and where it is (the docs promise text without them)."""
        (problem,) = problems(article(**{field: text}))

        assert field == problem.field
        assert f"holds the control character {code}" == problem.reason

    def test_control_characters_in_a_variant(self) -> None:
        """A variant's number and option texts go to the shop too: NUL in
        them is refused, naming the variant's field."""
        variant = Variant(number="A-1-\x00", options=[("Size", "X\x00L")])

        found = problems(article(variants=[variant]))

        assert ["variants.0.number", "variants.0.options.0.value"] == [
            p.field for p in found
        ]

    def test_tab_and_line_breaks_are_text(self) -> None:
        """Tab, line feed and carriage return are ordinary text."""
        assert [] == problems(article(description="a\tb\r\nc\n"))

    @pytest.mark.parametrize("name", ["", "   "])
    def test_blank_name(self, name: str) -> None:
        """An article or category without a name is refused: no shop
        shows a nameless product."""
        (problem,) = problems(article(name=name))
        (category,) = problems(Category(number="C-1", name=name))

        assert ("name", "is missing") == (problem.field, problem.reason)
        assert ("name", "is missing") == (category.field, category.reason)

    def test_huge_text(self) -> None:
        """A 10 MB description is refused, naming its size."""
        (problem,) = problems(article(description="x" * 10_000_000))

        assert "description" == problem.field
        assert "10,000,000 bytes" in problem.reason

    def test_not_text(self) -> None:
        """A name that is not text is refused."""
        assert ["name"] == [p.field for p in problems(article(name=42))]

    def test_tax_and_variants(self) -> None:
        """Bad tax rates and variant fields are named with their path."""
        found = problems(
            article(
                tax_rate="150",
                variants=[Variant(number="", price=Decimal(-2))],
            )
        )

        assert {"tax_rate", "variants.0.number", "variants.0.price"} == {
            p.field for p in found
        }

    def test_stock_quantity(self) -> None:
        """Stock must be a whole number."""
        found = problems(StockLevel(number="A-1", quantity=1.5))  # type: ignore[arg-type]

        assert ["quantity"] == [p.field for p in found]

    def test_order(self) -> None:
        """Order lines need a positive quantity, addresses a country code."""
        address = Address(
            first_name="E",
            last_name="M",
            street="S",
            zip_code="1",
            city="B",
            country="Germany",
        )
        order = _order_to(address, quantity=0)

        assert {"lines.0.quantity", "billing.country", "shipping.country"} == {
            p.field for p in problems(order)
        }

    def test_address_without_a_country_is_deprecated(self) -> None:
        """An address made without a country warns that this is deprecated
        and, until it becomes an error, is still "DE" as documented (an
        order with it is valid); a blank country fails the order on
        billing.country and shipping.country, "is missing"."""
        with pytest.warns(DeprecationWarning, match="without a country"):
            address = Address(
                first_name="E",
                last_name="M",
                street="S",
                zip_code="1",
                city="B",
            )
        order = _order_to(address)

        blank = attrs.evolve(order, billing=attrs.evolve(address, country=""))

        assert "DE" == address.country
        assert [] == problems(order)
        assert [("billing.country", "is missing")] == [
            (p.field, p.reason) for p in problems(blank)
        ]


NON_FINITE = ["NaN", "-NaN", "sNaN", "Infinity", "-Infinity"]


class TestValues:
    @pytest.mark.parametrize("value", NON_FINITE)
    @pytest.mark.parametrize(
        ("field", "build"),
        [
            ("price", lambda v: article(price=v)),
            ("tax_rate", lambda v: article(tax_rate=v)),
            (
                "variants.0.price",
                lambda v: article(variants=[Variant(number="V", price=v)]),
            ),
        ],
    )
    def test_non_finite_is_a_problem(
        self, value: str, field: str, build: Any
    ) -> None:
        """NaN, signalling NaN and infinities are named problems, never a
        crash, and the record can still be fingerprinted."""
        record = build(Decimal(value))

        found = problems(record)
        checksum(record)

        assert [field] == [p.field for p in found]
        assert value.lstrip("-").lower()[:3] in found[0].reason.lower()

    @pytest.mark.parametrize(
        "value", ["1000000000000.01", "1E+999999", "99999999999999"]
    )
    def test_huge_price(self, value: str) -> None:
        """A price beyond MAX_AMOUNT is out of range, named with its value."""
        (problem,) = problems(article(price=value))

        assert "price" == problem.field
        assert "above" in problem.reason
        assert MAX_AMOUNT == Decimal(10) ** 12

    def test_order_amounts(self) -> None:
        """An order's total and line prices must be finite numbers."""
        from ecomsync.testing import shop_orders

        order = next(iter(shop_orders(1)))
        line = attrs.evolve(order.lines[0], unit_price=Decimal("sNaN"))
        bad = attrs.evolve(order, total=Decimal("Infinity"), lines=[line])

        assert {"total", "lines.0.unit_price"} == {
            p.field for p in problems(bad)
        }

    @pytest.mark.parametrize(
        ("quantity", "ok"),
        [
            (-5, True),
            (0, True),
            (2**31 - 1, True),
            (2**31, False),
            (-(2**31), False),
            (True, False),
            (float("nan"), False),
            (Decimal("NaN"), False),
        ],
    )
    def test_stock_quantity(self, quantity: object, ok: bool) -> None:
        """Negative stock is valid in the model (the platform decides);
        non-integers and quantities beyond 32 bits are problems."""
        found = problems(StockLevel(number="A-1", quantity=quantity))  # type: ignore[arg-type]

        assert ok == (not found)
        assert all("quantity" == p.field for p in found)

    @pytest.mark.parametrize(
        ("build", "field"),
        [
            (lambda: article(price="abc"), "Article.price"),
            (lambda: article(price=None), "Article.price"),
            (lambda: article(tax_rate="19%"), "Article.tax_rate"),
            (lambda: Variant(number="V", price="x"), "Variant.price"),
            (
                lambda: OrderLine(
                    article_number="A", name="A", quantity=1, unit_price=[]
                ),
                "OrderLine.unit_price",
            ),
        ],
    )
    def test_not_a_number_names_the_field(
        self, build: Any, field: str
    ) -> None:
        """A value that is no number at all cannot build a record; the
        error names record type and field (and is a ValueError)."""
        with pytest.raises(InvalidRecord, match=field) as info:
            build()

        assert isinstance(info.value, ValueError)
        assert field == f"{info.value.record_type}.{info.value.field}"

    @pytest.mark.parametrize("value", [" 9.99 ", 9.99, 10, Decimal("1.5")])
    def test_numbers_convert(self, value: object) -> None:
        """Numeric text (spaces trimmed), floats, ints and Decimals build."""
        assert Decimal(str(value).strip()) == article(price=value).price

    @given(
        price=st.decimals(allow_nan=True, allow_infinity=True),
        tax=st.decimals(allow_nan=True, allow_infinity=True),
        variant=st.none() | st.decimals(allow_nan=True, allow_infinity=True),
    )
    def test_problems_never_raise(
        self, price: Decimal, tax: Decimal, variant: Decimal | None
    ) -> None:
        """Whatever decimals an article carries, problems() answers, and a
        record without problems has finite, in-range amounts."""
        record = article(
            price=price,
            tax_rate=tax,
            variants=[Variant(number="V", price=variant)],
        )

        found = problems(record)

        if not found:
            assert price.is_finite()
            assert 0 <= price <= MAX_AMOUNT
            assert 0 <= tax <= 100


class TestChecksum:
    def test_stable(self) -> None:
        """Equal records have equal checksums, whatever the price's form."""
        assert checksum(article(price="9.90")) == checksum(
            article(price=Decimal("9.9"))
        )

    def test_changes(self) -> None:
        """Any visible change changes the checksum."""
        assert checksum(article()) != checksum(article(name="Zange"))
        assert checksum(article()) != checksum(
            StockLevel(number="A-1", quantity=1)
        )

    def test_any_exponent(self) -> None:
        """An exponent beyond the default decimal context's (the price
        itself is invalid) is fingerprinted: it raised decimal.Overflow."""
        assert checksum(article(price=Decimal("1E+1000000"))) != checksum(
            article()
        )

    def test_whatever_the_hosts_decimal_context(self) -> None:
        """A host's low decimal precision changes no checksum: 12345.67
        and 12345.71 were one checksum at a precision of 6, so the new
        price was skipped as unchanged."""
        before = checksum(article(price="12345.67"))
        with localcontext() as context:
            context.prec = 6
            low = checksum(article(price="12345.67"))
            changed = checksum(article(price="12345.71"))

        assert before == low
        assert low != changed


def _reference_checksum(record: Any) -> str:
    """The fingerprint as 26.1 computed it: attrs.asdict, then Decimals
    as normalised text, datetimes in ISO form, enums by value."""

    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return str(value.normalize() if value.is_finite() else value)
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        return value

    data = {"type": type(record).__name__, **plain(attrs.asdict(record))}
    if isinstance(record, Order | OrderStatus):
        data.pop("platform", None)  # not in 26.1
    if isinstance(record, Order):
        data.pop("state", None)
        data["customer"].pop("platform_id", None)  # not in 26.1
        for name in ("shipping_total", "discount_total"):  # not in 26.1
            if data.get(name) == "0":
                del data[name]
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[
        :32
    ]


def _every_kind() -> dict[str, Any]:
    photo = MediaRef(
        key="img-1",
        filename="Hammer groß.jpg",
        mime_type="image/jpeg",
        version="v2",
    )
    sheet = MediaRef(
        key="doc-1",
        filename="sheet.pdf",
        mime_type="application/pdf",
        kind=MediaKind.DOCUMENT,
    )
    addr = Address(
        first_name="Jörg",
        last_name="Maier",
        street="Hauptstr. 1",
        zip_code="80331",
        city="München",
        country="DE",
        company="Maier & Söhne",
    )
    return {
        "category": Category(
            number="K-2",
            name="Hämmer",
            parent="K-1",
            position=3,
            media=[photo],
        ),
        "article": Article(
            number="A-1",
            name='Hammer "Pro"',
            price=Decimal("19.90"),
            tax_rate=Decimal("7.0"),
            categories=["K-2", "K-1"],
            media=[photo, sheet],
            ean="4006381333931",
            variants=[
                Variant(
                    number="A-1-S",
                    options=[("Größe", "S")],
                    price=Decimal("21.5"),
                ),
                Variant(number="A-1-M"),
            ],
        ),
        "stock": StockLevel(number="A-1", quantity=-3, warehouse="Lager Süd"),
        "order": Order(
            number="10001",
            customer=Customer(
                number="C-1",
                email="j@example.com",
                first_name="Jörg",
                last_name="Maier",
                addresses=[addr],
            ),
            billing=addr,
            shipping=addr,
            lines=[
                OrderLine(
                    article_number="A-1",
                    name="Hammer",
                    quantity=2,
                    unit_price=Decimal("9.950"),
                )
            ],
            total=Decimal("19.90"),
            ordered_at=datetime(
                2026, 11, 30, 8, 15, tzinfo=timezone(timedelta(hours=1))
            ),
            state=OrderState.SHIPPED,
        ),
        "status": OrderStatus(
            number="10001",
            state=OrderState.SHIPPED,
            tracking_numbers=["T-1", "T-2"],
        ),
    }


#: What stores written by 26.1 hold for `_every_kind`: a new fingerprint
#: would make every record of every store look changed after an upgrade.
GOLDEN = {
    "category": "2c3bf9e491c78d27ccd1be31c43cb70d",
    "article": "7de06c5f91582b027b68ece7aba4cab7",
    "stock": "cbb95a992b540eaa2b7b0e777c88a76f",
    "order": "4125014ac433e6b9a47d8378b9b9703e",
    "status": "bc2497ca08716a6e6588133d98c9e6f7",
}


class TestChecksumFormat:
    def test_fingerprints_stores_hold_stay(self) -> None:
        """Each kind of record keeps the fingerprint that stores already
        hold for it."""
        got = {k: checksum(r) for k, r in _every_kind().items()}

        assert GOLDEN == got
        assert GOLDEN == {
            k: _reference_checksum(r) for k, r in _every_kind().items()
        }

    def test_order_money_counts_when_there(self) -> None:
        """An order's shipping and discount change its fingerprint; at 0
        they leave it as it was before they existed."""
        order = _every_kind()["order"]
        assert isinstance(order, Order)

        assert checksum(order) == checksum(
            attrs.evolve(order, shipping_total="0.00", discount_total=0)
        )
        assert checksum(order) != checksum(
            attrs.evolve(order, shipping_total="4.90")
        )
        assert checksum(order) != checksum(
            attrs.evolve(order, discount_total="5")
        )

    def test_platform_is_no_part_of_it(self) -> None:
        """The platform an order or status names leaves its fingerprint
        as it was (the store keeps them per platform already), by both
        walks: an ERP that starts to name it re-sends nothing."""
        kinds = _every_kind()
        for kind in ("order", "status"):
            record = kinds[kind]
            named = attrs.evolve(record, platform="woo")

            assert GOLDEN[kind] == checksum(named)
            assert GOLDEN[kind] == _general(named)

    def test_customer_platform_id_is_no_part_of_it(self) -> None:
        """The platform's id of an order's customer leaves the order's
        fingerprint as it was, by both walks: orders a store holds are
        not re-sent once the platform adapter gives it."""
        order = _every_kind()["order"]
        assert isinstance(order, Order)
        named = attrs.evolve(
            order, customer=attrs.evolve(order.customer, platform_id="c-1")
        )

        assert GOLDEN["order"] == checksum(named)
        assert GOLDEN["order"] == _general(named)

    @given(
        name=st.text(),
        price=st.decimals(allow_nan=True, allow_infinity=True),
        categories=st.lists(st.text(max_size=5), max_size=3),
        options=st.lists(
            st.tuples(st.text(max_size=3), st.text(max_size=3)), max_size=2
        ),
        ean=st.none() | st.text(max_size=13),
        quantity=st.integers(),
    )
    def test_same_as_the_reference(
        self,
        name: str,
        price: Decimal,
        categories: list[str],
        options: list[tuple[str, str]],
        ean: str | None,
        quantity: int,
    ) -> None:
        """Whatever the values, odd ones included, the one-pass walk
        fingerprints a record as asdict and a second walk did."""
        record = article(
            name=name,
            price=price,
            categories=categories,
            ean=ean,
            variants=[Variant(number="V", options=options, price=price)],
        )
        stock = StockLevel(number=name, quantity=quantity)

        assert _reference_checksum(record) == checksum(record)
        assert _reference_checksum(stock) == checksum(stock)


class _Text(str):
    def __str__(self) -> str:
        return "other"


class _Mixed(str, enum.Enum):  # noqa: UP042 - a mixin, not a StrEnum
    A = "a"


class _Number(enum.IntEnum):
    ONE = 1


class _Pair(enum.Enum):
    P = ("x", Decimal("1.50"))


#: Values of every kind a field may carry by mistake: what the one-pass
#: writer knows exactly and what it must leave to the general walk.
odd_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=4)
    | st.decimals(allow_nan=True, allow_infinity=True)
    | st.datetimes(timezones=st.none() | st.just(UTC))
    | st.sampled_from([*MediaKind, *OrderState, *_Mixed, *_Number, *_Pair])
    | st.text(max_size=3).map(_Text)
    | st.integers(0, 3).map(type("Sub", (int,), {})),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.frozensets(st.text(max_size=2), max_size=2)
        | st.dictionaries(
            st.text(max_size=2) | st.integers(), inner, max_size=2
        )
        | st.builds(
            MediaRef,
            key=st.text(max_size=3),
            filename=st.just("f.jpg"),
            mime_type=st.just("image/jpeg"),
            version=inner,
        )
    ),
    max_leaves=6,
)


def _general(record: Any) -> str:
    """The checksum by the general walk alone (to_plain, json.dumps)."""
    blob = _fingerprint._blob(record)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[
        :32
    ]


def _outcome(fn: Any, record: Any) -> tuple[str, str]:
    try:
        return "ok", fn(record)
    except Exception as exc:  # the kind is compared
        return "raised", type(exc).__name__


class TestOnePassChecksum:
    @given(
        kind=st.sampled_from(sorted(_every_kind())),
        field=st.integers(0, 20),
        value=odd_values,
    )
    def test_same_text_as_the_general_walk(
        self, kind: str, field: int, value: Any
    ) -> None:
        """Whatever a field holds (subclasses, dicts, sets, enums with
        odd values, non-finite numbers), a record's checksum is the one
        the general walk gives, or both fail alike."""
        record = _every_kind()[kind]
        names = [a.name for a in attrs.fields(type(record))]
        object.__setattr__(record, names[field % len(names)], value)

        assert _outcome(_general, record) == _outcome(checksum, record)

    @pytest.mark.parametrize(
        "value",
        [
            _Text("x"),
            _Mixed.A,
            _Number.ONE,
            _Pair.P,
            {"a": 1},
            {1: "a", "1": "b"},
            [{2: Decimal("1.0")}],
            frozenset({"a"}),
            set(),
            Decimal("NaN"),
            Decimal("sNaN"),
            Decimal("-0.00"),
            float("nan"),
            float("-inf"),
            -0.0,
            1e100,
            True,
            type("Sub", (int,), {})(3),
            datetime(2026, 1, 2, 3, 4, 5, 6),
            '\ud800 \x00\n"\\ \u2028 ü',
            10**5000,
            object(),
            (),
            [MediaRef(key="k", filename="f", mime_type="m", version=_Pair.P)],
        ],
        ids=lambda v: type(v).__name__,
    )
    def test_odd_values_alike(self, value: Any) -> None:
        """Each kind of odd value, in every kind of record: the general
        walk's checksum, or the same failure."""
        for kind, record in _every_kind().items():
            field = attrs.fields(type(record))[1].name
            object.__setattr__(record, field, value)
            assert _outcome(_general, record) == _outcome(checksum, record), (
                kind
            )

    @pytest.mark.parametrize(
        "change",
        [
            {"price": Decimal("19.91")},
            {"tax_rate": Decimal("19")},
            {"name": 'Hammer "Pro" '},
            {"description": "neu"},
            {"categories": ("K-1", "K-2")},
            {"ean": None},
            {"active": False},
            {"currency": "CHF"},
            {"variants": ()},
            {"media": ()},
        ],
        ids=lambda c: next(iter(c)),
    )
    def test_every_visible_change_changes_it(
        self, change: dict[str, Any]
    ) -> None:
        """An article changed in any field it shows (price, text,
        categories, variants, images) gets another checksum."""
        record = _every_kind()["article"]
        assert checksum(record) != checksum(attrs.evolve(record, **change))

    @pytest.mark.parametrize(
        "change",
        [
            lambda v: attrs.evolve(v, price=Decimal("22")),
            lambda v: attrs.evolve(v, options=(("Größe", "M"),)),
            lambda v: attrs.evolve(v, number="A-1-L"),
        ],
    )
    def test_a_changed_variant_changes_it(self, change: Any) -> None:
        """A variant's price, options or number count."""
        record = _every_kind()["article"]
        assert isinstance(record, Article)
        first, *rest = record.variants
        changed = attrs.evolve(record, variants=(change(first), *rest))
        assert checksum(record) != checksum(changed)

    @pytest.mark.parametrize("field", ["key", "version", "filename"])
    def test_a_changed_image_changes_it(self, field: str) -> None:
        """New image bytes (a new version or key) or another name count,
        and so does the images' order."""
        record = _every_kind()["article"]
        assert isinstance(record, Article)
        photo, sheet = record.media
        new = attrs.evolve(photo, **{field: "other"})
        assert checksum(record) != checksum(
            attrs.evolve(record, media=(new, sheet))
        )
        assert checksum(record) != checksum(
            attrs.evolve(record, media=(sheet, photo))
        )

    @pytest.mark.parametrize("state", list(OrderState))
    def test_orders_alike(self, state: OrderState) -> None:
        """An order's exceptions (state left out, a cancellation kept,
        zero shipping and discount left out) hold in the one pass."""
        order = _every_kind()["order"]
        for money in ("0", "0.00", "4.90"):
            changed = attrs.evolve(
                order, state=state, shipping_total=money, discount_total=money
            )
            assert _general(changed) == checksum(changed)

    def test_a_field_named_type_wins(self) -> None:
        """A record class with a field called ``type`` is written with
        that field's value, as the general walk does."""

        @attrs.frozen
        class Odd:
            number: str
            type: str

        record: Any = Odd("1", "x")
        assert _general(record) == checksum(record)
        assert '"type": "x"' in _fingerprint._blob(record)


class TestOrderChecksum:
    def test_state_ignored(self) -> None:
        """An order's state (pushed by us) does not change its checksum;
        its lines do."""
        from ecomsync import OrderState
        from ecomsync.testing import shop_orders

        order = next(iter(shop_orders(1)))
        shipped = attrs.evolve(order, state=OrderState.SHIPPED)
        more = attrs.evolve(order, total=order.total + 1)

        assert checksum(order) == checksum(shipped)
        assert checksum(order) != checksum(more)


def cat(number: str, parent: str | None = None) -> Category:
    return Category(number=number, name=number, parent=parent)


#: Category lists: numbers C0..C7, parents anywhere (cycles included).
trees = st.lists(
    st.tuples(st.integers(0, 7), st.none() | st.integers(0, 9)),
    max_size=12,
).map(
    lambda rows: [
        cat(f"C{n}", None if p is None else f"C{p}") for n, p in rows
    ]
)


class TestParentsFirst:
    def test_parent_moves_forward(self) -> None:
        """A parent listed after its child is sent before it."""
        categories = [cat("B", "A"), cat("C"), cat("A")]

        order, invalid = parents_first(categories)

        assert ([2, 0, 1], {}) == (order, invalid)

    def test_unknown_parent_does_not_hold_back(self) -> None:
        """A parent that is not in the list (maybe on the platform) is no
        reason to refuse the child."""
        assert ([0], {}) == parents_first([cat("B", "elsewhere")])

    def test_cycle_names_its_members(self) -> None:
        """Every category on a cycle is invalid on 'parent', and the
        message names the whole cycle starting at that category."""
        categories = [cat("A", "C"), cat("B", "A"), cat("C", "B"), cat("D")]

        order, invalid = parents_first(categories)

        assert [3] == order
        assert {0, 1, 2} == set(invalid)
        assert {"parent"} == {p.field for p in invalid.values()}
        assert "A → C → B → A" in invalid[0].reason
        assert "B → A → C → B" in invalid[1].reason

    def test_own_parent(self) -> None:
        """A category that is its own parent is a cycle of one."""
        (order, invalid) = parents_first([cat("A", "A")])

        assert [] == order
        assert "A → A" in invalid[0].reason

    def test_below_a_cycle(self) -> None:
        """A category under a cycle cannot be placed either; it is invalid
        and the message names the cycle above it."""
        categories = [
            cat("X", "B"),
            cat("Y", "X"),
            cat("A", "B"),
            cat("B", "A"),
        ]

        order, invalid = parents_first(categories)

        assert [] == order
        assert "is below a category cycle" in invalid[0].reason
        assert "is below a category cycle" in invalid[1].reason
        assert "is on a category cycle" in invalid[2].reason

    def test_deep_chain(self) -> None:
        """A chain 5,000 deep is ordered without recursion."""
        categories = [cat(f"C{i}", f"C{i + 1}") for i in range(5000)]

        order, invalid = parents_first(categories)

        assert (list(range(4999, -1, -1)), {}) == (order, invalid)

    @given(trees)
    def test_every_index_once_parents_first(
        self, categories: list[Category]
    ) -> None:
        """Every category is either placed (after any parent in the list)
        or invalid with a reason, never both, never lost."""
        order, invalid = parents_first(categories)

        assert sorted([*order, *invalid]) == list(range(len(categories)))
        first: dict[str, int] = {}
        for i, c in enumerate(categories):
            first.setdefault(c.number, i)
        seen: set[str] = set()
        for i in order:
            parent = categories[i].parent
            if parent in first:
                assert parent in seen
            seen.add(categories[i].number)


class TestContentHash:
    def test_sha256(self) -> None:
        """Media content is identified by its SHA-256 in hex."""
        assert hashlib.sha256(b"x").hexdigest() == content_hash(b"x")

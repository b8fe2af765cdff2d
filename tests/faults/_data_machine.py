"""
The messy-data state machine's ERP, shop and engine, and its rules
(test_state_machine_data.py says what it checks); the platforms are its
subclasses there.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import anyio
import anyio.from_thread
import attrs
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ecomsync import (
    Article,
    Category,
    DataType,
    LocalLicensePool,
    MediaRef,
    MediaStaging,
    MemoryErp,
    Platform,
    SqliteStore,
    StockLevel,
    Synchronizer,
    Trigger,
    Variant,
)
from ecomsync.testing.shopify import Faults

from .._push import PUSH as SPEC
from ._shop_views import ShopView
from .conftest import jpeg
from .test_state_machine import (
    FAULTS,
    Settled,
    _mkdtemp,
    drive,
)


SIMPLE = ["A-01", "A-02", "A-03", "A-04"]
WITH_VARIANTS = ["V-01", "V-02"]
ARTICLES = SIMPLE + WITH_VARIANTS
SIZES = ["S", "M", "L", "XL"]
CATEGORIES = ["C-1", "C-2", "C-3"]
#: Prices a merchant's ERP holds: cents, a third decimal, 0, huge.
PRICES = [
    Decimal("9.99"),
    Decimal("12.50"),
    Decimal("0"),
    Decimal("1.005"),
    Decimal("19.999"),
    Decimal("99999999.99"),
    Decimal("1E+15"),
]
QUANTITIES = [-3, 0, 1, 7, 250, 2**31]
SHARED = MediaRef(key="shared", filename="logo.jpg", mime_type="image/jpeg")


def _catalogue() -> list[Category | Article | StockLevel]:
    records: list[Category | Article | StockLevel] = [
        Category(number="C-1", name="Werkzeug"),
        Category(number="C-2", name="Hämmer", parent="C-1"),
        Category(number="C-3", name="Zangen", parent="C-1"),
    ]
    for i, number in enumerate(ARTICLES, 1):
        variants = [
            Variant(number=f"{number}-{size}", options=(("Größe", size),))
            for size in SIZES[:2]
        ] if number in WITH_VARIANTS else []  # fmt: skip
        records.append(
            Article(
                number=number,
                name=f"Artikel {number}",
                price=Decimal("9.99") + i,
                categories=(CATEGORIES[i % 3],),
                variants=variants,
                media=(
                    MediaRef(
                        key=f"img-{i}",
                        filename="a.jpg",
                        mime_type="image/jpeg",
                    ),
                ),
            )
        )
    return records


class DataMachine(Settled, RuleBasedStateMachine):
    """Messy ERP data, hand edits in the shop, faults and restarts."""

    #: ERP warehouse codes (empty: the ERP sums its warehouses).
    warehouses: ClassVar[tuple[str, ...]] = ()
    #: Seconds a run may take before it counts as stuck.
    run_limit: ClassVar[float] = 60.0

    def __init__(self) -> None:
        super().__init__()
        self.portal_cm = anyio.from_thread.start_blocking_portal()
        self.portal = self.portal_cm.__enter__()
        self.tmp = Path(self.portal.call(_mkdtemp))
        self.erp = MemoryErp(
            _catalogue(),
            media={f"img-{i}": jpeg(i) for i in range(1, 9)}
            | {"shared": jpeg(99)},
        )
        for article in ARTICLES:
            for number in self._stock_numbers(article):
                self._restock(number, 5)
        #: Numbers an ERP record claims alongside another (twins).
        self.twins: dict[str, str] = {}
        #: Numbers two ERP records of one type hold exactly, with the
        #: record to keep when the duplicate goes.
        self.doubles: dict[tuple[DataType, str], list[Any]] = {}
        #: Numbers the merchant edited in the shop since the last quiesce.
        self.touched: set[str] = set()
        self.image_version = 0
        self.store = SqliteStore(self.tmp / "state.db")
        self.licenses = LocalLicensePool(1)
        self.emu, self.view = self._shop()
        self.sync = self._synchronizer()

    # -- the platform (subclasses) ----------------------------------------

    def _shop(self) -> tuple[Any, ShopView]:
        raise NotImplementedError

    def _platform(self) -> Platform:
        raise NotImplementedError

    def _synchronizer(self) -> Synchronizer:
        self.platform = self._platform()
        return Synchronizer(
            erp=self.erp,
            platforms={"shop": self.platform},
            store=self.store,
            licenses=self.licenses,
            staging=MediaStaging(self.tmp / "staging"),
            batch_size=3,
            license_timeout=5.0,
            # No overlap: a scheduled run reads only what changed since
            # its watermark (with five minutes it would read everything).
            overlap=timedelta(0),
        )

    def teardown(self) -> None:
        try:
            self.quiesce(Trigger.SCHEDULED)
        finally:
            self._close()

    def _close(self) -> None:
        self.portal.call(self.platform.aclose)
        self.portal.call(self.store.aclose)
        self.portal_cm.__exit__(None, None, None)

    # -- the ERP ----------------------------------------------------------

    def _article(self, number: str) -> Article | None:
        found = self.erp.get(DataType.ARTICLES, number)
        assert found is None or isinstance(found, Article)
        return found

    def _stock_numbers(self, number: str) -> list[str]:
        article = self._article(number)
        if article is None:
            return []
        return [v.number for v in article.variants] or [number]

    def _restock(self, number: str, quantity: int) -> None:
        if not self.warehouses:
            self.erp.put(StockLevel(number=number, quantity=quantity))
            return
        # A merchant's stock is spread over the warehouses unevenly.
        for i, warehouse in enumerate(self.warehouses):
            share = quantity if i == 0 else i
            self.erp.put(
                StockLevel(number=number, quantity=share, warehouse=warehouse)
            )

    @rule(number=st.sampled_from(ARTICLES), price=st.sampled_from(PRICES))
    def reprice(self, number: str, price: Decimal) -> None:
        if (old := self._article(number)) is not None:
            self.erp.put(attrs.evolve(old, price=price))

    @rule(
        number=st.sampled_from(ARTICLES),
        at=st.integers(0, 3),
        quantity=st.sampled_from(QUANTITIES),
    )
    def restock(self, number: str, at: int, quantity: int) -> None:
        numbers = self._stock_numbers(number)
        if numbers:
            self._restock(numbers[at % len(numbers)], quantity)

    @rule(number=st.sampled_from(WITH_VARIANTS), size=st.sampled_from(SIZES))
    def add_variant(self, number: str, size: str) -> None:
        old = self._article(number)
        variant = f"{number}-{size}"
        if old is None or variant in {v.number for v in old.variants}:
            return
        if any(self._holds(other, variant) for other in ARTICLES):
            return
        new = Variant(number=variant, options=(("Größe", size),))
        self.erp.put(attrs.evolve(old, variants=(*old.variants, new)))
        self._restock(variant, 4)

    def _holds(self, article: str, variant: str) -> bool:
        held = self._article(article)
        return held is not None and variant in {
            v.number for v in held.variants
        }

    @rule(number=st.sampled_from(WITH_VARIANTS))
    def drop_variant(self, number: str) -> None:
        old = self._article(number)
        if old is None or not old.variants:
            return
        self.erp.put(attrs.evolve(old, variants=old.variants[:-1]))
        self.erp.remove(DataType.STOCK, old.variants[-1].number)

    @rule(
        number=st.sampled_from(WITH_VARIANTS),
        value=st.sampled_from(["Gr", "x"]),
    )
    def rename_option(self, number: str, value: str) -> None:
        old = self._article(number)
        if old is None or not old.variants:
            return
        first = old.variants[0]
        renamed = attrs.evolve(
            first, options=((first.options[0][0], first.number[-1] + value),)
        )
        self.erp.put(attrs.evolve(old, variants=(renamed, *old.variants[1:])))

    @rule()
    def move_variant(self) -> None:
        """A variant number dropped from V-01 is reused by V-02."""
        source, target = (self._article(n) for n in WITH_VARIANTS)
        if source is None or target is None or not source.variants:
            return
        moved = source.variants[-1]
        if moved.number in {v.number for v in target.variants}:
            return
        # Its own option value: the move is not refused for sharing the
        # options of one of the target's variants.
        moved = attrs.evolve(moved, options=(("Größe", moved.number),))
        self.erp.put(attrs.evolve(source, variants=source.variants[:-1]))
        self.erp.put(attrs.evolve(target, variants=(*target.variants, moved)))

    @rule(
        number=st.sampled_from(SIMPLE),
        twin=st.sampled_from(["lower", "trailing", "leading"]),
    )
    def add_twin(self, number: str, twin: str) -> None:
        """A second ERP article whose number differs only in case or
        surrounding whitespace."""
        other = {
            "lower": number.lower(),
            "trailing": f"{number} ",
            "leading": f" {number}",
        }[twin]
        if self._article(number) is None or other in self.twins:
            return
        self.twins[other] = number
        self.erp.put(Article(number=other, name=f"Twin {other}", price=3))

    @rule(number=st.sampled_from(SIMPLE), active=st.booleans())
    def add_double(self, number: str, active: bool) -> None:
        """The ERP holds a second article with the very same number (a
        reused code; inactive or not)."""
        kept = self._article(number)
        if kept is None or (DataType.ARTICLES, number) in self.doubles:
            return
        self.doubles[DataType.ARTICLES, number] = [kept]
        double = attrs.evolve(kept, name=f"Doppelt {number}", active=active)
        self.erp.add(double)

    @rule(number=st.sampled_from(SIMPLE), quantity=st.sampled_from(QUANTITIES))
    def add_double_stock(self, number: str, quantity: int) -> None:
        """A second stock level of one number and warehouse."""
        found = self._levels(number)
        if not found or (DataType.STOCK, number) in self.doubles:
            return
        self.doubles[DataType.STOCK, number] = list(found)
        self.erp.add(attrs.evolve(found[0], quantity=quantity))

    @rule()
    def drop_doubles(self) -> None:
        for (data_type, number), kept in self.doubles.items():
            if self._doubled(data_type, number):
                self.erp.remove(data_type, number)
                for record in kept:
                    self.erp.put(record)
        self.doubles.clear()

    def _levels(self, number: str) -> list[StockLevel]:
        return [
            s
            for s in self.erp._select(DataType.STOCK, _only(number))
            if isinstance(s, StockLevel) and s.number == number
        ]

    def _doubled(self, data_type: DataType, number: str) -> bool:
        """Whether two ERP records of *data_type* hold *number* exactly
        (stock: in one warehouse)."""
        if data_type is DataType.STOCK:
            places = [level.warehouse for level in self._levels(number)]
            return len(places) != len(set(places))
        found = self.erp._select(data_type, _only(number))
        return len([r for r in found if r.number == number]) > 1

    @rule(number=st.sampled_from(SIMPLE), lower=st.booleans())
    def add_variant_twin(self, number: str, lower: bool) -> None:
        """V-02 gets a variant numbered like an article (in case too)."""
        other = number.lower() if lower else number
        host = self._article("V-02")
        if host is None or other in self.twins or not host.variants:
            return
        self.twins[other] = number
        twin = Variant(number=other, options=(("Größe", f"T{other}"),))
        self.erp.put(attrs.evolve(host, variants=(*host.variants, twin)))

    @rule()
    def drop_twins(self) -> None:
        for other in self.twins:
            self.erp.remove(DataType.ARTICLES, other)
        host = self._article("V-02")
        if host is not None:
            kept = [v for v in host.variants if v.number not in self.twins]
            self.erp.put(attrs.evolve(host, variants=kept))
        self.twins.clear()

    @rule(number=st.sampled_from(ARTICLES))
    def delete_article(self, number: str) -> None:
        for stock in self._stock_numbers(number):
            self.erp.remove(DataType.STOCK, stock)
        self.erp.remove(DataType.ARTICLES, number)

    @rule(number=st.sampled_from(SIMPLE), variants=st.booleans())
    def reuse_number(self, number: str, variants: bool) -> None:
        """A deleted article's number comes back as another article."""
        if self._article(number) is not None:
            return
        made = [
            Variant(number=f"{number}-{s}", options=(("Farbe", s),))
            for s in ("rot", "blau")
        ] if variants else []  # fmt: skip
        self.erp.put(
            Article(
                number=number,
                name=f"Neu {number}",
                price=Decimal("4.20"),
                categories=("C-3",),
                variants=made,
            )
        )
        for stock in self._stock_numbers(number):
            self._restock(stock, 2)

    @rule(
        number=st.sampled_from(ARTICLES),
        to=st.sets(st.sampled_from(CATEGORIES)),
    )
    def move_categories(self, number: str, to: set[str]) -> None:
        if (old := self._article(number)) is not None:
            self.erp.put(attrs.evolve(old, categories=tuple(sorted(to))))

    @rule(number=st.sampled_from(ARTICLES))
    def share_image(self, number: str) -> None:
        if (old := self._article(number)) is not None:
            ref = attrs.evolve(SHARED, version=str(self.image_version))
            self.erp.put(attrs.evolve(old, media=(ref,)))

    @rule()
    def change_shared_image(self) -> None:
        """The shared image's content changes under the same name; the
        ERP says so with a new version on every article showing it."""
        self.image_version += 1
        self.erp.media["shared"] = jpeg(200 + self.image_version)
        ref = attrs.evolve(SHARED, version=str(self.image_version))
        for number in ARTICLES:
            old = self._article(number)
            if old is not None and old.media and old.media[0].key == "shared":
                self.erp.put(attrs.evolve(old, media=(ref,)))

    @rule(
        number=st.sampled_from(WITH_VARIANTS),
        price=st.sampled_from([None, *PRICES]),
    )
    def reprice_variant(self, number: str, price: Decimal | None) -> None:
        old = self._article(number)
        if old is None or not old.variants:
            return
        first = attrs.evolve(old.variants[0], price=price)
        self.erp.put(attrs.evolve(old, variants=(first, *old.variants[1:])))

    @rule(number=st.sampled_from(ARTICLES))
    def toggle_active(self, number: str) -> None:
        if (old := self._article(number)) is not None:
            self.erp.put(attrs.evolve(old, active=not old.active))

    @rule(parent=st.sampled_from([None, "C-1", "C-3"]))
    def move_category(self, parent: str | None) -> None:
        """C-2 moves under another parent (or to the top)."""
        old = self.erp.get(DataType.CATEGORIES, "C-2")
        assert isinstance(old, Category)
        self.erp.put(attrs.evolve(old, parent=parent))

    # -- the shop, by hand --------------------------------------------------

    @rule(number=st.sampled_from(ARTICLES))
    def hand_delete(self, number: str) -> None:
        if self.view.delete(number):
            self.touched |= {number, *self._stock_numbers(number)}

    @rule(number=st.sampled_from(ARTICLES), quantity=st.integers(0, 9))
    def hand_stock(self, number: str, quantity: int) -> None:
        # 1000 and more: never what the ERP holds, by chance.
        for stock in self._stock_numbers(number):
            if self.view.set_stock(stock, 1000 + quantity):
                self.touched.add(stock)

    @rule(number=st.sampled_from(ARTICLES))
    def hand_renumber(self, number: str) -> None:
        """The merchant changes a product's number in the shop."""
        if self.view.renumber(number, f"X{number}"):
            self.touched |= {number, *self._stock_numbers(number)}

    @rule(kind=st.sampled_from(sorted(FAULTS)))
    def shop_misbehaves(self, kind: str) -> None:
        self.emu.faults = FAULTS[kind]

    # -- runs ---------------------------------------------------------------

    @rule(trigger=st.sampled_from([Trigger.MANUAL, Trigger.SCHEDULED]))
    def run(self, trigger: Trigger) -> None:
        self.portal.call(self._drive, SPEC, trigger, None)

    @rule(after=st.floats(min_value=0.0, max_value=0.05))
    def cancel_mid_run(self, after: float) -> None:
        self.portal.call(self._drive, SPEC, Trigger.SCHEDULED, after)

    @rule()
    def restart(self) -> None:
        self.portal.call(self.platform.aclose)
        self.sync = self._synchronizer()

    @rule(trigger=st.sampled_from([Trigger.MANUAL, Trigger.SCHEDULED]))
    def quiesce(self, trigger: Trigger) -> None:
        """Faults off, a run to the end: every record lands or is in the
        ledger; then a forced run repairs the hand edits."""
        self.emu.faults = Faults()
        events = self.portal.call(self._drive, SPEC, trigger, None)
        assert events, "the quiet run failed"
        self.portal.call(self._projection, events, self.touched)
        if self.touched:
            forced = attrs.evolve(SPEC, force=True)
            events = self.portal.call(
                self._drive, forced, Trigger.MANUAL, None
            )
            assert events, "the forced run failed"
            self.portal.call(self._projection, events, set())
            self.touched.clear()

    async def _drive(
        self, spec: Any, trigger: Trigger, cancel_after: float | None
    ) -> list[Any]:
        return await drive(
            self.sync, spec, trigger, cancel_after, self.run_limit
        )

    async def _projection(self, events: list[Any], skip: set[str]) -> None:
        # The oracle reads this module's catalogue: imported when used.
        from ._machine_oracle import projection

        await projection(self, events, skip)

    # -- invariants ----------------------------------------------------------

    @invariant()
    def one_product_per_number(self) -> None:
        numbers = self.view.numbers()
        assert len(numbers) == len(set(numbers)), numbers


def _only(number: str) -> Any:
    from ecomsync import Only

    return Only({number})

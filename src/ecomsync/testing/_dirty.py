"""
A dirty catalogue: merchant data as it really is, each record a trap with
the outcome a correct sync must reach for it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

from .._model import (
    Article,
    Category,
    MediaRef,
    Record,
    StockLevel,
    Variant,
)
from .._spec import DataType
from ..erp.memory import MemoryErp


__all__ = ["DirtyCatalogue", "Trap", "dirty_catalogue"]


@attrs.frozen(kw_only=True)
class Trap:
    """
    One record of a `DirtyCatalogue` and what must become of it.

    Attributes:
        trap: What is dirty about it, in a few words.
        data_type: The type it is synced as.
        record: The record, exactly as the ERP holds it.
        fails_on: ``None``: it must land on the platform exactly as it is.
            Otherwise it must fail on its own, and the failure's field
            must contain this text (``"number"`` matches
            ``"variants.1.number"``, ``"name"`` a translation's name).
        why: The rule that decides the outcome.

    .. versionadded:: 26.1.0
    """

    trap: str
    data_type: DataType
    record: Record
    fails_on: str | None = None
    why: str = ""

    @property
    def lands(self) -> bool:
        """
        Whether the record must land (rather than fail by name).
        """
        return self.fails_on is None


@attrs.frozen
class DirtyCatalogue:
    """
    Records for an ERP, the media they reference, and one `Trap` per
    record saying what a correct sync does with it.

    Attributes:
        traps: One per record, in the order an ERP would hold them.
        media: File contents by `MediaRef.key`.

    .. versionadded:: 26.1.0
    """

    traps: tuple[Trap, ...]
    media: Mapping[str, bytes]

    @property
    def records(self) -> list[Record]:
        """
        Every record, duplicates included, for `MemoryErp` or a seed.
        """
        return [t.record for t in self.traps]

    def erp(self, **kwargs: Any) -> MemoryErp:
        """
        A `MemoryErp` holding the catalogue (*kwargs* go to it).
        """
        return MemoryErp(self.records, media=dict(self.media), **kwargs)

    def of(self, data_type: DataType) -> list[Trap]:
        """
        The traps synced as *data_type*.
        """
        return [t for t in self.traps if t.data_type is data_type]

    def landing(self, data_type: DataType) -> dict[str, Record]:
        """
        What the platform must hold of *data_type* afterwards, by number.
        """
        return {
            t.record.number: t.record for t in self.of(data_type) if t.lands
        }

    def failing(self, data_type: DataType) -> dict[str, str]:
        """
        The numbers of *data_type* that must fail, with the text their
        failure's field must contain.
        """
        return {
            t.record.number: t.fails_on
            for t in self.of(data_type)
            if t.fails_on is not None
        }


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


#: A name of 300 characters (no shop name field takes that many).
LONG_NAME = ("Sehr langer Artikelname mit Überlänge " * 10)[:300]

_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"


def _image(seed: int) -> bytes:
    # A JPEG header (platforms sniff the type) and distinct content.
    return _JPEG + bytes([seed % 256]) * 64 + b"\xff\xd9"


def dirty_catalogue(  # noqa: PLR0915 - one list of traps, read top down
    *,
    numbers_fold: bool = True,
    name_limit: int | None = 255,
    allow_backorders: bool = False,
) -> DirtyCatalogue:
    """
    The traps of real merchant data, each with its expected outcome.

    The outcome of a few traps depends on the platform, which the
    arguments describe:

    Args:
        numbers_fold: The platform compares record numbers ignoring case,
            accents, Unicode normalisation and trailing spaces (Shopware
            6 on MySQL's ``utf8mb4_unicode_ci``): numbers equal there are
            an ambiguity, and every party fails.  ``False``: numbers
            compare exactly, and such records land side by side.
        name_limit: The longest name the platform stores (Shopware 6:
            255 characters); ``None`` for no limit.
        allow_backorders: The host allows backorders on the platform, so
            negative stock lands; otherwise the shop is set to 0 for it
            and it fails naming ``quantity``.

    The traps: a reused code (inactive and active article with one
    number), one number twice, a variant numbered like a standalone
    article, NaN / signalling NaN / infinite / huge prices, numbers with
    Arabic-Indic, fullwidth and superscript digits, negative stock, case
    and whitespace variants of one number, leading zeros, a 300-character
    name, NFC and NFD forms of "Müller" (as names and as numbers), a
    category cycle, a product in two categories, an image shared by many
    products, and an article whose category is not in the ERP.

    .. versionadded:: 26.1.0
    """
    A, C, S = DataType.ARTICLES, DataType.CATEGORIES, DataType.STOCK
    traps: list[Trap] = []

    def add(
        trap: str,
        record: Record,
        fails_on: str | None = None,
        why: str = "",
    ) -> None:
        data_type = {Article: A, Category: C, StockLevel: S}[type(record)]
        traps.append(
            Trap(
                trap=trap,
                data_type=data_type,
                record=record,
                fails_on=fails_on,
                why=why,
            )
        )

    def art(number: str, name: str, **kw: Any) -> Article:
        kw.setdefault("price", Decimal("9.99"))
        kw.setdefault("categories", ("DC-TOOLS",))
        return Article(number=number, name=name, **kw)

    # -- categories ----------------------------------------------------
    add(
        "a child listed before its parent",
        Category(number="DC-PLIERS", name="Zangen", parent="DC-TOOLS"),
    )
    add("a plain category", Category(number="DC-TOOLS", name="Werkzeug"))
    cycle = "a category cycle"
    add(
        cycle,
        Category(number="DC-LOOP-A", name="Schleife A", parent="DC-LOOP-B"),
        "parent",
        "a cycle cannot be ordered parents first: every member fails",
    )
    add(
        cycle,
        Category(number="DC-LOOP-B", name="Schleife B", parent="DC-LOOP-A"),
        "parent",
        "a cycle cannot be ordered parents first: every member fails",
    )
    add(
        "a category named in NFC",
        Category(number="DC-NFC", name=_nfc("Müller")),
    )
    add(
        "a category named in NFD",
        Category(number="DC-NFD", name=_nfd("Müller")),
    )

    # -- articles that must land ---------------------------------------
    add("a clean article", art("DC-OK-1", "Hammer"))
    add(
        "a product in two categories",
        art("DC-TWO-CATS", "Kombizange", categories=("DC-TOOLS", "DC-PLIERS")),
    )
    add(
        "an article with variants",
        art(
            "DC-POLO",
            "Polo",
            variants=(
                Variant(number="DC-POLO-S", options=(("size", "S"),)),
                Variant(
                    number="DC-POLO-M",
                    options=(("size", "M"),),
                    price=Decimal("10.99"),
                ),
            ),
        ),
    )
    for number, name in (
        ("DC-\u0663", "Arabic-Indic digit three"),
        ("DC-\uff14\uff12", "fullwidth digits four two"),
        ("DC-\u00b2", "superscript two"),
    ):
        add("Unicode digits in the number", art(number, name))
    add("leading zeros", art("DC-007", "Agent"))
    add("the same without leading zeros", art("DC-7", "Not the agent"))
    add("a name in NFC", art("DC-NAME-NFC", _nfc("Müller Zange")))
    add("a name in NFD", art("DC-NAME-NFD", _nfd("Müller Säge")))
    shared = MediaRef(
        key="dc-shared.jpg", filename="logo.jpg", mime_type="image/jpeg"
    )
    copy = MediaRef(
        key="dc-shared-copy.jpg", filename="logo-2.jpg", mime_type="image/jpeg"
    )
    for i in range(1, 6):
        add(
            "an image shared by many products",
            art(f"DC-IMG-{i}", f"Bild {i}", media=(shared,)),
        )
    add(
        "the shared image under another key",
        art("DC-IMG-6", "Bild 6", media=(copy,)),
    )
    long_fails = name_limit is not None and len(LONG_NAME) > name_limit
    add(
        "a 300-character name",
        art("DC-LONG", LONG_NAME),
        "name" if long_fails else None,
        f"the platform stores at most {name_limit} characters"
        if long_fails
        else "the platform takes it whole",
    )

    # -- ambiguities -----------------------------------------------------
    both = "a number twice in one read: every party fails, named"
    add(
        "a reused code (inactive)",
        art("DC-Z-1", "Old Z", active=False, price=Decimal("5.00")),
        "number",
        both,
    )
    add("a reused code (active)", art("DC-Z-1", "New Z"), "number", both)
    add("the same number twice", art("DC-D-1", "Drill"), "number", both)
    add("the same number twice", art("DC-D-1", "Driver"), "number", both)
    add(
        "a variant numbered like a standalone article",
        art(
            "DC-SHIRT",
            "Shirt",
            variants=(
                Variant(number="DC-SHIRT-S", options=(("size", "S"),)),
                Variant(number="DC-SHIRT-M", options=(("size", "M"),)),
            ),
        ),
        "number",
        both,
    )
    add(
        "a standalone article numbered like a variant",
        art("DC-SHIRT-M", "Shirt M"),
        "number",
        both,
    )
    folded = (
        "the platform folds case, accents and trailing spaces in numbers: "
        "the same number for it, every party fails"
        if numbers_fold
        else "the platform compares numbers exactly"
    )
    fold_field = "number" if numbers_fold else None
    for number in ("DC-CASE-1", "dc-case-1", "DC-CASE-1 "):
        add(
            "case and whitespace of one number",
            art(number, f"[{number}]"),
            fold_field,
            folded,
        )
    add(
        "a number in NFC",
        art(_nfc("DC-MÜLLER"), "Müller NFC"),
        fold_field,
        folded,
    )
    add(
        "a number in NFD",
        art(_nfd("DC-MÜLLER"), "Müller NFD"),
        fold_field,
        folded,
    )

    # -- invalid values --------------------------------------------------
    bad = "NaN, infinite and out-of-range values are invalid records"
    add(
        "a NaN price", art("DC-NAN", "NaN", price=Decimal("NaN")), "price", bad
    )
    add(
        "a signalling NaN price",
        art("DC-SNAN", "sNaN", price=Decimal("sNaN")),
        "price",
        bad,
    )
    add(
        "an infinite price",
        art("DC-INF", "Infinity", price=Decimal("Infinity")),
        "price",
        bad,
    )
    add(
        "a huge price",
        art("DC-HUGE", "Huge", price=Decimal("1e15")),
        "price",
        bad,
    )
    add(
        "a NaN variant price",
        art(
            "DC-VNAN",
            "Variant NaN",
            variants=(Variant(number="DC-VNAN-1", price=Decimal("NaN")),),
        ),
        "price",
        bad,
    )
    add(
        "an article whose category is not in the ERP",
        art("DC-ORPHAN", "Waise", categories=("DC-NOWHERE",)),
        "categories",
        "a category the ERP does not have cannot be created: the article "
        "fails naming it",
    )

    # -- stock -------------------------------------------------------------
    add("stock", StockLevel(number="DC-OK-1", quantity=7))
    add(
        "stock of a number with leading zeros",
        StockLevel(number="DC-007", quantity=1),
    )
    add(
        "negative stock",
        StockLevel(number="DC-7", quantity=-3),
        None if allow_backorders else "quantity",
        "the host allows backorders"
        if allow_backorders
        else "negative stock goes to the shop as 0 (nothing to sell) and "
        "fails, so that it is seen, unless the host allows backorders",
    )

    media = MappingProxyType(
        {"dc-shared.jpg": _image(1), "dc-shared-copy.jpg": _image(1)}
    )
    return DirtyCatalogue(traps=tuple(traps), media=media)

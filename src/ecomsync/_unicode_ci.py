"""
Text as MySQL's (and MariaDB's) ``utf8mb4_unicode_ci`` compares it: the
collation of Shopware's tables, whose unique keys (the product number)
and text filters follow it.  Shared by the Shopware 6 adapter and its
emulator.  `unicode_520_ci` is ``utf8mb4_unicode_520_ci``, the collation
WordPress gives its tables (WooCommerce's SKUs), for its adapter and
emulator.

``utf8mb4_unicode_ci`` is UCA 4.0.0 at the primary level with PAD SPACE:
case, accents and width do not count, ``ß`` is ``ss``, ``Œ`` is ``OE``
and Ukrainian ``Ґ`` is ``Г``, every space (no-break, narrow,
ideographic) is a space (but a spacing accent, U+00B4, is a symbol of
its own), trailing spaces do not count, digits of every
script are their value, and format and control characters (a zero-width
space, a byte order mark, a direction mark) weigh nothing at all.  Some
letters that Unicode decomposes are letters of their own to it
(Cyrillic ``Й``, ``Ї``, ``Ў``), and every character outside the BMP
(an emoji, a mathematical letter) weighs as U+FFFD, all alike (UCA
5.2.0 tells them apart).  Checked character by character against
MariaDB 10.11's ``WEIGHT_STRING(... COLLATE utf8mb4_unicode_ci)`` for
the Latin, Cyrillic and Greek blocks, the spaces and the ignorable
characters; the approximation is coarser in other scripts.
"""

from __future__ import annotations

import unicodedata
from itertools import chain


#: Code points (BMP) the collation ignores that Unicode does not
#: decompose away: controls, format characters, variation selectors.
_IGNORED_RANGES = (
    (0x0001, 0x0008),
    (0x000E, 0x001F),
    (0x007F, 0x0084),
    (0x0086, 0x009F),
    (0x034F, 0x034F),
    (0x0488, 0x0489),
    (0x0600, 0x0603),
    (0x06DD, 0x06DE),
    (0x070F, 0x070F),
    (0x0901, 0x0903),
    (0x0981, 0x0983),
    (0x0A01, 0x0A03),
    (0x0A70, 0x0A71),
    (0x0A81, 0x0A83),
    (0x0B01, 0x0B03),
    (0x0B82, 0x0B82),
    (0x0C01, 0x0C03),
    (0x0C82, 0x0C83),
    (0x0D02, 0x0D03),
    (0x0D82, 0x0D83),
    (0x0E47, 0x0E47),
    (0x0E4E, 0x0E4E),
    (0x0F7E, 0x0F7F),
    (0x1036, 0x1036),
    (0x1038, 0x1038),
    (0x17C6, 0x17D1),
    (0x17D3, 0x17D3),
    (0x180B, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2063),
    (0x206A, 0x206F),
    (0x20DD, 0x20E0),
    (0x20E2, 0x20E4),
    (0xFC5E, 0xFC63),
    (0xFCF2, 0xFCF4),
    (0xFE00, 0xFE0F),
    (0xFE70, 0xFE74),
    (0xFE76, 0xFE7F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
)
_IGNORED = frozenset(
    chr(c)
    for c in chain.from_iterable(range(a, b + 1) for a, b in _IGNORED_RANGES)
)

#: Cyrillic letters Unicode decomposes (a letter and a mark) that the
#: collation weighs as letters of their own: ``Й`` is not ``И``.
_OWN_LETTERS = frozenset("ЃЇЌЎЙйѓїќўѶѷӐӑӒӓӖӗӚӛӜӝӞӟӤӥӦӧӪӫӬӭӰӱӲӳӴӵӸӹ")


def unicode_ci(value: str) -> str:
    """
    A key equal for two strings exactly when ``utf8mb4_unicode_ci``
    takes them for equal (see the module's docstring for where that is
    approximate).  Not cached: the adapter keys every number of a push
    once, and a cache would hold them past it (peak memory).
    """
    if value.isascii() and value.isprintable():
        return value.rstrip(" ").casefold()  # the common case
    return _key(value, bmp_only=True)


def _key(value: str, *, bmp_only: bool) -> str:
    out: list[str] = []
    for ch in value:
        if ch in _IGNORED:
            continue
        if bmp_only and ord(ch) > 0xFFFF:
            # UCA 4.0.0 in MySQL weighs every character outside the BMP
            # (an emoji, a mathematical A) as U+FFFD: all one.
            out.append("\ufffd")
            continue
        if ch in _OWN_LETTERS:
            out.append(ch)
            continue
        decomposed = unicodedata.normalize("NFKD", ch)
        if decomposed[0] == " " and unicodedata.combining(decomposed[-1]):
            # A spacing accent (U+00B4, U+00A8) weighs as a symbol of its own,
            # not as a space: its first mark stands for it.
            out.append(decomposed[1])
            continue
        for c in decomposed:
            if unicodedata.combining(c) or c in _IGNORED:
                continue
            digit = unicodedata.digit(c, None)
            out.append(c if digit is None else str(digit))
    folded = "".join(out).rstrip(" ").casefold()
    # Expansions Unicode does not make: Œ is OE; Ukrainian Ґ is Г.
    return folded.replace("œ", "oe").replace("\u0491", "\u0433")


#: Letters ``utf8mb4_unicode_520_ci`` (UCA 5.2.0) weighs as their base
#: letter where ``utf8mb4_unicode_ci`` (UCA 4.0.0) keeps them apart, and
#: letters it expands (checked against MariaDB 10.11's WEIGHT_STRING).
_FOLD_520 = str.maketrans(
    {
        "ø": "o",
        "ǿ": "o",
        "đ": "d",
        "ð": "d",
        "ħ": "h",
        "ł": "l",
        "ŀ": "l",
        "æ": "ae",
        "ǣ": "ae",
        "ǽ": "ae",
    }
)


def unicode_520_ci(value: str) -> str:
    """
    A key equal for two strings exactly when ``utf8mb4_unicode_520_ci``
    takes them for equal: WordPress' collation (and so WooCommerce's
    SKU lookup's) wherever the server has it, which MySQL from 5.6 and
    every MariaDB 10 do.  As `unicode_ci`, but ``Ø`` is ``O``, ``Đ`` and
    ``Ð`` are ``D``, ``Ħ`` is ``H``, ``Ł`` and ``Ŀ`` are ``L`` and ``Æ``
    is ``AE``; the same approximation elsewhere.
    """
    if value.isascii() and value.isprintable():
        return value.rstrip(" ").casefold()
    # Ŀ decomposes to L and a middle dot, which the collation weighs.
    value = value.replace("\u013f", "l").replace("\u0140", "l")
    return _key(value.casefold().translate(_FOLD_520), bmp_only=False)

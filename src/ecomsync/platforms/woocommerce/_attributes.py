"""
Custom attribute names as WooCommerce keys them: ``sanitize_title``
('save' context) of the name, which folds letters by WordPress's
``remove_accents`` table, itself depending on the site's locale
(wp-includes/formatting.php).  The REST API does not tell the locale,
so two names are taken for one attribute when any locale's folding
makes them one.

Private: `ecomsync.platforms.woocommerce.WooCommerce` is the public face.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable


def _plain(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", char)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# remove_accents(): the letters it folds (Latin-1, Latin Extended-A, a
# few of Extended-B, Vietnamese and Pinyin vowels); every other
# character is kept.  Most lose their marks; these become other letters.
_SPECIAL = {
    "Æ": "AE", "æ": "ae", "Ð": "D", "ð": "d", "Ø": "O", "ø": "o",
    "Þ": "TH", "þ": "th", "ß": "s", "Đ": "D", "đ": "d", "Ħ": "H",
    "ħ": "h", "\u0131": "i", "ĸ": "k", "Ŀ": "L", "ŀ": "l", "Ł": "L",
    "ł": "l", "ŉ": "n", "Ŋ": "N", "ŋ": "n", "Œ": "OE", "œ": "oe",
    "Ŧ": "T", "ŧ": "t", "\u0251": "a", "€": "E", "£": "",
}  # fmt: skip
_FOLDED = [
    "ªº",
    *(chr(c) for c in range(0xC0, 0x100) if c not in (0xD7, 0xF7)),
    *(chr(c) for c in range(0x100, 0x180)),
    "\u01a0\u01a1\u01af\u01b0\u0218\u0219\u021a\u021b\u0251\u20ac\u00a3",
    *(chr(c) for c in range(0x1CD, 0x1DD)),
    *(chr(c) for c in range(0x1EA0, 0x1EFA)),
]
ACCENTS: dict[str, str] = {
    c: _SPECIAL.get(c, _plain(c)) for c in "".join(_FOLDED)
}
_GERMAN = {
    "Ä": "Ae", "ä": "ae", "Ö": "Oe", "ö": "oe", "Ü": "Ue", "ü": "ue",
    "ß": "ss",
}  # fmt: skip
#: The locales whose ``remove_accents`` differs from the default
#: (``en_US``), by what they change.
LOCALES: dict[str, dict[str, str]] = {
    "en_US": {},
    "de_DE": _GERMAN,
    "de_DE_formal": _GERMAN,
    "de_CH": _GERMAN,
    "de_CH_informal": _GERMAN,
    "da_DK": {
        "Æ": "Ae",
        "æ": "ae",
        "Ø": "Oe",
        "ø": "oe",
        "Å": "Aa",
        "å": "aa",
    },
    "ca": {"l·l": "ll"},
    "sr_RS": {"Đ": "DJ", "đ": "dj"},
    "bs_BA": {"Đ": "DJ", "đ": "dj"},
}
_TABLES = {
    locale: str.maketrans(
        {**ACCENTS, **{k: v for k, v in extra.items() if len(k) == 1}}
    )
    for locale, extra in LOCALES.items()
}
#: One locale of each folding, the keys `attribute_keys` gives.
_APART = ("en_US", "de_DE", "da_DK", "ca", "sr_RS")


def remove_accents(text: str, locale: str = "en_US") -> str:
    """
    WordPress's ``remove_accents`` of *text* (NFC) for *locale*.
    """
    text = unicodedata.normalize("NFC", text)
    if locale == "ca":
        text = text.replace("l·l", "ll")
    return text.translate(_TABLES.get(locale, _TABLES["en_US"]))


_TAGS = re.compile(r"<[^>]*(?:>|$)")
_OCTETS = re.compile(r"%([a-fA-F0-9][a-fA-F0-9])")
_KEPT = re.compile(r"---([a-fA-F0-9][a-fA-F0-9])---")
_DASHES = ("%c2%a0", "%e2%80%93", "%e2%80%94", "&nbsp;", "&#160;",
           "&ndash;", "&#8211;", "&mdash;", "&#8212;", "/")  # fmt: skip
_GONE = ("%c2%ad", "%c2%a1", "%c2%bf", "%c2%ab", "%c2%bb", "%e2%80%b9",
         "%e2%80%ba", "%e2%80%98", "%e2%80%99", "%e2%80%9c", "%e2%80%9d",
         "%e2%80%9a", "%e2%80%9b", "%e2%80%9e", "%e2%80%9f", "%c2%a9",
         "%c2%ae", "%c2%b0", "%e2%80%a6", "%e2%84%a2", "%c2%b4", "%cb%8a",
         "%cc%81", "%cd%81", "%cc%80", "%cc%84", "%cc%8c")  # fmt: skip
_ENTITY = re.compile(r"&.+?;")
_DROP = re.compile(r"[^%a-z0-9 _\-]")


def _uri_encoded(title: str, length: int = 200) -> str:
    # utf8_uri_encode( $title, 200 ): octets of non-ASCII letters as %xx,
    # cut before the character that would pass *length*
    out: list[str] = []
    used = 0
    for char in title:
        encoded = (
            char
            if char.isascii()
            else "".join(
                f"%{b:x}" for b in char.encode("utf-8", "surrogatepass")
            )
        )
        if used + len(encoded) > length:
            break
        out.append(encoded)
        used += len(encoded)
    return "".join(out)


# option names repeat across a catalogue ("Size", "Colour"): each is
# worked out once, not for each variant of each article
@functools.lru_cache(maxsize=4096)
def sanitize_title(text: str, locale: str = "en_US") -> str:
    """
    WordPress's ``sanitize_title`` of *text* ('save' context, filtered by
    ``sanitize_title_with_dashes``) on a site in *locale*.
    """
    title = _TAGS.sub("", remove_accents(text, locale))
    title = _OCTETS.sub(r"---\1---", title).replace("%", "")
    title = _KEPT.sub(r"%\1", title)
    title = _uri_encoded(title.lower()).lower()
    for dash in _DASHES:
        title = title.replace(dash, "-")
    for gone in _GONE:
        title = title.replace(gone, "")
    title = title.replace("%c3%97", "x")
    title = _ENTITY.sub("", title).replace(".", "-")
    title = re.sub(r"\s+", "-", _DROP.sub("", title), flags=re.ASCII)
    return re.sub("-+", "-", title).strip("-")


@functools.lru_cache(maxsize=4096)
def attribute_keys(name: str) -> tuple[str, ...]:
    """
    *name*'s key under each way WordPress locales fold letters.
    """
    return tuple(sanitize_title(name, locale) for locale in _APART)


def attribute_key(name: str) -> str:
    """
    *name*'s key on a site in the default locale (``en_US``).
    """
    return sanitize_title(name)


def one_attribute(a: str, b: str) -> bool:
    """
    Whether WooCommerce may key *a* and *b* as one attribute: on a site
    in some locale, ``sanitize_title`` makes them equal.
    """
    return any(
        x == y
        for x, y in zip(attribute_keys(a), attribute_keys(b), strict=True)
    )


def spellings(names: Iterable[str]) -> dict[str, str]:
    """
    The spelling each of *names* is sent as: the first of the names
    WooCommerce may key as one with it (directly or through others), so
    the shop never gets two spellings of one attribute, whatever its
    locale.
    """
    found: dict[str, str] = {}
    groups: list[tuple[list[tuple[str, ...]], str]] = []
    for name in names:
        if name in found:
            continue
        keys = attribute_keys(name)
        joined = [
            g
            for g in groups
            if any(any(map(str.__eq__, keys, k)) for k in g[0])
        ]
        if not joined:
            groups.append(([keys], name))
            found[name] = name
            continue
        first = joined[0]
        first[0].append(keys)
        for other in joined[1:]:
            first[0].extend(other[0])
            groups.remove(other)
            for n, s in found.items():
                if s == other[1]:
                    found[n] = first[1]
        found[name] = first[1]
    return found

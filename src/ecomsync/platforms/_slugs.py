"""
Readable, collision-free names for ERP numbers on platforms that fold
them (WooCommerce's category slugs, Shopify's collection handles): the
number without accents, as lowercase ASCII words joined by ``-``, beside
a hash of the exact number that keeps apart two numbers the folding
makes one.

Private: shared by the adapters, and knowing none of them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata


_SLUG = re.compile(r"[^a-z0-9]+")


def without_accents(text: str) -> str:
    """
    *text* decomposed (NFKD) with its combining marks dropped.
    """
    plain = unicodedata.normalize("NFKD", text)
    return "".join(c for c in plain if not unicodedata.combining(c))


def slug_parts(number: str) -> tuple[str, str]:
    """
    *number* as a readable slug (lowercase ASCII letters and digits
    joined by ``-``, at most 40 characters, possibly empty), and the
    first 8 hex digits of the SHA-256 of the exact number.
    """
    readable = _SLUG.sub("-", without_accents(number).lower())
    digest = hashlib.sha256(number.encode("utf-8", "surrogatepass"))
    return readable.strip("-")[:40], digest.hexdigest()[:8]

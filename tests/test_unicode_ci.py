"""
The MySQL collation keys (``ecomsync._unicode_ci``), each pair as MariaDB
10.11's ``=`` under the collation answers it.
"""

from __future__ import annotations

import pytest

from ecomsync._unicode_ci import unicode_520_ci, unicode_ci


class TestUnicodeCi:
    @pytest.mark.parametrize(
        ("a", "b", "same"),
        [
            ("A-\U0001f600", "A-\U0001f601", True),  # every emoji is one
            ("A\U0001d400", "AA", False),  # mathematical bold A is no A
            ("LØ-1", "LO-1", False),
            ("Æ-1", "AE-1", False),
            ("A-1\u00b4", "A-1", False),
        ],
    )
    def test_as_mariadb(self, a: str, b: str, same: bool) -> None:
        """utf8mb4_unicode_ci (UCA 4.0.0) weighs every character outside
        the BMP alike."""
        assert same == (unicode_ci(a) == unicode_ci(b))


class TestUnicode520Ci:
    @pytest.mark.parametrize(
        ("a", "b", "same"),
        [
            ("A-\U0001f600", "A-\U0001f601", False),
            ("A\U0001d400", "AA", True),
            ("LØ-1", "LO-1", True),
            ("Æ-1", "AE-1", True),
            ("Łódź", "LODZ", True),
            ("Đak", "DAK", True),
            ("Й-1", "И-1", False),
            ("\ufeffA-1", "a-1\u00a0", True),
            ("A-1\u00b4", "A-1", False),
        ],
    )
    def test_as_mariadb(self, a: str, b: str, same: bool) -> None:
        """utf8mb4_unicode_520_ci (UCA 5.2.0), WordPress's collation."""
        assert same == (unicode_520_ci(a) == unicode_520_ci(b))

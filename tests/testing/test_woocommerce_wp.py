"""
WordPress' conventions as the WooCommerce emulator applies them: prices
as ``wc_format_decimal`` keeps them, integers as ``absint`` reads them,
date arguments as ``rest_parse_date`` parses them, date windows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ecomsync.testing.woocommerce._errors import WpError
from ecomsync.testing.woocommerce._wp import (
    as_int,
    in_window,
    money,
    parse_date_param,
    sanitize_title,
)


class TestMoney:
    @pytest.mark.parametrize(
        ("given", "stored"),
        [
            (None, ""),
            ("", ""),
            ("abc", ""),
            ("NaN", ""),
            ("Infinity", ""),
            ("19.90", "19.90"),
            (" 7 ", "7"),
            ("1e2", "100"),
        ],
    )
    def test_prices_as_stored(self, given: object, stored: str) -> None:
        """
        Prices keep their text (trailing zeros too); no price, text that
        is not a number and non-finite values store as empty; exponents
        are written out.
        """
        assert stored == money(given)


class TestArguments:
    def test_integers(self) -> None:
        """
        What is not an integer reads as 0.
        """
        assert [3, 0, 0] == [as_int("3"), as_int("x"), as_int(None)]

    def test_dates(self) -> None:
        """
        ``Z`` and a space are accepted; anything else unparseable is 400
        ``rest_invalid_param`` naming the argument.
        """
        assert datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC) == parse_date_param(
            "after", "2026-01-02 03:04:05Z"
        )
        with pytest.raises(WpError) as caught:
            parse_date_param("after", "yesterday")

        assert 400 == caught.value.status
        assert "after" in str(caught.value.body())

    def test_windows_are_exclusive_and_zoned(self) -> None:
        """
        ``after`` and ``before`` are exclusive; an aware bound is read in
        the column's zone (the site's, or GMT).
        """
        berlin = ZoneInfo("Europe/Berlin")
        noon_utc = datetime(2026, 1, 2, 12, tzinfo=UTC)
        local_column = "2026-01-02T13:00:00"  # 12:00 UTC in Berlin

        assert not in_window(
            local_column, after=noon_utc, before=None, tz=berlin, gmt=False
        )
        assert in_window(
            "2026-01-02T12:00:01",
            after=noon_utc,
            before=None,
            tz=berlin,
            gmt=True,
        )
        assert not in_window(
            "2026-01-02T12:00:00",
            after=None,
            before=noon_utc,
            tz=berlin,
            gmt=True,
        )


class TestSanitizeTitle:
    """
    Slugs as WordPress' ``sanitize_title`` makes them.
    """

    def test_other_scripts_are_kept_percent_encoded(self) -> None:
        """
        Letters of other scripts stay (percent-encoded, lower case), as
        their marks do; Latin letters lose their accents.
        """
        assert "%d1%80%d0%b0%d0%b7%d0%bc%d0%b5%d1%80" == sanitize_title(
            "Размер"
        )
        assert sanitize_title("Μέγεθος") != sanitize_title("Μεγεθος")
        assert "t-shirt-grose" == sanitize_title("T-Shirt Größe")
        assert "a-b-c" == sanitize_title("a.b/c")

    def test_letters_fold_as_remove_accents(self) -> None:
        """
        Latin letters fold as WordPress' ``remove_accents`` table has
        them on an ``en_US`` site (Æ to ae, Ø to o, Ł to l, ß to s,
        Þ to th, Œ to oe), as a German, Danish, Catalan or Serbian site
        has them when the shop is set so.
        """
        assert "aeble-o-l-d-s-th-oe" == sanitize_title("Æble Ø Ł Đ ß Þ Œ")
        assert "storrelse" == sanitize_title("Størrelse")
        assert "groesse" == sanitize_title("Größe", locale="de_DE")
        assert "stoerrelse-aale" == sanitize_title(
            "Størrelse Åle", locale="da_DK"
        )
        assert "colleccio" == sanitize_title("Col·lecció", locale="ca")
        assert "djakovo" == sanitize_title("Đakovo", locale="sr_RS")
        assert "a_b-xl" == sanitize_title("a_b \u00d7L")

"""
docs/troubleshooting.md quotes the messages the code writes.
"""

from __future__ import annotations

import re
from pathlib import Path


ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "troubleshooting.md"

# A code span: `text` or ``text with a ` inside``.
_SPAN = re.compile(r"(`+)\s?(.+?)\s?\1")
# Adjacent string literals on two lines, as the source splits messages.
_JOIN = re.compile(r"""["']\s*\n\s*(?:\+\s*)?[rbfRBF]*["']""")
_EDGES = " '\"[](){}:;,.…"


def _source() -> str:
    text = "\n".join(
        path.read_text(encoding="utf-8")
        for path in sorted((ROOT / "src").rglob("*.py"))
    )
    return _JOIN.sub("", text)


def _quoted() -> list[str]:
    """
    The code spans of the first ("message") column of every table whose
    header starts with "message".
    """
    quoted: list[str] = []
    in_table = False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("| message |"):
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        if in_table and not line.startswith("|---"):
            cell = line.split(" | ")[0].removeprefix("| ")
            quoted += [m.group(2) for m in _SPAN.finditer(cell)]
    return quoted


def test_every_quoted_message_is_in_the_source() -> None:
    """
    Each literal part of each quoted message (the parts between the
    ``…`` that stand for names and values) occurs in src/, so the page
    cannot quote a message the code no longer writes.
    """
    source = _source()
    quoted = _quoted()
    missing = [
        (message, part)
        for message in quoted
        for part in (p.strip(_EDGES) for p in message.split("…"))
        if part and part not in source
    ]

    assert len(quoted) > 50
    assert [] == missing

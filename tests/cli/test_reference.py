"""
docs/cli.md is the parser's own reference.
"""

from __future__ import annotations

from pathlib import Path

from ecomsync._cli._reference import reference


DOC = Path(__file__).parents[2] / "docs" / "cli.md"


def test_docs_cli_md_matches_the_parser() -> None:
    """
    Regenerate with ``python -m ecomsync._cli._reference > docs/cli.md``.
    """
    assert reference() == DOC.read_text(encoding="utf-8")


def test_every_command_and_exit_code_is_documented() -> None:
    """
    Each subcommand has a section and each exit code a row.
    """
    text = reference()
    for name in (
        "check",
        "plan",
        "sync",
        "runs",
        "cancel",
        "resume",
        "failures",
        "schedules",
        "serve",
        "worker",
        "demo",
    ):
        assert f"### `ecomsync {name}`" in text
    for code in (0, 1, 2, 3, 4, 130):
        assert f"| {code} |" in text

"""
The demo command: all five types, the unchanged rerun, and no litter.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from ecomsync import DataType, RunStatus
from ecomsync.__main__ import COMMANDS, _parser, main
from ecomsync._staging_fs import MARKER
from ecomsync.testing._demo import run_demo


LABELS = (
    "categories",
    "articles",
    "stock",
    "addresses_and_orders",
    "order_status",
)


def workdir(output: str) -> Path:
    found = re.search(r"working in (\S+)", output)
    assert found is not None, output
    return Path(found.group(1))


def summary_rows(output: str, label: str) -> list[list[str]]:
    """
    The summary-table rows of one type, split into cells.
    """
    rows = []
    for line in output.splitlines():
        cells = line.split()
        name = " ".join(cells[: len(label.split())])
        if name == label and cells[len(label.split())] in ("all", "since"):
            rows.append(cells[len(label.split()) :])
    return rows


def shopware_available() -> bool:
    try:
        import ecomsync.testing.shopware6  # noqa: F401
    except ImportError:
        return False
    return True


SHOPS = [
    "memory",
    pytest.param(
        "shopware6",
        marks=pytest.mark.skipif(
            not shopware_available() and os.environ.get("CI") != "true",
            reason="the Shopware 6 emulator needs the extra 'testing'",
        ),
    ),
]


class TestRunDemo:
    @pytest.mark.anyio
    @pytest.mark.parametrize("shop", SHOPS)
    async def test_syncs_all_five_types_then_skips_unchanged(
        self, shop: str
    ) -> None:
        """
        A manual run creates every record; a scheduled rerun finds them
        unchanged (orders whose status it pushed excepted); then only the
        edited records are read again.
        """
        out = io.StringIO()

        result = await run_demo(
            articles=120, categories=12, shop=shop, out=out
        )

        manual, rerun, changed = result.runs
        assert manual.record is not None
        assert manual.record.status is RunStatus.SUCCEEDED
        # Shopware 6 writes the stock with the articles: orders come in
        # before them (`_stock_fold`).
        orders = [DataType.ADDRESSES_AND_ORDERS]
        folds = shop == "shopware6"
        assert list(manual.types) == [
            DataType.CATEGORIES,
            *(orders if folds else []),
            DataType.ARTICLES,
            *([] if folds else orders),
            DataType.STOCK,
            DataType.ORDER_STATUS,
        ]
        created = {t: r.counts.created for t, r in manual.types.items()}
        assert created == {
            DataType.CATEGORIES: 12,
            DataType.ARTICLES: 120,
            DataType.STOCK: 120,
            DataType.ADDRESSES_AND_ORDERS: 20,
            DataType.ORDER_STATUS: 7,
        }
        assert sum(r.counts.failed for r in manual.types.values()) == 0
        articles = manual.types[DataType.ARTICLES]
        assert articles.media_uploaded == 2 * 120 + 12
        for data_type, report in rerun.types.items():
            counts = report.counts
            if data_type is DataType.ADDRESSES_AND_ORDERS:
                # A shop that changes an order when its status is pushed
                # hands it over again; the import is idempotent.
                assert counts.updated in (0, created[DataType.ORDER_STATUS])
                assert counts.unchanged + counts.updated == created[data_type]
            else:
                assert counts.unchanged == created[data_type]
                assert counts.done == counts.unchanged
        assert changed.types[DataType.ARTICLES].counts.updated == 3
        assert changed.types[DataType.ARTICLES].counts.unchanged == 0
        assert changed.types[DataType.STOCK].counts.updated == 3
        assert changed.types[DataType.ADDRESSES_AND_ORDERS].counts.created == 1
        assert not result.kept
        assert not result.directory.exists()
        assert ("Shopware 6" in out.getvalue()) is (shop == "shopware6")

    @pytest.mark.anyio
    async def test_plain_output_shows_counts_and_the_rerun(self) -> None:
        """
        Without a terminal the report is plain lines with a summary row
        per type and run.
        """
        out = io.StringIO()

        await run_demo(articles=40, categories=5, shop="memory", out=out)

        text = out.getvalue()
        assert "\x1b[" not in text
        assert "Run 1: manual" in text
        assert "Run 2: scheduled" in text
        preview = text[text.index("Preview") : text.index("Run 1: manual")]
        assert re.search(r"^\s*articles\s+40\s+0\s+0\s", preview, re.M)
        assert "unchanged: skipped" in preview
        for label in LABELS:
            first, second, third = summary_rows(text, label)
            assert first[0] == "all"
            assert second[0] == "all"
            assert second[1:4] == ["0", "0", first[1]]  # all unchanged
            assert third[0] == "since"
        assert "removing" in text
        assert not workdir(text).exists()

    @pytest.mark.anyio
    async def test_rich_output(self) -> None:
        """
        Forced rich output draws bars and tables and still cleans up.
        """
        pytest.importorskip("rich")
        out = io.StringIO()

        result = await run_demo(articles=30, categories=5, out=out, fancy=True)

        text = out.getvalue()
        for label in LABELS:
            assert label in text
        assert "unchanged" in text
        assert not result.directory.exists()

    @pytest.mark.anyio
    async def test_keep_leaves_the_store(self, tmp_path: Path) -> None:
        """
        --keep works in the given directory and leaves the store there,
        with an empty staging directory.
        """
        keep = tmp_path / "kept"

        result = await run_demo(
            articles=20, categories=3, keep=keep, out=io.StringIO()
        )

        assert result.kept
        assert (keep / "ecomsync.db").is_file()
        staging = anyio.Path(keep / "staging")
        assert [p.name async for p in staging.iterdir()] == [MARKER]

    @pytest.mark.anyio
    async def test_keep_refuses_a_full_directory(self, tmp_path: Path) -> None:
        """
        --keep never mixes the demo into a directory that holds files.
        """
        (tmp_path / "precious.txt").write_text("mine")

        with pytest.raises(FileExistsError, match="not empty"):
            await run_demo(
                articles=5, categories=2, keep=tmp_path, out=io.StringIO()
            )

        names = [p.name async for p in anyio.Path(tmp_path).iterdir()]
        assert names == ["precious.txt"]


class TestCommand:
    def test_demo_is_a_contributed_command(self) -> None:
        """
        ``demo`` is not one of the product's own commands: the parser gets
        it from the test kit's plugin.
        """
        sub = _parser()._subparsers

        assert "demo" not in COMMANDS
        assert sub is not None
        assert "demo" in sub._group_actions[0].choices  # type: ignore[operator]

    def test_no_command_prints_help(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        Without a subcommand the command prints its help and fails.
        """
        assert main([]) == 2
        assert "demo" in capsys.readouterr().out

    def test_rejects_zero_articles(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        --articles 0 is refused with a message, not a traceback.
        """
        assert main(["demo", "--articles", "0"]) == 2
        assert "at least 1" in capsys.readouterr().err

    def test_keep_a_full_directory_is_a_usage_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        --keep naming a directory that is not empty exits 2 with one line
        saying so, and leaves the directory alone.
        """
        (tmp_path / "mine.txt").write_text("keep me", encoding="utf-8")

        status = main(["demo", "--articles", "5", "--keep", str(tmp_path)])

        assert 2 == status
        assert [
            f"ecomsync demo: {tmp_path} is not empty; --keep needs a new "
            "or empty directory"
        ] == capsys.readouterr().err.splitlines()
        assert ["mine.txt"] == [p.name for p in tmp_path.iterdir()]

    def test_interrupted_is_one_line(
        self,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """
        Ctrl-C while the demo runs exits 130 with one line, no traceback.
        """

        def interrupted(*_: object) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(anyio, "run", interrupted)

        assert 130 == main(["demo", "--articles", "5"])
        assert ["ecomsync demo: interrupted"] == (
            capsys.readouterr().err.splitlines()
        )

    def test_python_m_ecomsync_demo(self) -> None:
        """
        ``python -m ecomsync demo --articles 200`` runs in a subprocess,
        prints plain lines (no terminal) and removes its directory.
        """
        env = {**os.environ, "PYTHONWARNINGS": "error"}
        done = subprocess.run(
            [sys.executable, "-m", "ecomsync", "demo", "--articles", "200"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )

        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        text = done.stdout
        for label in LABELS:
            first, second, _ = summary_rows(text, label)
            assert int(first[1]) > 0  # created
            # all unchanged on the rerun (or, for orders whose status was
            # pushed to the shop, read again)
            assert int(second[2]) + int(second[3]) == int(first[1])
            if label != "addresses_and_orders":
                assert second[3] == first[1]
        assert "200 articles" in text
        assert not workdir(text).exists()

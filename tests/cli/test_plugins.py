"""
Commands contributed through the entry-point group ``ecomsync.cli``: the
demo from the test kit, another package's, and a missing entry point.
"""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from ecomsync import Synchronizer
from ecomsync.__main__ import _parser, main
from ecomsync._cli import _plugins
from ecomsync._cli._config import load
from ecomsync.exceptions import ConfigurationError
from ecomsync.testing._demo._command import DEMO


CONFIG = """
[erp]
type = "demo"
articles = 3
categories = 1

[platforms.shop]
type = "shopware6"
url = "http://127.0.0.1:9"
client_id = "SWIA"
client_secret_env = "PLUGIN_TEST_SECRET"
"""

HELLO = """
import argparse

import attrs


@attrs.frozen
class Hello:
    help: str = "say hello"
    erp: None = None

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--to", default="world")

    def run(self, args: argparse.Namespace) -> int:
        print(f"hello {args.to}")
        return 3


HELLO = Hello()
"""


def _points(monkeypatch: pytest.MonkeyPatch, *values: str) -> None:
    """
    The installed ``ecomsync.cli`` entry points are *values*
    (``name=module:object``) only.
    """
    points = [
        EntryPoint(name, value, _plugins.GROUP)
        for name, value in (v.split("=", 1) for v in values)
    ]
    monkeypatch.setattr(
        _plugins,
        "entry_points",
        lambda *, group: [p for p in points if p.group == group],
    )


@pytest.fixture
def hello(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    A package of another distribution contributing ``ecomsync hello``.
    """
    (tmp_path / "hello_plugin.py").write_text(HELLO, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "hello_plugin", raising=False)


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLUGIN_TEST_SECRET", "s3cret")


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "ecomsync.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


class TestDemoPlugin:
    def test_demo_comes_from_its_entry_point(self) -> None:
        """
        The installed metadata names the demo's plugin; the parser's
        ``demo`` runs it.
        """
        args = _parser("demo").parse_args(["demo", "--plain"])

        assert DEMO.run is args.run
        assert (
            DEMO.help
            == _parser()
            ._subparsers._group_actions[0]
            .choices[  # type: ignore[union-attr]
                "demo"
            ]
            .description
        )

    def test_config_demo_erp_comes_from_the_plugin(
        self, tmp_path: Path
    ) -> None:
        """
        A config file's ``type = "demo"`` is the seeded ERP of the plugin,
        built with the table's keys.
        """
        sync = load(_config(tmp_path))

        assert isinstance(sync, Synchronizer)
        assert "MemoryErp" == type(sync.erp).__name__


class TestOtherPlugins:
    @pytest.mark.usefixtures("hello")
    def test_another_package_adds_a_command(
        self,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """
        A command another distribution declares is listed by --help and
        runs with its own arguments and exit status.
        """
        _points(monkeypatch, "hello=hello_plugin:HELLO")

        assert 3 == main(["hello", "--to", "you"])
        assert "hello you\n" == capsys.readouterr().out
        with pytest.raises(SystemExit):
            main(["--help"])
        assert "say hello" in capsys.readouterr().out

    def test_only_the_chosen_plugin_loads(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """
        Another command loads no plugin: one that cannot be imported
        breaks only its own command.
        """
        _points(monkeypatch, "broken=no_such_module_anywhere:PLUGIN")

        args = _parser("runs").parse_args(["runs"])

        assert "runs" == args.command
        with pytest.raises(ModuleNotFoundError):
            main(["broken"])

    @pytest.mark.usefixtures("hello")
    def test_a_plugin_cannot_replace_a_builtin(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """
        A contributed command named like one of ecomsync's own is left out.
        """
        _points(monkeypatch, "sync=hello_plugin:HELLO")

        text = _parser().format_help()

        assert "hello_plugin" not in sys.modules
        assert "say hello" not in text
        assert "synchronise now, with progress" in text

    @pytest.mark.usefixtures("hello")
    def test_a_plugin_without_an_erp(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """
        A config file naming a plugin that brings no ERP is refused.
        """
        _points(monkeypatch, "demo=hello_plugin:HELLO")

        with pytest.raises(ConfigurationError, match="type 'demo'"):
            _plugins.erp_of_plugin("demo")


class TestMissingEntryPoint:
    """
    ecomsync on ``sys.path`` but not installed: no entry points.
    """

    @pytest.fixture(autouse=True)
    def _none(self, monkeypatch: pytest.MonkeyPatch) -> None:
        _points(monkeypatch)

    def test_demo_says_how_to_install(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        ``ecomsync demo`` (with its arguments) exits 2 with one line saying
        how to install.
        """
        assert 2 == main(["demo", "--articles", "5"])

        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith("ecomsync demo: it comes from ecomsync's")
        assert "python -m pip install" in line

    def test_help_still_lists_demo(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        --help lists ``demo`` as not available, and why; ``demo --help``
        is the one line.
        """
        with pytest.raises(SystemExit):
            main(["--help"])
        text = " ".join(capsys.readouterr().out.split())

        assert "demo not available: it comes from ecomsync's entry" in text
        assert 2 == main(["demo", "--help"])
        assert 1 == len(capsys.readouterr().err.splitlines())

    def test_the_parser_alone_says_how_to_install(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """
        The placeholder ``demo`` of the parser runs to the same line.
        """
        args = _parser().parse_args(["demo"])

        assert 2 == args.run(args)
        assert "python -m pip install" in capsys.readouterr().err

    def test_config_demo_erp_says_how_to_install(self, tmp_path: Path) -> None:
        """
        ``type = "demo"`` is a configuration error naming the table and
        how to install.
        """
        with pytest.raises(ConfigurationError) as caught:
            load(_config(tmp_path))

        assert str(caught.value).startswith(
            "erp: type 'demo': it comes from ecomsync's entry points"
        )

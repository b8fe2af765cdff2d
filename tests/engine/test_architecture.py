"""
Who may import whom (docs/architecture.md): the engine knows adapters
only by protocol, adapters and stores never import the engine, the
classifier is pure, the product never imports the test kit (the demo
plugs into the command line through an entry point); and no source file
runs past `MAX_LINES` (a file that long holds more than one room).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import ecomsync


ROOT = Path(ecomsync.__file__).parent

#: The engine's modules: the face and the roles of a run.
ENGINE = {
    "_engine",
    "_lifecycle",
    "_plan_run",
    "_run",
    "_ownership",
    "_order_lease",
    "_selection",
    "_changes",
    "_pipeline",
    "_directions",
    "_dependencies",
    "_media_transfer",
    "_writer",
    "_stock_fold",
    "_stock_layouts",
    "_planning",
    "_schedules",
    "_check",
}
#: What no engine module imports: adapters, their HTTP layer, the kit.
ADAPTERS = ("platforms", "erp", "_http", "testing")
#: Concrete stores and pools: the face's documented defaults only.
DEFAULTS = ("state", "licensing")
#: The most lines a file under src/ecomsync may have.
MAX_LINES = 600
#: The product: everything but the test kit.
PRODUCT = sorted(
    p.relative_to(ROOT).as_posix()
    for p in ROOT.rglob("*.py")
    if p.relative_to(ROOT).parts[0] != "testing"
)


def imports(path: Path, *, top_level: bool = False) -> set[str]:
    """
    The modules of *ecomsync* that *path* imports, as dotted names
    relative to the package (``platforms.shopware6``, ``_run``); with
    *top_level*, only those the module's own body imports (not those a
    function imports when it is called).
    """
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = _top_level(tree.body) if top_level else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                module = [*base, *(node.module or "").split(".")]
            elif (node.module or "").startswith("ecomsync"):
                module = node.module.split(".")[1:]  # type: ignore[union-attr]
            else:
                continue
            name = ".".join(p for p in module if p)
            found.add(name)
            found.update(f"{name}.{a.name}".lstrip(".") for a in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("ecomsync."):
                    found.add(alias.name.removeprefix("ecomsync."))
    return found


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """
    The statements that run on import: the body, into ``if`` and ``try``
    blocks, not into functions and classes' methods.
    """
    found: list[ast.stmt] = []
    for node in body:
        found.append(node)
        if isinstance(node, ast.If | ast.Try):
            nested = [*node.body, *node.orelse]
            if isinstance(node, ast.Try):
                nested += [*node.finalbody]
                nested += [s for h in node.handlers for s in h.body]
            found += _top_level(nested)
    return found


def strings(path: Path) -> list[str]:
    """
    The string constants of *path*'s code, docstrings left out.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(
            node,
            ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef,
        )
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def _within(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == r or name.startswith(f"{r}.") for r in roots)


class TestImports:
    @pytest.mark.parametrize("module", sorted(ENGINE))
    def test_engine_knows_adapters_by_protocol(self, module: str) -> None:
        """No engine module imports an adapter, the HTTP layer or the test
        kit; only the face imports concrete stores (its defaults)."""
        found = imports(ROOT / f"{module}.py")

        assert [] == sorted(n for n in found if _within(n, ADAPTERS))
        if module != "_engine":
            assert [] == sorted(n for n in found if _within(n, DEFAULTS))

    @pytest.mark.parametrize(
        "path",
        sorted(
            p.relative_to(ROOT).as_posix()
            for folder in ("platforms", "erp", "state", "licensing")
            for p in (ROOT / folder).rglob("*.py")
        ),
    )
    def test_adapters_never_import_the_engine(self, path: str) -> None:
        """Adapters, stores and licence pools never import the engine."""
        found = imports(ROOT / path)

        assert [] == sorted(n for n in found if n.split(".")[0] in ENGINE)

    @pytest.mark.parametrize(
        "path",
        sorted(
            p.relative_to(ROOT).as_posix()
            for folder in ("platforms", "erp")
            for p in (ROOT / folder).rglob("*.py")
            if p.name != "__init__.py" or p.parent.name != "platforms"
        ),
    )
    def test_adapters_keep_to_themselves(self, path: str) -> None:
        """A platform adapter imports no other platform's package, nor the
        ERP side; the ERP side imports no platform; what the platforms
        share (``platforms._*``) knows none of them.  Only the face of
        ``ecomsync.platforms`` names the adapters."""
        parts = path.removesuffix(".py").split("/")
        own = ".".join(parts[:2]) if len(parts) > 2 else None
        allowed = {own} if parts[0] == "platforms" and own else set()
        found = imports(ROOT / path)
        adapters = {
            n.split(".")[0] + "." + n.split(".")[1]
            for n in found
            if n.startswith("platforms.")
            and not n.split(".")[1].startswith("_")
        }
        wrong_side = "platforms" if parts[0] == "erp" else "erp"

        assert set() == adapters - allowed
        assert [] == sorted(n for n in found if _within(n, (wrong_side,)))

    def test_classifier_is_pure(self) -> None:
        """The change classifier imports only the model (records and their
        checks), its fingerprints and the contracts."""
        found = {n.split(".")[0] for n in imports(ROOT / "_changes.py")}

        assert {
            "_contracts",
            "_fingerprint",
            "_model",
            "_record_checks",
        } == found

    @pytest.mark.parametrize(
        ("path", "allowed"),
        [
            ("_field_checks.py", set()),
            ("_anyio_util.py", set()),
            ("_model.py", {"_field_checks", "exceptions"}),
            ("_record_checks.py", {"_field_checks", "_model"}),
        ],
    )
    def test_floors(self, path: str, allowed: set[str]) -> None:
        """The floors anything may stand on import only what is below them:
        the anyio helpers and the field checks nothing of ecomsync, the
        records the field checks, the whole-record checks both."""
        found = {n.split(".")[0] for n in imports(ROOT / path)}

        assert allowed == found


class TestTestKit:
    @pytest.mark.parametrize("path", PRODUCT)
    def test_product_never_imports_the_test_kit(self, path: str) -> None:
        """No product module imports the test kit, not even lazily inside
        a function."""
        found = imports(ROOT / path)

        assert [] == sorted(n for n in found if _within(n, ("testing",)))

    @pytest.mark.parametrize("path", PRODUCT)
    def test_product_never_names_the_test_kit(self, path: str) -> None:
        """No product module names the test kit in its code (an
        ``import_module`` string, say); docstrings may mention it."""
        named = [s for s in strings(ROOT / path) if "ecomsync.testing" in s]

        assert [] == named

    def test_scans_see_a_lazy_import_and_a_name(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The two scans catch an import inside a function and a module
        name in a string, and leave a docstring alone."""
        root = tmp_path / "ecomsync"
        (root / "_cli").mkdir(parents=True)
        module = root / "_cli" / "_probe.py"
        module.write_text(
            '"""Mentions ecomsync.testing."""\n'
            "def f():\n"
            "    from ..testing import demo_erp\n"
            "    return __import__('ecomsync.testing._seed')\n",
            encoding="utf-8",
        )
        monkeypatch.setattr(sys.modules[__name__], "ROOT", root)

        assert "testing.demo_erp" in imports(module)
        assert ["ecomsync.testing._seed"] == strings(module)

    def test_demo_plugs_in_through_its_entry_point(self) -> None:
        """``ecomsync demo`` comes from the test kit through the entry
        point group ``ecomsync.cli`` that pyproject.toml declares."""
        from importlib.metadata import entry_points

        from ecomsync.testing._demo._command import DEMO

        (point,) = entry_points(group="ecomsync.cli", name="demo")

        assert "ecomsync.testing._demo._command:DEMO" == point.value
        assert DEMO is point.load()

    def test_command_line_loads_no_test_kit(self) -> None:
        """Importing ecomsync, its command line and every product module
        that imports without extras, and building the parser for a command
        other than the demo, loads no module of the test kit."""
        modules = [
            "ecomsync." + p.removesuffix(".py").replace("/", ".")
            for p in PRODUCT
            if not p.endswith("__init__.py")
        ]
        code = (
            "import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    try:\n"
            "        importlib.import_module(name)\n"
            "    except ImportError:\n"
            "        pass\n"
            "from ecomsync.__main__ import _parser\n"
            "_parser('sync')\n"
            "print(sorted(m for m in sys.modules"
            " if m.startswith('ecomsync.testing')))\n"
        )

        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

        assert "[]\n" == out


class TestSize:
    def test_no_source_file_runs_past_the_limit(self) -> None:
        """Every file under src/ecomsync has at most `MAX_LINES` lines;
        the message names each one over it."""
        files = (
            p
            for p in ROOT.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        )
        counts = {
            p.relative_to(ROOT).as_posix(): len(
                p.read_text(encoding="utf-8").splitlines()
            )
            for p in files
        }
        over = {path: n for path, n in sorted(counts.items()) if n > MAX_LINES}

        assert not over, f"over {MAX_LINES} lines (split them): {over}"

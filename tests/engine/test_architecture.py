"""
Who may import whom (docs/architecture.md): the engine knows adapters
only by protocol, adapters and stores never import the engine, the
classifier is pure.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ecomsync


ROOT = Path(ecomsync.__file__).parent

#: The engine's modules: the face and the roles of a run.
ENGINE = {
    "_engine",
    "_lifecycle",
    "_run",
    "_ownership",
    "_selection",
    "_changes",
    "_pipeline",
    "_dependencies",
    "_media_transfer",
    "_writer",
    "_planning",
    "_schedules",
    "_check",
    "_anyio_util",
}
#: What no engine module imports: adapters, their HTTP layer, the kit.
ADAPTERS = ("platforms", "erp", "_http", "testing")
#: Concrete stores and pools: the face's documented defaults only.
DEFAULTS = ("state", "licensing")


def imports(path: Path) -> set[str]:
    """
    The modules of *ecomsync* that *path* imports, as dotted names
    relative to the package (``platforms.shopware6``, ``_run``).
    """
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
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

    def test_classifier_is_pure(self) -> None:
        """The change classifier imports only the model and contracts."""
        found = {n.split(".")[0] for n in imports(ROOT / "_changes.py")}

        assert {"_contracts", "_model"} == found

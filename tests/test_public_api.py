"""
The public surface: complete, sorted `__all__` everywhere.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

import ecomsync


PUBLIC_MODULES = [
    "ecomsync",
    "ecomsync.events",
    "ecomsync.exceptions",
    "ecomsync.typing",
    "ecomsync.licensing",
    "ecomsync.media",
    "ecomsync.state",
    "ecomsync.telemetry",
    "ecomsync.erp",
    "ecomsync.platforms",
    "ecomsync.testing",
    "ecomsync.erp.tryton",
    "ecomsync.platforms.shopware6",
    "ecomsync.platforms.vendure",
    "ecomsync.testing.shopware6",
]


class TestAll:
    @pytest.mark.parametrize("name", PUBLIC_MODULES)
    def test_sorted(self, name: str) -> None:
        """Every public module's __all__ is sorted (isort style: constants,
        classes, then functions, as ruff keeps it)."""
        module = importlib.import_module(name)

        def key(n: str) -> tuple[bool, bool, str]:
            return (not n.isupper(), not n[:1].isupper(), n)

        assert sorted(module.__all__, key=key) == list(module.__all__)

    @pytest.mark.parametrize("name", PUBLIC_MODULES)
    def test_complete(self, name: str) -> None:
        """__all__ names every public class and function defined there."""
        module = importlib.import_module(name)

        def ours(origin: str) -> bool:
            # A module exports what it defines, plus what it re-exports
            # from its private modules (the facade pattern).
            if origin == name:
                return True
            parent, _, last = origin.rpartition(".")
            return last.startswith("_") and parent.startswith(name)

        public = {
            n
            for n, obj in vars(module).items()
            if not n.startswith("_")
            and (inspect.isclass(obj) or inspect.isfunction(obj))
            and ours(getattr(obj, "__module__", ""))
        }

        assert public <= set(module.__all__)
        for exported in module.__all__:
            assert hasattr(module, exported)

    def test_design_names(self) -> None:
        """The names DESIGN.md fixes are importable from ecomsync."""
        for name in [
            "Synchronizer",
            "SyncSpec",
            "DataType",
            "All",
            "NumberRange",
            "ChangedSince",
            "Only",
            "Trigger",
            "ErpSource",
            "Platform",
            "LicensePool",
            "StateStore",
            "EcomsyncError",
            "SpecError",
            "NoFreeLicense",
            "MemoryErp",
            "MemoryPlatform",
            "SqliteStore",
            "LocalLicensePool",
            "MediaStaging",
        ]:
            assert name in ecomsync.__all__

    def test_version(self) -> None:
        """__version__ comes from the installed metadata."""
        assert ecomsync.__version__.startswith("26.")

    def test_unknown_attribute(self) -> None:
        """Unknown attributes raise AttributeError."""
        with pytest.raises(AttributeError):
            ecomsync.nope  # noqa: B018

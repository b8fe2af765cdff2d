"""
The Synchronizer's face: validating specs, resume, reprs.
"""

from __future__ import annotations

import pytest

from ecomsync import (
    All,
    DataType,
    MemoryErp,
    MemoryPlatform,
    SpecError,
    Synchronizer,
    SyncSpec,
)

from ._support import ARTICLES, spec


pytestmark = pytest.mark.anyio


class TestValidate:
    async def test_unknown_platform(self, sync: Synchronizer) -> None:
        """An unknown platform name is a SpecError before anything runs."""
        with pytest.raises(SpecError, match="unknown platform 'nope'"):
            async with sync.run(
                SyncSpec(types={ARTICLES: All()}, platform="nope")
            ):
                pass
        assert [] == await sync.runs()

    async def test_ambiguous_platform(self, erp: MemoryErp) -> None:
        """With several platforms, the spec must name one."""
        sync = Synchronizer(
            erp=erp, platforms={"a": MemoryPlatform(), "b": MemoryPlatform()}
        )

        with pytest.raises(SpecError, match="names no platform"):
            sync.validate(spec(articles=All()))

    async def test_unsupported_type(self, erp: MemoryErp) -> None:
        """A type the platform cannot handle is a SpecError."""
        sync = Synchronizer(
            erp=erp,
            platforms={
                "orders-only": MemoryPlatform(
                    supported=frozenset({DataType.ADDRESSES_AND_ORDERS})
                )
            },
        )

        with pytest.raises(SpecError, match="cannot handle ARTICLES"):
            await sync.execute(spec(articles=All()))


class TestResumeApi:
    async def test_resume_unknown(self, sync: Synchronizer) -> None:
        """Resuming a run that does not exist is a SpecError."""
        with pytest.raises(SpecError, match="no run"):
            async with sync.resume("nope"):
                pass

    async def test_resume_finished(self, sync: Synchronizer) -> None:
        """A finished run cannot be resumed."""
        run = await sync.execute(spec(stock=All()))

        with pytest.raises(SpecError, match="nothing to resume"):
            async with sync.resume(run.id):
                pass


class TestRepr:
    async def test_reprs(
        self, sync: Synchronizer, erp: MemoryErp, platform: MemoryPlatform
    ) -> None:
        """Reprs are short and say what the object is."""
        assert repr(sync).startswith("<Synchronizer erp=<MemoryErp")
        assert "platforms=['shop']" in repr(sync)
        assert repr(platform).startswith("<MemoryPlatform")
        assert "<LocalLicensePool 0/1 in use>" == repr(sync.licenses)

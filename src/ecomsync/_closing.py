"""
One lifecycle for everything that holds resources: `AsyncResource`.

``async with thing:`` closes *thing* on exit; `aclose` closes it once
(closing again does nothing); using it after that raises
`ResourceClosed` naming it.  The synchroniser, the adapters, the stores,
the licence pools and the staging directory all follow it.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from .exceptions import ResourceClosed


__all__ = ["AsyncResource"]


class AsyncResource:
    """
    Mixin: `aclose` closes once (through `_close`), ``async with`` closes
    on exit, `_ensure_open` refuses use after close.

    A class using it declares a ``_closed`` attribute that starts false
    (``attrs.field(init=False, default=False)``).
    """

    __slots__ = ()

    _closed: bool

    @property
    def closed(self) -> bool:
        """
        Whether `aclose` was called.
        """
        return self._closed

    async def aclose(self) -> None:
        """
        Release what this object holds.  Closing twice does nothing;
        using it afterwards raises `~ecomsync.exceptions.ResourceClosed`.
        """
        if self._closed:
            return
        # object.__setattr__: frozen attrs classes use the mixin, too.
        object.__setattr__(self, "_closed", True)
        await self._close()

    async def _close(self) -> None:
        """
        Release what this object holds (called once, by `aclose`).
        """

    def _ensure_open(self) -> None:
        if self._closed:
            raise ResourceClosed(
                f"{self!r} is closed (aclose() was called, or its "
                "`async with` block ended): it cannot be used any more"
            )

    async def __aenter__(self) -> Self:
        self._ensure_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

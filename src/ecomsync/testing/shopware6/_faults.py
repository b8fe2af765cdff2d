"""
The fault switchboard, shared by the emulators: see
``ecomsync.testing._faults``.
"""

from .._faults import FaultRuntime, Faults


__all__ = ["FaultRuntime", "Faults"]

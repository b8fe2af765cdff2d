"""
`ErpSourceContract`: the standard tests every `ErpSource` must pass.

Subclass it in a test module and provide a ``source`` fixture that yields
your `ErpSource` holding `ErpSeed` data (`STANDARD_SEED` unless the
subclass sets ``seed``), and implement the two hooks the suite cannot do
generically:

- ``touch(source, data_type, number)``: change that record *now* without
  changing what it reads as (same values), so ``ChangedSince`` finds it;
- ``imported_count(source, order_number)``: how many ERP orders carry
  that platform order number;
- ``imported_state(source, order_number)``: the `OrderState` of the ERP
  order imported for that platform order number;
- ``ship(source, order_number)``: have the ERP ship that imported order
  (the warehouse sent it), so the ERP can no longer cancel it.

Orders the suite imports are numbered ``WEB-…`` (`IMPORT_PREFIX`); an ERP
that reports imported orders in its order status may list them, the suite
ignores them there.  Needs pytest (an optional test dependency).

.. versionadded:: 26.1.0
.. versionchanged:: 26.1.0
   The ``imported_state`` and ``ship`` hooks, and the tests of orders
   that change in the shop after they were imported.
.. versionchanged:: 26.1.0
   Two platforms' orders with one number stay apart
   (``separates_platforms``).
"""

from __future__ import annotations

from ._order_changes import OrderChangeContract
from ._orders import OrderImportContract
from ._reading import ReadingContract
from ._seed import IMPORT_PREFIX, STANDARD_SEED, ErpSeed
from ._seed import make_order as make_order
from ._seed import png as png


__all__ = ["IMPORT_PREFIX", "STANDARD_SEED", "ErpSeed", "ErpSourceContract"]


# pytest collects base classes' tests first, the last in the MRO first:
# reading, importing orders, orders that change (the order they had).
class ErpSourceContract(
    OrderChangeContract, OrderImportContract, ReadingContract
):
    """
    Base test class: the behaviour every `ErpSource` promises.

    Subclasses provide the ``source`` fixture and the hooks (see the
    module docstring).

    .. versionadded:: 26.1.0
    """

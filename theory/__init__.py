"""The theory of tied embeddings as checkable objects (docs/theory.md).

One module per proposition (``p1_gradients`` ... ``p7_variants``), each with
its statement in the docstring, ``symbolic() -> Result`` (a sympy proof) and
``numeric(quick) -> Result`` (a check on models trained by the testbed, with
negative controls).  ``registry.verify`` runs them; ``tying verify`` prints them.

The face of the layer; each name below lives in one module::

    registry       verify, select, passed, PROPOSITIONS   run the propositions' checks
    result         Result                                 one half (symbolic or numeric) of a check
    p3_separation  separation_bound                       P3's bound on an output pair's distance,
                                                          the one the reproduction's claims use
    p6_quadrants   predicted_signs, PREDICTIONS           P6's prediction per relation quadrant and
                                                          table, the one the reproduction's report uses

The propositions need sympy (and trained models), so names load on first use
(PEP 562): importing one module of the layer does not import all seven.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from tying.core import lazy

if TYPE_CHECKING:  # the explicit imports, for readers and tools; at run time they load on first use
    from .p3_separation import separation_bound
    from .p6_quadrants import PREDICTIONS, predicted_signs
    from .registry import PROPOSITIONS, passed, select, verify
    from .result import Result

# name -> the module that defines it
_FACE = {
    "verify": ".registry",
    "select": ".registry",
    "passed": ".registry",
    "PROPOSITIONS": ".registry",
    "Result": ".result",
    "separation_bound": ".p3_separation",
    "predicted_signs": ".p6_quadrants",
    "PREDICTIONS": ".p6_quadrants",
}
__all__ = ["verify", "select", "passed", "PROPOSITIONS", "Result", "separation_bound", "predicted_signs", "PREDICTIONS"]
assert set(__all__) == set(_FACE)

__getattr__, __dir__ = lazy.face(globals(), _FACE)

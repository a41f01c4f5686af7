"""The theory of tied embeddings as checkable objects (docs/theory.md).

One module per proposition (``p1_gradients`` ... ``p6_quadrants``), each with
its statement in the docstring, ``symbolic() -> Result`` (a sympy proof) and
``numeric(quick) -> Result`` (a check on models trained by the testbed, with
negative controls).  ``registry.verify`` runs them; ``tying verify`` prints them.
"""

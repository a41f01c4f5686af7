"""Corpora with exact ground truth: the layer the models read from.

A corpus is sequences of *meanings* plus realization rules that write each
meaning with surface symbols; the DH transforms edit those rules so that SE
and CE hold or break on purpose, and record which.  ``Examples`` and
``Stream`` are what the models see (the interface to ``tying.models``): they
live here because the ground truth is stated on the very same examples.

The face (what the layers above may import)::

    Corpus, SPLITS, TASKS            corpus.py       the .npz format
    parity_corpus, PAPER_SPLIT_SEED  parity.py       the paper's XOR task
    load_grammar, pcfg_corpus, ...   pcfg.py         NLTK-format PCFGs
    text_corpus                      text.py         a text file, one sentence per line
    transforms, FORMS, apply_steps   transforms.py, steps.py   DH transforms
    exact, estimate, report,         truth.py        ground truth; dh_violation, D from conditionals
    relation_pairs
    audit, AuditTable                audit.py        a DH audit: distances from SE and CE, bootstrap CIs
    enumerate_population, ...        population.py   the exact population of a split
    Examples, Stream                 examples.py     the models' input
"""
from . import transforms
from .audit import AuditTable, audit
from .corpus import SPLITS, TASKS, Corpus
from .examples import Examples, Stream
from .parity import MAX_BITS, PAPER_SPLIT_SEED, check_weights, parity_corpus
from .pcfg import BUILTIN, GRAMMAR_DIR, load_grammar, parse_grammar, pcfg_corpus
from .population import MAX_ROWS, enumerate_population, not_enumerable
from .steps import FORMS, apply_steps
from .text import LONG_LINES, text_corpus
from .truth import dh_violation, estimate, exact, relation_pairs, report

__all__ = ["transforms", "SPLITS", "TASKS", "Corpus", "Examples", "Stream", "MAX_BITS", "PAPER_SPLIT_SEED",
           "check_weights", "parity_corpus", "BUILTIN", "GRAMMAR_DIR", "load_grammar", "parse_grammar",
           "pcfg_corpus", "MAX_ROWS", "enumerate_population", "not_enumerable", "FORMS", "apply_steps",
           "estimate", "exact", "dh_violation", "relation_pairs", "report", "AuditTable", "audit", "LONG_LINES", "text_corpus"]

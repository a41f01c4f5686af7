"""How fast the audit's D approaches the exact D as the samples grow: docs/results/audit/.

Two corpora whose truth is exact, audited with full contexts (k at least the
sentence length), a few sample sizes, a few seeds:

* parity, 6 bits, DH weights (zero 0.1/0.9, one 0.5/0.5): the corpus holds every
  string, so ``truth.exact`` is the population; the samples grow with the
  number of realizations counted (``draws``).  Pairs 0a/0b (SE, not CE;
  D = 0.5 KL(Bern(0.1) || Bern(1/2)) = 0.1840), 0a/1a (neither) and 1a/1b (both; D = 0).
* a four-sentence grammar (``TINY``: the {dog, cat} {runs, sleeps}, all equally
  likely) with dog split 0.1/0.9: the samples grow with the number of
  sentences; the truth is worked out by hand over the grammar: a third of the
  targets sit in the noun slot and half of those are dog, so D(dog#1, dog#2) =
  (1/3)(1/2) KL(Bern(0.1) || Bern(1/2)) = 0.0613 nats.

Rerun (about a minute on one core)::

    python -m tying.experiments.audit_study docs/results/audit --force
"""
from __future__ import annotations

import csv
import io
import math
import sys
from pathlib import Path

from tying.core import atomic
from tying.generators import audit, exact, parity_corpus, parse_grammar, pcfg_corpus, transforms

TINY = """
S -> NP VP [1.0]
NP -> 'the' N [1.0]
N -> 'dog' [0.5] | 'cat' [0.5]
VP -> 'runs' [0.5] | 'sleeps' [0.5]
"""
KL_01 = math.log(2) + 0.1 * math.log(0.1) + 0.9 * math.log(0.9)
DRAWS = (1, 3, 10, 30, 100)
SENTENCES = (100, 300, 1000, 3000, 10000)
SEEDS = (0, 1000, 2000, 3000, 4000)  # realizations use seed .. seed + draws - 1: keep them apart
BOOT = 50
COLUMNS = ("corpus", "pair", "size", "seed", "n_samples", "D_exact", "D_hat", "D_lo", "D_hi", "D_plugin")


def _rows(name, tab, exact_d, size, seed):
    for r in tab.rows():
        yield {"corpus": name, "pair": f"{r['a_name']}/{r['b_name']}", "size": size, "seed": seed,
               "n_samples": tab.meta["n_samples"], "D_exact": exact_d[(r["a"], r["b"])], "D_hat": r["ce_dist"],
               "D_lo": r["ce_lo"], "D_hi": r["ce_hi"], "D_plugin": r["ce_plugin"]}


def convergence_rows(draws=DRAWS, sentences=SENTENCES, seeds=SEEDS, boot=BOOT) -> list[dict]:
    rows = []
    par = parity_corpus(6, splits=(1, 0, 0))
    ex = exact(par, "all")
    pairs = [(0, 1), (0, 2), (2, 3)]
    d_par = {p: ex.dh_violation(*p) for p in pairs}
    for d in draws:
        for seed in seeds:
            rows += _rows("parity-6", audit(par, k=6, boot=boot, seed=seed, draws=d, pairs=pairs), d_par, d, seed)
    grammar = parse_grammar(TINY)
    for n in sentences:
        for seed in seeds:
            c = transforms.split(pcfg_corpus(grammar, n, seed, mask_rate=0.0, splits=(1, 0, 0)), "dog", [0.1, 0.9])
            pair = (c.vocab.index("dog#1"), c.vocab.index("dog#2"))
            rows += _rows("tiny-pcfg", audit(c, k=3, boot=boot, seed=seed, pairs=[pair]), {pair: KL_01 / 6}, n, seed)
    return rows


def write_study(out: str | Path, force: bool = False) -> Path:
    """convergence.csv and convergence.png/.pdf in the folder ``out`` (one rename)."""
    from tying.figures import plot_convergence

    out = atomic.check_target(out, force, folder=True)
    rows = convergence_rows()
    buf = io.StringIO()
    w = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows({k: repr(v) if isinstance(v, float) else v for k, v in r.items()} for r in rows)
    with atomic.directory(out, force) as tmp:
        atomic.write_text(tmp / "convergence.csv", buf.getvalue())
        plot_convergence(rows, tmp / "convergence")
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit("usage: python -m tying.experiments.audit_study OUT_DIR [--force]")
    print(write_study(args[0], force="--force" in args))

"""D on a corpus whose contexts are not equally likely (every parity context is), computed here from scratch.

A PCFG population repeats some sentences and not others, and a split symbol
is realized with unequal weights, so p(context) varies; D weighs each
context's term by it, and a plain mean over contexts gives another number.
"""
import itertools
import json
import math
import subprocess
import sys
from collections import defaultdict

import numpy as np
import pytest

from tying.generators import transforms
from tying.generators.pcfg import parse_grammar, pcfg_corpus
from tying.generators.truth import report

GRAMMAR = """
S -> NP VP [1.0]
NP -> 'the' N [0.7] | 'a' N [0.3]
N -> 'dog' [0.6] | 'cat' [0.4]
VP -> 'runs' [0.5] | 'sleeps' [0.3] | 'sees' NP [0.2]
"""


@pytest.fixture(scope="module")
def corpus():
    c = pcfg_corpus(parse_grammar(GRAMMAR), 60, seed=3, mask_rate=0.0, splits=(1.0, 0.0, 0.0))
    return transforms.split(c, "dog", [0.3, 0.7])


def population(c):
    """{context: {target: p(context, target)}}: sequences equally likely, the masked position uniform,
    each other position realized independently with its meaning's variant weights."""
    mask, joint = c.specials["mask"], defaultdict(lambda: defaultdict(float))
    for i in range(c.n_sequences):
        seq = c.sequence(i)
        options = [[(int(s), float(w)) for s, w in zip(c.real.variants[m], c.real.weights[m, 0]) if s >= 0 and w > 0]
                   for m in seq]
        for j in range(len(seq)):
            for real in itertools.product(*options):
                p = math.prod(w for _, w in real) / (c.n_sequences * len(seq))
                key = tuple(mask if k == j else s for k, (s, _) in enumerate(real))
                joint[key][real[j][0]] += p
    return joint


def d_by_hand(joint, a, b):
    total = 0.0
    for targets in joint.values():
        pc = sum(targets.values())
        pa, pb = targets.get(a, 0.0) / pc, targets.get(b, 0.0) / pc
        s = pa + pb
        if s > 0:
            total += pc * (s * math.log(2) + sum(x * math.log(x / s) for x in (pa, pb) if x > 0))
    return total


def test_d_of_a_split_symbol_on_a_pcfg_population_is_the_weighted_sum(corpus):
    joint = population(corpus)
    p_ctx = np.array([sum(t.values()) for t in joint.values()])
    assert math.isclose(p_ctx.sum(), 1.0) and p_ctx.max() > 2 * p_ctx.min()  # contexts not equally likely
    a, b = corpus.vocab.index("dog#1"), corpus.vocab.index("dog#2")
    rep = report(corpus)
    assert rep["ground_truth"]["method"] == "exact" and rep["ground_truth"]["n_contexts"] == len(joint)
    (rel,) = [r for r in rep["relations"] if {r["a"], r["b"]} == {a, b}]
    expected = d_by_hand(joint, a, b)
    assert expected > 0.01
    assert rel["dh_violation_nats"] == pytest.approx(expected, rel=1e-12)


def test_tying_inspect_reports_the_same_d(corpus, tmp_path):
    corpus.save(tmp_path / "c.npz")
    res = subprocess.run([sys.executable, "-m", "tying", "inspect", str(tmp_path / "c.npz"), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    a, b = corpus.vocab.index("dog#1"), corpus.vocab.index("dog#2")
    (rel,) = [r for r in json.loads(res.stdout)["relations"] if {r["a"], r["b"]} == {a, b}]
    assert rel["dh_violation_nats"] == pytest.approx(d_by_hand(population(corpus), a, b), rel=1e-12)

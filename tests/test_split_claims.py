"""The contrast experiments' criteria on hand-made outcomes: learning rates and the tied/untied contrast,
paired by split, and the table of learning rates."""
import numpy as np
from tying.experiments import split_claims as C
from tying.experiments import xor_claims as X
from tying.experiments.results import Group
from tying.generators.parity import parity_corpus
from tying.models.config import ModelConfig, TrainConfig
from tying.models.run import Run


def _group(corpus, tied, finals):
    steps = np.arange(0, 101, 50)
    runs = [Run(ModelConfig(arch="transformer", tied=tied), TrainConfig(steps=100, seed=seed), {}, steps=steps,
                fit_steps=steps, fit_acc=np.r_[0.5, 0.5, acc]) for seed, acc in enumerate(finals)]
    return Group(corpus, runs)


def _grid(untied_hits, tied_hits):
    """NDH on three random splits (corpus index = split), one seed each: hit = learned, else 0.2 short."""
    groups = {}
    for k in range(3):
        c = parity_corpus(5, zero=(1.0, 0.0), one=(0.1, 0.9), paper_split=True, split_seed=k)
        bayes = X.bayes_train(c)
        groups[k, "transformer", False] = _group(c, False, [bayes - (0.01 if untied_hits[k] else 0.2)])
        groups[k, "transformer", True] = _group(c, True, [bayes - (0.01 if tied_hits[k] else 0.2)])
    return groups


def test_rates_and_the_paired_contrast_over_splits():
    rows = {r.claim: r for r in C.contrast_claims(_grid([1, 1, 0], [0, 0, 0]), "contrast", 100)}
    rate = rows["NDH transformer untied: learns within 100 steps, across 3 random splits"]
    assert rate.reference and rate.values == [1, 1, 0] and rate.interval.startswith("2/3, 95% Wilson")
    assert rows["NDH transformer tied: learns within 100 steps, across 3 random splits"].values == [0, 0, 0]
    more = rows["NDH transformer: untied learns on more splits than tied (paired by split, 100 steps)"]
    assert more.passed and not more.reference
    assert more.note.startswith("untied only 2, tied only 0, both 0, neither 1; untied: split 0 ")
    # each split's end: split 2's untied run stopped 0.2 short and had not moved since step 100 (the last)
    assert f"split 2 {X.bayes_train(parity_corpus(5, zero=(1.0, 0.0), one=(0.1, 0.9), paper_split=True, split_seed=2)) - 0.2:.3f} (still moving at the end)" in more.note
    gap = rows["NDH transformer: tied falls short of untied in training-string accuracy (paired by split, 100 steps)"]
    np.testing.assert_allclose(gap.values, [0.19, 0.19, 0.0], atol=1e-12)
    assert gap.passed
    # the control: tied learning where untied does not reverses both verdicts
    rows = {r.claim: r for r in C.contrast_claims(_grid([0, 0, 0], [1, 0, 0]), "contrast", 100)}
    assert not rows[more.claim].passed and not rows[gap.claim].passed


def test_rates_table_puts_the_paper_split_beside_the_random_splits():
    paper = {}
    c = parity_corpus(5, zero=(1.0, 0.0), one=(0.1, 0.9), paper_split=True)  # NDH, the paper's split
    bayes = X.bayes_train(c)
    paper[0, "transformer", False] = _group(c, False, [bayes, bayes - 0.2, bayes - 0.2, bayes])
    paper[0, "transformer", True] = _group(c, True, [bayes - 0.2] * 4)
    rows = C.rates_table(paper, {}, _grid([1, 1, 0], [0, 0, 1]), {})
    assert rows[0] == "| setting | model | paper's split, 100 steps | random splits, 100 steps |"
    assert rows[2].startswith("| NDH | transformer untied | 2/4, 95% Wilson [0.15, 0.85] | 2/3, 95% Wilson")
    assert rows[3].startswith("| NDH | transformer tied | 0/4, 95% Wilson [0.00, 0.49] | 1/3, 95% Wilson")
    assert C.rates_table({}, {}, {}, {}) == []


def test_more_seeds_pool_with_the_grid_by_setting_and_are_never_counted():
    dh = parity_corpus(5, zero=(0.1, 0.9), one=(0.5, 0.5), paper_split=True)
    ndh = parity_corpus(5, zero=(1.0, 0.0), one=(0.1, 0.9), paper_split=True)
    grid = {(0, "transformer", False): _group(dh, False, [0.5, 0.5]),
            (1, "transformer", False): _group(ndh, False, [0.6, 0.6, 0.6])}
    more = {(0, "transformer", False): _group(ndh, False, [0.9]),  # NDH is this spec's first corpus
            (1, "transformer", False): _group(dh, False, [0.7, 0.7])}
    for g in more.values():
        for r in g.runs:
            r.train_cfg.seed += 10
    pooled = C.pool_seeds(grid, more)
    assert [r.train_cfg.seed for r in pooled[0, "transformer", False].runs] == [0, 1, 2, 10]
    assert [r.fit_acc[-1] for r in pooled[0, "transformer", False].runs] == [0.6, 0.6, 0.6, 0.9]
    assert [r.train_cfg.seed for r in pooled[1, "transformer", False].runs] == [0, 1, 10, 11]
    rows = C.post_hoc([X.Claim("xor", "a claim", "x > 0", [1.0], True)], "post hoc")
    assert rows[0].reference and rows[0].claim == "a claim [post hoc]"

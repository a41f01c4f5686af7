"""What the runs did where a learning claim fails: flat stretches, stalls, rescues by more steps and the
tied runs' delay, on hand-made training-string accuracy curves whose answers are read off by eye."""
import numpy as np
from tying.experiments import findings as F
from tying.models.config import ModelConfig, TrainConfig
from tying.models.run import Run

STEPS = np.arange(0, 1001, 100)  # 11 evaluations, 0 to 1,000


def _run(acc, seed=0, tied=False):
    acc = np.asarray(acc, float)
    steps = STEPS[:len(acc)]
    return Run(ModelConfig(arch="transformer", tied=tied), TrainConfig(steps=int(steps[-1]), seed=seed), {},
               steps=steps, fit_steps=steps, fit_acc=acc)


PLATEAU = [0.5, 0.6, 0.9, 0.9, 0.905, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]   # flat since step 200
CLIMBING = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.55, 0.6, 0.7, 0.8]   # still moving at the end
LEARNS = [0.5, 0.5, 0.5, 0.96, 0.96, 0.96, 0.96, 0.96, 0.96, 0.96, 0.96]  # learned at step 300


def test_flat_since_and_first_at_by_hand():
    assert F.flat_since(STEPS, np.array(PLATEAU)) == 200
    assert F.flat_since(STEPS, np.array(CLIMBING)) == 1000
    assert F.flat_since(STEPS, np.full(11, 0.7)) == 0
    # the tolerance is the premise: with none, the 0.905 wobble ends the flat stretch later
    assert F.flat_since(STEPS, np.array(PLATEAU), tol=0.0) == 500
    assert F.first_at(STEPS, np.array(LEARNS), 0.93) == 300
    assert np.isinf(F.first_at(STEPS, np.array(PLATEAU), 0.93))


def test_a_stall_is_a_flat_second_half_below_the_bar():
    assert F.stalled(_run(PLATEAU), 0.93)
    assert not F.stalled(_run(CLIMBING), 0.93)  # under-trained, not stuck
    assert not F.stalled(_run(LEARNS), 0.93)    # it learned
    assert not F.stalled(_run(PLATEAU), 0.85)   # the same curve above the bar has learned
    assert F.outcome(_run(PLATEAU), 0.93) == "0.900 (flat since 200)"
    assert F.outcome(_run(LEARNS), 0.93) == "0.960 (learned at 300)"
    note = F.outcomes_note({1: (_run(LEARNS, 1), 0.93), 0: (_run(PLATEAU), 0.93)},
                           {0: (_run(CLIMBING, tied=True), 0.93)})
    assert note == ("untied: seed 0 0.900 (flat since 200), seed 1 0.960 (learned at 300); "
                    "tied: seed 0 0.800 (still moving at the end)")


def test_the_learning_findings_count_what_the_curves_show():
    cells = {"NDH untied": [(_run(PLATEAU), 0.93), (_run(CLIMBING, 1), 0.93), (_run(LEARNS, 2), 0.93)]}
    assert F.stall_finding(cells).startswith("Of the 2 transformer runs of 1,000 steps that did not learn, 1 had "
                                             "stalled")
    assert F.stall_finding(cells).endswith(", at 0.900.")
    assert F.stall_finding({"x": [(_run(LEARNS), 0.93)]}) == ""
    short = {"NDH untied": {0: (_run(PLATEAU[:6]), 0.93), 1: (_run(CLIMBING[:6], 1), 0.93),
                            2: (_run(LEARNS[:6], 2), 0.93)}}
    long = {"NDH untied": {0: (_run(PLATEAU), 0.93), 1: (_run(LEARNS, 1), 0.93), 2: (_run(LEARNS, 2), 0.93)}}
    text = F.rescued_finding(short, long)
    assert text.endswith("NDH untied 1 of 2.")  # seed 2 had learned already; seed 1 did later, seed 0 never
    assert "at 500 steps and learned by 1,000" in text


def test_the_delay_is_measured_only_where_both_learned():
    late = [0.5] * 6 + [0.96] * 5  # learned at 600
    pairs = [(_run(LEARNS), _run(late, tied=True), 0.93), (_run(LEARNS, 1), _run(PLATEAU, 1, True), 0.93)]
    assert F.delay_finding(pairs, "DH") == ("DH: where both learned (1 of 2 pairs), tied learned later in 1, by a "
                                            "median of 300 steps (untied at a median of 300).")
    # the control: tied first, the delay is negative and no pair counts as later
    swapped = [(_run(late), _run(LEARNS, tied=True), 0.93)]
    assert "tied learned later in 0, by a median of -300 steps" in F.delay_finding(swapped, "DH")
    assert F.delay_finding(pairs[1:], "DH") == ""


def _population():
    from tying.generators import enumerate_population, parity_corpus

    c = parity_corpus(4, zero=(1.0, 0.0), one=(0.1, 0.9), paper_split=True)  # NDH: bit 0 is 0a, bit 1 is 1a/1b
    p = enumerate_population(c, "train")
    return c, p, p.tokens[0]


def test_the_bayes_predictor_errs_in_no_cell_and_the_cells_hold_all_the_weight():
    c, p, tokens = _population()
    heaviest = {}
    for n, (row, w) in enumerate(zip(p.tgt_seq, p.tgt_w)):
        if row not in heaviest or w > p.tgt_w[heaviest[row]]:
            heaviest[row] = n
    bayes_pred = np.array([p.tgt_sym[heaviest[row]] for row in p.tgt_seq])
    cells = F.parity_cells(tokens, p.tgt_seq, p.tgt_sym, p.tgt_w, bayes_pred, c.real.variants[1], 4)
    assert all(abs(acc - bayes) < 1e-12 for acc, bayes in cells.values())
    assert F.plateau_text(cells) == "at Bayes in every cell"
    # NDH by hand: a masked 0 is always 0a (Bayes 1), a masked 1 is 1b with probability 0.9
    assert all(abs(bayes - (1.0 if b == 0 else 0.9)) < 1e-12 for (k, b), (_, bayes) in cells.items())


def test_a_model_that_never_says_one_errs_exactly_where_the_masked_bit_is_one():
    c, p, tokens = _population()
    zero = np.full(len(p.tgt_sym), c.real.variants[0, 0])
    cells = F.parity_cells(tokens, p.tgt_seq, p.tgt_sym, p.tgt_w, zero, c.real.variants[1], 4)
    assert all(acc == (1.0 if b == 0 else 0.0) for (k, b), (acc, _) in cells.items())
    assert F.plateau_text(cells) == "short of Bayes where the masked bit is 1 and 0–2 of the other bits are 1"
    # only the low-count cells wrong: the plateau the NDH runs sit on
    low = np.array([s if np.isin(tokens[r, :4], c.real.variants[1]).sum() >= 2 else c.real.variants[0, 0]
                    for r, s in zip(p.tgt_seq, p.tgt_sym)])
    text = F.plateau_text(F.parity_cells(tokens, p.tgt_seq, p.tgt_sym, p.tgt_w, low, c.real.variants[1], 4))
    assert text == "short of Bayes where the masked bit is 1 and 0–1 of the other bits are 1"


def test_a_tie_between_the_heaviest_targets_counts_once_for_bayes():
    """DH: a masked 1 is 1a or 1b at 0.5 each, a tie; Bayes gets one of them right, so 0.5 (0.9 for a masked 0)."""
    from tying.generators import enumerate_population, parity_corpus

    c = parity_corpus(4, zero=(0.1, 0.9), one=(0.5, 0.5), paper_split=True)
    p = enumerate_population(c, "train")
    pred = np.full(len(p.tgt_sym), c.real.variants[0, 1])  # always 0b: right on 0.9 of the masked zeros
    cells = F.parity_cells(p.tokens[0], p.tgt_seq, p.tgt_sym, p.tgt_w, pred, c.real.variants[1], 4)
    for (k, b), (acc, bayes) in cells.items():
        assert abs(bayes - (0.5 if b else 0.9)) < 1e-12 and abs(acc - (0.0 if b else 0.9)) < 1e-12


# ------------------------------------------------------------------------------ failing claims by run length
def test_failure_kinds_set_each_failure_beside_its_600k_twin():
    from tying.experiments.findings import failure_kinds
    from tying.experiments.results import Claim

    def c(exp, text, passed, reference=False):
        return Claim(exp, text, "crit", [1.0], passed, reference=reference)

    claims = [
        c("xor", "A learns within 150,000 steps", False), c("xor-long", "A learns within 600,000 steps", True),
        c("xor", "B paired", False), c("xor-long", "B paired", False),
        c("contrast", "C (paired by split, 150,000 steps)", False),
        c("contrast-long", "C (paired by split, 600,000 steps)", True),
        c("xor", "D mixer", False),  # no twin
        c("xor", "E passes", True), c("xor-long", "E passes", False),  # a failure at 600k only
        c("xor", "F reference", False, reference=True), c("xor-long", "F reference", True),
        c("xor", "G twin is a reference", False), c("xor-long", "G twin is a reference", True, reference=True),
        c("splits", "H", False),
    ]
    got = [(cl.claim[0], kind, None if twin is None else twin.experiment) for cl, kind, twin in failure_kinds(claims)]
    assert got == [("A", "rescued", "xor-long"), ("B", "stands", "xor-long"), ("B", "long", None),
                   ("C", "rescued", "contrast-long"),
                   ("D", "no longer run", None), ("E", "long", None), ("G", "no longer run", None),
                   ("H", "no longer run", None)]


def test_failures_section_only_where_longer_runs_exist():
    from tying.experiments.findings import failure_kinds
    from tying.experiments.report import failures_text
    from tying.experiments.results import Claim

    short = [Claim("xor", "A | b", "crit", [0.0], False)]
    assert failure_kinds(short) == [] and failures_text([]) == []  # the quick mode: nothing to set beside
    lines = failures_text(failure_kinds(short + [Claim("xor-long", "A | b", "crit", [1.0, 1.0], True)]))
    row = next(line for line in lines if line.startswith("| xor |"))
    assert "under-trained" in row and "pass, 1 ± 0 (n=2)" in row and "A \\| b" in row
    assert "holds at 4x the steps: under-trained at the paper's 150,000: 1." in " ".join(lines)

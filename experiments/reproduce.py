"""`tying reproduce paper`: the paper's experiments, their figures, and a report of claims.

Three experiment families, each one sweep (``experiments.sweep``) into its own folder:

1. ``xor``: parity-7 learned by masked prediction in the paper's three settings
   (DH: zero 0.1/0.9, one 0.5/0.5; NDH: zero 1/0, one 0.1/0.9; YDH: zero 1/0,
   one 0.5/0.5), for the paper-small transformer, mixer and the bilinear model,
   tied and untied, over five seeds, with the paper's AdamW and cosine schedule.
2. ``twins``: the paper's BookCorpus experiment made offline: on ``toy-english``
   the most frequent words get a twin swapped in with p = 0.5 (SE and CE), and
   twin pairs are compared with random pairs of common words.
3. ``quadrants`` (beyond the paper): one pair per relation quadrant, tied vs untied.

Every claim is evaluated from the saved runs and written to ``REPORT.md`` with
its prediction, the measured mean +- sd over seeds, and pass or fail.

Quick mode uses fixed step counts chosen to finish in under five minutes on two
cores of this project's reference machine (fixed, not timed, so a quick run is
as reproducible as a full one).  Learning parity comes late and suddenly, so
quick mode reports the geometry claims only; the accuracy claims need the full
150,000-step protocol.
"""
from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from generators import atomic
from generators.corpus import Corpus, package_version
from generators.population import enumerate_population
from generators.truth import exact as exact_truth
from models.run import Run

from . import sweep as sweeper
from .spec import load_spec, run_id
from .worker import corpus_file, finished

SETTINGS = {  # the paper's three XOR settings: weights of the zero and one variants
    "DH": ([0.1, 0.9], [0.5, 0.5]),
    "NDH": ([1.0, 0.0], [0.1, 0.9]),
    "YDH": ([1.0, 0.0], [0.5, 0.5]),
}
TABLES = ("tied", "untied input", "untied output")
# The bilinear (CBOW) model's h is the mean of the context's embeddings, a bag of tokens, and parity is
# not a linear function of the bag: it stays at the majority guess by construction, so its accuracy rows
# are shown as references and not counted (its geometry rows are).
CANNOT_LEARN_PARITY = {"bilinear"}
WELL_BELOW = 0.5  # "well below the median": at most half of it


@dataclass(frozen=True)
class Plan:
    seeds: tuple
    xor_archs: tuple
    xor_steps: int
    xor_record: int
    twins_steps: int
    twins_sequences: int
    twins_batch: int
    quadrant_archs: tuple
    quadrant_steps: int
    quadrant_sequences: int
    quadrant_batch: int


# The XOR grid is the paper's (transformer, mixer, bilinear). The LSTM is left out of it: at ~3 ms a
# step its 30 runs of 150,000 steps would take ~2 h of the full mode's wall time on 2 cores. It stays
# in the full mode's quadrants (20,000 steps), and any sweep spec can train it on parity.
# Quick, on a fresh install on 2 cores: ~70 s of numba compilation, XOR ~60 s, twins ~13 s, quadrants
# ~28 s, truth and figures ~25 s.  More XOR steps would not help (parity is not learned before ~30,000
# steps at the paper's rate); 2000 twins steps are what the twin geometry needs; the quadrants would
# need more than 3x their 800 steps (2500 were not enough), which does not fit.
QUICK = Plan(seeds=(0, 1, 2, 3, 4), xor_archs=("transformer", "mixer", "bilinear"), xor_steps=10_000,
             xor_record=200, twins_steps=2000, twins_sequences=4000, twins_batch=64,
             quadrant_archs=("transformer",), quadrant_steps=800, quadrant_sequences=3000, quadrant_batch=64)
FULL = Plan(seeds=(0, 1, 2, 3, 4), xor_archs=("transformer", "mixer", "bilinear"), xor_steps=150_000,
            xor_record=1000, twins_steps=20_000, twins_sequences=20_000, twins_batch=64,
            quadrant_archs=("transformer", "lstm"), quadrant_steps=20_000, quadrant_sequences=20_000,
            quadrant_batch=64)

TWINS_TOPK, TWINS_P = 100, 0.5
# one pair of toy-english words per relation quadrant; the transforms that make it so
QUADRANTS = {
    "SE & CE": dict(task="mlm", transforms=["split dog:0.5,0.5"], pair=("dog#1", "dog#2")),
    "SE & not CE": dict(task="mlm", transforms=["split dog:0.1,0.9"], pair=("dog#1", "dog#2")),
    "not SE & CE": dict(task="causal", transforms=["coin"], pair=("H", "T")),
    "not SE & not CE": dict(task="mlm", transforms=[], pair=("dog", "house")),
}
# the theory's prediction (P6) per quadrant and table: "close" (contracts) or "apart".  For the coin's
# tied rows it predicts no sign ("?"): they stay apart, or merge and the model loses the copy.
PREDICTED = {
    "SE & CE": {"tied": "close", "untied input": "close", "untied output": "close"},
    "SE & not CE": {"tied": "apart", "untied input": "close", "untied output": "apart"},
    "not SE & CE": {"tied": "?", "untied input": "apart", "untied output": "close"},
    "not SE & not CE": {"tied": "apart", "untied input": "apart", "untied output": "apart"},
}


# ------------------------------------------------------------------------------ specs
def xor_spec(plan: Plan) -> dict:
    return {
        "name": "xor",
        "seeds": list(plan.seeds),
        "corpus": [{"generator": "parity", "bits": 7, "zero": z, "one": o, "splits": [0.9, 0.1, 0.0], "seed": 42}
                   for z, o in SETTINGS.values()],
        "model": {"arch": list(plan.xor_archs), "tied": [True, False]},
        "train": {"steps": plan.xor_steps},
        "record": {"every": plan.xor_record, "eval_every": plan.xor_record},
    }


def _pcfg(task: str, transforms: list, sequences: int) -> dict:
    return {"generator": "pcfg", "grammar": "toy-english", "sequences": sequences, "seed": 42, "task": task,
            "transforms": transforms, "splits": [0.9, 0.1, 0.0]}


def _lm_train(steps: int, batch: int) -> dict:
    # the paper's optimizer, with a rate suited to the larger vocabulary and a shorter run
    return {"steps": steps, "batch_size": batch, "lr": 5e-3, "t_max": steps, "eta_min": 1e-5}


def twins_spec(plan: Plan) -> dict:
    return {
        "name": "twins",
        "seeds": list(plan.seeds),
        "corpus": _pcfg("mlm", [f"twins {TWINS_TOPK}:{TWINS_P}"], plan.twins_sequences),
        "model": {"arch": "transformer", "d": 16, "ff": 32, "positional": True, "tied": [True, False]},
        "train": _lm_train(plan.twins_steps, plan.twins_batch),
        "record": {"every": max(plan.twins_steps // 20, 1), "eval_every": max(plan.twins_steps // 10, 1)},
    }


def quadrant_spec(plan: Plan) -> dict:
    return {
        "name": "quadrants",
        "seeds": list(plan.seeds),
        "corpus": [_pcfg(q["task"], q["transforms"], plan.quadrant_sequences) for q in QUADRANTS.values()],
        "model": {"arch": list(plan.quadrant_archs), "d": 16, "ff": 32, "hidden": 16, "positional": True,
                  "tied": [True, False]},
        "train": _lm_train(plan.quadrant_steps, plan.quadrant_batch),
        "record": {"every": max(plan.quadrant_steps // 20, 1), "eval_every": max(plan.quadrant_steps // 10, 1)},
    }


# ------------------------------------------------------------------------------ loading results
@dataclass
class Group:
    """The runs of one (corpus, arch, tied) cell, one per seed, with their corpus."""
    corpus: Corpus
    runs: list


def load_groups(out: Path, spec: dict) -> dict:
    """{(corpus index, arch, tied): Group} for every completed run of a spec."""
    from .spec import load_spec

    entries = spec["corpus"] if isinstance(spec["corpus"], list) else [spec["corpus"]]
    groups: dict = {}
    for ci, entry in enumerate(entries):
        corpus = None
        for cfg in load_spec({**spec, "corpus": entry}).runs:
            folder = out / "runs" / run_id(cfg)
            summary = _summary(folder)
            if summary is None or summary["status"] != "completed":
                continue
            corpus = corpus or Corpus.load(corpus_file(cfg["corpus"], out))
            g = groups.setdefault((ci, cfg["model"]["arch"], cfg["model"]["tied"]), Group(corpus, []))
            g.runs.append(Run.load(folder))
    return groups


def _summary(folder: Path):
    try:
        return json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return None


def table_curves(group: Group, pairs: list, table: str) -> np.ndarray:
    """(seeds, recorded steps, pairs) distances in one table ("tied" runs have one)."""
    role = "out" if table == "untied output" else "in"
    return np.stack([r.distances(pairs, role) for r in group.runs])


def occurring(corpus: Corpus) -> set:
    """Symbols that are ever written (a weight-0 variant never is)."""
    w = np.where(corpus.real.variants[:, None, :] >= 0, corpus.real.weights, 0.0).max(1)
    return {int(s) for s, x in zip(corpus.real.variants.ravel(), w.ravel()) if s >= 0 and x > 0}


# ------------------------------------------------------------------------------ claims
@dataclass
class Claim:
    experiment: str
    claim: str
    prediction: str
    values: list  # one number per seed
    passed: bool
    note: str = ""
    reference: bool = False  # a control row: shown, not counted (it can hardly fail)

    def measured(self) -> str:
        v = np.asarray(self.values, float)
        if v.size == 0:
            return "no runs"
        sd = f" ± {v.std(ddof=1):.3g}" if v.size > 1 else ""
        return f"{v.mean():.3g}{sd} (n={v.size})"


def p3_bounds(group: Group, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Per run of an untied group: the data's separation bound |log r| / max ||h(x)|| of the output
    pair (P3, no output bias), where r = p(a|x)/p(b|x) is a constant of the data, and the fit error
    max_x |<h(x), o_a - o_b> - log r| (the bound assumes a model that reproduces the data's ratio)."""
    pa, pb = (truth_of(group.corpus, "train").column(s) for s in (a, b))
    both = (pa > 0) & (pb > 0)
    ratios = pa[both] / pb[both]
    if not len(ratios) or np.ptp(ratios) > 1e-9 * ratios.max():
        raise ValueError(f"p({a}|x)/p({b}|x) is not a constant of the data")
    log_r = math.log(ratios[0])
    pop = enumerate_population(group.corpus, "train")
    mask = np.isin(pop.tgt_sym, [a, b])
    bounds, errors = [], []
    for r in group.runs:
        m = r.model()
        h = m.hidden(pop)[mask]
        bounds.append(abs(log_r) / float(np.linalg.norm(h, axis=1).max()))
        O = m.E_out()
        errors.append(float(np.abs(h @ (O[a] - O[b]) - log_r).max()))
    return np.array(bounds), np.array(errors)


_TRUTHS: dict = {}


def truth_of(corpus: Corpus, split: str):
    """The exact ground truth of a corpus split, computed once per corpus content."""
    key = (corpus.digest(), split)
    if key not in _TRUTHS:
        _TRUTHS[key] = exact_truth(corpus, split)
    return _TRUTHS[key]


def xor_claims(groups: dict, quick: bool) -> list:
    claims = []
    names = list(SETTINGS)
    for (ci, arch, tied), g in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], not kv[0][2])):
        setting = names[ci]
        live = occurring(g.corpus)
        pairs = [(a, b) for a in range(4) for b in range(a + 1, 4) if a in live and b in live]
        tables = ["tied"] if tied else ["untied input", "untied output"]
        final = {t: table_curves(g, pairs, t)[:, -1, :] for t in tables}
        first = {t: table_curves(g, pairs, t)[:, 0, :] for t in tables}
        idx = {p: i for i, p in enumerate(pairs)}
        others = [i for p, i in idx.items() if p not in ((0, 1), (2, 3))]
        who = f"{setting} {arch} {'tied' if tied else 'untied'}"
        if setting == "DH" and not tied:
            out_curves = table_curves(g, pairs, "untied output")[:, 1:, :]
            above = (out_curves[:, :, idx[0, 1]] > out_curves[:, :, idx[2, 3]]).mean(1)
            claims.append(Claim("xor", f"{who}: output distance of the skewed pair (0,1) stays above the "
                                "balanced pair (2,3)", "share of recorded steps with d_out(0,1) > d_out(2,3) "
                                ">= 0.9, and at the end", list(above),
                                bool(np.all(above >= 0.9) and np.all(out_curves[:, -1, idx[0, 1]]
                                                                     > out_curves[:, -1, idx[2, 3]]))))
            d01 = final["untied output"][:, idx[0, 1]]
            bounds, fit = p3_bounds(g, 0, 1)
            claims.append(Claim("xor", f"{who}: output distance of (0,1) above the P3 bound |log 9| / max||h||",
                                "d_out(0,1) / bound >= 1", list(d01 / bounds), bool(np.all(d01 >= bounds)),
                                note="bounds " + ", ".join(f"{x:.3g}" for x in bounds) + "; fit error "
                                "max|<h, o_0 - o_1> - log r| " + ", ".join(f"{x:.3g}" for x in fit)))
            med = np.median(final["untied input"][:, others], axis=1)
            for p in ((0, 1), (2, 3)):
                v = final["untied input"][:, idx[p]] / med
                claims.append(Claim("xor", f"{who}: input distance of {p} well below the median of the other "
                                    "pairs", f"d_in{p} / median(other) <= {WELL_BELOW}", list(v),
                                    bool(np.all(v <= WELL_BELOW))))
        if setting == "DH" and tied:
            v = final["tied"][:, idx[0, 1]] / final["tied"][:, idx[2, 3]]
            claims.append(Claim("xor", f"{who}: the tied model keeps the DH-broken pair (0,1) apart (geometry)",
                                "d_tied(0,1) / d_tied(2,3) > 1", list(v), bool(np.all(v > 1))))
        if setting == "YDH":
            for t in tables:
                rel_end = final[t][:, idx[2, 3]] / np.median(final[t][:, others], axis=1)
                rel_start = first[t][:, idx[2, 3]] / np.median(first[t][:, others], axis=1)
                v = rel_end / rel_start
                claims.append(Claim("xor", f"{who}: pair (2,3) contracts in the {t} table, relative to the "
                                    "other pairs", "[d(2,3) / median(other)] end / start < 1", list(v),
                                    bool(np.all(v < 1))))
    if not quick:
        claims += xor_accuracy_claims(groups)
    return claims


def xor_cells(groups: dict):
    """(setting, arch, tied group, untied group) for every XOR cell that has both."""
    archs = sorted({arch for _, arch, _ in groups})
    for ci, setting in enumerate(SETTINGS):
        for arch in archs:
            tied, untied = groups.get((ci, arch, True)), groups.get((ci, arch, False))
            if tied and untied:
                yield setting, arch, tied, untied


def xor_accuracy_claims(groups: dict) -> list:
    claims = []
    for setting, arch, tied, untied in xor_cells(groups):
        bayes = truth_of(untied.corpus, "validation").accuracy()
        acc_u = np.array([r.val_acc[-1] for r in untied.runs])
        ref = arch in CANNOT_LEARN_PARITY
        note = "a bag of tokens cannot represent parity" if ref else ""
        claims.append(Claim("xor", f"{setting} {arch} untied: validation accuracy reaches Bayes",
                            f"acc >= Bayes {bayes:.3f} - 0.02", list(acc_u), bool(np.all(acc_u >= bayes - 0.02)),
                            note=note, reference=ref))
        if setting != "YDH":  # paired by seed; a seed missing on either side is left out
            by_seed = {r.train_cfg.seed: r.val_acc[-1] for r in tied.runs}
            gap = np.array([r.val_acc[-1] - by_seed[r.train_cfg.seed] for r in untied.runs
                            if r.train_cfg.seed in by_seed])
            claims.append(Claim("xor", f"{setting} {arch}: tied falls short of untied in accuracy",
                                "acc_untied - acc_tied > 0 (mean over seeds)", list(gap),
                                bool(gap.size and np.mean(gap) > 0), note=note, reference=ref))
    return claims


def lm_pair_ratio(group: Group, pair: tuple, table: str, n_ref: int = 60, seed: int = 0) -> np.ndarray:
    """Final distance of the pair over the median distance of random pairs of common words, per seed."""
    c = group.corpus
    a, b = c.symbol_id(pair[0]), c.symbol_id(pair[1])
    ref = reference_pairs(c, n_ref, seed, exclude={a, b})
    d = table_curves(group, [(a, b)] + ref, table)[:, -1, :]
    return d[:, 0] / np.median(d[:, 1:], axis=1)


def reference_pairs(c: Corpus, n: int, seed: int, exclude=()) -> list:
    """Random pairs among the 60 most frequent plain words (no twin, no special symbol)."""
    counts = np.bincount(c.realize(seed), minlength=c.vocab_size)
    special = {c.specials.get("mask", -1), c.specials.get("pad", -1)}
    plain = [s for s in np.argsort(-counts, kind="stable")
             if s not in special and s not in exclude and "#" not in c.vocab[s] and counts[s] > 0][:60]
    rng = np.random.default_rng(seed)
    pairs = set()
    while len(pairs) < min(n, len(plain) * (len(plain) - 1) // 2):
        a, b = sorted(rng.choice(plain, 2, replace=False).tolist())
        pairs.add((a, b))
    return sorted(pairs)


def twins_claims(groups: dict) -> list:
    claims = []
    for (_, _, tied), g in sorted(groups.items(), key=lambda kv: not kv[0][2]):
        c = g.corpus
        twins = [(c.vocab.index(f"{w}#1"), c.vocab.index(f"{w}#2")) for w in _twinned(c)]
        ref = reference_pairs(c, 200, 0)
        for t in (["tied"] if tied else ["untied input", "untied output"]):
            d_tw = table_curves(g, twins, t)[:, -1, :].mean(1)
            d_ref = table_curves(g, ref, t)[:, -1, :].mean(1)
            v = d_tw / d_ref
            claims.append(Claim("twins", f"{t}: twin pairs (SE and CE) closer than random pairs of common words",
                                "mean d(twins) / mean d(random) < 1", list(v), bool(np.all(v < 1)),
                                note=f"{len(twins)} twin pairs, {len(ref)} random pairs"))
    return claims


def _twinned(c: Corpus) -> list:
    return [w[:-2] for w in c.vocab if w.endswith("#1") and f"{w[:-2]}#2" in c.vocab]


def quadrant_values(groups: dict, figure_arch: str) -> tuple:
    """Claims for every architecture, and the figure's values for figure_arch."""
    values, claims, ratios = {}, [], {}
    for (ci, arch, tied), g in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0], not kv[0][2])):
        name = list(QUADRANTS)[ci]
        pair = QUADRANTS[name]["pair"]
        seeds = [r.train_cfg.seed for r in g.runs]
        for t in (["tied"] if tied else ["untied input", "untied output"]):
            v = lm_pair_ratio(g, pair, t)
            ratios[name, arch, t] = dict(zip(seeds, v))
            if arch == figure_arch:  # the figure shows one architecture
                values.setdefault(name, {})[t] = v
            want = PREDICTED[name][t]
            if want == "?":
                claims.append(Claim("quadrants", f"{arch}, {name} {pair}: {t} rows",
                                    "no sign: apart, or merged at the cost of the copy (P6)", list(v), True,
                                    reference=True))
                continue
            ok = bool(np.all(v <= WELL_BELOW)) if want == "close" else bool(np.all(v > WELL_BELOW))
            claims.append(Claim("quadrants", f"{arch}, {name} {pair}: {t} rows {want}",
                                f"d / median(random pairs) {'<=' if want == 'close' else '>'} {WELL_BELOW}",
                                list(v), ok, reference=name == "not SE & not CE"))
    return values, claims + split_contrasts(ratios)


def split_contrasts(ratios: dict) -> list:
    """The same pair split 0.1/0.9 (DH broken) against 0.5/0.5 (DH intact), paired by seed: the tables
    that hold output rows should keep the skewed pair further apart.  Only CE differs between the two
    corpora, so this is the controlled form of the 'apart' claims above.  ``ratios`` maps (quadrant,
    arch, table) to {seed: d / median(random pairs)}."""
    pair = QUADRANTS["SE & not CE"]["pair"]
    claims = []
    for arch in sorted({arch for _, arch, _ in ratios}):
        for t in ("tied", "untied output"):
            skewed, balanced = ratios.get(("SE & not CE", arch, t)), ratios.get(("SE & CE", arch, t))
            if not (skewed and balanced):
                continue
            v = [float(x / balanced[seed]) for seed, x in skewed.items() if seed in balanced]
            claims.append(Claim("quadrants", f"{arch}, split 0.1/0.9 against 0.5/0.5 {pair}: {t} rows further "
                                "apart when the DH is broken", "[d / median(random pairs)] skewed / balanced > 1",
                                v, bool(v) and bool(np.all(np.array(v) > 1)), note="paired by seed"))
    return claims


# ------------------------------------------------------------------------------ figures
def xor_figures(groups: dict, figdir: Path, force: bool) -> list:
    from figures.accuracy import plot_accuracy
    from figures.distances import plot_distances
    from figures.maps import plot_maps

    written = []
    for setting, arch, tied, untied in xor_cells(groups):
        c = untied.corpus
        live = occurring(c)
        pairs = [(a, b) for a in range(4) for b in range(a + 1, 4) if a in live and b in live]
        truth = {(r["a"], r["b"]): r for r in c.relations}
        relation = {}
        for p in pairs:
            r = truth.get(p, {})
            relation[_label(c, p)] = ("DH holds" if r.get("se") and r.get("ce") else
                                      "DH broken" if r.get("se") else "other")
        panels = {}
        for t in TABLES:
            g = tied if t == "tied" else untied
            cur = table_curves(g, pairs, t)
            panels[t] = {_label(c, p): cur[:, :, i] for i, p in enumerate(pairs)}
        steps = untied.runs[0].emb_steps
        base = figdir / f"xor-{setting}-{arch}"
        plot_distances(steps, panels, relation, out=f"{base}-distances", force=force,
                       title=f"XOR, {setting} setting, {arch}")
        acc = {"tied": np.stack([r.val_acc for r in tied.runs]),
               "untied": np.stack([r.val_acc for r in untied.runs])}
        bayes = truth_of(c, "validation").accuracy()
        plot_accuracy(untied.runs[0].val_steps, acc, bayes, out=f"{base}-accuracy", force=force,
                      title=f"XOR, {setting} setting, {arch}")
        r0 = untied.runs[0]
        meaning = [c.meanings[int(np.flatnonzero(c.real.variants == s)[0] // c.real.variants.shape[1])]
                   for s in range(c.vocab_size)]
        plot_maps(r0.E_in[-1], r0.E_out[-1], meaning, c.vocab, out=f"{base}-maps", force=force,
                  title=f"XOR {setting}, {arch}, untied (seed {r0.train_cfg.seed})")
        written += [f"{base.name}-{k}" for k in ("distances", "accuracy", "maps")]
    return written


def _label(c: Corpus, p: tuple) -> str:
    return f"{c.vocab[p[0]]}–{c.vocab[p[1]]}"


# ------------------------------------------------------------------------------ the report
def learning_table(groups: dict) -> list:
    """Markdown rows: final validation accuracy per XOR cell against the exact Bayes accuracy."""
    rows = ["| setting | model | final validation accuracy (mean ± sd) | Bayes-optimal |", "|---|---|---|---|"]
    for (ci, arch, tied), g in sorted(groups.items()):
        acc = np.array([r.val_acc[-1] for r in g.runs])
        bayes = truth_of(g.corpus, "validation").accuracy()
        sd = f" ± {acc.std(ddof=1):.3f}" if len(acc) > 1 else ""
        rows.append(f"| {list(SETTINGS)[ci]} | {arch} {'tied' if tied else 'untied'} | {acc.mean():.3f}{sd} | "
                    f"{bayes:.3f} |")
    return rows


def _cell(text) -> str:
    return str(text).replace("|", "\\|")  # a bare | would end the markdown table cell


def write_report(out: Path, plan: Plan, quick: bool, claims: list, figures: list, timing: dict,
                 specs: dict, force: bool, learning: list = ()) -> Path:
    import numba

    lines = [f"# Reproduction of Bertolotti & Cazzola (ICML 2024) — {'quick' if quick else 'full'} mode", ""]
    counted = [c for c in claims if not c.reference]
    n_pass = sum(c.passed for c in counted)
    reused = (f"; {timing['reused']} of them had finished in an earlier invocation and were reused"
              if timing["reused"] else "")
    lines += [f"{n_pass} of {len(counted)} claims pass (reference rows, marked *ref*, are not counted).", "",
              f"Wall time of this invocation: {timing['wall']:.0f} s. The {timing['runs']} runs took "
              f"{timing['run_seconds']:.0f} s of worker time in all{reused}.", ""]
    if quick:
        lines += ["Quick mode: geometry claims only. Learning parity comes late and suddenly (grokking), so "
                  "the accuracy claims need the full 150,000-step protocol (`tying reproduce paper`). Expect "
                  "most XOR geometry claims to fail here as well: the geometry follows learning, and "
                  f"{plan.xor_steps:,} steps at the paper's rate do not learn parity. The full mode's report "
                  "is committed in the project's docs/results/full-mode.", ""]
    lines += ["Pairs that involve a symbol that never occurs (weight 0, like `0b` in NDH/YDH) are left out of "
              "every distance claim: their output rows are only pushed away.", ""]
    lines += ["| experiment | claim | prediction | measured (mean ± sd over seeds) | result | note |",
              "|---|---|---|---|---|---|"]
    for c in claims:
        lines.append(f"| {c.experiment} | {_cell(c.claim)} | {_cell(c.prediction)} | {c.measured()} | "
                     f"{'pass' if c.passed else '**fail**'}{' *ref*' if c.reference else ''} | {_cell(c.note)} |")
    if learning:
        lines += ["", "## Learning", "", "Input geometry follows learning: until a model has learned parity, "
                  "the bit symbols carry no information about the target, so nothing keeps their input rows "
                  "apart or brings SE rows together faster than the rest.", ""] + list(learning)
    lines += ["", "## Figures", ""]
    lines += [f"- [{f}](figures/{f}.png)" for f in figures]
    lines += ["", "## Setup", "", f"- plan: `{json.dumps(asdict(plan))}`",
              f"- tying {package_version()}, numpy {np.__version__}, numba {numba.__version__}, "
              f"Python {platform.python_version()}, {platform.machine()}",
              "- every run's full config is in `sweeps/<experiment>/runs/<run_id>/config.json`; the specs:", ""]
    for name, spec in specs.items():
        lines += [f"### {name}", "", "```json", json.dumps(spec, indent=1), "```", ""]
    path = out / "REPORT.md"
    atomic.write_text(path, "\n".join(lines) + "\n")
    atomic.write_text(out / "claims.json", json.dumps([asdict(c) for c in claims], indent=1) + "\n")
    return path


def warm_up() -> None:
    """Compile (or load) every kernel once here, so the worker processes find a filled numba cache
    instead of each compiling the same code at the same time."""
    from generators.parity import parity_corpus
    from models import ModelConfig, TrainConfig, train

    corpus = parity_corpus(bits=2, splits=(0.5, 0.5, 0.0))
    train(corpus, ModelConfig(arch="bilinear"), TrainConfig(steps=2, record_every=1, eval_every=1), progress=False)


def reproduce_paper(out, quick: bool = False, workers=None, dask=None, progress: bool = True,
                    only=("xor", "twins", "quadrants"), plan: Plan | None = None) -> Path:
    """Run the experiments (resuming what is done), then write figures and the report; ``plan``
    overrides the quick or full plan (for smaller studies and tests)."""
    out = Path(out)
    plan = plan or (QUICK if quick else FULL)
    t0 = time.time()
    specs = {"xor": xor_spec(plan), "twins": twins_spec(plan), "quadrants": quadrant_spec(plan)}
    specs = {k: v for k, v in specs.items() if k in only}
    warm_up()
    claims, timing = [], {"runs": 0, "reused": 0, "run_seconds": 0.0}
    for name, spec in specs.items():
        runs = out / "sweeps" / name / "runs"
        timing["reused"] += sum(finished(runs / rid) is not None for rid in load_spec(spec).ids)
        summaries = sweeper.sweep(spec, out / "sweeps" / name, workers=workers, dask=dask, progress=progress)
        timing["runs"] += len(summaries)
        timing["run_seconds"] += sum(s.get("seconds", 0.0) for s in summaries)
        done = sum(s["status"] == "completed" for s in summaries)
        # a run that failed or diverged drops out of every claim below, so say so where it counts
        claims.append(Claim(name, "every run of the experiment completed", f"{len(summaries)} of {len(summaries)}",
                            [done], done == len(summaries),
                            note=", ".join(sorted({s["status"] for s in summaries} - {"completed"}))))
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    figures, learning = [], []
    if "xor" in specs:
        groups = load_groups(out / "sweeps" / "xor", specs["xor"])
        claims += xor_claims(groups, quick)
        figures += xor_figures(groups, figdir, force=True)
        learning = learning_table(groups)
    if "twins" in specs:
        claims += twins_claims(load_groups(out / "sweeps" / "twins", specs["twins"]))
    if "quadrants" in specs:
        from figures.quadrants import plot_quadrants

        values, qc = quadrant_values(load_groups(out / "sweeps" / "quadrants", specs["quadrants"]),
                                     plan.quadrant_archs[0])
        claims += qc
        if values:
            plot_quadrants(values, {q: PREDICTED[q] for q in values}, out=figdir / "quadrants", force=True,
                           title=f"{plan.quadrant_archs[0]}: final distance / median distance of random word pairs")
            figures.append("quadrants")
    timing["wall"] = time.time() - t0
    return write_report(out, plan, quick, claims, figures, timing, specs, force=True, learning=learning)

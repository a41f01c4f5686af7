"""``tying audit``'s library half: a corpus in, audit.csv / audit.json / audit.png out.

``corpus_from_source`` is the one place that turns the command's CORPUS argument into
a ``Corpus``; text corpora (``tying.generators.text_corpus``, to come) plug in
there.  ``write_audit`` writes the three files (and the figure's PDF) into one
folder in a single rename, so a failure leaves nothing behind.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tying.core import atomic
from tying.generators import AuditTable, Corpus, text_corpus

FILES = ("audit.csv", "audit.json", "audit.png", "audit.pdf")
DEFINITIONS = {
    "se_dist": "mean over swaps (x -> x' with one input a replaced by b, or b by a, both x and x' observed; "
               "weight p(x)) of ||p(.|x) - p(.|x')||^2; unbiased; 0 exactly when the pair is SE",
    "ce_dist": "D(a, b) = sum_x p(x) (p(a|x) + p(b|x)) KL(Bern(rho_x) || Bern(1/2)) nats, the least extra "
               "cross-entropy of merged output rows (P4); jackknifed plug-in, still biased upwards by contexts "
               "seen once",
    "ce_plugin": "the plug-in D of the n-gram estimate (truth.estimate(...).dh_violation)",
    "ce_gap": "sum_x p(x) (p(a|x) - p(b|x))^2 over contexts with two counted targets; unbiased; 0 exactly when "
              "the pair is CE",
    "se": "False when the CI of se_dist excludes 0, True when it reaches 0 and ends below se_max, None "
          "otherwise or with fewer than min_targets counted targets in the swaps' contexts (swap_targets)",
    "ce": "False when the CI of ce_gap excludes 0, True when it reaches 0, None without an estimate",
    "tie_cost": "se True, ce False and the lower end of D's CI above ce_min nats",
    "_lo / _hi": "percentile bootstrap interval over resampled realized sequences",
}


def corpus_from_source(source: str | Path, **text_options) -> Corpus:
    """The corpus named by ``tying audit``'s CORPUS argument.

    A ``.npz`` is a corpus file (``tying generate``); anything else is read as text, one sentence per line,
    by ``text_corpus`` with ``text_options`` (tokenizer, min_count, task, max_length, ...).
    """
    path = Path(source)
    if path.suffix.lower() == ".npz":
        return Corpus.load(path)
    return text_corpus(path, **text_options)


def tie_cost_pairs(table: AuditTable) -> list[dict]:
    """The rows flagged close to SE but far from CE, by decreasing D."""
    rows = [r for r in table.rows() if r["tie_cost"]]
    return sorted(rows, key=lambda r: -r["ce_dist"])


def _cell(v) -> str:
    if v is None:
        return ""
    return repr(v) if isinstance(v, float) else str(v)


def to_csv(table: AuditTable) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(table.columns))
    for r in table.rows():
        w.writerow([_cell(v) for v in r.values()])
    return buf.getvalue()


def to_json(table: AuditTable) -> str:
    doc = {"meta": table.meta, "definitions": DEFINITIONS, "pairs": table.rows()}
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"


def write_audit(table: AuditTable, out: str | Path, force: bool = False, title: str | None = None) -> Path:
    """Write ``FILES`` into the folder ``out`` (replaced whole with ``force``); return it."""
    from tying.figures import plot_audit

    out = atomic.check_target(out, force, folder=True)
    with atomic.directory(out, force) as tmp:
        atomic.write_text(tmp / "audit.csv", to_csv(table))
        atomic.write_text(tmp / "audit.json", to_json(table))
        plot_audit(table.columns, table.meta["ce_min"], table.meta["se_max"], tmp / "audit", title=title)
    return out


def summary(table: AuditTable) -> list[str]:
    """The lines ``tying audit`` prints: the estimate's size, the thresholds and the flagged pairs."""
    m = table.meta
    flagged = tie_cost_pairs(table)
    lines = [f"audited {len(table)} pairs from {m['n_samples']} targets of {m['n_units']} realized sequences "
             f"({m['n_contexts']} {m['k']}-symbol contexts, {m['singleton_contexts']} seen once), "
             f"{m['boot']} bootstrap resamples, {m['ci']:g}% CIs",
             f"close to SE, far from CE: the CI of se_dist reaches 0 and ends below {m['se_max']:g} (the data pin "
             f"the pair near SE), that of ce_gap excludes 0 (not CE) and D's lower end exceeds {m['ce_min']:g} "
             f"nats (merging the pair's output rows costs at least that per prediction): {len(flagged)} pair(s)"]
    for r in flagged:
        lines.append(f"  {r['a_name']:<12} {r['b_name']:<12} D {r['ce_dist']:.4f} [{r['ce_lo']:.4f}, "
                     f"{r['ce_hi']:.4f}] nats   se_dist {r['se_dist']:.4f} [{r['se_lo']:.4f}, {r['se_hi']:.4f}]")
    if m["n_contexts"] and m["singleton_contexts"] > m["n_contexts"] / 2:
        lines.append("note: most contexts were seen once, so D is overstated (each such context with a or b "
                     "adds p(x) ln 2); try a smaller --k or a larger corpus")
    return lines


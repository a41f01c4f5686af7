"""``tying inspect PATH [--json]``: vocabulary, relations, DH violation and Bayes-optimal numbers."""
from __future__ import annotations

import json

from tying.generators import Corpus, MAX_ROWS, report


def _flag(x) -> str:
    return {True: "yes", False: "no", None: "-"}[x]


def render(path: str, rep: dict, top: int) -> str:
    prov, gt = rep["provenance"], rep["ground_truth"]
    sizes = ", ".join(f"{s} {n}" for s, n in rep["split_sizes"].items())
    masking = "one masked position per sequence" if rep["mask_rate"] == 0 else f"mask rate {rep['mask_rate']:g}"
    out = [
        f"corpus     {path}",
        f"generator  {prov.get('generator', '?')} {json.dumps(prov.get('parameters', {}))} "
        f"seed {prov.get('seed', '?')}, tying {prov.get('version', '?')}",
        f"task       {rep['task']}" + (f" ({masking})" if rep["task"] == "mlm" else " (next-token)"),
        f"sequences  {rep['n_sequences']} ({sizes})",
        "",
        f"vocabulary ({len(rep['vocab'])} symbols)",
    ]
    special = {v: k for k, v in rep["specials"].items() if isinstance(v, int) and v >= 0}
    special.update({i: "label" for i in rep["specials"].get("labels", [])})
    for i, (name, means) in enumerate(zip(rep["vocab"], rep["symbol_meanings"])):
        role = f"  [{special[i]}]" if i in special else ""
        out.append(f"  {i:>4}  {name:<12} {', '.join(means) or '-'}{role}")
    out.append("")
    if gt["method"] == "exact":
        out.append(f"ground truth: exact enumeration ({gt['n_contexts']} distinct contexts over all sequences)")
    else:
        out.append(f"ground truth: ESTIMATED from {gt['k']}-symbol contexts on each side, {gt['draws']} seeded "
                   f"realization(s): {gt['n_samples']} samples, {gt['n_contexts']} contexts "
                   f"({gt['singleton_contexts']} seen once)")
        out.append(f"  ({gt['reason']}; SE/CE flags are those recorded by construction)")
    rels = rep["relations"]
    out += ["", f"relations ({len(rels)} pairs; SE semantic, CE conditional equivalence, D = DH violation in nats)"]
    if rels:
        out.append(f"  {'a':<10} {'b':<10} {'SE':>3} {'CE':>3} {'D':>10}  why")
        for r in rels:
            why = (r["by_construction"] or {}).get("why") or r.get("se_reason", "")
            out.append(f"  {r['a_name']:<10} {r['b_name']:<10} {_flag(r['semantic_equivalent']):>3} "
                       f"{_flag(r['conditional_equivalent']):>3} {r['dh_violation_nats']:>10.6f}  {why}")
        out += ["", f"largest D (top {min(top, len(rels))})"]
        for r in sorted(rels, key=lambda r: -r["dh_violation_nats"])[:top]:
            out.append(f"  D({r['a_name']}, {r['b_name']}) = {r['dh_violation_nats']:.6f} nats")
    out += ["", "Bayes-optimal" + (" (exact)" if gt["method"] == "exact" else " (n-gram estimate)")]
    out.append(f"  {'split':<12} {'contexts':>9} {'accuracy':>9} {'cross-entropy':>14}")
    for s, b in rep["bayes_optimal"].items():
        out.append(f"  {s:<12} {b['n_contexts']:>9} {b['accuracy']:>9.6f} {b['cross_entropy']:>14.6f}")
    return "\n".join(out)


def run(args) -> int:
    corpus = Corpus.load(args.path)
    rep = report(corpus, max_rows=args.max_rows, k=args.ngram, seed=args.seed, draws=args.draws)
    print(json.dumps(rep, indent=2) if args.json else render(args.path, rep, args.top))
    return 0


def register(subparsers) -> None:
    from .options import int_at_least
    from tying.experiments.commands.generate import add_seed_option

    p = subparsers.add_parser(
        "inspect", help="report a corpus's vocabulary, relations and exact ground truth",
        description="Report the vocabulary, the SE/CE relation of each symbol pair, the DH-violation metric D "
        "and the Bayes-optimal accuracy and cross-entropy of each split. Exact when the population can be "
        "enumerated (parity), otherwise estimated from n-gram contexts with the sample counts reported.")
    p.add_argument("path", metavar="PATH", help="corpus file (.npz)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--top", type=int_at_least(0), default=10, metavar="N",
                   help="how many pairs with the largest D to list (default %(default)s)")
    p.add_argument("--max-rows", type=int_at_least(1), default=MAX_ROWS, metavar="N",
                   help="largest exact enumeration, in (context, target) pairs (default %(default)s)")
    p.add_argument("--ngram", type=int_at_least(1), default=2, metavar="K",
                   help="estimates: symbols on each side of the target (default %(default)s)")
    p.add_argument("--draws", type=int_at_least(1), default=1, metavar="N",
                   help="estimates: seeded realizations to count (default %(default)s)")
    add_seed_option(p, default=0, help="estimates: seed of the first realization")
    p.set_defaults(func=run)

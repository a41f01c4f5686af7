"""``tying verify``: prove the propositions with sympy and check them on trained models."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser(
        "verify",
        help="prove P1-P7 symbolically and check them numerically, with negative controls",
        description="Run the theory checks (docs/theory.md): each proposition's symbolic proof (sympy), its "
        "numeric check on models trained by the testbed, and the negative controls (the same check with "
        "the premise removed, which must fail).  Exits 1 when anything fails.",
    )
    p.add_argument("--quick", action="store_true",
                   help="smaller populations, fewer architectures and steps (under 3 minutes on 2 cores)")
    p.add_argument("--json", action="store_true",
                   help="print [{id, statement, symbolic, numeric, negative_control, numbers, ...}] as JSON")
    p.add_argument("--only", metavar="IDS", action="append",
                   help="run only these propositions, e.g. --only P3 or --only P1,P4 (repeatable)")
    p.set_defaults(func=run)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def table(entries: list[dict]) -> str:
    rows = [("proposition", "symbolic", "numeric", "negative control", "key numbers")]
    for e in entries:
        key = ", ".join(f"{k}={_fmt(v)}" for k, v in e["key_numbers"].items())
        rows.append((e["id"], e["symbolic"], e["numeric"], e["negative_control"], key))
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].ljust(w[i]) for i in range(4)) + "  " + r[4] for r in rows]
    lines.insert(1, "-" * max(len(x) for x in lines))
    for e in entries:
        lines += [f"{e['id']} {f}" for f in e["failures"]]
    return "\n".join(lines)


def run(args) -> int:
    from tying.theory import registry

    ids = registry.select([x for spec in (args.only or []) for x in spec.split(",")])
    entries = registry.verify(ids, quick=args.quick, log=None if args.json else registry.stderr_log)
    if args.json:
        print(json.dumps(entries, indent=2))
    else:
        print(table(entries))
    return 0 if registry.passed(entries) else 1

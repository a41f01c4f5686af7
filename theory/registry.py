"""All propositions, and the runner behind ``tying verify``."""
from __future__ import annotations

import sys
import time
import traceback

from tying.core.errors import InputError

from . import p1_gradients, p2_contraction, p3_separation, p4_merge_price, p5_semantic, p6_quadrants, p7_variants
from .result import ERROR, FAIL, PASS, Result

PROPOSITIONS = {m.ID: m for m in (p1_gradients, p2_contraction, p3_separation, p4_merge_price, p5_semantic,
                                  p6_quadrants, p7_variants)}


def select(only: list[str] | None) -> list[str]:
    """Proposition ids in order; ``only`` may list ids in any case."""
    if not only:
        return list(PROPOSITIONS)
    ids = [x.strip().upper() for x in only if x.strip()]
    unknown = [x for x in ids if x not in PROPOSITIONS]
    if unknown:
        raise InputError(f"unknown proposition {unknown[0]!r} (expected one of {', '.join(PROPOSITIONS)})")
    return [p for p in PROPOSITIONS if p in ids]


def _half(module, kind: str, quick: bool) -> Result:
    t = time.perf_counter()
    try:
        res = module.symbolic() if kind == "symbolic" else module.numeric(quick)
    except Exception as e:  # a crash is a failed check, reported with where it happened
        where = traceback.extract_tb(e.__traceback__)[-1]
        res = Result(module.ID, kind, module.STATEMENT).error(
            f"{type(e).__name__}: {e} ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})")
    res.seconds = round(time.perf_counter() - t, 2)
    return res


def _combined_control(results: list[Result]) -> str:
    states = [r.negative_control["status"] for r in results]
    if any(r.status == ERROR for r in results):
        return ERROR
    if FAIL in states:
        return FAIL
    return PASS if PASS in states else "n/a"


def verify(ids: list[str], quick: bool, log=None) -> list[dict]:
    """Run the symbolic and numeric halves of each proposition; one JSON-ready entry per proposition."""
    out = []
    for pid in ids:
        module = PROPOSITIONS[pid]
        halves = []
        for kind in ("symbolic", "numeric"):
            res = _half(module, kind, quick)
            halves.append(res)
            if log:
                log(f"{pid} {kind}: {res.status} ({res.seconds:.1f} s)")
        sym, num = halves
        out.append({
            "id": pid, "statement": module.STATEMENT, "symbolic": sym.status, "numeric": num.status,
            "negative_control": _combined_control(halves),
            "numbers": {**sym.numbers, **num.numbers},
            "key_numbers": {k: num.numbers.get(k, sym.numbers.get(k)) for k in module.KEY_NUMBERS
                            if k in num.numbers or k in sym.numbers},
            "failures": [f"{r.kind}: {f}" for r in halves for f in r.failures()],
            "details": {r.kind: r.to_dict() for r in halves},
        })
    return out


def passed(entries: list[dict]) -> bool:
    return all(e["symbolic"] == PASS and e["numeric"] == PASS and e["negative_control"] == PASS for e in entries)


def stderr_log(msg: str) -> None:
    print(f"tying verify: {msg}", file=sys.stderr, flush=True)

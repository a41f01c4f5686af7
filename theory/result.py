"""The structured result of one half (symbolic or numeric) of a proposition's check.

A result is a list of named sub-checks, each of which must hold, plus a list
of negative controls: the same check run with the premise removed, which
*passes when the check fails*.  A check that cannot fail is a defect, so every
numeric half carries at least one control.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

PASS, FAIL, ERROR = "pass", "fail", "error"


def _clean(v):
    """JSON-friendly numbers: numpy scalars to float/int, non-finite floats to strings."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


@dataclass
class Result:
    id: str
    kind: str  # "symbolic" | "numeric"
    statement: str
    status: str = PASS
    numbers: dict = field(default_factory=dict)
    tolerance: dict = field(default_factory=dict)
    checks: list = field(default_factory=list)  # [{name, ok, value}]
    negative_control: dict = field(default_factory=lambda: {"status": "n/a", "controls": []})
    message: str = ""
    seconds: float = 0.0

    # ------------------------------------------------------------- building
    def check(self, name: str, ok: bool, value=None) -> bool:
        """Record a sub-check that must hold."""
        ok = bool(ok)
        self.checks.append({"name": name, "ok": ok, "value": _clean(value)})
        if not ok and self.status == PASS:
            self.status = FAIL
        return ok

    def control(self, name: str, check_holds: bool, value=None) -> bool:
        """Record a negative control: the check, premise removed, must NOT hold."""
        nc = self.negative_control
        passed = not bool(check_holds)
        nc["controls"].append({"name": name, "ok": passed, "value": _clean(value)})
        if nc["status"] in ("n/a", PASS):
            nc["status"] = PASS if passed else FAIL
        return passed

    def number(self, **kw) -> None:
        self.numbers.update(_clean(kw))

    def tol(self, **kw) -> None:
        self.tolerance.update(_clean(kw))

    def error(self, message: str) -> "Result":
        self.status, self.message = ERROR, message
        return self

    # ------------------------------------------------------------ reporting
    @property
    def ok(self) -> bool:
        return self.status == PASS and self.negative_control["status"] in (PASS, "n/a")

    def failures(self) -> list[str]:
        out = [c["name"] for c in self.checks if not c["ok"]]
        out += [f"control: {c['name']}" for c in self.negative_control["controls"] if not c["ok"]]
        return out + ([self.message] if self.message else [])

    def to_dict(self) -> dict:
        return {
            "id": self.id, "kind": self.kind, "statement": self.statement, "status": self.status,
            "numbers": self.numbers, "tolerance": self.tolerance, "checks": self.checks,
            "negative_control": self.negative_control, "message": self.message, "seconds": self.seconds,
        }

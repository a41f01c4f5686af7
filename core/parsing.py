"""Text to values, shared by the command line and the library (specs, transforms written as text)."""
from __future__ import annotations

from .errors import InputError


def float_list(text: str, option: str) -> list[float]:
    """'0.1,0.9' -> [0.1, 0.9]; InputError naming the option otherwise."""
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise InputError(f"{option}: {text!r} is not a comma-separated list of numbers") from None

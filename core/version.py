"""The installed distribution's version, recorded in every corpus's and run's provenance."""
from __future__ import annotations


def package_version() -> str:
    try:
        from importlib.metadata import version

        return version("tying")
    except Exception:  # running from a source tree that is not installed
        return "0+unknown"

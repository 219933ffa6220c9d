"""Numeric settings read from the environment, with one error format for every variable."""

from __future__ import annotations

import os


def number_from_env(name: str, default: float, *, low: float = 0.0, high: float | None = None, what: str = "a number of seconds") -> float:
    """``float($name)``, or ``default`` when unset or blank; a value outside ``[low, high]`` is a ValueError."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value >= low and (high is None or value <= high)):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise ValueError(f"{name} must be {what} {bound}, not {text!r}")
    return value

"""Statistics of the benchmark rounds: medians with min-max, and paired ratios.

Every figure the suite reports is a ratio against a baseline measured in the same run. Ratios are
*paired by round*: in round r the variant's value is divided by the baseline's value of round r
(both measured minutes apart, interleaved with the others), and the report gives the median of
those per-round ratios with their min and max. Pairing cancels slow drift of the machine (thermal
state, a noisy neighbour) that a ratio of two medians taken over the whole run would not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of no values")
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def summary(values: Iterable[float | None]) -> dict | None:
    """``{"median", "min", "max", "n"}`` of the finite values, or None if there are none."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    return {"median": median(finite), "min": min(finite), "max": max(finite), "n": len(finite)}


def paired_ratios(variant: Sequence[float | None], baseline: Sequence[float | None]) -> list[float]:
    """Per-round ratios variant/baseline, for the rounds where both were measured."""
    out = []
    for value, base in zip(variant, baseline):
        if value is None or base is None or not math.isfinite(value) or not math.isfinite(base):
            continue
        if base == 0:
            continue
        out.append(value / base)
    return out


def per_round(rounds: Sequence[Mapping | None], key: str) -> list[float | None]:
    """The ``key`` figure of each round's result (None where the round failed or lacks it)."""
    out: list[float | None] = []
    for result in rounds:
        value = None if result is None else result.get(key)
        out.append(float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None)
    return out


def compare(results: Mapping[str, Sequence[Mapping | None]], key: str, baseline: str,
            baselines: Mapping[str, str] | None = None) -> dict[str, dict]:
    """For each variant: the summary of its ``key`` figure and of its paired ratio to its
    baseline (``baselines[variant]`` if given, else ``baseline``). A baseline's own ratio is
    1.0 by construction and reported as such."""
    baselines = dict(baselines or {})
    out: dict[str, dict] = {}
    for variant, rounds in results.items():
        base_name = baselines.get(variant, baseline)
        values = per_round(rounds, key)
        base_values = per_round(results.get(base_name, []), key)
        out[variant] = {
            "baseline": base_name,
            "value": summary(values),
            "ratio": summary(paired_ratios(values, base_values)),
            "rounds": values,
        }
    return out


def difference(results: Mapping[str, Sequence[Mapping | None]], key: str, baseline: str,
               baselines: Mapping[str, str] | None = None) -> dict[str, dict]:
    """Like :func:`compare`, plus the paired difference variant - baseline (for memory: MiB over
    plain)."""
    out = compare(results, key, baseline, baselines)
    for variant, entry in out.items():
        values = per_round(results[variant], key)
        base_values = per_round(results.get(entry["baseline"], []), key)
        entry["delta"] = summary([v - b for v, b in zip(values, base_values) if v is not None and b is not None])
    return out


def fmt(number: float | None, digits: int = 3) -> str:
    """A figure with ``digits`` significant digits (no scientific notation for usual ranges)."""
    if number is None:
        return "-"
    if number == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(number)))
    decimals = max(digits - 1 - magnitude, 0)
    return f"{number:.{decimals}f}"


def fmt_summary(entry: dict | None, suffix: str = "", digits: int = 3) -> str:
    """``median [min-max]`` (just the median when there was one round)."""
    if not entry:
        return "-"
    med = fmt(entry["median"], digits) + suffix
    if entry["n"] < 2:
        return med
    return f"{med} [{fmt(entry['min'], digits)}-{fmt(entry['max'], digits)}]"

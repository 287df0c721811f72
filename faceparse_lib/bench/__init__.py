"""Benchmark harness: time named cases against a baseline measured in the same process, report ratios."""

from __future__ import annotations

import gc
import importlib
import pkgutil
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

import faceparse_lib.bench.suites as _suites_pkg


@dataclass
class Case:
    """One timed candidate: a callable run `repeats` times after one warm-up call."""

    name: str
    fn: Callable[[], object]
    note: str = ""


@dataclass
class Comparison:
    """Median times of a baseline and its candidates over the same work of `units` items."""

    title: str
    baseline: str
    units: int
    unit: str
    seconds: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def ratio(self, name: str) -> float:
        """Speed-up of `name` over the baseline (baseline time / case time)."""
        return self.seconds[self.baseline] / self.seconds[name]

    def rows(self) -> list[dict[str, object]]:
        """One dict per case: name, median seconds, throughput, speed-up over the baseline."""
        return [
            {
                "case": name,
                "seconds": secs,
                f"{self.unit}/s": self.units / secs if secs > 0 else float("inf"),
                "vs_baseline": self.ratio(name),
                "note": self.notes.get(name, ""),
            }
            for name, secs in self.seconds.items()
        ]

    def format(self) -> str:
        """A plain-text table of the comparison."""
        lines = [f"## {self.title}  ({self.units} {self.unit} per call; baseline: {self.baseline})"]
        width = max(len(n) for n in self.seconds)
        for row in self.rows():
            lines.append(
                f"  {row['case']:<{width}}  {row['seconds'] * 1e3:10.2f} ms  "
                f"{row[f'{self.unit}/s']:12.1f} {self.unit}/s  {row['vs_baseline']:6.2f}x"
                + (f"  {row['note']}" if row["note"] else "")
            )
        return "\n".join(lines)


def median_seconds(fn: Callable[[], object], repeats: int = 3, warmup: int = 1) -> float:
    """Median wall time of `fn()` over `repeats` calls, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(
    title: str,
    baseline: Case,
    cases: list[Case],
    units: int,
    unit: str = "items",
    repeats: int = 3,
    warmup: int = 1,
) -> Comparison:
    """Time the baseline and every case on the same work, interleaved-free and in one process."""
    result = Comparison(title=title, baseline=baseline.name, units=units, unit=unit)
    for case in [baseline, *cases]:
        result.seconds[case.name] = median_seconds(case.fn, repeats=repeats, warmup=warmup)
        if case.note:
            result.notes[case.name] = case.note
    return result


def available_suites() -> list[str]:
    """Names of the benchmark suites: one module each in `faceparse_lib.bench.suites` with a `run(quick)`."""
    return sorted(m.name for m in pkgutil.iter_modules(_suites_pkg.__path__) if not m.name.startswith("_"))


def run_suite(name: str, quick: bool = False) -> list[Comparison]:
    """Run one suite and return its comparisons."""
    if name not in available_suites():
        raise ValueError(f"unknown benchmark suite {name!r}; choose from {', '.join(available_suites())}")
    module = importlib.import_module(f"{_suites_pkg.__name__}.{name}")
    return list(module.run(quick=quick))

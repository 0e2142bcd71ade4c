"""Figures as the benchmarks report them: ``name value unit`` lines and the closing table.

A :class:`Figure` may carry a target (``value < 2`` or ``value >= 0.9``); the summary table says
whether it was met. Notes (``# ...`` lines) say how a figure was measured where that matters.
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class Target:
    """A bound a figure must respect: ``op`` is ``"<"``, ``"<="`` or ``">="``."""

    op: str
    bound: float

    def met(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.op == "<":
            return value < self.bound
        if self.op == "<=":
            return value <= self.bound
        return value >= self.bound

    def __str__(self) -> str:
        return f"{self.op} {self.bound:g}"


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: Target | None = None

    def line(self) -> str:
        return f"{self.name} {format_value(self.value)} {self.unit}"


def format_value(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if value == int(value) and abs(value) < 1e9:
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` 0.99 for p99) of ``values``."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


class Report:
    """Collects figures and notes, printing each as it comes so a long run shows progress."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.figures: list[Figure] = []

    def add(self, name: str, value: float, unit: str, target: Target | None = None) -> Figure:
        figure = Figure(name, float(value), unit, target)
        self.figures.append(figure)
        print(figure.line(), file=self.out, flush=True)
        return figure

    def note(self, text: str) -> None:
        for line in text.splitlines():
            print(f"# {line}", file=self.out, flush=True)

    def summary(self) -> None:
        """The closing table: every figure with a target, its value, and whether it was met."""
        rows = [f for f in self.figures if f.target is not None]
        if not rows:
            return
        width = max(len(f.name) for f in rows)
        print(file=self.out)
        print(f"{'figure':<{width}}  {'value':>10}  {'unit':<5}  {'target':<8}  met?", file=self.out)
        print(f"{'-' * width}  {'-' * 10}  {'-' * 5}  {'-' * 8}  ----", file=self.out)
        for f in rows:
            assert f.target is not None
            met = "yes" if f.target.met(f.value) else "NO"
            print(
                f"{f.name:<{width}}  {format_value(f.value):>10}  {f.unit:<5}  {f.target!s:<8}  {met}",
                file=self.out,
            )
        missed = sum(1 for f in rows if f.target is not None and not f.target.met(f.value))
        print(f"\n{len(rows) - missed} of {len(rows)} targets met.", file=self.out, flush=True)

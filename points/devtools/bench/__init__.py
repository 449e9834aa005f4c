"""``points bench``: scenarios, each measured against a baseline in the same run.

A scenario returns its figure, the baseline figure and their ratio; machines here
are noisy, so absolute numbers mean little and the ratio is what to compare.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class BenchResult:
    name: str
    unit: str
    figure: float
    baseline: float
    baseline_name: str
    higher_is_better: bool = True
    goal: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        if self.baseline == 0:
            return float("inf")
        return self.figure / self.baseline

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": round(self.ratio, 4)}

"""The highest rate the pipeline keeps up with: double from a first rate until a step fails
(halve while the first ones fail), then bisect between the highest rate kept up with and the
lowest one not, until they are within `precision` of each other or the steps run out."""

from collections.abc import Callable

from bench.pipeline.step import Step

__all__ = ["Search", "search"]

ROUND_TO = 50
"""Rates are asked in whole steps of this many events/s."""


class Search:
    """The steps taken, and what they bracket."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    @property
    def kept_up(self) -> float:
        """The highest rate kept up with (0: none)."""
        return max((s.rate for s in self.steps if s.sustained), default=0.0)

    @property
    def fell_behind(self) -> float | None:
        """The lowest rate not kept up with (None: every step kept up)."""
        return min((s.rate for s in self.steps if not s.sustained), default=None)

    def best(self) -> Step | None:
        """The step at the highest rate kept up with."""
        kept = [s for s in self.steps if s.sustained]
        return max(kept, key=lambda s: s.rate) if kept else None

    def next_rate(self, first: float, precision: float) -> float | None:
        """The rate of the next step; None when the bracket is narrow enough."""
        low, high = self.kept_up, self.fell_behind
        if not self.steps:
            return first
        if high is None:
            return low * 2
        if not low:
            halved = _rounded(high / 2)
            return halved if halved < high else None
        if high <= low * (1 + precision):
            return None
        middle = _rounded((low + high) / 2)
        return middle if low < middle < high else None


def _rounded(rate: float) -> float:
    return float(max(ROUND_TO, round(rate / ROUND_TO) * ROUND_TO))


def search(
    measure: Callable[[float], Step], first: float, precision: float, most_steps: int
) -> Search:
    """Steps from `first` events/s until the bracket is within `precision` or `most_steps` ran."""
    found = Search()
    while len(found.steps) < most_steps:
        rate = found.next_rate(first, precision)
        if rate is None:
            break
        found.steps.append(measure(rate))
    return found

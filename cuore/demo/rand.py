"""A seeded random generator with the few draws the demo makes millions of times, made cheap."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class DemoRandom(random.Random):
    """``random.Random`` plus draws built on one ``random()`` call each (the stdlib ones cost several)."""

    def __init__(self, seed: int):
        super().__init__(seed)
        self._cumulative: dict[tuple, list[float]] = {}

    def below(self, n: int) -> int:
        """Return an integer in [0, n)."""
        return int(self.random() * n)

    def between(self, low: int, high: int) -> int:
        """Return an integer in [low, high)."""
        return low + int(self.random() * (high - low))

    def pick(self, values: Sequence[T]) -> T:
        return values[int(self.random() * len(values))]

    def weighted(self, values: Sequence[T], weights: Sequence[float]) -> T:
        key = tuple(weights)
        cumulative = self._cumulative.get(key)
        if cumulative is None:
            cumulative = self._cumulative[key] = list(itertools.accumulate(key))
        return values[bisect.bisect_right(cumulative, self.random() * cumulative[-1])]

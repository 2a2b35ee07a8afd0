"""Distributions of a search-space field, sampled only through Optuna's ``trial.suggest_*``.

Because every value comes from ``suggest_categorical`` / ``suggest_int`` / ``suggest_float``,
every Optuna sampler (random, grid, TPE, NSGA-II, ...) works on every space, and the study
records each choice under a readable parameter name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class Suggester(Protocol):
    """The part of ``optuna.Trial`` the sampler uses (``optuna.trial.FixedTrial`` fits too)."""

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...
    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int: ...
    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...


@dataclass(frozen=True)
class Fixed:
    """A field that is not searched: always ``value``; no Optuna parameter is created."""

    value: Any

    def suggest(self, trial: Suggester, name: str) -> Any:
        return self.value

    def values(self) -> list[Any] | None:
        return [self.value]


@dataclass(frozen=True)
class Categorical:
    choices: tuple[Any, ...]

    def suggest(self, trial: Suggester, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.choices))

    def values(self) -> list[Any] | None:
        return list(self.choices)


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    step: int = 1
    log: bool = False

    def suggest(self, trial: Suggester, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, step=self.step, log=self.log)

    def values(self) -> list[Any] | None:
        return list(range(self.low, self.high + 1, self.step))


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    step: float | None = None
    log: bool = False

    def suggest(self, trial: Suggester, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)

    def values(self) -> list[Any] | None:
        """Grid points when a step is set; ``None`` for a continuous range."""
        if self.step is None:
            return None
        count = round((self.high - self.low) / self.step) + 1
        return [self.low + i * self.step for i in range(count)]


Distribution = Fixed | Categorical | IntRange | FloatRange


def grid_values(dist: Distribution, points: int = 3) -> list[Any]:
    """Finite values for a grid: a continuous range without a step becomes ``points`` values,
    log-spaced for a log range (endpoints included)."""
    values = dist.values()
    if values is not None:
        return values
    assert isinstance(dist, FloatRange)
    if points == 1:
        return [dist.low]
    if dist.log:
        ratio = (dist.high / dist.low) ** (1 / (points - 1))
        return [dist.low * ratio**i for i in range(points - 1)] + [dist.high]
    step = (dist.high - dist.low) / (points - 1)
    return [dist.low + step * i for i in range(points - 1)] + [dist.high]

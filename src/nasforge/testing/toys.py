"""Toy search space, objective, evaluator and task with a known optimum, for tests.

They stand in for the real parts so strategies, the study loop, stores and resume can be tested in
milliseconds, without training and without depending on the real search spaces:

- :class:`ToySpace` (``toy`` in ``SPACES``): ``n_decisions`` integer decisions ``d0, d1, …``,
  each in ``0 .. n_options-1``; finite, enumerable, with real ``mutate``/``neighbours``/``encode``/
  ``validate`` and a tiny ``build``.
- :func:`toy_score`: a deterministic score in ``[0, 1]`` with a unique optimum of exactly 1.0 at
  :func:`toy_optimum`.
- :class:`ToyEvaluator` (``toy`` in ``EVALUATORS``): returns ``val_accuracy = 100 * toy_score``
  and can be told to raise, return NaN, report a failure or sleep for chosen architectures.
- :class:`ToyTask` (``toy`` in ``TASKS``): a few dozen random tabular examples, so an
  :class:`~nasforge.evaluate.base.EvalContext` can be made without a real dataset.

Example:
    >>> space = ToySpace(n_decisions=2, n_options=3)
    >>> space.size
    9.0
    >>> toy_score(toy_optimum(space), space)
    1.0
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import Field

from nasforge import metrics
from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, InvalidArchitectureError, Problem
from nasforge.evaluate.base import EVALUATORS, EvalContext, Evaluator
from nasforge.space.base import SPACES, SearchSpace
from nasforge.tasks.base import TASKS, Split, Task, TaskData, TaskInfo
from nasforge.trial import Candidate, Result

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "ToyEvaluator",
    "ToySpace",
    "ToyTask",
    "toy_optimum",
    "toy_result",
    "toy_score",
]


@SPACES.register("toy")
class ToySpace(SearchSpace):
    """``n_decisions`` integer decisions named ``d0, d1, …``, each with ``n_options`` choices.

    Finite (``n_options ** n_decisions`` architectures) and enumerable. ``neighbours`` changes one
    decision; ``encode`` is a one-hot vector of length ``n_decisions * n_options``.

    Args:
        n_decisions: number of decisions.
        n_options: choices per decision.
    """

    def __init__(
        self,
        *,
        n_decisions: Annotated[int, Field(ge=1, le=32)] = 4,
        n_options: Annotated[int, Field(ge=2, le=64)] = 4,
    ) -> None:
        self.n_decisions = n_decisions
        self.n_options = n_options

    @property
    def decisions(self) -> list[str]:
        return [f"d{i}" for i in range(self.n_decisions)]

    @property
    def size(self) -> float:
        return float(self.n_options**self.n_decisions)

    def sample(self, rng: np.random.Generator) -> Architecture:
        values = rng.integers(0, self.n_options, size=self.n_decisions)
        return Architecture({k: int(v) for k, v in zip(self.decisions, values, strict=True)})

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        self.validate(arch)
        key = self.decisions[int(rng.integers(self.n_decisions))]
        # Draw among the other options only, so the result always differs from ``arch``.
        shift = 1 + int(rng.integers(self.n_options - 1))
        return arch.replace(**{key: (int(arch[key]) + shift) % self.n_options})

    def neighbours(self, arch: Architecture) -> list[Architecture]:
        self.validate(arch)
        return [
            arch.replace(**{key: option})
            for key in self.decisions
            for option in range(self.n_options)
            if option != arch[key]
        ]

    def encode(self, arch: Architecture) -> np.ndarray:
        self.validate(arch)
        out = np.zeros((self.n_decisions, self.n_options), dtype=np.float32)
        for i, key in enumerate(self.decisions):
            out[i, int(arch[key])] = 1.0
        return out.reshape(-1)

    def validate(self, arch: Architecture) -> None:
        expected = self.decisions
        known = f"ToySpace(n_decisions={self.n_decisions}) has decisions {', '.join(expected)}"
        for key in arch:
            if key not in expected:
                raise InvalidArchitectureError(
                    f"unknown decision {key!r}; {known}. Fix: remove it", path=[key]
                )
        for key in expected:
            if key not in arch:
                raise InvalidArchitectureError(
                    f"missing decision; {known}. Fix: add {key}", path=[key]
                )
        for key in expected:
            value = arch[key]
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidArchitectureError(
                    f"expected an int in 0..{self.n_options - 1}, got {value!r}", path=[key]
                )
            if not 0 <= value < self.n_options:
                raise InvalidArchitectureError(
                    f"expected an int in 0..{self.n_options - 1}, got {value}", path=[key]
                )

    def enumerate(self) -> Iterator[Architecture]:
        for values in itertools.product(range(self.n_options), repeat=self.n_decisions):
            yield Architecture(dict(zip(self.decisions, values, strict=True)))

    def hidden_width(self, arch: Architecture) -> int:
        """Width of the built model's hidden layer: ``4 * (1 + d0)``."""
        return 4 * (1 + int(arch["d0"]))

    def build(self, arch: Architecture, task: TaskInfo) -> nn.Module:
        """A two-layer MLP whose hidden width depends on ``d0`` (so ``params`` varies)."""
        from torch import nn  # lazy: most toy users never build a model

        self.validate(arch)
        width = self.hidden_width(arch)
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(task.input_shape), width),
            nn.ReLU(),
            nn.Linear(width, task.n_outputs),
        )


def toy_optimum(space: ToySpace) -> Architecture:
    """The unique architecture where :func:`toy_score` is 1.0: ``d_i = (3*i + 1) % n_options``.

    It is not the first architecture in enumeration order, so a strategy cannot find it by luck.
    """
    return Architecture({k: (3 * i + 1) % space.n_options for i, k in enumerate(space.decisions)})


def toy_score(arch: Architecture, space: ToySpace | None = None) -> float:
    """A deterministic score in ``[0, 1]``: 1 minus the normalised L1 distance to the optimum.

    Separable and unimodal, so local search and evolution climb it, with a unique optimum of
    exactly 1.0 at :func:`toy_optimum`. ``space`` defaults to ``ToySpace()`` with the decision
    count taken from ``arch``.
    """
    if space is None:
        space = ToySpace(n_decisions=len(arch))
    space.validate(arch)
    target = toy_optimum(space)
    distance = sum(abs(int(arch[k]) - int(target[k])) for k in space.decisions)
    return 1.0 - distance / (space.n_decisions * (space.n_options - 1))


def toy_result(
    arch: Architecture, space: ToySpace | None = None, fidelity_fraction: float = 1.0
) -> Result:
    """The OK :class:`Result` :class:`ToyEvaluator` gives ``arch`` (without failure options).

    At a lower fidelity, accuracy shrinks towards half the full value, keeping the ranking.
    """
    value = toy_score(arch, space) * (0.5 + 0.5 * fidelity_fraction)
    return Result(
        metrics={
            metrics.VAL_ACCURACY: 100.0 * value,
            # A monotone but different number, so code that mixes up val and test shows it.
            metrics.TEST_ACCURACY: 100.0 * (0.02 + 0.95 * value),
        },
        cost_s=fidelity_fraction,
    )


def _matches(arch: Architecture, patterns: Sequence[str]) -> bool:
    return any(p in ("*", str(arch), arch.arch_id) for p in patterns)


@EVALUATORS.register("toy")
class ToyEvaluator(Evaluator):
    """Scores a :class:`ToySpace` architecture by :func:`toy_score`, with scripted misbehaviour.

    Architectures in the option lists are given by canonical string (``str(arch)``), by
    ``arch.arch_id``, or ``"*"`` for every architecture.

    Args:
        fail: architectures whose evaluation fails: raises ``RuntimeError`` when
            ``fail_mode="raise"`` (``run_evaluation`` records it) or returns a FAILED result.
        fail_mode: ``raise`` or ``result``.
        nan: architectures whose ``val_accuracy`` is NaN (the result is then FAILED).
        sleep: architectures whose evaluation sleeps ``sleep_s`` seconds first.
        sleep_s: seconds to sleep for architectures in ``sleep``.
        max_epochs: the full fidelity; a candidate at ``fidelity=f`` scores as at ``f/max_epochs``.
    """

    def __init__(
        self,
        *,
        fail: list[str] | None = None,
        fail_mode: Literal["raise", "result"] = "raise",
        nan: list[str] | None = None,
        sleep: list[str] | None = None,
        sleep_s: Annotated[float, Field(ge=0)] = 0.0,
        max_epochs: Annotated[int, Field(ge=1)] = 10,
    ) -> None:
        self.fail = fail
        self.fail_mode = fail_mode
        self.nan = nan
        self.sleep = sleep
        self.sleep_s = sleep_s
        self.max_epochs = max_epochs

    @property
    def max_fidelity(self) -> int | None:
        return self.max_epochs

    def evaluate(self, candidate: Candidate, ctx: EvalContext) -> Result:
        space = ctx.space
        if not isinstance(space, ToySpace):
            raise ConfigError(
                [
                    Problem(
                        "evaluator.name",
                        f"the toy evaluator scores ToySpace architectures only; "
                        f"got a {type(space).__name__}",
                        "use space 'toy' with evaluator 'toy'",
                    )
                ]
            )
        arch = candidate.arch
        if self.sleep and _matches(arch, self.sleep):
            time.sleep(self.sleep_s)
        if self.fail and _matches(arch, self.fail):
            reason = f"toy failure scripted for {arch}"
            if self.fail_mode == "raise":
                raise RuntimeError(reason)
            return Result.failed(reason)
        fidelity = candidate.fidelity if candidate.fidelity is not None else self.max_epochs
        result = toy_result(arch, space, min(fidelity, self.max_epochs) / self.max_epochs)
        if self.nan and _matches(arch, self.nan):
            return Result(metrics={**result.metrics, metrics.VAL_ACCURACY: math.nan})
        return result


@TASKS.register("toy")
class ToyTask(Task):
    """A tiny random tabular classification task (``n_features`` features, ``n_classes`` classes).

    The labels follow a fixed linear rule of the features, so a model can learn something.

    Args:
        n_features: input features.
        n_classes: classes.
        n_examples: examples per split.
        seed: seed of the generated data.
    """

    kind = "tabular"

    def __init__(
        self,
        *,
        n_features: Annotated[int, Field(ge=1)] = 4,
        n_classes: Annotated[int, Field(ge=2)] = 2,
        n_examples: Annotated[int, Field(ge=1)] = 32,
        seed: int = 0,
    ) -> None:
        self.n_features = n_features
        self.n_classes = n_classes
        self.n_examples = n_examples
        self.seed = seed

    def _load(self) -> TaskData:
        rng = np.random.default_rng(self.seed)
        weights = rng.normal(size=(self.n_features, self.n_classes))

        def split() -> Split:
            x = rng.normal(size=(self.n_examples, self.n_features)).astype(np.float32)
            return Split(x=x, y=np.argmax(x @ weights, axis=1).astype(np.int64))

        info = TaskInfo("toy", (self.n_features,), self.n_classes, "tabular")
        return TaskData(info=info, train=split(), val=split(), test=split())

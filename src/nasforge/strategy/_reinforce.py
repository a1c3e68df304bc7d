"""REINFORCE: a policy-gradient controller over the space's decisions.

Zoph & Le 2017, "Neural Architecture Search with Reinforcement Learning", ICLR,
https://arxiv.org/abs/1611.01578; here in the form NAS-Bench-201 uses as its REINFORCE baseline
(Dong & Yang 2020, https://arxiv.org/abs/2001.00326): instead of an RNN controller, an independent
categorical policy (a vector of logits) per decision of the space. Each ask samples an
architecture from the policy; each told result updates the logits by the REINFORCE gradient
``(reward - baseline) * grad log pi(arch)`` with Adam, where the baseline is an exponential moving
average of the rewards (``momentum``). An optional entropy bonus keeps the policy from collapsing.

Details and deviations:

- Reward: the objective's larger-is-better score (e.g. validation accuracy in percent), not
  rescaled. Adam's step size does not depend on the gradient's scale, so percent and [0, 1]
  rewards learn alike. The baseline starts at the first reward (whose advantage is thus 0) and
  the advantage uses the baseline from *before* the current reward.
- Failed, timed-out, pruned and infeasible trials get the lowest reward told so far, so the
  policy learns to avoid them; before any real reward they are skipped.
- Every told result updates the policy, in tell order, including the uniformly drawn fallback
  asks below, which the policy did not sample: an off-policy step.
- No repeats: a sampled architecture that was already asked is resampled, up to 100 times; then
  a uniformly drawn unasked architecture is asked instead. ``ask`` returns ``None`` only when a
  finite space is exhausted.
- Spaces with variable depth (declared spaces with a ``Repeat`` of chosen depth): the policy has
  logits for every decision of the maximal structure; decisions are sampled in table order and
  an inactive decision is neither sampled nor updated.
- Constraint-aware: a policy draw that breaks a constraint known before training (the study's
  feasibility check) is not asked: it is drawn again, and the rejected draw gets the policy
  step of the worst reward told so far (the reward an INFEASIBLE trial gets), so the policy
  learns to avoid the infeasible region without spending trials on it. The baseline is not
  moved by these steps. Up to 100 draws per ask, then a feasible uniform draw, else the last.
- Warm start: the logits start at ``log(1 + count)`` of each option among the prior study's
  architectures (best first, as given), a Laplace-smoothed prior towards their choices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import Field

from nasforge.architecture import Architecture, Value
from nasforge.errors import ConfigError, Problem
from nasforge.space._primitives import Decision, Structure, value_key
from nasforge.strategy.base import STRATEGIES, Strategy
from nasforge.trial import Candidate

if TYPE_CHECKING:
    from nasforge.space.base import SearchSpace
    from nasforge.trial import Trial

MAX_RESAMPLES = 100
"""Policy draws tried before asking a uniformly drawn unasked architecture instead."""


def decision_table(space: SearchSpace) -> tuple[Decision, ...]:
    """The space's decisions with their options, in a deterministic order.

    Declared spaces (with a ``structure``) give their compiled table, variable depth included.
    Other spaces must have a fixed set of decisions: their options are read off one reference
    architecture and its neighbours, and sorted.

    Raises:
        ConfigError: the space is not declared and its architectures do not all have the same
            decisions.
    """
    structure = getattr(space, "structure", None)
    if isinstance(structure, Structure):
        return structure.decisions
    reference = space.sample(np.random.default_rng(0))
    options: dict[str, list[Value]] = {name: [value] for name, value in reference.items()}
    for other in space.neighbours(reference):
        if set(other) != set(reference):
            raise ConfigError(
                [
                    Problem(
                        "strategy",
                        f"{type(space).__name__} has architectures with different decisions, "
                        "which this strategy supports only for declared spaces (built from "
                        "Choice/Repeat/Cell)",
                        "declare the space with the primitives, or use a strategy that only "
                        "mutates (e.g. regularized_evolution)",
                    )
                ]
            )
        for name, value in other.items():
            if all(value_key(value) != value_key(v) for v in options[name]):
                options[name].append(value)
    return tuple(
        Decision(name, tuple(sorted(values, key=value_key)))
        for name, values in sorted(options.items())
    )


def sample_table(
    table: Sequence[Decision], probs: Sequence[np.ndarray], rng: np.random.Generator
) -> Architecture:
    """An architecture drawn decision by decision (inactive ones skipped) from ``probs``."""
    values: dict[str, Value] = {}
    for decision, p in zip(table, probs, strict=True):
        if Structure.is_active(decision, values):
            values[decision.name] = decision.options[int(rng.choice(len(p), p=p))]
    return Architecture(values)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max())
    return z / z.sum()


@STRATEGIES.register("reinforce")
class REINFORCE(Strategy):
    """Policy-gradient controller with an independent categorical policy per decision.

    Args:
        lr: Adam learning rate of the logits.
        momentum: decay of the moving-average reward baseline (0 = last reward only).
        entropy: weight of the entropy bonus added to the objective (0 = none).
        constraint_aware: ask only candidates that pass the study's check of the constraints
            known before training (default); ``False`` leaves them to the study's filter.

    Example:
        >>> from nasforge.objective import Objective
        >>> from nasforge.testing.toys import ToySpace
        >>> strategy = REINFORCE()
        >>> strategy.setup(ToySpace(), [Objective(metric="val_accuracy")], seed=0)
        >>> strategy.probabilities()["d0"].round(2).tolist()
        [0.25, 0.25, 0.25, 0.25]
    """

    def __init__(
        self,
        *,
        lr: Annotated[float, Field(gt=0, le=10)] = 0.1,
        momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9,
        entropy: Annotated[float, Field(ge=0)] = 0.0,
        constraint_aware: bool = True,
    ) -> None:
        self.lr = lr
        self.momentum = momentum
        self.entropy = entropy
        self.constraint_aware = constraint_aware

    def _reset(self) -> None:
        self._table = decision_table(self.space)
        self._logits = [np.zeros(len(d.options)) for d in self._table]
        self._m = [np.zeros(len(d.options)) for d in self._table]
        self._v = [np.zeros(len(d.options)) for d in self._table]
        self._steps = 0
        self._baseline: float | None = None
        self._worst: float | None = None
        self._asked = self.asked_archs()

    # -- policy ----------------------------------------------------------------------------
    def probabilities(self) -> dict[str, np.ndarray]:
        """The policy: option probabilities per decision name (options in table order)."""
        return {d.name: _softmax(z) for d, z in zip(self._table, self._logits, strict=True)}

    @property
    def baseline(self) -> float | None:
        """The moving-average reward baseline (``None`` before the first reward)."""
        return self._baseline

    def _ask(self, number: int) -> Candidate | None:
        rng = self.rng(number)
        probs = [_softmax(z) for z in self._logits]
        arch = self._asked.propose(rng, lambda r: self._sample_policy(probs, r), MAX_RESAMPLES)
        if arch is None:
            arch = self._asked.sample(rng)
        if arch is None:
            return None
        self._asked.add(arch)
        return Candidate(arch)

    def _sample_policy(self, probs: list[np.ndarray], rng: np.random.Generator) -> Architecture:
        """A policy draw; one that breaks a constraint known before training is penalised at
        once (the policy-gradient step of the worst reward told so far, as an infeasible trial
        would get, without spending a trial on it) and then rejected by the caller."""
        arch = sample_table(self._table, probs, rng)
        if self._worst is not None and not self.is_feasible(arch) and self.space.contains(arch):
            baseline = self._worst if self._baseline is None else self._baseline
            self._update(arch, self._worst - baseline)
            probs[:] = [_softmax(z) for z in self._logits]
        return arch

    def _tell(self, trial: Trial) -> None:
        reward = self.score(trial)
        if math.isfinite(reward):
            self._worst = reward if self._worst is None else min(self._worst, reward)
        elif self._worst is not None:
            reward = self._worst
        else:
            return
        baseline = reward if self._baseline is None else self._baseline
        self._update(trial.arch, reward - baseline)
        self._baseline = self.momentum * baseline + (1.0 - self.momentum) * reward

    def _update(self, arch: Architecture, advantage: float) -> None:
        """One Adam ascent step on ``advantage * log pi(arch) + entropy * H(pi)``."""
        grads: list[np.ndarray | None] = []
        for decision, logits in zip(self._table, self._logits, strict=True):
            index = decision.index(arch[decision.name]) if decision.name in arch else None
            if index is None:
                grads.append(None)  # inactive here (or unknown value): not updated
                continue
            p = _softmax(logits)
            grad = -advantage * p
            grad[index] += advantage
            if self.entropy > 0:
                log_p = np.log(np.maximum(p, 1e-12))
                grad += self.entropy * (-p * (log_p + float(-(p * log_p).sum())))
            grads.append(grad)
        self._steps += 1
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for k, maybe in enumerate(grads):
            if maybe is None:
                continue
            grad = maybe
            self._m[k] = beta1 * self._m[k] + (1 - beta1) * grad
            self._v[k] = beta2 * self._v[k] + (1 - beta2) * grad**2
            m_hat = self._m[k] / (1 - beta1**self._steps)
            v_hat = self._v[k] / (1 - beta2**self._steps)
            self._logits[k] = self._logits[k] + self.lr * m_hat / (np.sqrt(v_hat) + eps)

    def warm_start(self, trials: Sequence[Trial]) -> None:
        """Start the policy at ``log(1 + count)`` of each option among the prior architectures.

        Only successful trials whose architecture belongs to this space count; their scores are
        not used (they come from another task), only which choices they made.
        """
        counts = [np.zeros(len(d.options)) for d in self._table]
        for trial in trials:
            if trial.result is None or not trial.result.ok or not self.space.contains(trial.arch):
                continue
            for k, decision in enumerate(self._table):
                if decision.name in trial.arch:
                    index = decision.index(trial.arch[decision.name])
                    if index is not None:
                        counts[k][index] += 1.0
        self._logits = [np.log1p(c) for c in counts]

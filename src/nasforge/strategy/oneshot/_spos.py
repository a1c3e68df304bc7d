"""SPOS: single-path one-shot search with uniform sampling (Guo et al. 2020).

Guo, Zhang, Mu, Heng, Liu, Wei & Sun, "Single Path One-Shot Neural Architecture Search with
Uniform Sampling", ECCV 2020, https://arxiv.org/abs/1904.00420. Training and search are
decoupled. First the supernet is trained with one path per batch, drawn uniformly from the
space (``space.sample``, so validity rules hold), which trains every path about equally. Then an
evolutionary search runs on the trained supernet: each candidate is scored by its validation
accuracy with inherited weights after its BatchNorm statistics are re-calibrated on a few
training batches (:func:`~nasforge.space.supernet.recalibrate_bn`); each generation keeps the
``parents`` best candidates seen and adds ``population // 2`` mutations and as many crossovers
of them.

Deviations: collapsed cells are left out of the evolution (``collapse_guard``); the candidates
are scored on the task's validation split; the evolution is not checkpointed (it is
deterministic and short: a killed search re-runs it from the trained supernet); no FLOPs
constraint is applied during evolution (the study's constraints apply to the proposed trials).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, Problem
from nasforge.strategy.base import STRATEGIES
from nasforge.strategy.oneshot._collapse import collapsed
from nasforge.strategy.oneshot.base import OneShotStrategy

if TYPE_CHECKING:
    from nasforge.strategy.oneshot._engine import SearchRun


@STRATEGIES.register("spos")
class SPOS(OneShotStrategy):
    """SPOS (Guo et al. 2020): uniform single-path training, then evolution on the supernet.

    Args:
        epochs: supernet training epochs over the training split.
        batch_size: examples per training batch.
        lr: SGD learning rate at the start (cosine-annealed to ``lr_min``).
        lr_min: the learning rate at the end.
        momentum: SGD momentum.
        weight_decay: SGD weight decay.
        grad_clip: clip the gradient norm to this (``None``: off).
        population: candidates per generation of the evolution.
        generations: generations of the evolution (the first is random).
        parents: how many of the best candidates seen breed each generation.
        mutation_prob: probability that a mutation child is mutated once more (after the first
            mutation), repeatedly.
        top: how many of the best candidates the study scores as trials.
        collapse_guard: leave collapsed cells (:func:`~nasforge.strategy.oneshot.collapsed`)
            out of the evolution: inherited weights favour parameter-free cells early on, so
            they would otherwise win without being good networks.
        bn_batches: training batches that re-calibrate BatchNorm before each candidate is scored.
        score_examples: validation examples each candidate is scored on.
    """

    paper = "Guo et al. 2020, https://arxiv.org/abs/1904.00420"

    def __init__(
        self,
        *,
        epochs: Annotated[int, Field(ge=1)] = 10,
        batch_size: Annotated[int, Field(ge=1)] = 64,
        lr: Annotated[float, Field(gt=0)] = 0.05,
        lr_min: Annotated[float, Field(ge=0)] = 0.001,
        momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9,
        weight_decay: Annotated[float, Field(ge=0)] = 3e-4,
        grad_clip: Annotated[float, Field(gt=0)] | None = 5.0,
        population: Annotated[int, Field(ge=2)] = 20,
        generations: Annotated[int, Field(ge=1)] = 10,
        parents: Annotated[int, Field(ge=1)] = 5,
        mutation_prob: Annotated[float, Field(ge=0, lt=1)] = 0.1,
        top: Annotated[int, Field(ge=1)] = 1,
        collapse_guard: bool = True,
        bn_batches: Annotated[int, Field(ge=1)] = 4,
        score_examples: Annotated[int, Field(ge=1)] = 1000,
    ) -> None:
        problems = []
        if lr_min > lr:
            problems.append(Problem("strategy.lr_min", f"must be <= lr ({lr}); got {lr_min}",
                                    f"use lr_min <= {lr} (the cosine schedule ends there)"))
        if parents > population:
            problems.append(Problem("strategy.parents",
                                    f"must be <= population ({population}); got {parents}",
                                    f"use parents <= {population} or raise population"))
        if problems:
            raise ConfigError(problems)
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_min = lr_min
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.population = population
        self.generations = generations
        self.parents = parents
        self.mutation_prob = mutation_prob
        self.top = top
        self.collapse_guard = collapse_guard
        self.bn_batches = bn_batches
        self.score_examples = score_examples

    def _init_state(self, run: SearchRun) -> None:
        from nasforge.strategy.oneshot._engine import weight_optimiser

        weight_optimiser(run, lr=self.lr, lr_min=self.lr_min, momentum=self.momentum,
                         weight_decay=self.weight_decay, epochs=self.epochs)

    def _train_epoch(self, run: SearchRun) -> float:
        from nasforge.strategy.oneshot._engine import single_path_epoch

        return single_path_epoch(run, lambda: run.space.sample(run.rng),
                                 batch_size=self.batch_size, grad_clip=self.grad_clip)

    def _final(self, run: SearchRun) -> list[Architecture]:
        """Evolution on the trained supernet; the best candidates seen, best first."""
        space, rng = run.space, run.rng
        scores: dict[Architecture, float] = {}

        free = run.supernet.parameter_free

        def score(arch: Architecture) -> None:
            if arch in scores:
                return
            if self.collapse_guard and collapsed(space, arch, free):
                scores[arch] = -math.inf  # never bred from, never proposed while others exist
                return
            scores[arch] = run.accuracy(arch, bn_batches=self.bn_batches,
                                        max_examples=self.score_examples)

        for _ in range(self.population):
            score(space.sample(rng))
        for _ in range(self.generations - 1):
            ranked = sorted(scores, key=lambda a: -scores[a])[: self.parents]
            for _ in range(self.population // 2):
                child = space.mutate(ranked[int(rng.integers(len(ranked)))], rng)
                while rng.random() < self.mutation_prob:
                    child = space.mutate(child, rng)
                score(child)
            for _ in range(self.population - self.population // 2):
                a, b = (ranked[int(i)] for i in rng.integers(len(ranked), size=2))
                mixed = Architecture({k: (a if rng.random() < 0.5 else b).get(k, v)
                                      for k, v in a.items()})
                score(mixed if space.contains(mixed) else space.mutate(a, rng))
        order = sorted(scores, key=lambda a: -scores[a])
        return order[: self.top]

"""ParEGO: multi-objective Bayesian optimisation by random augmented-Tchebycheff scalarisations.

Knowles 2006, "ParEGO: A Hybrid Algorithm With On-Line Landscape Approximation for Expensive
Multiobjective Optimization Problems", IEEE Trans. Evolutionary Computation 10(1),
https://doi.org/10.1109/TEVC.2005.851274. Each ask draws a weight vector ``lambda`` on the simplex,
normalises every told objective to ``[0, 1]`` (0 the best value seen, 1 the worst), scalarises each
result by the augmented Tchebycheff function

    f(x) = max_j lambda_j c_j(x) + rho * sum_j lambda_j c_j(x)

(``c_j`` the normalised cost of objective ``j``), fits a surrogate to ``-f`` and asks the candidate
with the best acquisition value. Every weight vector has its minimiser on the Pareto front, so
drawing a new one per ask spreads the asks along the front.

Deviations from the paper:

- By default (``normalise="rank"``) an objective's cost is its rank among the told results, not
  its place between the best and worst value: on NAS-Bench-201 a few broken cells at chance
  accuracy (10%) would otherwise squash every useful accuracy difference into a few percent of
  the cost range. ``normalise="range"`` is the paper's.

- The weight vector is drawn uniformly from the simplex (a flat Dirichlet, from the trial's own
  random stream) rather than from ParEGO's fixed lattice of weights, so any number of objectives
  works and the strategy stays a pure function of (seed, history).
- The surrogate is one of the existing predictors of :mod:`~nasforge.strategy._predictors`: the
  marginal-likelihood GP (``surrogate="gp"``, the paper's choice) or BANANAS' MLP ensemble
  (``"mlp"``), on the same encodings; the acquisition is maximised over BANANAS' candidate pool
  (by default mutations of the best under the current scalarisation plus random draws; or every
  unasked architecture of a small finite space) instead of by an evolutionary inner loop.
- Failed and pruned trials are left out of the surrogate's data (as BANANAS leaves out failed
  ones). Trials that break a constraint or an objective limit (INFEASIBLE untrained, or trained
  and breaking a bound known only after training) stay in it with Deb's constrained domination:
  each scalarised below every feasible result, ordered among themselves by how much they break
  the bounds (:meth:`~nasforge.strategy.Strategy.violation_amount`), so the surrogate learns
  where the infeasible region is.
- Constraint-aware: with the study's check of the constraints known before training, the
  candidate asked is the best-acquisition one that passes it.
- Asynchronous: each ask draws its own weights and refits the surrogate on the results told so
  far; pending architectures are never asked again (by canonical form).

With one objective the scalarisation is the normalised score and ParEGO is plain BO.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import Field
from scipy.stats import rankdata

from nasforge.strategy._nsga2 import objective_vector
from nasforge.strategy._predictors import (
    Acquisition,
    EncodingOption,
    GaussianProcess,
    MLPEnsemble,
    ModelBasedStrategy,
    PoolKind,
)
from nasforge.strategy.base import STRATEGIES

if TYPE_CHECKING:
    from nasforge.architecture import Architecture
    from nasforge.trial import Trial


def tchebycheff(
    values: np.ndarray,
    weights: np.ndarray,
    rho: float = 0.05,
    normalise: Literal["rank", "range"] = "range",
) -> np.ndarray:
    """Augmented Tchebycheff scalarisation of larger-is-better ``values`` (n, m), larger is better.

    Each column becomes a cost in ``[0, 1]`` (0 at its best value, 1 at its worst): by the value's
    place in the column's range (``normalise="range"``, Knowles' choice; a column without spread
    costs 0) or by its rank (``"rank"``, ties averaged), which one outlier (a broken network at
    chance accuracy) cannot squash. Then ``-(max_j w_j c_j + rho * sum_j w_j c_j)`` is returned.

    Example:
        >>> values = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
        >>> tchebycheff(values, np.array([0.5, 0.5])).round(3).tolist()
        [-0.525, -0.525, -0.275]
    """
    if normalise == "rank":
        if len(values) < 2:
            cost = np.zeros_like(values, dtype=float)
        else:
            cost = (rankdata(-values, axis=0) - 1.0) / (len(values) - 1)
    else:
        high, low = values.max(axis=0), values.min(axis=0)
        spread = np.where(high > low, high - low, 1.0)
        cost = (high - values) / spread
    weighted = cost * weights
    return -(weighted.max(axis=1) + rho * weighted.sum(axis=1))


@STRATEGIES.register("parego")
class ParEGO(ModelBasedStrategy):
    """Random-scalarisation multi-objective BO over the existing surrogates.

    Args:
        n_initial: random architectures asked before the surrogate is used.
        surrogate: ``gp`` (marginal-likelihood GP, RBF kernel) or ``mlp`` (BANANAS' ensemble).
        rho: weight of the augmentation term (the paper's 0.05), which makes weakly dominated
            results score worse than the results that dominate them.
        normalise: how each objective becomes a cost in ``[0, 1]`` before scalarising: by its
            ``rank`` among the told results (default; robust to outliers such as networks at
            chance accuracy) or by its ``range`` (the paper's).
        acquisition: ``ei`` (the paper's), ``ucb``, ``its`` or ``ts``.
        beta: UCB's exploration weight.
        candidates: ``mutation`` (default: unasked neighbours of the best result under the ask's
            scalarisation, mutations of the ``top_k`` best and random draws), ``all``, or
            ``auto`` (the whole space when finite and small). On NAS-Bench-201 (accuracy against
            FLOPs, 100 queries, 4 seeds) ``mutation`` gave a hypervolume fraction of 0.934 and the
            whole space 0.903: maximising EI over every cell chases the surrogate's errors.
        pool_size: candidates per ask in ``mutation`` mode.
        top_k: best architectures (under the ask's scalarisation) whose mutations fill the pool.
        n_mutations: most mutations applied to make one candidate.
        encoding: ``auto``, ``path``, ``adjacency`` or ``onehot`` (see BANANAS).
        ensemble: MLPs in the ensemble (``surrogate="mlp"``).
        steps: Adam steps per fit (``surrogate="mlp"``).
        constraint_aware: ask only candidates that pass the study's check of the constraints
            known before training (default); ``False`` leaves them to the study's filter.
    """

    def __init__(
        self,
        *,
        n_initial: Annotated[int, Field(ge=1)] = 10,
        surrogate: Literal["gp", "mlp"] = "gp",
        rho: Annotated[float, Field(ge=0)] = 0.05,
        normalise: Literal["rank", "range"] = "rank",
        acquisition: Acquisition = "ei",
        beta: Annotated[float, Field(ge=0)] = 1.0,
        candidates: PoolKind = "mutation",
        pool_size: Annotated[int, Field(ge=1)] = 200,
        top_k: Annotated[int, Field(ge=1)] = 10,
        n_mutations: Annotated[int, Field(ge=1)] = 2,
        encoding: EncodingOption = "auto",
        ensemble: Annotated[int, Field(ge=1)] = 5,
        steps: Annotated[int, Field(ge=1)] = 200,
        constraint_aware: bool = True,
    ) -> None:
        self.n_initial = n_initial
        self.surrogate = surrogate
        self.rho = rho
        self.normalise = normalise
        self.acquisition = acquisition
        self.beta = beta
        self.candidates = candidates
        self.pool_size = pool_size
        self.top_k = top_k
        self.n_mutations = n_mutations
        self.encoding = encoding
        self.ensemble = ensemble
        self.steps = steps
        # The skeleton's zero-cost warm-up is not offered here.
        self.proxy: dict[str, Any] | None = None
        self.max_proxy_scores = 0
        self.n_proxy_warmup = 0
        self.constraint_aware = constraint_aware

    def _reset(self) -> None:
        super()._reset()
        # Larger-is-better objective vectors of the feasible told results.
        self._vectors: list[tuple[float, ...]] = []
        # Parallel to _data: each told result's vector, or None and its violation amount.
        self._kinds: list[tuple[tuple[float, ...] | None, float]] = []
        self._weights: np.ndarray | None = None

    @property
    def weights(self) -> np.ndarray | None:
        """The scalarisation weights of the latest model-based ask (``None`` before one)."""
        return self._weights

    def _tell(self, trial: Trial) -> None:
        self._n_told += 1
        vector = objective_vector(trial, self.objectives)
        if vector is not None:
            self._vectors.append(vector)
            self._kinds.append((vector, 0.0))
            self._data.append((trial.arch, 0.0))  # scalarised afresh at each ask
            return
        amount = self.violation_amount(trial)
        if 0.0 < amount < math.inf:
            self._kinds.append((None, amount))
            self._data.append((trial.arch, 0.0))

    def _model_ask(self, rng: np.random.Generator) -> Architecture | None:
        weights = rng.dirichlet(np.ones(len(self.objectives)))
        self._weights = weights
        floor = 0.0
        feasible = np.zeros(0)
        if self._vectors:
            feasible = tchebycheff(np.array(self._vectors, dtype=float), weights, self.rho,
                                   self.normalise)
            floor = float(feasible.min())
        # Violators below every feasible value, least violation highest: in (floor-2, floor-1].
        amounts = np.array([a for v, a in self._kinds if v is None], dtype=float)
        violators = floor - 1.0 - (rankdata(amounts) - 1.0) / max(len(amounts), 1)
        it_feasible, it_violators = iter(feasible.tolist()), iter(violators.tolist())
        values = [next(it_feasible) if v is not None else next(it_violators)
                  for v, _ in self._kinds]
        self._data = [(arch, float(v)) for (arch, _), v in zip(self._data, values, strict=True)]
        self._fitted_at = -1  # a new scalarisation: the surrogate is refitted for every ask
        return super()._model_ask(rng)

    def _fit(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Any:
        if self.surrogate == "mlp":
            return MLPEnsemble(n_members=self.ensemble, steps=self.steps).fit(x, y, rng)
        return GaussianProcess("rbf").fit(x, y)

    def _predict(
        self, model: Any, x: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if isinstance(model, MLPEnsemble):
            members = model.predict(x)
            return members.mean(0), members.std(0), members
        mean, std = model.predict(x)
        return mean, std, None

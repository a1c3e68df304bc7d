"""BANANAS: Bayesian optimisation with an ensemble of neural predictors.

White, Neiswanger & Savani 2021, "BANANAS: Bayesian Optimization with Neural Architectures for
Neural Architecture Search", AAAI, https://arxiv.org/abs/1910.11858. After ``n_initial`` random
architectures, each ask trains an ensemble of small MLPs on every told result (on the path
encoding of the cell), predicts a pool of unasked candidates and asks the one with the best
acquisition value. The paper's acquisition is independent Thompson sampling (ITS): for each
candidate, one draw from a Gaussian with the ensemble's mean and standard deviation. Its pool is
made by mutating the best architectures found so far.

Deviations from the paper:

- The predictor is trained in numpy with full-batch Adam (fast and bit-for-bit deterministic);
  its members are seeded from the trial's random stream, so the strategy is a pure function of
  (seed, history) and resumes by replay.
- The pool (``candidates="mutation"``) holds every unasked neighbour of the best architecture,
  1..``n_mutations``-fold mutations of the ``top_k`` best, and a fifth of random draws. For small
  finite spaces (``candidates="auto"``, up to 20,000 architectures, e.g. NAS-Bench-201) the pool
  is every unasked architecture, so the acquisition is optimised exactly.
- Asynchronous: the model is refit only when a new result has been told; pending (asked, not
  told) architectures are left out of the pool, and ITS draws differ per ask.
- Optional zero-cost guidance (``proxy``): the initial design is the ``n_initial`` best of
  ``n_proxy_warmup`` proxy-scored draws, and the proxy score is an extra predictor input. Then the
  pool is restricted to proxy-scored architectures; each ask scores up to ``proxy_per_ask`` new
  ones (mutations of the best told architectures) while the budget lasts.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import Field

from nasforge.strategy._predictors import (
    Acquisition,
    EncodingOption,
    MLPEnsemble,
    ModelBasedStrategy,
    PoolKind,
)
from nasforge.strategy._zc import _check_proxy
from nasforge.strategy.base import STRATEGIES

if TYPE_CHECKING:
    from nasforge.architecture import Architecture


@STRATEGIES.register("bananas")
class BANANAS(ModelBasedStrategy):
    """Neural-ensemble Bayesian optimisation with mutation-based acquisition optimisation.

    Args:
        n_initial: random (or proxy-ranked) architectures asked before the predictor is used.
        ensemble: number of MLPs in the ensemble.
        hidden: width of each hidden layer.
        n_layers: hidden layers per MLP.
        steps: full-batch Adam steps per fit.
        lr: Adam learning rate.
        acquisition: ``its`` (independent Thompson sampling), ``ts`` (one member), ``ucb`` or
            ``ei``.
        beta: UCB's exploration weight.
        target: what the predictor learns: the score (``value``) or its rank mapped to normal
            quantiles (``rank``), which spends the model's capacity on ordering, not on the
            distance to failed architectures.
        candidates: ``auto`` (the whole space when finite and small, else ``mutation``), ``all``
            or ``mutation``.
        pool_size: candidates per ask in ``mutation`` mode.
        top_k: best architectures whose mutations fill the pool.
        n_mutations: most mutations applied to make one candidate.
        encoding: ``path`` or ``adjacency`` (NB201 cell encodings), ``onehot`` (the space's own
            ``encode``), or ``auto`` (``path`` on NB201, ``onehot`` elsewhere). ``path`` and
            ``adjacency`` on a space without cell paths are refused at the pre-flight check.
        proxy: ``{name: ..., **params}`` of a registered zero-cost proxy, or ``None``.
        max_proxy_scores: the most architectures the proxy may score in the whole search.
        n_proxy_warmup: architectures proxy-scored to choose the initial design.
        proxy_per_ask: new architectures proxy-scored per ask to grow the candidate pool.
        constraint_aware: ask only candidates that pass the study's check of the constraints
            known before training (default); ``False`` leaves them to the study's filter.
    """

    def __init__(
        self,
        *,
        n_initial: Annotated[int, Field(ge=1)] = 10,
        ensemble: Annotated[int, Field(ge=1)] = 5,
        hidden: Annotated[int, Field(ge=1)] = 32,
        n_layers: Annotated[int, Field(ge=1, le=8)] = 2,
        steps: Annotated[int, Field(ge=1)] = 200,
        lr: Annotated[float, Field(gt=0)] = 0.01,
        acquisition: Acquisition = "its",
        beta: Annotated[float, Field(ge=0)] = 1.0,
        target: Literal["value", "rank"] = "value",
        candidates: PoolKind = "auto",
        pool_size: Annotated[int, Field(ge=1)] = 200,
        top_k: Annotated[int, Field(ge=1)] = 10,
        n_mutations: Annotated[int, Field(ge=1)] = 2,
        encoding: EncodingOption = "auto",
        proxy: dict[str, Any] | None = None,
        max_proxy_scores: Annotated[int, Field(ge=0)] = 1000,
        n_proxy_warmup: Annotated[int, Field(ge=0)] = 500,
        proxy_per_ask: Annotated[int, Field(ge=0)] = 20,
        constraint_aware: bool = True,
    ) -> None:
        _check_proxy(proxy, "BANANAS")
        self.n_initial = n_initial
        self.ensemble = ensemble
        self.hidden = hidden
        self.n_layers = n_layers
        self.steps = steps
        self.lr = lr
        self.acquisition = acquisition
        self.beta = beta
        self.target = target
        self.candidates = candidates
        self.pool_size = pool_size
        self.top_k = top_k
        self.n_mutations = n_mutations
        self.encoding = encoding
        self.proxy = proxy
        self.max_proxy_scores = max_proxy_scores
        self.n_proxy_warmup = n_proxy_warmup
        self.proxy_per_ask = proxy_per_ask
        self.constraint_aware = constraint_aware

    # --- proxy as a feature ---------------------------------------------------------------

    def _uses_proxy(self) -> bool:
        return self._budget.active and self._budget.used > 0

    def _proxy_column(self, archs: list[Architecture]) -> np.ndarray:
        """Standardised proxy scores (the scored archs' mean where unknown)."""
        known = np.array([v for v in self._budget.scores.values() if math.isfinite(v)])
        mean = float(known.mean()) if len(known) else 0.0
        std = float(known.std()) if len(known) > 1 else 1.0
        low = float(known.min()) if len(known) else 0.0
        values = []
        for arch in archs:
            value = self._budget.known(arch)
            if value is None:
                value = mean
            elif not math.isfinite(value):
                value = low
            values.append((value - mean) / (std or 1.0))
        return np.asarray(values, dtype=np.float32)[:, None]

    def _grow_scored(self, rng: np.random.Generator) -> None:
        """Proxy-score up to ``proxy_per_ask`` unasked mutations of the best told archs."""
        budget = self._budget
        target = min(self.proxy_per_ask, budget.remaining)
        parents = self._ranked()[: self.top_k]
        added = 0
        for arch in [a for p in parents[:1] for a in self.space.neighbours(p)]:
            if added >= target:
                return
            if arch not in self._asked and budget.known(arch) is None:
                budget.score(arch, self.space)
                added += 1
        for k in range(target * 20):
            if added >= target or not parents:
                return
            arch = parents[k % len(parents)]
            for _ in range(1 + int(rng.integers(self.n_mutations))):
                arch = self.space.mutate(arch, rng)
            if arch not in self._asked and budget.known(arch) is None:
                budget.score(arch, self.space)
                added += 1

    def _model_ask(self, rng: np.random.Generator) -> Architecture | None:
        if not self._uses_proxy():
            return super()._model_ask(rng)
        self._grow_scored(rng)
        # Told architectures asked without a proxy score (random initial draws past the warm-up,
        # fallback asks) get one too, while the budget lasts: the proxy column needs it.
        for arch, _ in self._data:
            self._budget.score(arch, self.space)
        pool = [a for a in self._budget.scores if a not in self._asked]
        if not pool:
            return super()._model_ask(rng)
        x = np.hstack([self._encode_all(pool), self._proxy_column(pool)])
        archs = [a for a, _ in self._data]
        train_x = np.hstack([self._encode_all(archs), self._proxy_column(archs)])
        y = self._targets()
        self._y_best = float(y.max())
        # The proxy column changes as scores arrive, so the model is refit on every ask.
        self._model = self._fit(train_x, y, rng)
        self._fitted_at = -1
        values = self._acquire(x, np.arange(len(pool)), rng)
        return self.best_feasible(pool, values)

    # --- model ----------------------------------------------------------------------------

    def _fit(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> MLPEnsemble:
        model = MLPEnsemble(
            n_members=self.ensemble,
            hidden=self.hidden,
            n_layers=self.n_layers,
            steps=self.steps,
            lr=self.lr,
        )
        return model.fit(x, y, rng)

    def _predict(
        self, model: MLPEnsemble, x: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        members = model.predict(x)
        return members.mean(0), members.std(0), members

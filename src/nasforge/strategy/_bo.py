"""Bayesian optimisation without neural predictors: a Gaussian process, and TPE.

``gp_bo`` (:class:`GPBO`): a Gaussian-process surrogate on a fixed-length encoding of the cell,
as in NASBOT (Kandasamy, Neiswanger, Schneider, Poczos & Xing 2018, "Neural Architecture Search
with Bayesian Optimisation and Optimal Transport", NeurIPS, https://arxiv.org/abs/1802.07191) and
NAS-BOWL (Ru, Wan, Dong & Osborne 2021, "Interpretable Neural Architecture Search via Bayesian
Optimisation with Weisfeiler-Lehman Kernels", ICLR, https://arxiv.org/abs/2006.07556). Deviations:
instead of NASBOT's optimal-transport distance or NAS-BOWL's WL graph kernel, the kernel is an
RBF (or Tanimoto) kernel on the BANANAS path encoding, which captures the same "shared paths"
similarity for cell spaces; hyperparameters are chosen by marginal likelihood on a small grid at
every fit; the acquisition (EI by default) is maximised over the same candidate pool as BANANAS
(every unasked architecture of a small finite space, else mutations of the best plus random draws).

``tpe`` (:class:`TPE`): the Tree-structured Parzen Estimator (Bergstra, Bardenet, Bengio & Kégl
2011, "Algorithms for Hyper-Parameter Optimization", NeurIPS,
https://papers.nips.cc/paper/4443-algorithms-for-hyper-parameter-optimization). Told results are
split into the best ``gamma`` fraction and the rest; each decision gets a smoothed categorical
density ``l`` over the good and ``g`` over the bad results; candidates drawn from ``l`` are ranked
by ``l/g`` (which orders them as expected improvement does). Deviations: every decision is treated
as categorical, over the values seen in space samples and results; candidates are drawn from the
product of ``l`` and deduplicated against everything asked.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import Field
from scipy.linalg import solve_triangular

from nasforge.architecture import Architecture
from nasforge.strategy._predictors import (
    Acquisition,
    EncodingOption,
    GaussianProcess,
    ModelBasedStrategy,
    PoolKind,
)
from nasforge.strategy._zc import _check_proxy
from nasforge.strategy.base import STRATEGIES, Strategy
from nasforge.trial import Candidate

if TYPE_CHECKING:
    from nasforge.trial import Trial


class _FastGP(GaussianProcess):
    """The GP with triangular solves at prediction (pools of thousands of candidates)."""

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=np.float64)
        cross = self._k(x, self._x, self.lengthscale)
        mean = cross @ self._alpha
        v = solve_triangular(self._chol, cross.T, lower=True, check_finite=False)
        var = self._amp * np.maximum(1.0 - (v * v).sum(0), 1e-12)
        return mean * self._y_std + self._y_mean, np.sqrt(var) * self._y_std


@STRATEGIES.register("gp_bo")
class GPBO(ModelBasedStrategy):
    """Gaussian-process Bayesian optimisation over architecture encodings.

    Args:
        n_initial: random (or proxy-ranked) architectures asked before the GP is used.
        kernel: ``rbf`` or ``tanimoto`` on the encoding.
        acquisition: ``ei`` (expected improvement), ``ucb``, or ``its`` (a posterior draw per
            candidate).
        beta: UCB's exploration weight.
        candidates: ``auto`` (the whole space when finite and small, else ``mutation``), ``all``
            or ``mutation``.
        pool_size: candidates per ask in ``mutation`` mode.
        top_k: best architectures whose mutations fill the pool.
        n_mutations: most mutations applied to make one candidate.
        encoding: ``auto``, ``path``, ``adjacency`` or ``onehot`` (see BANANAS).
        proxy: ``{name: ..., **params}`` of a registered zero-cost proxy used to choose the
            initial design, or ``None``.
        max_proxy_scores: the most architectures the proxy may score.
        n_proxy_warmup: architectures proxy-scored to choose the initial design.
        constraint_aware: ask only candidates that pass the study's check of the constraints
            known before training (default); ``False`` leaves them to the study's filter.
    """

    def __init__(
        self,
        *,
        n_initial: Annotated[int, Field(ge=1)] = 10,
        kernel: Literal["rbf", "tanimoto"] = "rbf",
        acquisition: Acquisition = "ei",
        beta: Annotated[float, Field(ge=0)] = 1.0,
        candidates: PoolKind = "auto",
        pool_size: Annotated[int, Field(ge=1)] = 200,
        top_k: Annotated[int, Field(ge=1)] = 10,
        n_mutations: Annotated[int, Field(ge=1)] = 2,
        encoding: EncodingOption = "auto",
        proxy: dict[str, Any] | None = None,
        max_proxy_scores: Annotated[int, Field(ge=0)] = 1000,
        n_proxy_warmup: Annotated[int, Field(ge=0)] = 500,
        constraint_aware: bool = True,
    ) -> None:
        _check_proxy(proxy, "GPBO")
        self.n_initial = n_initial
        self.kernel = kernel
        self.acquisition = acquisition
        self.beta = beta
        self.candidates = candidates
        self.pool_size = pool_size
        self.top_k = top_k
        self.n_mutations = n_mutations
        self.encoding = encoding
        self.proxy = proxy
        self.max_proxy_scores = max_proxy_scores
        self.n_proxy_warmup = n_proxy_warmup
        self.constraint_aware = constraint_aware

    def _fit(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> GaussianProcess:
        return _FastGP(self.kernel).fit(x, y)

    def _predict(
        self, model: GaussianProcess, x: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        mean, std = model.predict(x)
        return mean, std, None


@STRATEGIES.register("tpe")
class TPE(Strategy):
    """Tree-structured Parzen Estimator over the space's decisions (all treated as categorical).

    Args:
        n_initial: random architectures asked before the densities are used.
        gamma: fraction of told results counted as good (at least one, at most 25 results).
        n_candidates: candidates drawn from the good density per ask.
        prior_weight: pseudo-count of the uniform prior in each categorical density.
        constraint_aware: ask only candidates that pass the study's check of the constraints
            known before training (default); ``False`` leaves them to the study's filter.
    """

    DOMAIN_SAMPLES = 200

    def __init__(
        self,
        *,
        n_initial: Annotated[int, Field(ge=1)] = 10,
        gamma: Annotated[float, Field(gt=0, lt=1)] = 0.15,
        n_candidates: Annotated[int, Field(ge=1)] = 64,
        prior_weight: Annotated[float, Field(gt=0)] = 1.0,
        constraint_aware: bool = True,
    ) -> None:
        self.n_initial = n_initial
        self.gamma = gamma
        self.n_candidates = n_candidates
        self.prior_weight = prior_weight
        self.constraint_aware = constraint_aware

    def _reset(self) -> None:
        self._asked = self.asked_archs()
        self._data: list[tuple[Architecture, float]] = []
        self._domain: dict[str, list[Hashable]] | None = None

    def _domains(self) -> dict[str, list[Hashable]]:
        """Values of each decision, in first-seen order (space samples, then results)."""
        if self._domain is None:
            domain: dict[str, list[Hashable]] = {}
            rng = self.rng(0, "domain")
            for _ in range(self.DOMAIN_SAMPLES):
                for key, value in self.space.sample(rng).items():
                    values = domain.setdefault(key, [])
                    if value not in values:
                        values.append(value)
            self._domain = domain
        for arch, _ in self._data:
            for key, value in arch.items():
                values = self._domain.setdefault(key, [])
                if value not in values:
                    values.append(value)
        return self._domain

    def _densities(
        self, archs: list[Architecture], domain: dict[str, list[Hashable]]
    ) -> dict[str, np.ndarray]:
        out = {}
        for key, values in domain.items():
            counts = np.full(len(values), self.prior_weight / len(values))
            index = {v: i for i, v in enumerate(values)}
            for arch in archs:
                if key in arch:
                    counts[index[arch[key]]] += 1.0
            out[key] = counts / counts.sum()
        return out

    def _ask(self, number: int) -> Candidate | None:
        rng = self.rng(number)
        if len(self._asked) < self.n_initial or len(self._data) < 2:
            arch = self._asked.sample(rng)
        else:
            arch = self._tpe(rng)
        if arch is None:
            return None
        self._asked.add(arch)
        return Candidate(arch)

    def _tpe(self, rng: np.random.Generator) -> Architecture | None:
        domain = self._domains()
        order = sorted(range(len(self._data)), key=lambda i: (-self._data[i][1], i))
        n_good = min(max(1, math.ceil(self.gamma * len(order))), 25)
        good = [self._data[i][0] for i in order[:n_good]]
        bad = [self._data[i][0] for i in order[n_good:]]
        low, high = self._densities(good, domain), self._densities(bad, domain)
        keys = list(domain)
        best: tuple[float, Architecture] | None = None
        seen: set[Architecture] = set()
        for _ in range(self.n_candidates * 4):
            if len(seen) >= self.n_candidates:
                break
            picks = {k: int(rng.choice(len(domain[k]), p=low[k])) for k in keys}
            arch = Architecture({k: domain[k][i] for k, i in picks.items()})
            if arch in self._asked or arch in seen or not self.space.contains(arch):
                continue
            if not self.is_feasible(arch):  # constraint-aware: never a candidate
                continue
            seen.add(arch)
            value = sum(math.log(low[k][i]) - math.log(high[k][i]) for k, i in picks.items())
            if best is None or value > best[0]:
                best = (value, arch)
        return best[1] if best is not None else self._asked.sample(rng)

    def _tell(self, trial: Trial) -> None:
        value = self.score(trial)
        if math.isfinite(value):
            self._data.append((trial.arch, value))

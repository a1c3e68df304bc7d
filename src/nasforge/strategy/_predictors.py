"""Shared code of the model-based strategies: predictors, acquisition functions, candidate pools.

- :class:`MLPEnsemble`: an ensemble of small fully connected regressors trained together with
  full-batch Adam, written in numpy so that training is deterministic, needs no global state and
  costs a few milliseconds for a few hundred points (BANANAS' predictor).
- :class:`GaussianProcess`: an exact GP with an RBF or Tanimoto kernel whose lengthscale and
  noise are chosen by maximising the marginal likelihood over a small grid (amplitude profiled out).
- :func:`acquire`: ITS / TS / UCB / EI scores from predictive samples or mean and std.
- :class:`ModelBasedStrategy`: the ask/tell skeleton BANANAS and GP-BO share (initial design,
  optional zero-cost warm-up, encoding cache, candidate pool, never asking twice).
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy.special import ndtr, ndtri

from nasforge.errors import Problem
from nasforge.strategy._dedup import ENUMERATE_LIMIT
from nasforge.strategy._zc import ProxyBudget, warmup_ranking
from nasforge.strategy.base import Strategy
from nasforge.trial import Candidate

if TYPE_CHECKING:
    from nasforge.architecture import Architecture
    from nasforge.evaluate.base import Evaluator
    from nasforge.space._encodings import Encoder, EncodingKind
    from nasforge.space.base import SearchSpace
    from nasforge.trial import Trial

Acquisition = Literal["its", "ts", "ucb", "ei"]
PoolKind = Literal["auto", "all", "mutation"]
EncodingOption = Literal["auto", "path", "adjacency", "onehot"]
"""``auto``: the path encoding on spaces with cell paths (NB201), else ``onehot``."""

CELL_ENCODINGS = ("path", "adjacency")
"""Encodings of a cell's graph, which only spaces with cell paths (NB201) have."""


def has_cell_paths(space: SearchSpace) -> bool:
    """Whether ``space`` has the cell graph the ``path`` and ``adjacency`` encodings read."""
    from nasforge.space._nb201 import NB201Space

    return isinstance(space, NB201Space)


def encoding_problems(encoding: str, space: SearchSpace, where: str) -> list[Problem]:
    """A path or adjacency encoding asked for on a space without cell paths, as a problem."""
    if encoding in CELL_ENCODINGS and not has_cell_paths(space):
        return [Problem(
            "strategy.encoding",
            f"{where} was given encoding {encoding!r}, but {type(space).__name__} has no cell "
            "paths to encode (only the NB201 cell space has); it would silently be one-hot",
            "use encoding: onehot, or auto (path where the space has paths)")]
    return []

ALL_POOL_LIMIT = 20_000
"""``candidates="auto"`` scores every unasked architecture of finite spaces up to this size."""


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


_CONTROLLER: Any = None


def single_thread() -> contextlib.AbstractContextManager[Any]:
    """Limit BLAS to one thread while predictors train or predict (restored on exit).

    Their matrices are tiny: threads only add synchronisation, and on a busy machine OpenBLAS'
    spinning threads make a 10 ms fit take seconds.
    """
    global _CONTROLLER
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


class MLPEnsemble:
    """An ensemble of ReLU MLP regressors trained jointly (one batched pass for all members).

    Each member differs only by its random initialisation, as in BANANAS. Trained with full-batch
    Adam on the mean squared error of standardised targets.

    Args:
        n_members: ensemble size.
        hidden: width of each hidden layer.
        n_layers: number of hidden layers (>= 1).
        steps: Adam steps.
        lr: Adam learning rate.
        weight_decay: L2 penalty on the weights.
    """

    def __init__(
        self,
        n_members: int = 5,
        hidden: int = 32,
        n_layers: int = 2,
        steps: int = 200,
        lr: float = 0.01,
        weight_decay: float = 1e-4,
    ) -> None:
        self.n_members = n_members
        self.hidden = hidden
        self.n_layers = n_layers
        self.steps = steps
        self.lr = lr
        self.weight_decay = weight_decay
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        self._y_mean = 0.0
        self._y_std = 1.0

    def fit(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> MLPEnsemble:
        """Train from scratch on ``x`` (n, d) and ``y`` (n,), initialised from ``rng``."""
        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y, dtype=np.float64)
        self._y_mean = float(y.mean())
        self._y_std = float(y.std()) or 1.0
        target = ((y - self._y_mean) / self._y_std).astype(np.float32)[None, :, None]
        m, _n, d, h = self.n_members, x.shape[0], x.shape[1], self.hidden
        # The first layer of all members is one (d, m*h) matrix: one GEMM for the ensemble.
        sizes = [h] * self.n_layers + [1]
        self.weights = [(rng.standard_normal((d, m * h)) * math.sqrt(2.0 / d)).astype(np.float32)]
        self.weights += [
            (rng.standard_normal((m, a, b)) * math.sqrt(2.0 / a)).astype(np.float32)
            for a, b in itertools.pairwise(sizes)
        ]
        self.biases = [np.zeros(m * h, dtype=np.float32)]
        self.biases += [np.zeros((m, 1, b), dtype=np.float32) for b in sizes[1:]]
        params = self.weights + self.biases
        first = [np.zeros_like(p) for p in params]
        second = [np.zeros_like(p) for p in params]
        # Only the features some training row uses get gradients (path encodings are sparse);
        # the other rows of the first layer keep their random initialisation, which is what
        # makes the members disagree on architectures with unseen paths.
        active = np.flatnonzero(np.any(x != 0, axis=0))
        x = np.ascontiguousarray(x[:, active])
        x_t = np.ascontiguousarray(x.T)
        w0 = self.weights[0][active]
        params[0] = w0
        first[0] = np.zeros_like(w0)
        second[0] = np.zeros_like(w0)
        with single_thread():
            self._train(x, x_t, target, w0, params, first, second)
        self.weights[0][active] = w0
        return self

    def _train(
        self,
        x: np.ndarray,
        x_t: np.ndarray,
        target: np.ndarray,
        w0: np.ndarray,
        params: list[np.ndarray],
        first: list[np.ndarray],
        second: list[np.ndarray],
    ) -> None:
        m, n, h = self.n_members, x.shape[0], self.hidden
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        n_weights = len(self.weights)
        for step in range(1, self.steps + 1):
            acts = [_relu(x @ w0 + self.biases[0]).reshape(n, m, h).transpose(1, 0, 2)]
            for w, b in zip(self.weights[1:-1], self.biases[1:-1], strict=True):
                acts.append(_relu(acts[-1] @ w + b))
            out = acts[-1] @ self.weights[-1] + self.biases[-1]
            grad = (2.0 / n) * (out - target)
            grads_w: list[np.ndarray] = [np.empty(0)] * n_weights
            grads_b: list[np.ndarray] = [np.empty(0)] * n_weights
            for layer in range(n_weights - 1, 0, -1):
                a = acts[layer - 1]
                grads_w[layer] = a.transpose(0, 2, 1) @ grad + self.weight_decay * self.weights[
                    layer
                ]
                grads_b[layer] = grad.sum(axis=1, keepdims=True)
                grad = (grad @ self.weights[layer].transpose(0, 2, 1)) * (a > 0)
            flat = grad.transpose(1, 0, 2).reshape(n, m * h)
            grads_w[0] = x_t @ flat + self.weight_decay * w0
            grads_b[0] = flat.sum(axis=0)
            lr_t = self.lr * math.sqrt(1 - beta2**step) / (1 - beta1**step)
            for p, g, m1, m2 in zip(params, grads_w + grads_b, first, second, strict=True):
                m1 *= beta1
                m1 += (1 - beta1) * g
                m2 *= beta2
                m2 += (1 - beta2) * g * g
                p -= lr_t * m1 / (np.sqrt(m2) + eps)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions of every member, shape ``(n_members, n)``, in the targets' units."""
        x = np.asarray(x, dtype=np.float32)
        n, m, h = x.shape[0], self.n_members, self.hidden
        with single_thread():
            act = _relu(x @ self.weights[0] + self.biases[0]).reshape(n, m, h).transpose(1, 0, 2)
            for w, b in zip(self.weights[1:-1], self.biases[1:-1], strict=True):
                act = _relu(act @ w + b)
            out = (act @ self.weights[-1] + self.biases[-1])[..., 0]
        return out.astype(np.float64) * self._y_std + self._y_mean


def _tanimoto(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dot = a @ b.T
    na = (a * a).sum(1)[:, None]
    nb = (b * b).sum(1)[None, :]
    denom = na + nb - dot
    # Two all-zero vectors are identical: similarity 1.
    return np.where(denom > 0, dot / np.where(denom > 0, denom, 1.0), 1.0)


def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


class GaussianProcess:
    """An exact GP regressor with hyperparameters chosen by marginal likelihood on a grid.

    Kernels: ``rbf`` (``exp(-|x-x'|^2 / (2 l^2))``, ``l`` a multiple of the median distance) or
    ``tanimoto`` (``<x,x'> / (|x|^2 + |x'|^2 - <x,x'>)``, for binary encodings; no lengthscale).
    The noise ratio comes from a grid too, and the amplitude is profiled out in closed form.

    Args:
        kernel: ``rbf`` or ``tanimoto``.
    """

    LENGTH_FACTORS = (0.25, 0.5, 1.0, 2.0)
    NOISES = (1e-3, 1e-2, 1e-1, 0.3)

    def __init__(self, kernel: Literal["rbf", "tanimoto"] = "rbf") -> None:
        self.kernel = kernel
        self.lengthscale = 1.0
        self.noise = 1e-2
        self._x = np.zeros((0, 0))
        self._alpha = np.zeros(0)
        self._chol: np.ndarray = np.zeros((0, 0))
        self._amp = 1.0
        self._y_mean = 0.0
        self._y_std = 1.0

    def _k(self, a: np.ndarray, b: np.ndarray, lengthscale: float) -> np.ndarray:
        if self.kernel == "tanimoto":
            return _tanimoto(a, b)
        return np.exp(-_sq_dist(a, b) / (2.0 * lengthscale**2))

    def fit(self, x: np.ndarray, y: np.ndarray) -> GaussianProcess:
        """Fit to ``x`` (n, d) and ``y`` (n,)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        self._y_mean = float(y.mean())
        self._y_std = float(y.std()) or 1.0
        z = (y - self._y_mean) / self._y_std
        n = len(z)
        if self.kernel == "tanimoto":
            lengths: Sequence[float] = (1.0,)
        else:
            dist = np.sqrt(_sq_dist(x, x)[np.triu_indices(n, 1)])
            median = float(np.median(dist[dist > 0])) if np.any(dist > 0) else 1.0
            lengths = [f * median for f in self.LENGTH_FACTORS]
        best = -math.inf
        for length in lengths:
            base = self._k(x, x, length)
            for noise in self.NOISES:
                try:
                    chol = np.linalg.cholesky(base + noise * np.eye(n))
                except np.linalg.LinAlgError:
                    continue
                alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, z))
                amp = max(float(z @ alpha) / n, 1e-12)
                loglik = -0.5 * n * math.log(amp) - float(np.log(np.diag(chol)).sum())
                if loglik > best:
                    best = loglik
                    self.lengthscale, self.noise, self._amp = length, noise, amp
                    self._chol, self._alpha = chol, alpha
        self._x = x
        return self

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation (of the latent function) at ``x``."""
        x = np.asarray(x, dtype=np.float64)
        cross = self._k(x, self._x, self.lengthscale)
        mean = cross @ self._alpha
        v = np.linalg.solve(self._chol, cross.T)
        var = self._amp * np.maximum(1.0 - (v * v).sum(0), 1e-12)
        return mean * self._y_std + self._y_mean, np.sqrt(var) * self._y_std


def acquire(
    kind: Acquisition,
    rng: np.random.Generator,
    *,
    mean: np.ndarray,
    std: np.ndarray,
    members: np.ndarray | None = None,
    best: float = 0.0,
    beta: float = 0.5,
) -> np.ndarray:
    """Acquisition values (larger is better) for candidates with predictive ``mean`` and ``std``.

    - ``its``: independent Thompson sampling, one draw from ``N(mean, std)`` per candidate
      (BANANAS' default);
    - ``ts``: the predictions of one ensemble member drawn at random (``members``: (m, n)); an
      ITS draw when there are no members;
    - ``ucb``: ``mean + beta * std``;
    - ``ei``: expected improvement over ``best``.
    """
    if kind == "ts" and members is not None:
        return np.asarray(members[int(rng.integers(len(members)))], dtype=np.float64)
    if kind in ("its", "ts"):
        return mean + std * rng.standard_normal(len(mean))
    if kind == "ucb":
        return mean + beta * std
    safe = np.maximum(std, 1e-12)
    gamma = (mean - best) / safe
    pdf = np.exp(-0.5 * gamma**2) / math.sqrt(2 * math.pi)
    return safe * (gamma * ndtr(gamma) + pdf)


class ModelBasedStrategy(Strategy):
    """Skeleton of a predictor-guided strategy (see the module docstring); not registered.

    Subclasses set these attributes from their constructor: ``n_initial``, ``acquisition``,
    ``candidates``, ``pool_size``, ``top_k``, ``n_mutations``, ``encoding``, ``proxy``,
    ``max_proxy_scores``, ``n_proxy_warmup``; and implement :meth:`_fit` and :meth:`_predict`.

    Flow of an ask: the first ``n_initial`` asks are random draws (or, with a proxy, the best of
    ``n_proxy_warmup`` proxy-scored draws); later asks build a candidate pool of unasked
    architectures and return the one with the best acquisition value. A fitted model is reused by
    asks made before the next tell, so pending asks cost one fit.
    """

    n_initial: int
    acquisition: Acquisition
    candidates: PoolKind
    pool_size: int
    top_k: int
    n_mutations: int
    encoding: EncodingOption
    proxy: dict[str, Any] | None
    max_proxy_scores: int
    n_proxy_warmup: int
    beta: float = 1.0
    target: Literal["value", "rank"] = "value"

    # Caches that are pure functions of the space, rebuilt after unpickling.
    _CACHES = ("_encoder", "_codes", "_all", "_all_x", "_all_inverse", "_all_index",
               "_all_class", "_class_ids")

    def _reset(self) -> None:
        self._asked = self.asked_archs()
        self._asked_list: list[Architecture] = []
        self._data: list[tuple[Architecture, float]] = []
        self._n_told = 0
        self._fitted_at = -1
        self._model: Any = None
        self._y_best = 0.0
        self._budget = ProxyBudget(self.proxy, self.max_proxy_scores, self.task)
        self._queue: list[Architecture] | None = None
        self._clear_caches()

    def _clear_caches(self) -> None:
        self._encoder: Encoder | None = None
        self._codes: dict[Architecture, np.ndarray] = {}
        self._all: list[Architecture] | None = None
        self._all_x: np.ndarray = np.zeros((0, 0), dtype=np.float32)
        self._all_inverse: np.ndarray = np.zeros(0, dtype=np.intp)
        self._all_index: dict[Architecture, int] = {}
        # The canonical class of each architecture of the whole-space pool, as small ints.
        self._all_class: np.ndarray = np.zeros(0, dtype=np.intp)
        self._class_ids: dict[Architecture, int] = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._clear_caches()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self._CACHES}

    @property
    def n_proxy_scores(self) -> int:
        """Proxy scores used so far (at most ``max_proxy_scores``)."""
        budget = self.__dict__.get("_budget")
        return budget.used if budget is not None else 0

    # --- encodings ------------------------------------------------------------------------

    def _encode_all(self, archs: Sequence[Architecture]) -> np.ndarray:
        from nasforge.space._encodings import encoding_for

        if self._encoder is None:
            self._encoder = encoding_for(self.space, self.encoding_kind())
            self._codes = {}
        encoder = self._encoder
        codes = self._codes
        rows = []
        for arch in archs:
            code = codes.get(arch)
            if code is None:
                code = codes[arch] = encoder(arch)
            rows.append(code)
        return np.stack(rows).astype(np.float32)

    def encoding_kind(self) -> EncodingKind:
        """The encoding in use: ``encoding``, with ``auto`` resolved for the bound space."""
        if self.encoding == "auto":
            return "path" if has_cell_paths(self.space) else "onehot"
        return self.encoding

    def preflight(self, space: SearchSpace, evaluator: Evaluator) -> list[Problem]:
        """Refuses a ``path``/``adjacency`` encoding on a space without cell paths."""
        return encoding_problems(self.encoding, space, type(self).__name__)

    def _whole_space(self) -> bool:
        """Whether the pool is every unasked architecture (enumerating the space once)."""
        if self.candidates == "mutation":
            return False
        if self._all is None:
            size = self.space.size
            limit = ALL_POOL_LIMIT if self.candidates == "auto" else ENUMERATE_LIMIT
            if not (math.isfinite(size) and size <= limit):
                return False
            try:
                archs = list(self.space.enumerate())
            except NotImplementedError:
                return False
            # Architectures with equal encodings get equal predictions: predict unique rows.
            codes = self._encode_all(archs)
            self._all_x, self._all_inverse = np.unique(codes, axis=0, return_inverse=True)
            self._all_inverse = self._all_inverse.reshape(-1)
            self._all_index = {a: i for i, a in enumerate(archs)}
            classes = [self._asked.key(a) for a in archs]
            self._class_ids = {}
            for c in classes:
                self._class_ids.setdefault(c, len(self._class_ids))
            self._all_class = np.array([self._class_ids[c] for c in classes], dtype=np.intp)
            self._all = archs
        return True

    # --- ask / tell -----------------------------------------------------------------------

    def _mark(self, arch: Architecture) -> None:
        if arch not in self._asked:
            self._asked.add(arch)
            self._asked_list.append(arch)

    def _initial(self, rng: np.random.Generator) -> Architecture | None:
        if self._queue is None:
            self._queue = warmup_ranking(self.space, self._budget, self.rng(0, "zc_warmup"),
                                         self.n_proxy_warmup, self.n_initial)
        while self._queue:
            arch = self._queue.pop(0)
            if arch not in self._asked and self.is_feasible(arch):
                return arch
        return self._asked.sample(rng)

    def _ask(self, number: int) -> Candidate | None:
        rng = self.rng(number)
        if len(self._asked) < self.n_initial or len(self._data) < 2:
            arch = self._initial(rng)
        else:
            arch = self._model_ask(rng)
        if arch is None:
            return None
        self._mark(arch)
        return Candidate(arch)

    def _tell(self, trial: Trial) -> None:
        self._n_told += 1
        value = self.score(trial)
        if math.isfinite(value):
            self._data.append((trial.arch, value))

    def _ranked(self) -> list[Architecture]:
        """Told architectures, best first (ties: earlier told first)."""
        order = sorted(range(len(self._data)), key=lambda i: (-self._data[i][1], i))
        return [self._data[i][0] for i in order]

    def _mutation_pool(self, rng: np.random.Generator) -> list[Architecture]:
        """Unasked neighbours of the best, mutations of the ``top_k`` best, random draws."""
        pool: list[Architecture] = []
        seen: set[Architecture] = set()

        def add(arch: Architecture) -> None:
            if arch not in self._asked and arch not in seen:
                seen.add(arch)
                pool.append(arch)

        parents = self._ranked()[: self.top_k]
        if parents:
            for arch in self.space.neighbours(parents[0]):
                add(arch)
        n_mutated = (self.pool_size * 4) // 5
        for k in range(n_mutated * 3):
            if len(pool) >= n_mutated or not parents:
                break
            arch = parents[k % len(parents)]
            for _ in range(1 + int(rng.integers(self.n_mutations))):
                arch = self.space.mutate(arch, rng)
            add(arch)
        for _ in range(self.pool_size * 2):
            if len(pool) >= self.pool_size:
                break
            sample = self._asked.sample(rng, max_tries=10)
            if sample is None:
                break
            add(sample)
        if not pool:
            sample = self._asked.sample(rng)
            if sample is not None:
                add(sample)
        return pool

    def _pool(self, rng: np.random.Generator) -> tuple[list[Architecture], np.ndarray, np.ndarray]:
        """Unasked candidates, the distinct encodings, and each candidate's encoding row."""
        if self._whole_space():
            everything = self._all
            assert everything is not None
            # Leave out every architecture isomorphic to an asked one (same canonical class).
            asked = [self._class_ids[c] for c in map(self._asked.key, self._asked_list)
                     if c in self._class_ids]
            keep = ~np.isin(self._all_class, np.asarray(asked, dtype=np.intp))
            index = np.flatnonzero(keep)
            inverse = self._all_inverse[index]
            used, local = np.unique(inverse, return_inverse=True)
            return [everything[i] for i in index], self._all_x[used], local.reshape(-1)
        pool = self._mutation_pool(rng)
        if not pool:
            return [], np.zeros((0, 0), dtype=np.float32), np.zeros(0, dtype=int)
        return pool, self._encode_all(pool), np.arange(len(pool))

    def _targets(self) -> np.ndarray:
        """The told scores as the model's targets (``target="rank"``: Gaussian ranks)."""
        y = np.array([v for _, v in self._data], dtype=np.float64)
        if self.target == "rank" and len(y) > 1:
            ranks = np.argsort(np.argsort(y, kind="stable"), kind="stable")
            y = ndtri((ranks + 0.5) / len(y))
        return y

    def _refit(self, rng: np.random.Generator) -> None:
        if self._fitted_at != self._n_told:
            archs = [a for a, _ in self._data]
            y = self._targets()
            self._model = self._fit(self._encode_all(archs), y, rng)
            self._y_best = float(y.max())
            self._fitted_at = self._n_told

    def _acquire(self, x: np.ndarray, inverse: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Acquisition values of the candidates whose encodings are ``x[inverse]``."""
        mean, std, members = self._predict(self._model, x)
        best = self._y_best
        return acquire(
            self.acquisition,
            rng,
            mean=mean[inverse],
            std=std[inverse],
            members=None if members is None else members[:, inverse],
            best=best,
            beta=self.beta,
        )

    def _model_ask(self, rng: np.random.Generator) -> Architecture | None:
        pool, x, inverse = self._pool(rng)
        if not pool:
            return None
        with single_thread():
            self._refit(rng)
            values = self._acquire(x, inverse, rng)
        return self.best_feasible(pool, values)

    def best_feasible(self, pool: Sequence[Architecture], values: np.ndarray) -> Architecture:
        """The pool member with the best acquisition value that passes the feasibility check
        (checked lazily, best first, down the whole pool if need be: the model does not see
        the untrained infeasible trials, so its favourites may all be infeasible); the best one
        when none passes; without a check, the argmax, as always."""
        if not self.is_constraint_aware:
            return pool[int(np.argmax(values))]
        order = np.argsort(-np.asarray(values), kind="stable")
        found = self.first_feasible((pool[int(i)] for i in order), max_tries=len(pool))
        assert found is not None  # the pool is not empty
        return found

    def _fit(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Any:
        """A model fitted to encodings ``x`` and scores ``y``."""
        raise NotImplementedError

    def _predict(
        self, model: Any, x: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Predictive mean, standard deviation and (for ensembles) member predictions at ``x``."""
        raise NotImplementedError

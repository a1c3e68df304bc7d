"""`OptunaStrategy`: any Optuna sampler as a nasforge strategy.

Optuna (Akiba et al. 2019, "Optuna: A Next-generation Hyperparameter Optimization Framework",
KDD, https://arxiv.org/abs/1907.10902) users can bring their sampler, and benchmarks compare with
Optuna inside the same loop, store and reports. Samplers: ``tpe`` (Bergstra et al. 2011, TPE),
``cmaes`` (Hansen 2016, CMA-ES), ``nsga2`` (Deb et al. 2002, NSGA-II), ``gp`` (Gaussian-process
BO), ``random`` and ``qmc`` (quasi-Monte Carlo).

The strategy keeps an in-memory Optuna study whose directions are the study's objectives (all of
them for the samplers that handle several; the first one for ``cmaes``). Each ask calls
``study.ask`` with fixed distributions, one per decision of the space (``CategoricalDistribution``
of the options; for ``cmaes``, which only models numbers, an ``IntDistribution`` over the option
indices), and maps the sampled parameters to an architecture; each tell calls ``study.tell`` with
the objective values, or ``state=FAIL`` for failed, timed-out, pruned and infeasible trials.

Determinism: a fresh sampler is made for every ``study.ask``, seeded from ``self.rng(number)``,
so an ask depends only on the seed, the trial number and the Optuna trials told so far, which a
replay of the same asks and tells rebuilds exactly. Samplers keep their learnt state in the Optuna
study (CMA-ES and NSGA-II store it in trial attributes), so nothing is lost by re-making them.

Deviations from plain Optuna:

- No repeats: when the sampler proposes an architecture already asked, that Optuna trial is told
  at once with the architecture's known values (what evaluating it again would give, at no
  cost; ``FAIL`` if it failed or is still running) and the sampler asks again, up to 10 times;
  then a uniformly drawn unasked architecture is enqueued (``study.enqueue_trial``) and asked.
  Telling the known values matters for model-based samplers (GP), which would otherwise keep
  proposing the same point.
- Spaces with variable depth: every decision of the maximal structure is a parameter; those
  inactive in the resulting architecture are ignored (Optuna still sees their sampled values).
- Warm start: the prior study's successful architectures (best first) are enqueued as the first
  asks.
- ``sampler_params`` must not contain ``seed`` (it comes from the study's seed).
- Constraints only filter: Optuna's sampler proposes and the study checks what it asks, storing
  a candidate that breaks a constraint known before training INFEASIBLE untrained (Optuna is
  told it failed). The wrapper takes no ``constraint_aware`` setting and ignores the study's
  feasibility check; Optuna's own constrained samplers (``constraints_func`` /
  ``Trial.set_constraint``) need the constraint values of every trial, including the ones the
  study never trains. ``benchmarks/constrained.py`` compares them through Optuna's own API.

Optuna is optional: it is imported when the strategy is made, and a missing install is a
:class:`~nasforge.errors.ConfigError` that says ``pip install optuna``.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
import inspect
import math
import warnings
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from nasforge.architecture import Architecture, Value
from nasforge.errors import ConfigError, Problem
from nasforge.space._primitives import Structure
from nasforge.strategy._dedup import AskedArchs, prior_archs
from nasforge.strategy._reinforce import decision_table
from nasforge.strategy.base import STRATEGIES, Strategy
from nasforge.trial import Candidate

if TYPE_CHECKING:
    from nasforge.trial import Trial

MAX_RESAMPLES = 10
"""Sampler proposals tried before asking a uniformly drawn unasked architecture instead."""

SamplerName = Literal["tpe", "cmaes", "nsga2", "gp", "random", "qmc"]
_CLASSES: dict[str, str] = {
    "tpe": "TPESampler",
    "cmaes": "CmaEsSampler",
    "nsga2": "NSGAIISampler",
    "gp": "GPSampler",
    "random": "RandomSampler",
    "qmc": "QMCSampler",
}
_EXTRAS: dict[str, tuple[str, ...]] = {"cmaes": ("cmaes",), "gp": ("scipy", "torch")}
"""Packages a sampler needs besides optuna (Optuna imports them only when sampling)."""
_SINGLE_OBJECTIVE = frozenset({"cmaes"})
_NUMERIC = frozenset({"cmaes"})  # samplers that see option indices, not categories


def import_optuna(field: str = "strategy") -> ModuleType:
    """The ``optuna`` module; a :class:`ConfigError` saying how to install it when absent."""
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            [
                Problem(
                    field,
                    "the optuna strategy needs the optional optuna package, which is not installed",
                    "pip install optuna (or pip install 'nasforge[bench]')",
                )
            ]
        ) from None
    return optuna


@contextlib.contextmanager
def _quiet(optuna: ModuleType) -> Iterator[None]:
    """Silence Optuna's INFO logs and experimental warnings; restore both afterwards."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)


@STRATEGIES.register("optuna")
class OptunaStrategy(Strategy):
    """Runs an Optuna sampler through nasforge's ask/tell loop.

    Args:
        sampler: ``tpe``, ``cmaes``, ``nsga2``, ``gp``, ``random`` or ``qmc``.
        sampler_params: keyword arguments of the Optuna sampler's constructor (JSON values,
            e.g. ``{"n_startup_trials": 10, "multivariate": true}`` for TPE); not ``seed``.

    Example:
        >>> from nasforge.objective import Objective
        >>> from nasforge.testing.toys import ToySpace
        >>> strategy = OptunaStrategy(sampler="tpe", sampler_params={"n_startup_trials": 5})
        >>> strategy.setup(ToySpace(), [Objective(metric="val_accuracy")], seed=0)
        >>> sorted(strategy.ask(0).arch)
        ['d0', 'd1', 'd2', 'd3']
    """

    learns_unasked = False  # each result goes to the Optuna trial its ask opened

    def __init__(
        self,
        *,
        sampler: SamplerName = "tpe",
        sampler_params: dict[str, Any] | None = None,
    ) -> None:
        self.sampler = sampler
        self.sampler_params = sampler_params
        if sampler_params and "seed" in sampler_params:
            raise ConfigError(
                [
                    Problem(
                        "OptunaStrategy.sampler_params.seed",
                        "the sampler's seed is derived from the study's seed",
                        "remove seed from sampler_params and set the study's seed instead",
                    )
                ]
            )
        self._make_sampler(0)  # fail now, with the field named, on bad sampler_params
        missing = [m for m in _EXTRAS.get(sampler, ()) if importlib.util.find_spec(m) is None]
        if missing:
            raise ConfigError(
                [
                    Problem(
                        "OptunaStrategy.sampler",
                        f"Optuna's {sampler!r} sampler needs {', '.join(missing)}, which is not "
                        "installed",
                        f"pip install {' '.join(missing)}, or choose another sampler",
                    )
                ]
            )

    def _make_sampler(self, seed: int) -> Any:
        optuna = import_optuna("OptunaStrategy.sampler")
        cls = getattr(optuna.samplers, _CLASSES[self.sampler])
        params = dict(self.sampler_params or {})
        try:
            with _quiet(optuna):
                return cls(seed=seed, **params)
        except (TypeError, ValueError) as exc:
            known = [
                p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "seed")
            ]
            unknown = [p for p in params if p not in known]
            hint = ""
            if unknown:
                close = difflib.get_close_matches(unknown[0], known, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                [
                    Problem(
                        "OptunaStrategy.sampler_params",
                        f"optuna.samplers.{cls.__name__} rejected {params!r}: {exc}",
                        f"{hint}valid parameters are: {', '.join(known)}",
                    )
                ]
            ) from None

    # -- state -----------------------------------------------------------------------------
    def _reset(self) -> None:
        optuna = import_optuna("OptunaStrategy.sampler")
        self._table = decision_table(self.space)
        numeric = self.sampler in _NUMERIC
        dist = optuna.distributions
        self._distributions = {
            d.name: (
                dist.IntDistribution(0, len(d.options) - 1)
                if numeric
                else dist.CategoricalDistribution(list(d.options))
            )
            for d in self._table
        }
        objectives = self.objectives[:1] if self.sampler in _SINGLE_OBJECTIVE else self.objectives
        self._used = list(objectives)
        with _quiet(optuna):
            self._study = optuna.create_study(
                sampler=self._make_sampler(0),
                directions=["maximize" if o.direction == "max" else "minimize" for o in objectives],
            )
        self._asked = AskedArchs(self.space)  # Optuna proposes; the study only filters
        # nasforge trial number -> Optuna trial number, until told
        self._pending: dict[int, int] = {}
        self._prior: list[Architecture] = []
        # Told architectures' values (None: failed), to answer a proposed repeat.
        self._known: dict[Architecture, list[float] | None] = {}

    @property
    def study(self) -> Any:
        """The in-memory ``optuna.Study`` (read it, e.g. ``study.trials``; do not tell it)."""
        return self._study

    # -- mapping ---------------------------------------------------------------------------
    def _to_arch(self, params: dict[str, Any]) -> Architecture:
        values: dict[str, Value] = {}
        for d in self._table:
            if Structure.is_active(d, values):
                value = params[d.name]
                values[d.name] = d.options[int(value)] if self.sampler in _NUMERIC else value
        return Architecture(values)

    def _to_params(self, arch: Architecture) -> dict[str, Any]:
        """Parameters of ``arch``; decisions inactive in it take their first option."""
        params: dict[str, Any] = {}
        for d in self._table:
            index = d.index(arch[d.name]) if d.name in arch else 0
            index = 0 if index is None else index
            params[d.name] = index if self.sampler in _NUMERIC else d.options[index]
        return params

    def _enqueued(self, arch: Architecture) -> int:
        """Ask Optuna for a trial with exactly ``arch``'s parameters; its Optuna number."""
        self._study.enqueue_trial(self._to_params(arch))
        return int(self._study.ask(self._distributions).number)

    # -- ask/tell --------------------------------------------------------------------------
    def _ask(self, number: int) -> Candidate | None:
        optuna = import_optuna("OptunaStrategy.sampler")
        rng = self.rng(number)
        with _quiet(optuna):
            while self._prior:
                arch = self._prior.pop(0)
                if arch not in self._asked:
                    return self._asked_now(number, self._enqueued(arch), arch)
            for _ in range(MAX_RESAMPLES):
                self._study.sampler = self._make_sampler(int(rng.integers(2**31 - 1)))
                trial = self._study.ask(self._distributions)
                arch = self._to_arch(trial.params)
                valid = self.space.contains(arch)
                if valid and arch not in self._asked:
                    return self._asked_now(number, trial.number, arch)
                # A repeat is told its known result; a rule-breaking draw counts as failed.
                self._tell_optuna(trial.number, self._known.get(self._asked.key(arch))
                                  if valid else None)
            fallback = self._asked.sample(rng)
            if fallback is None:
                return None
            return self._asked_now(number, self._enqueued(fallback), fallback)

    def _asked_now(self, number: int, optuna_number: int, arch: Architecture) -> Candidate:
        self._asked.add(arch)
        self._pending[number] = optuna_number
        return Candidate(arch)

    def _values(self, trial: Trial) -> list[float] | None:
        """The objective values to tell Optuna, ``None`` when the trial counts as failed."""
        if trial.result is None or not trial.result.ok:
            return None
        metrics = trial.result.metrics
        if not all(o.is_feasible(metrics) for o in self.objectives):
            return None
        values = [metrics.get(o.metric, math.nan) for o in self._used]
        return values if all(math.isfinite(v) for v in values) else None

    def _tell(self, trial: Trial) -> None:
        optuna = import_optuna("OptunaStrategy.sampler")
        with _quiet(optuna):
            optuna_number = self._pending.pop(trial.number)
            values = self._values(trial)
            self._known[self._asked.key(trial.arch)] = values
            self._tell_optuna(optuna_number, values)

    def _tell_optuna(self, optuna_number: int, values: list[float] | None) -> None:
        optuna = import_optuna("OptunaStrategy.sampler")
        if values is None:
            self._study.tell(optuna_number, state=optuna.trial.TrialState.FAIL)
        else:
            self._study.tell(optuna_number, values)

    def warm_start(self, trials: Sequence[Trial]) -> None:
        """Ask the prior study's successful architectures first (best first, as scored here)."""
        self._prior = prior_archs(self.space, trials, self.score)

"""`TabularNB201Evaluator` (``nb201_table``): NAS-Bench-201 results looked up, not trained.

Benchmark mode: a study over the ``nb201`` space with this evaluator runs through the same loop,
store and reports as a real search, but each trial costs a table lookup. The simulated training
time is returned as the result's cost, so ``budget: {cost_s: ...}`` gives budgets in simulated
seconds as well as in queries.

Dong & Yang, "NAS-Bench-201: Extending the Scope of Reproducible Neural Architecture Search",
ICLR 2020, https://arxiv.org/abs/2001.00326.

Example (YAML)::

    task: {name: nb201, dataset: cifar100}
    space: nb201
    evaluator: {name: nb201_table, dataset: cifar100}
    budget: {trials: 100}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from nasforge import metrics as M
from nasforge.errors import ConfigError, InvalidArchitectureError, Problem
from nasforge.evaluate.base import EVALUATORS, EvalContext, Evaluator
from nasforge.evaluate.tabular._nats import NATSTopology
from nasforge.evaluate.tabular._table import FIDELITIES, Dataset, NB201Table
from nasforge.evaluate.tabular.task import NB201Task
from nasforge.space._nb201 import arch_to_nb201
from nasforge.trial import Candidate, Result

if TYPE_CHECKING:
    from collections.abc import Collection

    from nasforge.architecture import Architecture
    from nasforge.space.base import SearchSpace
    from nasforge.tasks.base import Task


@EVALUATORS.register("nb201_table")
class TabularNB201Evaluator(Evaluator):
    """Looks an NB201 cell up in the NAS-Bench-201 table (or the official NATS-Bench files).

    Metrics (accuracies in percent, seed-averaged):

    - ``val_accuracy``: the search signal. CIFAR-10 uses the ``cifar10-valid`` setting (trained on
      25k images, validated on the other 25k: ``c10v_val_acc_*``); CIFAR-100 and ImageNet16-120
      use the ``x-valid`` half of their test set (``c100_val_acc_*``, ``in_val_acc_*``).
    - ``test_accuracy``: reported, never searched on. CIFAR-10: the model trained on all 50k, on
      the test set (``c10_test_acc_*``); the others: the ``x-test`` half.
    - ``params``, ``flops``: absolute counts (the table's millions × 1e6).
    - ``train_seconds`` (also the result's ``cost_s``): simulated training time, fidelity × the
      benchmark's seconds per epoch of the 200-epoch schedule. For 12 epochs this is 12 × the
      same per-epoch time (the 12-epoch schedule trains the same network on the same data; the
      benchmark stores no separate time for it). CIFAR-10 uses the ``cifar10`` (50k) times.
    - ``epochs``: the fidelity.

    The candidate's fidelity picks the schedule: 12 or 200 epochs (``None``: ``fidelity``);
    anything else fails the trial with a message saying so. A cell missing from a partial table
    fails its trial. Zero-cost proxy columns are not metrics (a lookup is not a proxy
    measurement); use the ``nb201_table`` proxy for them.

    The table is loaded and validated when the evaluator is made (so a bad file fails before a
    study writes anything) and cached per process; the evaluator pickles without it.

    Args:
        path: the table file (or its folder); ``None`` resolves ``$NASFORGE_NB201`` and then
            ``../shared/data/nasbench201/nb201_table.csv.gz`` (see
            :func:`~nasforge.evaluate.tabular.resolve_nb201_path`). With ``source: nats``, the
            NATS-Bench ``tss`` folder (``None``: nats_bench's default under ``$TORCH_HOME``).
        dataset: ``cifar10``, ``cifar100`` or ``imagenet16-120``.
        fidelity: the epochs of a candidate without a fidelity: 200 (full) or 12.
        source: ``table`` (the compact CSV) or ``nats`` (the official files, through the optional
            ``nats_bench`` package).
        require_complete: require all 15,625 cells in the table; only tests with tiny tables turn
            it off.
    """

    fidelities: ClassVar[tuple[int, ...]] = FIDELITIES
    """The fidelities (epochs) this evaluator accepts, for multi-fidelity strategies."""
    provides: ClassVar[tuple[str, ...]] = (
        M.VAL_ACCURACY, M.TEST_ACCURACY, M.PARAMS, M.FLOPS, M.TRAIN_SECONDS, M.EPOCHS,
    )
    """The metrics every OK result carries (``source: nats`` adds ``latency_ms``), so a spec can
    check that its objectives name metrics that exist."""
    units: ClassVar[dict[str, str]] = {M.VAL_ACCURACY: "%", M.TEST_ACCURACY: "%"}
    cheap: ClassVar[tuple[str, ...]] = (M.PARAMS, M.FLOPS)
    """From the table; it builds no network, so no predicted latency."""

    def __init__(
        self,
        *,
        path: str | None = None,
        dataset: Dataset = "cifar10",
        fidelity: Literal[12, 200] = 200,
        source: Literal["table", "nats"] = "table",
        require_complete: bool = True,
    ) -> None:
        self.path = path
        self.dataset = dataset
        self.fidelity = fidelity
        self.source = source
        self.require_complete = require_complete
        self._backend()  # validate eagerly: a bad file fails before a study writes anything

    # -- the data behind it -----------------------------------------------------------------
    def _backend(self) -> NB201Table | NATSTopology:
        backend = self.__dict__.get("_data")
        if backend is None:
            if self.source == "nats":
                backend = NATSTopology(self.path, field="evaluator.path")
            else:
                backend = NB201Table.load(
                    self.path, require_complete=self.require_complete, field="evaluator.path"
                )
            self._data = backend
        return backend

    @property
    def table(self) -> NB201Table:
        """The loaded table (``source: table`` only)."""
        backend = self._backend()
        if not isinstance(backend, NB201Table):
            raise ConfigError("the evaluator reads NATS-Bench files (source: nats), not the table")
        return backend

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_data", None)  # reloaded from the per-process cache in the worker
        return state

    @property
    def max_fidelity(self) -> int:
        return self.fidelity

    def default_task(self) -> Task:
        """The ``nb201`` task of the evaluator's dataset, so a benchmark spec needs no task."""
        return NB201Task(dataset=self.dataset)

    def preflight(self, space: SearchSpace, task: Task) -> list[Problem]:
        """Refuse a space whose architectures are not NAS-Bench-201 cells, or another dataset."""
        import numpy as np

        problems: list[Problem] = []
        if isinstance(task, NB201Task) and task.dataset != self.dataset:
            problems.append(Problem(
                "evaluator.dataset",
                f"the evaluator looks up {self.dataset!r} but the task is nb201 {task.dataset!r}",
                "give the task and the evaluator the same dataset"))
        arch = space.sample(np.random.default_rng(0))
        try:
            cell = arch_to_nb201(arch)
        except InvalidArchitectureError as exc:
            problems.append(Problem(
                "space",
                f"the nb201_table evaluator can only look up NAS-Bench-201 cells, and space "
                f"{space.name!r} proposes other architectures ({exc})",
                "use space: nb201 with this evaluator, or evaluator: train for other spaces"))
            return problems
        if self._backend().find(cell) is None:
            problems.append(Problem(
                "space",
                f"a sampled cell of space {space.name!r} ({cell}) is not in the benchmark",
                "use the nb201 space's default operations"))
        return problems

    def cheap_metrics(self, space: SearchSpace, arch: Architecture, task: Task,
                      names: Collection[str] | None = None) -> dict[str, float]:
        """``params`` and ``flops`` from the table (the benchmark's counts), nothing built
        (both whatever ``names`` asks: a lookup costs nothing).

        Raises:
            InvalidArchitectureError: for an architecture that is not an NB201 cell.
            KeyError: for a cell missing from a partial table.
        """
        cell = arch_to_nb201(arch)
        backend = self._backend()
        index = backend.find(cell)
        if index is None:
            raise KeyError(f"architecture {cell!r} is not in the benchmark {backend.path}")
        if isinstance(backend, NB201Table):
            metrics = backend.lookup(cell, self.dataset, self.fidelity)
        else:
            metrics = backend.lookup(index, self.dataset, self.fidelity)
        return {k: float(metrics[k]) for k in self.cheap if k in metrics}

    # -- evaluating -------------------------------------------------------------------------
    def evaluate(self, candidate: Candidate, ctx: EvalContext) -> Result:
        asked = self.fidelity if candidate.fidelity is None else candidate.fidelity
        if asked not in FIDELITIES:
            raise ConfigError(
                [
                    Problem(
                        "candidate.fidelity",
                        f"fidelity must be 12 or 200 for nb201_table; got {asked!r}",
                        "ask for 12 or 200 epochs (the schedules NAS-Bench-201 trained), or None "
                        "for the evaluator's own fidelity",
                    )
                ]
            )
        fidelity = int(asked)
        task_dataset = ctx.task.dataset if isinstance(ctx.task, NB201Task) else self.dataset
        if task_dataset != self.dataset:
            raise ConfigError(
                [
                    Problem(
                        "evaluator.dataset",
                        f"the evaluator looks up {self.dataset!r} but the task is nb201 "
                        f"{task_dataset!r}",
                        "give the task and the evaluator the same dataset",
                    )
                ]
            )
        try:
            arch = arch_to_nb201(candidate.arch)
        except InvalidArchitectureError as exc:
            return Result.failed(f"not a NAS-Bench-201 cell: {exc}")
        backend = self._backend()
        index = backend.find(arch)
        if index is None:
            return Result.failed(f"architecture {arch!r} is not in the benchmark {backend.path}")
        if isinstance(backend, NB201Table):
            metrics = backend.lookup(arch, self.dataset, fidelity)
            index = backend.nb201_index(index)
        else:
            metrics = backend.lookup(index, self.dataset, fidelity)
        return Result(metrics=metrics, cost_s=metrics[M.TRAIN_SECONDS],
                      info={"nb201_index": index})

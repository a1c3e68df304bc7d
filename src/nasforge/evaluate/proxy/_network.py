"""`NetworkProxy`: the shared base of zero-cost proxies computed on an untrained network.

A computed proxy builds the network ``space.build(arch, task_info)`` with fixed seeded weights,
then scores it, data-free (SynFlow, params, FLOPs) or on one seeded minibatch of the task's
training split (NASWOT, snip, grad_norm, jacov; :class:`DataProxy`). The same architecture gets
the same score: the weights come from ``torch.manual_seed(seed)`` inside
:func:`torch.random.fork_rng` (the caller's RNG is untouched) and the minibatch's examples are
drawn once from ``numpy.random.default_rng(seed)``.

The task: ``task: mnist1d`` (or ``{name: ..., **params}``) as a proxy parameter, or, when left
out, the study's task, bound through :meth:`~nasforge.evaluate.proxy.Proxy.bind` by the
strategies (``proxy: {name: synflow}``) and by the ``proxy`` evaluator. A proxy with neither
says so when it first scores.

Scores are measured on layers with weights that the literature prunes: convolutions and linear
layers (``weight`` only, as in Abdelfattah et al. 2021's ``get_layer_metric_array``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field

from nasforge.errors import ConfigError, Problem
from nasforge.evaluate.proxy.base import Proxy

if TYPE_CHECKING:
    import torch
    from torch import nn

    from nasforge.architecture import Architecture
    from nasforge.space.base import SearchSpace
    from nasforge.tasks.base import Task, TaskInfo


def make_task(spec: str | dict[str, Any], field: str = "proxy.task") -> Task:
    """The task named by ``spec`` (``"mnist1d"`` or ``{"name": ..., **params}``)."""
    import nasforge.evaluate.tabular  # registers the nb201 task
    import nasforge.tasks  # noqa: F401  (registration happens on import)
    from nasforge.tasks.base import TASKS

    if isinstance(spec, str):
        return TASKS.create(spec, {}, field=field)
    if not isinstance(spec.get("name"), str):
        raise ConfigError([Problem(field, f"expected a task name or a mapping with a 'name' key; "
                                          f"got {spec!r}", "use e.g. task: mnist1d")])
    return TASKS.create(spec["name"], {k: v for k, v in spec.items() if k != "name"}, field=field)


def build_network(space: SearchSpace, arch: Architecture, info: TaskInfo, seed: int) -> nn.Module:
    """The untrained network of ``arch`` on the CPU, its weights drawn from ``seed``."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return space.build(arch, info).cpu()


def layer_weights(net: nn.Module) -> Iterator[torch.Tensor]:
    """The ``weight`` of each convolution and linear layer of ``net`` (what proxies measure)."""
    from torch import nn

    kinds = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
    for module in net.modules():
        if isinstance(module, kinds) and isinstance(module.weight, nn.Parameter):
            yield module.weight


def task_loss(out: torch.Tensor, y: torch.Tensor, info: TaskInfo) -> torch.Tensor:
    """The training loss of the task: cross-entropy, or mean squared error for regression."""
    import torch.nn.functional as F

    if info.is_regression:
        return F.mse_loss(out, y.reshape(out.shape).to(out.dtype))
    return F.cross_entropy(out, y.long())


class NetworkProxy(Proxy):
    """Base of proxies computed on the network a space builds. Subclasses implement
    :meth:`score_network`.

    Args:
        task: the task the network is built for (``mnist1d``, ``{name: nb201, dataset:
            cifar10}``); ``None``: the study's task, bound by the strategy or evaluator.
        seed: seeds the network's weights (and, for data proxies, the minibatch).
    """

    needs_data: ClassVar[bool] = False

    def __init__(self, *, task: str | dict[str, Any] | None = None, seed: int = 0) -> None:
        self.task = task
        self.seed = seed
        self._own_task = None if task is None else make_task(task)
        self._bound: Task | None = None

    def bind(self, task: Task) -> None:
        self._bound = task
        self.__dict__.pop("_batch", None)

    def resolved_task(self) -> Task:
        """The proxy's own task, else the bound one.

        Raises:
            ConfigError: neither was given.
        """
        task = self._own_task if self._own_task is not None else self._bound
        if task is None:
            raise ConfigError([Problem(
                "proxy.task",
                f"proxy {self.name!r} builds networks, so it needs a task, and none was given "
                "or bound",
                f"add task to the proxy (e.g. {{name: {self.name}, task: mnist1d}}), or use it "
                "through a study, whose strategy or evaluator binds the study's task")])
        return task

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_batch", None)
        return state

    def score(self, arch: Architecture, space: SearchSpace) -> float:
        """The proxy of ``arch``'s untrained network (built with the seeded weights)."""
        info = self.resolved_task().info()
        return float(self.score_network(build_network(space, arch, info, self.seed), info))

    @abstractmethod
    def score_network(self, net: nn.Module, info: TaskInfo) -> float:
        """The score of the untrained ``net`` built for ``info``; larger is better."""


class DataProxy(NetworkProxy):
    """A network proxy measured on one seeded minibatch of the task's training split.

    Args:
        task: as for :class:`NetworkProxy`; it must have data (``nb201`` has none).
        seed: seeds the weights and which training examples form the minibatch.
        batch_size: examples in the minibatch (fewer when the split is smaller).
    """

    needs_data = True

    def __init__(
        self,
        *,
        task: str | dict[str, Any] | None = None,
        seed: int = 0,
        batch_size: Annotated[int, Field(ge=2)] = 64,
    ) -> None:
        super().__init__(task=task, seed=seed)
        self.batch_size = batch_size

    def minibatch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The seeded minibatch ``(x, y)`` of the training split (cached)."""
        batch = self.__dict__.get("_batch")
        if batch is None:
            import numpy as np

            train = self.resolved_task().load().train
            n = min(self.batch_size, len(train))
            rows = np.random.default_rng(self.seed).choice(len(train), size=n, replace=False)
            x, y = next(iter(train.batches([sorted(int(i) for i in rows)])))
            batch = (x.float(), y)
            self._batch = batch
        return batch

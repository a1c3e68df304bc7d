"""A tiny search space registered for the export tests, independent of the built-in spaces.

Tests reach everything here through fixtures (not imports), so they work in any pytest import
mode.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import numpy as np
import pytest
import torch
from pydantic import Field
from torch import nn

from nasforge.architecture import Architecture
from nasforge.errors import InvalidArchitectureError
from nasforge.space.base import SPACES, SearchSpace
from nasforge.tasks.base import TaskInfo

KERNELS = (1, 3, 5)
HEADS = ("plain", "guarded", "data_dependent")


class _GuardedPool(nn.Module):
    """Global average pooling written with a rank test, which torch.fx cannot trace."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            return x.mean(dim=-1)
        return x.mean(dim=(-2, -1))


class _DataDependentPool(nn.Module):
    """Pooling whose branch depends on values: neither torch.fx nor torch.export can trace it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.flatten(2).mean(dim=-1)
        if float(pooled.sum()) > 1e30:
            return pooled * 0
        return pooled


class ToySpace(SearchSpace):
    """Conv (1-D or 2-D by task kind) + BN + ReLU + global pool + Linear; MLP for tabular tasks.

    Registered as ``export_toy`` only while a test of this folder runs (see ``_registered``),
    so suites that parametrise over every registered space never see it.
    """

    name = "export_toy"

    def __init__(self, *, width: Annotated[int, Field(ge=1)] = 4, use_bn: bool = True) -> None:
        self.width = width
        self.use_bn = use_bn

    def _all(self) -> list[Architecture]:
        return [Architecture(kernel=k, head=h) for k, h in itertools.product(KERNELS, HEADS)]

    def sample(self, rng: np.random.Generator) -> Architecture:
        options = self._all()
        return options[int(rng.integers(len(options)))]

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        options = self.neighbours(arch)
        return options[int(rng.integers(len(options)))]

    def neighbours(self, arch: Architecture) -> list[Architecture]:
        return [a for a in self._all() if sum(a[k] != arch[k] for k in a) == 1]

    def encode(self, arch: Architecture) -> np.ndarray:
        return np.array([KERNELS.index(int(arch["kernel"])), HEADS.index(str(arch["head"]))])

    def validate(self, arch: Architecture) -> None:
        if set(arch) != {"kernel", "head"}:
            raise InvalidArchitectureError(f"expected decisions kernel, head; got {sorted(arch)}")
        if arch["kernel"] not in KERNELS:
            raise InvalidArchitectureError(f"must be one of {KERNELS}", path=("kernel",))
        if arch["head"] not in HEADS:
            raise InvalidArchitectureError(f"must be one of {HEADS}", path=("head",))

    @property
    def size(self) -> float:
        return float(len(self._all()))

    def format(self, arch: Architecture) -> str:
        return f"k{arch['kernel']}-{arch['head']}"

    def parse(self, text: str) -> Architecture:
        if text.lstrip().startswith("{"):
            return super().parse(text)
        kernel, _, head = text.partition("-")
        arch = Architecture(kernel=int(kernel.removeprefix("k")), head=head)
        self.validate(arch)
        return arch

    def build(self, arch: Architecture, task: TaskInfo) -> nn.Module:
        self.validate(arch)
        k, w = int(arch["kernel"]), self.width
        if task.kind == "tabular":
            return nn.Sequential(
                nn.Linear(task.input_shape[0], w * k), nn.ReLU(), nn.Linear(w * k, task.n_classes)
            )
        conv, norm = (
            (nn.Conv1d, nn.BatchNorm1d)
            if task.kind == "signal"
            else (
                nn.Conv2d,
                nn.BatchNorm2d,
            )
        )
        pool: nn.Module = {
            "plain": nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten())
            if task.kind == "signal"
            else nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
            "guarded": _GuardedPool(),
            "data_dependent": _DataDependentPool(),
        }[str(arch["head"])]
        return nn.Sequential(
            conv(task.input_shape[0], w, k, padding=k // 2),
            norm(w) if self.use_bn else nn.Identity(),
            nn.ReLU(),
            pool,
            nn.Linear(w, task.n_classes),
        )


SIGNAL = TaskInfo(name="toy_signal", input_shape=(1, 12), n_classes=3, kind="signal")
IMAGE = TaskInfo(name="toy_image", input_shape=(2, 6, 5), n_classes=4, kind="image")
TABULAR = TaskInfo(name="toy_tabular", input_shape=(7,), n_classes=2, kind="tabular")


def trained_like(
    space: SearchSpace, arch: Architecture, task: TaskInfo, seed: int = 1
) -> nn.Module:
    """A built network with non-trivial weights and BN statistics (as after training)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = space.build(arch, task)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, tensor in net.state_dict().items():
                if tensor.is_floating_point():
                    values = torch.rand(tensor.shape, generator=gen) + 0.5
                    if not name.endswith("running_var"):
                        values = values - 1.0
                    tensor.copy_(values)
    return net.eval()


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    # The registry has no public unregister; registering for the test's duration only keeps the
    # toy out of other folders' parametrisations over SPACES.names().
    monkeypatch.setitem(SPACES._entries, ToySpace.name, ToySpace)


@pytest.fixture
def space() -> ToySpace:
    return ToySpace(width=4)


@pytest.fixture
def arch() -> Architecture:
    return Architecture(kernel=3, head="plain")


TrainedFactory = Callable[..., nn.Module]


@pytest.fixture
def tasks() -> dict[str, TaskInfo]:
    """One small task per kind, keyed by kind."""
    return {"signal": SIGNAL, "image": IMAGE, "tabular": TABULAR}


@pytest.fixture
def trained() -> TrainedFactory:
    """``trained(space, arch, task, seed=1)``: a built network with non-trivial weights."""
    return trained_like


_STANDALONE_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    import torch
    torch.set_num_threads(int(sys.argv[4]))  # the caller's: same kernels, bit-identical outputs
    from model import ExportedModel, load_model, INPUT_SHAPE, N_CLASSES
    net = load_model()
    assert isinstance(net, ExportedModel) and not net.training
    x = torch.load(sys.argv[2], weights_only=True)
    assert tuple(x.shape[1:]) == INPUT_SHAPE
    with torch.no_grad():
        y = net(x)
    assert y.shape == (x.shape[0], N_CLASSES)
    assert not any(name.startswith("nasforge") for name in sys.modules), "nasforge was imported"
    torch.save(y, sys.argv[3])
    """
)


def _run_standalone(export_dir: Path, x: torch.Tensor) -> torch.Tensor:
    """Run an export's model.py on ``x`` in a fresh interpreter that never imports nasforge."""
    work = export_dir.parent
    torch.save(x, work / "_standalone_x.pt")
    # -I: isolated mode, so neither the cwd nor PYTHONPATH is on sys.path
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            _STANDALONE_SCRIPT,
            str(export_dir),
            str(work / "_standalone_x.pt"),
            str(work / "_standalone_y.pt"),
            str(torch.get_num_threads()),
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(work / "_standalone_y.pt", weights_only=True)


@pytest.fixture
def run_standalone() -> Callable[[Path, torch.Tensor], torch.Tensor]:
    """``run_standalone(export_dir, x)``: outputs of the export's model.py, run without nasforge."""
    return _run_standalone

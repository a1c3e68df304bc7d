"""Supernets of the layer spaces: switching, inherited weights, mixtures, refusals."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, InvalidArchitectureError, NoSupernetError
from nasforge.space import (
    NB201_DECISIONS,
    NB201_OPS,
    ChainSpace,
    ChoicesSpace,
    DeclaredSpace,
    FunctionSpace,
    MLPSpace,
    NB201Space,
    nb201_to_arch,
)
from nasforge.space.base import SearchSpace
from nasforge.space.supernet import LayerSupernet, Supernet, copy_to_network
from nasforge.tasks.base import TaskInfo
from tests.space import function_spaces as fs

SIGNAL = TaskInfo(name="s", input_shape=(1, 24), n_classes=5, kind="signal")
IMAGE = TaskInfo(name="i", input_shape=(3, 12, 12), n_classes=4, kind="image")
TABULAR = TaskInfo(name="t", input_shape=(7,), n_classes=3, kind="tabular")

DECLARED = [
    {"type": "conv", "width": [6, 8], "kernel": [3, 5], "activation": ["relu", "gelu"],
     "norm": ["batch", "layer", "none"]},
    {"type": "repeat", "depth": [0, 1, 2],
     "body": [{"type": "conv", "width": [6, 8], "kernel": [3, 5, 7], "skip": [True, False]}]},
    {"type": "pool", "kind": ["max", "avg"]},
    {"type": "cell", "nodes": 3, "ops": ["none", "skip_connect", "nor_conv_3x3"], "channels": 5},
    {"type": "resblock", "width": [6, 10]},
    {"type": "dropout", "p": [0.0, 0.2]},
    {"type": "dense", "width": [4, 8], "norm": ["batch", "layer", "none"],
     "skip": [True, False]},
]

CASES = [
    pytest.param(NB201Space(dims=1, channels=4, cells_per_stage=1), SIGNAL, id="nb201-1d"),
    pytest.param(NB201Space(dims=2, channels=3, cells_per_stage=2), IMAGE, id="nb201-2d"),
    pytest.param(ChainSpace(n_stages=2, depths=[0, 1, 2], kernels=[3, 5],
                            widths=[[4, 6], [6, 8]]), SIGNAL, id="chain"),
    pytest.param(MLPSpace(depths=[1, 2], widths=[4, 8], norm="batch"), TABULAR, id="mlp"),
    pytest.param(DeclaredSpace(layers=DECLARED), SIGNAL, id="declared"),
]


def _shuffle_statistics(net: nn.Module, seed: int = 0) -> None:
    """BatchNorm statistics away from (0, 1), so copying them is tested too."""
    gen = torch.Generator().manual_seed(seed)
    for module in net.modules():
        if getattr(module, "running_mean", None) is not None:
            module.running_mean.copy_(torch.rand(module.running_mean.shape, generator=gen) - .5)
            module.running_var.copy_(torch.rand(module.running_var.shape, generator=gen) + .5)


@pytest.mark.parametrize(("space", "task"), CASES)
def test_path_equals_the_built_network_with_inherited_weights(space: SearchSpace,
                                                              task: TaskInfo) -> None:
    torch.manual_seed(0)
    net = space.supernet(task)
    _shuffle_statistics(net)
    rng = np.random.default_rng(0)
    x = torch.randn(3, *task.input_shape)
    for _ in range(6):
        arch = space.sample(rng)
        built = copy_to_network(net, arch, space.build(arch, task), x)
        net.eval()
        built.eval()
        with torch.no_grad():
            torch.testing.assert_close(net(x), built(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize(("space", "task"), CASES)
def test_choices_are_the_space_decisions_in_order(space: Any, task: TaskInfo) -> None:
    net = space.supernet(task)
    assert isinstance(net, Supernet)
    assert list(net.choices) == space.decisions
    for name, options in net.choices.items():
        assert options == space.table.decision(name).options
    assert space.has_supernet


def test_nb201_choices_and_parameter_free_ops() -> None:
    net = NB201Space(dims=1, channels=4, cells_per_stage=1).supernet(SIGNAL)
    assert net.choices == {name: NB201_OPS for name in NB201_DECISIONS}
    free = {op for op in NB201_OPS if net.parameter_free("cell.edge_1_0", op)}
    assert free == {"none", "skip_connect", "avg_pool_3x3"}
    with pytest.raises(KeyError, match=r"unknown decision 'cell\.edge_9_0'"):
        net.parameter_free("cell.edge_9_0", "none")


def test_nb201_weights_are_shared_per_cell_and_op_not_per_architecture() -> None:
    space = NB201Space(dims=1, channels=4, cells_per_stage=2)
    net = space.supernet(SIGNAL)
    # stem, 2 reductions, head ... plus per cell (6 cells) 6 edges x (1x1 conv + 3x3 conv)
    built_all = space.build(Architecture(dict.fromkeys(NB201_DECISIONS, "nor_conv_3x3")), SIGNAL)
    conv3 = sum(p.numel() for p in built_all.parameters())
    assert sum(p.numel() for p in net.parameters()) > conv3
    cells = [mod for mod in net.modules() if type(mod).__name__ == "SuperCell"]
    assert len(cells) == 6
    assert all(set(c.edges["1_0"]) == {"skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                                       "avg_pool_3x3"} for c in cells)


def test_parameter_free_cell_is_exact_without_copying() -> None:
    """A cell of skips and pools computes the same as a built one once the rest is copied;
    with only parameter-free ops active, no cell weight is involved at all."""
    space = NB201Space(dims=1, channels=4, cells_per_stage=1)
    arch = nb201_to_arch("|skip_connect~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|none~1|"
                         "avg_pool_3x3~2|")
    net = space.supernet(SIGNAL)
    x = torch.randn(2, 1, 24)
    built = copy_to_network(net, arch, space.build(arch, SIGNAL), x)
    n_cell_params = sum(p.numel() for name, p in built.named_parameters() if ".edges." in name)
    assert n_cell_params == 0
    net.eval()
    built.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(x), built(x), rtol=0, atol=0)


def test_one_hot_mixture_equals_the_path_and_zero_weights_are_not_computed() -> None:
    space = NB201Space(dims=1, channels=4, cells_per_stage=1)
    net = space.supernet(SIGNAL).eval()
    arch = space.sample(np.random.default_rng(3))
    x = torch.randn(2, 1, 24)
    net.use(arch)
    with torch.no_grad():
        path = net(x)
    weights = {n: torch.tensor([1.0 if o == arch[n] else 0.0 for o in opts])
               for n, opts in net.choices.items()}
    calls: list[str] = []
    for cell in (mod for mod in net.modules() if type(mod).__name__ == "SuperCell"):
        for key, ops in cell.edges.items():
            for op, module in ops.items():
                module.register_forward_hook(
                    lambda *_, k=key, o=op: calls.append(f"{k}:{o}"))
    net.use_weights(weights)
    with torch.no_grad():
        torch.testing.assert_close(net(x), path)
    ran = {c.split(":")[1] for c in calls}
    expected = {str(arch[n]) for n in NB201_DECISIONS} - {"none"}
    assert ran == expected


@pytest.mark.parametrize(("space", "task"), CASES)
def test_mixture_gradients_reach_every_weight_tensor(space: SearchSpace, task: TaskInfo) -> None:
    net = space.supernet(task)
    gen = torch.Generator().manual_seed(0)
    alphas = {n: torch.randn(len(o), generator=gen, requires_grad=True)
              for n, o in net.choices.items()}
    net.use_weights({n: torch.softmax(a, 0) for n, a in alphas.items()})
    out = net(torch.randn(4, *task.input_shape, generator=gen))
    assert out.shape == (4, task.n_outputs)
    out.square().sum().backward()
    assert all(a.grad is not None and torch.isfinite(a.grad).all() for a in alphas.values())
    assert any(float(a.grad.abs().sum()) > 0 for a in alphas.values())


def test_bad_weights_and_architectures_are_refused() -> None:
    space = NB201Space(dims=1, channels=4, cells_per_stage=1)
    net = space.supernet(SIGNAL)
    with pytest.raises(ValueError, match=r"missing \['cell.edge_2_0'"):
        net.use_weights({"cell.edge_1_0": torch.ones(5)})
    good = {n: torch.ones(5) for n in NB201_DECISIONS}
    with pytest.raises(ValueError, match=r"weights\['cell.edge_1_0'\] must be a 1-D tensor of 5"):
        net.use_weights({**good, "cell.edge_1_0": torch.ones(4)})
    with pytest.raises(ValueError, match="unknown"):
        net.use_weights({**good, "cell.edge_7_0": torch.ones(5)})
    arch = dict.fromkeys(NB201_DECISIONS, "skip_connect")
    with pytest.raises(InvalidArchitectureError, match="cell -> edge_1_0"):
        net.use(Architecture({**arch, "cell.edge_1_0": "conv9"}))
    fresh = space.supernet(SIGNAL)
    with pytest.raises(RuntimeError, match=r"call use\(arch\)"):
        fresh(torch.zeros(1, 1, 24))


def test_pickled_and_copied_supernets_keep_one_selection() -> None:
    space = ChainSpace(n_stages=1, depths=[1, 2], kernels=[3, 5], widths=[[4, 6]])
    net = space.supernet(SIGNAL).eval()
    rng = np.random.default_rng(0)
    a, b = space.sample(rng), space.sample(rng)
    while b == a:
        b = space.sample(rng)
    x = torch.randn(2, 1, 24)
    for clone in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        for arch in (a, b):
            net.use(arch)
            clone.use(arch)
            with torch.no_grad():
                torch.testing.assert_close(clone(x), net(x), rtol=0, atol=0)


def test_spaces_without_a_supernet_say_why_and_what_works() -> None:
    lookup = ChoicesSpace(decisions={"op": ["a", "b"]})
    assert not lookup.has_supernet
    with pytest.raises(NoSupernetError, match="space 'choices' has no supernet") as info:
        lookup.supernet(SIGNAL)
    assert isinstance(info.value, ConfigError)
    assert "nb201, chain, mlp or a declared space" in str(info.value)
    function = FunctionSpace(path=f"{fs.PATH}:conv_net")
    assert not function.has_supernet
    with pytest.raises(NoSupernetError, match="builds a fresh network for each architecture"):
        function.supernet(SIGNAL)


@pytest.mark.parametrize(("layers", "field"), [
    ([{"type": "conv", "width": 4, "stride": [1, 2]}], "conv0.stride"),
    ([{"type": "pool", "size": [2, 4]}], "pool0.size"),
    ([{"type": "repeat", "depth": [1, 2], "body": [{"type": "conv", "width": 4, "stride": 2}]}],
     "repeat0.depth"),
    ([{"type": "dense", "width": [4, 8]}, {"type": "conv", "width": 4}], "conv1"),
])
def test_size_changing_choices_have_no_supernet(layers: list[dict[str, Any]], field: str
                                                ) -> None:
    space = DeclaredSpace(layers=layers)
    with pytest.raises(NoSupernetError, match=f"space 'declared' has no supernet: .*{field}"):
        space.supernet(SIGNAL)


def test_layer_supernet_is_the_layer_spaces_supernet() -> None:
    assert isinstance(NB201Space(dims=1, channels=2, cells_per_stage=1).supernet(SIGNAL),
                      LayerSupernet)

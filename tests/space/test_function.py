"""Define-by-run spaces: discovery, the learnt model, build, pickling by reference, bad input."""

from __future__ import annotations

import math
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import nasforge as nf
from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, InvalidArchitectureError
from nasforge.evaluate._checks import check_forward
from nasforge.space import SPACES, FunctionSpace, define
from nasforge.space._function import _Discovery
from nasforge.tasks.base import TaskInfo
from nasforge.testing.space_contract import SearchSpaceContract
from nasforge.testing.toys import ToyTask
from tests.space import function_spaces as fs

TASKS = {
    "signal": TaskInfo(name="tiny_signal", input_shape=(1, 16), n_classes=3, kind="signal"),
    "image": TaskInfo(name="tiny_image", input_shape=(3, 8, 8), n_classes=4, kind="image"),
    "tabular": TaskInfo(name="tiny_tabular", input_shape=(5,), n_classes=2, kind="tabular"),
}
SIGNAL = TASKS["signal"]


class TestFunctionSpaces(SearchSpaceContract):
    @pytest.fixture(
        params=["conv_net", "plain_net", "item_net"], ids=["decorated", "plain", "cpu_fallback"]
    )
    def space(self, request: pytest.FixtureRequest) -> FunctionSpace:
        return SPACES.create("function", {"path": f"{fs.PATH}:{request.param}"})

    @pytest.fixture(params=list(TASKS), ids=list(TASKS))
    def task_info(self, request: pytest.FixtureRequest) -> TaskInfo:
        return TASKS[request.param]


# -- discovery --------------------------------------------------------------------------------


def test_discovers_conditional_decisions() -> None:
    space = fs.conv_net
    assert nf.space.define is define
    assert space.decisions == ["width", "kernel", "depth", "block0.skip", "block1.skip", "act",
                               "block2.skip"]
    conditions = {d.name: d.conditions for d in space.model.decisions}
    assert conditions["block0.skip"] == ()
    assert conditions["block1.skip"] == (("depth", (2, 3)),)
    assert conditions["act"] == (("depth", (2, 3)),)
    assert conditions["block2.skip"] == (("depth", (3,)),)
    # width x kernel x (depth 1: 2 + depth 2: 2*2*2 + depth 3: 2*2*2*2) skips and activations
    assert space.size == 2 * 2 * (2 + 8 + 16)
    shallow = space.parse("width=4 kernel=3 depth=1 block0.skip=true")
    assert set(shallow) == {"width", "kernel", "depth", "block0.skip"}
    with pytest.raises(InvalidArchitectureError, match=r"asked only when depth in \[2, 3\]"):
        space.validate(shallow.replace(act="relu"))
    assert np.count_nonzero(space.encode(shallow)) == 4
    assert len(space.encode(shallow)) == 2 + 2 + 3 + 2 * 3 + 2


def test_discovery_runs_on_meta_and_falls_back_to_cpu() -> None:
    devices: list[str] = []

    def probe(a: Any, task: TaskInfo) -> nn.Module:
        layer = nn.Linear(2, a.choice("width", [2, 3]))
        devices.append(layer.weight.device.type)
        return layer

    assert FunctionSpace.from_function(probe).size == 2
    assert devices and set(devices) == {"meta"}, "discovery builds no real weights"
    built = FunctionSpace.from_function(probe).build(Architecture(width=3), SIGNAL)
    assert built.weight.device.type == "cpu"

    meta = _Discovery(fs.conv_net.function, "conv_net")
    meta.model()
    assert meta.on_meta
    cpu = _Discovery(fs.item_net.function, "item_net")
    model = cpu.model()
    assert not cpu.on_meta, "item_net calls .item() while building, which meta cannot do"
    assert model.names == ["scale", "extra", "extra_width"]
    assert model.decision("extra_width").conditions == (("extra", (True,)),)


def test_shared_name_is_one_decision() -> None:
    @define
    def shared(a: Any, task: TaskInfo) -> nn.Module:
        first = a.choice("width", [2, 4])
        second = a.choice("width", [2, 4])
        assert first == second
        return nn.Linear(first, second)

    assert shared.decisions == ["width"]
    assert shared.build(Architecture(width=4), SIGNAL).in_features == 4


def test_single_option_is_a_fixed_value() -> None:
    @define
    def fixed(a: Any, task: TaskInfo) -> nn.Module:
        return nn.Linear(a.choice("in", [3]), a.choice("out", [1, 2]))

    assert fixed.decisions == ["out"]
    assert fixed.build(Architecture(out=2), SIGNAL).in_features == 3


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("raises_on_deep", r"space\.path: raises_on_deep raised ValueError\('depth 2 is not "
                           r"implemented'\) after width=16 depth=2"),
        ("conflicting_options", r"asks decision 'width' with options \[64, 128\] after "
                                r"wide=true width=64, but with \[8, 16\] in another run"),
        ("asks_twice", r"asks decision 'width' twice in one run with different options"),
        ("asks_nothing", r"asks no decision .* nothing to search"),
        ("bad_options", r"decision 'width': expected a non-empty list of options"),
        ("disjunction", r"asks decision 'z' for x=0 y=1, but nasforge learnt that it is asked "
                        r"only when x=1.*restructure"),
        ("returns_junk", r"returned int .* expected a torch\.nn\.Module"),
        ("NOT_A_FUNCTION", r"is not a function"),
        ("no_such_name", r"module 'tests\.space\.function_spaces' has no attribute "
                         r"'no_such_name'"),
    ],
)
def test_bad_functions_are_config_errors(name: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        SPACES.create("function", {"path": f"{fs.PATH}:{name}"})
    assert info.value.problems[0].field == "space.path"
    assert info.value.problems[0].fix


@pytest.mark.parametrize(
    ("path", "match"),
    [
        ("no_such_module_xyz:net", r"cannot import module 'no_such_module_xyz'.*make "
                                   r"'no_such_module_xyz' importable"),
        ("just_a_name", r"expected 'module:function'"),
        ("__main__:nowhere_net", r"the main script has no attribute 'nowhere_net'"),
    ],
)
def test_bad_paths(path: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        SPACES.create("function", {"path": path})
    assert info.value.problems[0].field == "space.path"


def test_decorated_space_reports_problems_on_first_use() -> None:
    broken = define(fs.raises_on_deep)
    with pytest.raises(ConfigError, match="raised ValueError"):
        broken.sample(np.random.default_rng(0))


# -- build ------------------------------------------------------------------------------------


def test_build_materialises_lazy_layers_and_keeps_the_mode() -> None:
    space = fs.conv_net
    arch = space.sample(np.random.default_rng(3))
    model = space.build(arch, SIGNAL)
    assert model.training
    assert not any(isinstance(p, nn.parameter.UninitializedParameter) for p in model.parameters())
    assert model(torch.randn(2, 1, 16)).shape == (2, 3)
    regression = TaskInfo("reg", (1, 16), 0, "signal", problem="regression", n_targets=2)
    assert space.build(arch, regression)(torch.randn(2, 1, 16)).shape == (2, 2)


def test_build_checks_the_architecture_against_what_is_asked() -> None:
    mode = {"extra": False}

    @define
    def changing(a: Any, task: TaskInfo) -> nn.Module:
        width = a.choice("width", [2, 3])
        if mode["extra"]:
            a.choice("surprise", [0, 1])
        return nn.Linear(width, 1)

    arch = Architecture(width=2)
    assert changing.build(arch, SIGNAL).in_features == 2
    with pytest.raises(InvalidArchitectureError, match="missing decision 'width'"):
        changing.build(Architecture(), SIGNAL)
    mode["extra"] = True
    with pytest.raises(InvalidArchitectureError, match="asks decision 'surprise', which the "
                                                       "architecture does not have"):
        changing.build(arch, SIGNAL)


def test_build_output_flows_through_the_pre_flight_check() -> None:
    task = ToyTask(n_features=5, n_classes=3)
    assert check_forward(fs.conv_net, task) == []
    assert check_forward(SPACES.create("function", {"path": f"{fs.PATH}:plain_net"}), task) == []


# -- by reference -----------------------------------------------------------------------------


def test_pickles_by_reference() -> None:
    data = pickle.dumps(fs.conv_net)
    assert b"tests.space.function_spaces:conv_net" in data
    assert len(data) < 300, "the function's code and the learnt model are not pickled"
    assert pickle.loads(data) is fs.conv_net
    plain = SPACES.create("function", {"path": f"{fs.PATH}:plain_net"})
    clone = pickle.loads(pickle.dumps(plain))
    assert clone == plain and clone.decisions == plain.decisions


def test_unimportable_functions_refuse_to_pickle() -> None:
    @define
    def local(a: Any, task: TaskInfo) -> nn.Module:
        return nn.Linear(1, a.choice("w", [1, 2]))

    with pytest.raises(ConfigError, match=r"inside another function.*top level of a module"):
        pickle.dumps(local)
    # a function of the script being run pickles by its file: tests/test_references.py


def _sample_in_worker(space: FunctionSpace, seed: int) -> tuple[list[str], str, int]:
    arch = space.sample(np.random.default_rng(seed))
    model = space.build(arch, SIGNAL)
    return space.decisions, str(arch), sum(p.numel() for p in model.parameters())


def test_reaches_a_spawned_process_worker() -> None:
    from nasforge.execute import ProcessExecutor

    executor = ProcessExecutor(workers=1)
    try:
        got = executor.submit(_sample_in_worker, fs.conv_net, 5).result(timeout=120)
    finally:
        executor.shutdown()
    assert got == _sample_in_worker(fs.conv_net, 5)


def test_params_and_registry() -> None:
    assert fs.conv_net.get_params() == {"path": "tests.space.function_spaces:conv_net", "rules": []}
    assert fs.conv_net.name == "function"
    rebuilt = SPACES.create("function", fs.conv_net.get_params())
    assert rebuilt == fs.conv_net
    assert rebuilt.function is fs.conv_net.function
    assert repr(fs.conv_net) == (
        "FunctionSpace(path='tests.space.function_spaces:conv_net', rules=[])")


# -- random trees of nested conditionals ------------------------------------------------------

Tree = list[tuple[str, tuple[int, ...], list[tuple[frozenset[int], Any]]]]


@st.composite
def trees(draw: st.DrawFn, depth: int = 0, prefix: str = "d") -> Tree:
    """Decisions in sequence, each with branches asked when its value is in a set."""
    nodes: Tree = []
    for i in range(draw(st.integers(1 if depth == 0 else 0, 3 if depth == 0 else 2))):
        name = f"{prefix}{i}"
        n = draw(st.integers(2, 3))
        branches: list[tuple[frozenset[int], Any]] = []
        if depth < 2:
            for j in range(draw(st.integers(0, 2))):
                values = draw(st.frozensets(st.integers(0, n - 1), min_size=1, max_size=n - 1))
                branches.append((values, draw(trees(depth + 1, f"{name}b{j}_"))))
        nodes.append((name, tuple(range(n)), branches))
    return nodes


def _interpret(tree: Tree) -> Callable[[Any, TaskInfo], nn.Module]:
    def walk(a: Any, nodes: Tree) -> None:
        for name, options, branches in nodes:
            value = a.choice(name, list(options))
            for values, subtree in branches:
                if value in values:
                    walk(a, subtree)

    def net(a: Any, task: TaskInfo) -> nn.Module:
        walk(a, tree)
        return nn.Identity()

    return net


def _count(tree: Tree) -> int:
    return math.prod(
        sum(math.prod(_count(sub) for values, sub in branches if o in values) for o in options)
        for _, options, branches in tree
    )


@settings(max_examples=30, deadline=None)
@given(trees())
def test_random_trees(tree: Tree) -> None:
    space = FunctionSpace.from_function(_interpret(tree))
    assert space.size == _count(tree)
    archs = list(space.enumerate())
    assert len(archs) == space.size == len(set(archs))
    for arch in archs[:: max(1, len(archs) // 20)]:
        space.validate(arch)
        space.build(arch, SIGNAL)  # strict: asks exactly the architecture's decisions
    rng = np.random.default_rng(0)
    members = set(archs)
    for _ in range(10):
        arch = space.sample(rng)
        assert arch in members
        if space.size > 1:
            assert space.mutate(arch, rng) in members


def test_path_is_found_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "" in sys.path:
        pytest.skip("the current directory is already on sys.path")
    (tmp_path / "a1_user_space_mod.py").write_text(
        "from torch import nn\n\n\ndef net(a, task):\n"
        "    return nn.Linear(2, a.choice('width', [1, 2]))\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    monkeypatch.delitem(sys.modules, "a1_user_space_mod", raising=False)
    space = SPACES.create("function", {"path": "a1_user_space_mod:net"})
    assert space.decisions == ["width"]
    assert sys.path[-1] == str(tmp_path)


@define(rules=[{"not_all": {"decisions": "block*.skip", "equal": True}}])
def ruled_net(a: Any, task: TaskInfo) -> nn.Module:
    """Blocks whose skips may not all be on."""
    width = a.choice("width", [4, 8])
    layers: list[nn.Module] = [nn.Flatten(), nn.LazyLinear(width)]
    for i in range(a.choice("depth", [1, 2])):
        if a.choice(f"block{i}.skip", [True, False]):
            layers.append(nn.Identity())
        layers.append(nn.Linear(width, width))
    return nn.Sequential(*layers, nn.Linear(width, task.n_outputs))


def test_define_takes_validity_rules() -> None:
    every = list(ruled_net.enumerate())
    assert len(every) == ruled_net.size == 2 * (1 + 3)  # depth 1: skip off; depth 2: not both on
    assert all(not all(v for k, v in a.items() if k.endswith(".skip")) for a in every)
    with pytest.raises(InvalidArchitectureError, match=r"rules\.0"):
        ruled_net.validate(Architecture({"width": 4, "depth": 1, "block0.skip": True}))
    assert pickle.loads(pickle.dumps(ruled_net)) is ruled_net
    assert ruled_net.get_params()["rules"] == [
        {"not_all": {"decisions": "block*.skip", "equal": True}}]

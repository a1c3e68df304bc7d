"""Declared spaces: YAML and Python forms, naming, sharing, building, and clear errors."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.space import (
    SPACES,
    CellLayer,
    Choice,
    Conv,
    DeclaredSpace,
    Dense,
    Dropout,
    Pool,
    Repeat,
)
from nasforge.tasks.base import TaskInfo

EXAMPLES = Path(__file__).parents[2] / "examples"

BRIEF_YAML = """
space:
  name: declared
  layers:
    - {type: conv, width: [16, 32], kernel: [3, 5], activation: [relu, gelu]}
    - {type: repeat, depth: [1, 2, 3], body: [{type: conv, width: [32, 64], kernel: [3, 5, 7], skip: [true, false]}]}
    - {type: pool}
    - {type: cell, nodes: 4, ops: [none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3], channels: 16}
    - {type: dropout, p: [0.0, 0.2]}
"""  # noqa: E501

SIGNAL = TaskInfo(name="s", input_shape=(1, 20), n_classes=3, kind="signal")
IMAGE = TaskInfo(name="i", input_shape=(3, 6, 5), n_classes=4, kind="image")
TABULAR = TaskInfo(name="t", input_shape=(9,), n_classes=2, kind="tabular")


def from_yaml(text: str) -> DeclaredSpace:
    section = dict(yaml.safe_load(text)["space"])
    space = SPACES.create(section.pop("name"), section)
    assert isinstance(space, DeclaredSpace)
    return space


def test_yaml_declaration() -> None:
    space = from_yaml(BRIEF_YAML)
    assert space.decisions[:4] == ["conv0.width", "conv0.kernel", "conv0.activation",
                                   "repeat1.depth"]
    assert "repeat1.2.skip" in space.decisions
    assert "cell3.edge_3_2" in space.decisions and space.decisions[-1] == "dropout4.p"
    block = 2 * 3 * 2
    assert space.size == 8 * (block + block**2 + block**3) * 5**6 * 2
    rng = np.random.default_rng(0)
    for task in (SIGNAL, IMAGE, TABULAR):
        model = space.build(space.sample(rng), task)
        assert model(torch.randn(2, *task.input_shape)).shape == (2, task.n_classes)


def test_python_helpers_equal_the_yaml_form() -> None:
    python = DeclaredSpace(layers=[
        Conv(width=Choice([16, 32]), kernel=[3, 5], activation=Choice(["relu", "gelu"])),
        Repeat([Conv(width=Choice([32, 64]), kernel=Choice([3, 5, 7]), skip=[True, False])],
               depth=Choice([1, 2, 3])),
        Pool(),
        CellLayer(nodes=4, ops=["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                                "avg_pool_3x3"], channels=16),
        Dropout(p=Choice([0.0, 0.2])),
    ])
    assert python == from_yaml(BRIEF_YAML)


def test_params_are_json_and_rebuild_an_equal_space() -> None:
    space = DeclaredSpace(layers=[Conv(width=Choice([4, 8])), Repeat(Dense(width=[4, 8]),
                                                                     depth=[1, 2])], dims=1)
    stored = json.loads(json.dumps(space.get_params()))
    assert stored["layers"][1] == {"type": "repeat", "depth": [1, 2],
                                   "body": [{"type": "dense", "width": [4, 8]}]}
    assert SPACES.create("declared", stored) == space


def test_primitive_cell_and_repeat_as_layers() -> None:
    space = DeclaredSpace(layers=[
        Conv(width=4),
        Repeat([Conv(width=[4, 8], name="a"), Conv(width=[8, 4], name="b")], depth=Choice([1, 2])),
        Repeat(CellLayer(ops=["none", "nor_conv_3x3"]), depth=2),
    ])
    assert space.decisions[:3] == ["repeat1.depth", "repeat1.0.a.width", "repeat1.0.b.width"]
    assert "repeat2.1.edge_3_2" in space.decisions
    assert space.size == (4 + 16) * (2**6) ** 2


def test_flattened_body_needs_no_name_but_a_named_one_keeps_it() -> None:
    flat = DeclaredSpace(layers=[Repeat([Conv(width=[4, 8])], depth=2)])
    named = DeclaredSpace(layers=[Repeat([Conv(width=[4, 8], name="c")], depth=2)])
    assert flat.decisions == ["repeat0.0.width", "repeat0.1.width"]
    assert named.decisions == ["repeat0.0.c.width", "repeat0.1.c.width"]


def test_same_name_same_spec_shares_decisions() -> None:
    cell = {"type": "cell", "name": "c", "ops": ["skip_connect", "nor_conv_1x1"]}
    space = DeclaredSpace(layers=[Conv(width=4), cell, Pool(), cell])
    assert space.decisions == [f"c.edge_{j}_{i}" for j in range(1, 4) for i in range(j)]
    assert space.size == 2**6


def test_single_element_list_is_fixed() -> None:
    space = DeclaredSpace(layers=[Conv(width=[8], kernel=[3, 5])])
    assert space.decisions == ["conv0.kernel"]


def test_widths_and_skips_change_the_network() -> None:
    space = DeclaredSpace(layers=[Conv(width=[4, 8], skip=[True, False], stride=2)])
    n = {}
    for width in (4, 8):
        for skip in (True, False):
            arch = Architecture({"conv0.width": width, "conv0.skip": skip})
            model = space.build(arch, SIGNAL)
            assert model(torch.randn(2, 1, 20)).shape == (2, 3)
            n[width, skip] = sum(p.numel() for p in model.parameters())
    assert n[8, False] > n[4, False] and n[4, True] > n[4, False]


def test_shapes_are_tracked_through_strides_pools_and_flattening() -> None:
    space = DeclaredSpace(layers=[
        Conv(width=3, kernel=[1, 3, 5], stride=[1, 2, 3]),
        Pool(size=[2, 3], kind=["avg", "max"]),
        {"type": "resblock", "width": 6, "stride": [1, 2]},
        Dense(width=5, norm=["batch", "layer", "none"], skip=[True, False]),
        Conv(width=2),
        {"type": "norm", "kind": ["batch", "layer"]},
        {"type": "activation", "fn": ["gelu", "tanh"]},
    ])
    rng = np.random.default_rng(1)
    for arch in [space.sample(rng) for _ in range(12)]:
        for task in (SIGNAL, IMAGE, TABULAR,
                     TaskInfo(name="one", input_shape=(2, 1), n_classes=2, kind="signal")):
            model = space.build(arch, task)
            out = model(torch.randn(3, *task.input_shape))
            assert out.shape == (3, task.n_classes), (arch, task)


@pytest.mark.parametrize(
    ("layers", "field", "match"),
    [
        ([{"type": "convv", "width": 8}], "layers[0].type",
         "unknown layer type 'convv'.*did you mean 'conv'.*activation, conv, dense"),
        ([{"width": 8}], "layers[0].type", "missing layer type"),
        ([{"type": "conv", "width": []}], "layers[0].width", "non-empty list of options"),
        ([{"type": "conv", "width": [8, 8]}], "layers[0].width", "distinct"),
        ([{"type": "conv"}], "layers[0].width", "missing required field"),
        ([{"type": "conv", "width": 8, "kernal": 3}], "layers[0].kernal",
         "unknown field.*did you mean 'kernel'"),
        ([{"type": "conv", "width": 8, "kernel": [3, 4]}], "layers[0].kernel",
         "an odd int >= 1; got 4"),
        ([{"type": "conv", "width": 0}], "layers[0].width", "an int >= 1 or a list"),
        ([{"type": "conv", "width": 8, "activation": ["relu", "swish"]}],
         "layers[0].activation", "got 'swish'"),
        ([{"type": "dropout", "p": 1.5}], "layers[0].p", r"a number in \[0, 1\)"),
        ([{"type": "repeat", "depth": [1, -1], "body": [{"type": "pool"}]}],
         "layers[0].depth", "int >= 0"),
        ([{"type": "repeat", "depth": 2, "body": []}], "layers[0].body", "non-empty list"),
        ([{"type": "repeat", "body": [{"type": "conv", "width": "wide"}]}],
         "layers[0].body[0].width", "an int >= 1"),
        ([{"type": "cell", "ops": ["none", "sep_conv_3x3"]}], "layers[0].ops",
         "unknown cell operation 'sep_conv_3x3'"),
        ([{"type": "cell"}], "layers[0].ops", "missing required field"),
        ([{"type": "cell", "ops": ["none"], "nodes": 1}], "layers[0].nodes", "int >= 2"),
        ([{"type": "conv", "width": 8, "name": "a"}, {"type": "conv", "width": 9, "name": "a"}],
         "layers[1].name", "already used by layers\\[0\\] with a different spec"),
        ([{"type": "pool", "name": "bad.name"}], "layers[0].name", "letters, digits"),
        (["conv"], "layers[0]", "expected a layer"),
        ([], "layers", "non-empty list of layers"),
    ],
)
def test_bad_declarations_say_where_and_what(layers: list, field: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        SPACES.create("declared", {"layers": layers})
    assert field in [p.field for p in info.value.problems], info.value.problems


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        DeclaredSpace(layers=[{"type": "conv", "width": []}, {"type": "nope"}])
    assert [p.field for p in info.value.problems] == ["layers[0].width", "layers[1].type"]


def test_bad_dims_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="dims"):
        SPACES.create("declared", {"layers": [Pool()], "dims": 3})


def test_example_yaml_loads_and_builds() -> None:
    text = (EXAMPLES / "custom_space.yaml").read_text()
    space = from_yaml(text)
    assert "stage.2.kernel" in space.decisions and "head_drop.p" in space.decisions
    arch = space.sample(np.random.default_rng(0))
    assert space.build(arch, SIGNAL)(torch.randn(2, 1, 20)).shape == (2, 3)


def test_example_python_runs(capsys: pytest.CaptureFixture[str]) -> None:
    namespace = runpy.run_path(str(EXAMPLES / "custom_space.py"))
    namespace["main"]()
    out = capsys.readouterr().out
    assert "architectures; decisions: conv0.width" in out
    assert "logits (8, 10)" in out

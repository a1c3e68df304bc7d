"""NAS-Bench-201: strings, parsing errors, size, network shape, and agreement with the table."""

from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nasforge.architecture import Architecture
from nasforge.errors import InvalidArchitectureError
from nasforge.space import (
    NB201_DECISIONS,
    NB201_OPS,
    SPACES,
    CellLayer,
    DeclaredSpace,
    NB201Space,
    arch_to_nb201,
    nb201_to_arch,
)
from nasforge.space._modules import CellModule
from nasforge.space._nb201 import nb201_expression
from nasforge.tasks.base import TaskInfo

EXAMPLE = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|"
           "+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
MNIST1D = TaskInfo(name="mnist1d", input_shape=(1, 40), n_classes=10, kind="signal")
CIFAR10 = TaskInfo(name="cifar10", input_shape=(3, 32, 32), n_classes=10, kind="image")


def table_path() -> Path | None:
    candidates = [os.environ.get("NASFORGE_NB201", ""),
                  str(Path(__file__).parents[3] / "shared/data/nasbench201/nb201_table.csv.gz"),
                  "/work/shared/data/nasbench201/nb201_table.csv.gz"]
    for c in candidates:
        if c and Path(c).is_file() and c.endswith(".csv.gz"):
            return Path(c)
    return None


def table_rows() -> list[dict[str, str]]:
    path = table_path()
    if path is None:
        pytest.skip("NAS-Bench-201 table not found: set NASFORGE_NB201 to nb201_table.csv.gz")
    with gzip.open(path, "rt") as f:
        return list(csv.DictReader(f))


def string_of(ops: list[str]) -> str:
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)


def test_example_string_round_trip() -> None:
    space = NB201Space(dims=1)
    arch = space.parse(EXAMPLE)
    assert arch == nb201_to_arch(EXAMPLE)
    assert arch["cell.edge_1_0"] == "nor_conv_3x3" and arch["cell.edge_3_2"] == "skip_connect"
    assert space.format(arch) == EXAMPLE == arch_to_nb201(arch)
    assert space.parse(str(arch)) == arch  # the canonical JSON form is accepted too


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(NB201_OPS), min_size=6, max_size=6))
def test_string_round_trip_property(ops: list[str]) -> None:
    text = string_of(ops)
    arch = nb201_to_arch(text)
    assert list(arch[d] for d in NB201_DECISIONS) == ops
    assert arch_to_nb201(arch) == text
    space = NB201Space()
    assert space.parse(space.format(arch)) == arch


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "found 1 node"),
        ("|none~0|", "found 1 node"),
        ("|none~0|+|none~0|none~1|", "found 2 node"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "must start and end with '\\|'"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 must list 2 input"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "must be 'op~0'"),
        ("|none|+|none~0|none~1|+|none~0|none~1|none~2|", "must be 'op~0'"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|", "found 4 node"),
    ],
)
def test_malformed_strings(text: str, match: str) -> None:
    with pytest.raises(InvalidArchitectureError, match=match):
        NB201Space().parse(text)


def test_unknown_op_names_the_edge() -> None:
    with pytest.raises(InvalidArchitectureError, match="unknown NB201 operation 'conv_3x3'") as e:
        nb201_to_arch("|none~0|+|none~0|conv_3x3~1|+|none~0|none~1|none~2|")
    assert e.value.path == ("cell", "edge_2_1")


def test_arch_to_nb201_needs_every_edge() -> None:
    with pytest.raises(InvalidArchitectureError, match=r"missing 'cell\.edge_1_0'"):
        arch_to_nb201(Architecture())


def test_size_decisions_and_enumeration() -> None:
    space = NB201Space()
    assert space.size == 15_625
    assert space.decisions == list(NB201_DECISIONS)
    archs = list(space.enumerate())
    assert len(set(archs)) == 15_625
    assert arch_to_nb201(archs[0]) == string_of(["none"] * 6)
    assert arch_to_nb201(archs[1]) == string_of(["none"] * 5 + ["skip_connect"])


def test_enumeration_covers_the_official_table() -> None:
    rows = table_rows()
    ours = {arch_to_nb201(a) for a in NB201Space().enumerate()}
    assert ours == {r["arch"] for r in rows}
    # The official index order comes from the benchmark file and is not derivable from the
    # cell (index 0 is an avg_pool cell), so it is matched through the strings instead.
    assert rows[0]["arch"] != arch_to_nb201(next(NB201Space().enumerate()))


def test_params_equal_the_official_count() -> None:
    rows = table_rows()
    space = NB201Space(dims=2, channels=16, cells_per_stage=5)
    for row in rows[:: len(rows) // 12]:
        model = space.build(space.parse(row["arch"]), CIFAR10)
        n_params = sum(p.numel() for p in model.parameters())
        assert n_params / 1e6 == pytest.approx(float(row["c10_params_M"]), abs=5e-7), row["arch"]


def test_one_cell_shared_by_every_position() -> None:
    space = NB201Space(dims=1, cells_per_stage=2)
    model = space.build(space.parse(EXAMPLE), MNIST1D)
    cells = [mod for mod in model.modules() if isinstance(mod, CellModule)]
    assert len(cells) == 6
    assert len({tuple(c.edges.keys()) for c in cells}) == 1
    assert cells[0] is not cells[1]  # the same architecture, separate weights


def test_mnist1d_network_is_small() -> None:
    space = SPACES.create("nb201", {"dims": 1, "channels": 16, "cells_per_stage": 2})
    counts = {}
    for op in NB201_OPS:
        model = space.build(nb201_to_arch(string_of([op] * 6)), MNIST1D)
        counts[op] = sum(p.numel() for p in model.parameters())
        out = model(torch.randn(8, 1, 40))
        assert out.shape == (8, 10)
        out.logsumexp(dim=1).mean().backward()
    assert counts["none"] == counts["skip_connect"] == counts["avg_pool_3x3"] == 26_842
    assert counts["nor_conv_3x3"] == 223_066


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("task", [
    MNIST1D,
    TaskInfo(name="img", input_shape=(3, 9, 7), n_classes=5, kind="image"),
    TaskInfo(name="tab", input_shape=(7,), n_classes=2, kind="tabular"),
])
def test_any_dims_on_any_input(dims: int, task: TaskInfo) -> None:
    space = NB201Space(dims=dims, channels=4, cells_per_stage=1)
    arch = space.sample(np.random.default_rng(0))
    assert space.build(arch, task)(torch.randn(3, *task.input_shape)).shape == (3, task.n_classes)


def test_same_space_declared_by_hand() -> None:
    """NB201's cell decisions are those of a plain declared cell layer named ``cell``."""
    declared = DeclaredSpace(layers=[CellLayer(ops=list(NB201_OPS), name="cell")])
    assert declared.decisions == NB201Space().decisions
    assert declared.size == NB201Space().size


# -- canonical forms ------------------------------------------------------------------------------

N_CLASSES = 4930
"""Distinct functions among the 15,625 cells (see the NB201 module docstring)."""


def _numeric_outputs(space: NB201Space) -> dict[Architecture, tuple[float, ...]]:
    """Each cell's output on a fixed input, with one fixed random map per operation type.

    A brute force of the isomorphism rules: every op maps zero to zero (tanh/sin of a linear
    map), ``skip_connect`` is the identity, ``none`` is zero, nodes sum their inputs.
    """
    rng = np.random.default_rng(0)
    maps = {op: rng.normal(size=(6, 6)) for op in NB201_OPS[2:]}
    funcs = {
        "nor_conv_1x1": lambda v: np.tanh(maps["nor_conv_1x1"] @ v),
        "nor_conv_3x3": lambda v: np.sin(maps["nor_conv_3x3"] @ v),
        "avg_pool_3x3": lambda v: np.tanh(maps["avg_pool_3x3"] @ v) ** 3 + 0.5 * v,
    }
    x = rng.normal(size=6)
    out = {}
    for arch in space.enumerate():
        nodes = [x]
        for j in range(1, 4):
            total = np.zeros(6)
            for i in range(j):
                op = arch[f"cell.edge_{j}_{i}"]
                if op == "skip_connect":
                    total = total + nodes[i]
                elif op != "none":
                    total = total + funcs[op](nodes[i])
            nodes.append(total)
        out[arch] = tuple(np.round(nodes[3], 9).tolist())
    return out


def test_canonical_classes_are_the_distinct_functions() -> None:
    space = NB201Space(dims=1)
    outputs = _numeric_outputs(space)
    by_output: dict[tuple[float, ...], Architecture] = {}
    for arch, value in outputs.items():  # enumeration order: the first is the representative
        by_output.setdefault(value, arch)
    assert len(by_output) == N_CLASSES
    assert len({space.canonical(a) for a in outputs}) == N_CLASSES
    for arch, value in outputs.items():
        assert space.canonical(arch) == by_output[value]


def test_an_unreachable_output_is_the_all_none_cell() -> None:
    space = NB201Space(dims=1)
    all_none = Architecture(dict.fromkeys(NB201_DECISIONS, "none"))
    # Node 3 reads only nodes 1 and 2, which see nothing of the input.
    dead = nb201_to_arch("|none~0|+|none~0|nor_conv_3x3~1|"
                         "+|none~0|avg_pool_3x3~1|skip_connect~2|")
    assert space.canonical(dead) == all_none
    assert space.canonical(all_none) == all_none
    assert nb201_expression(dead) == "0"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # Sums commute: the two paths into node 3 swapped between the edges that carry them.
        ("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|",
         "|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|"),
        # A skip chain is the identity: x -> 1 -> 3 equals x -> 3.
        ("|skip_connect~0|+|none~0|none~1|+|none~0|nor_conv_1x1~1|none~2|",
         "|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|"),
        # A dead branch (node 2 feeds nothing) does not matter.
        ("|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|none~1|none~2|",
         "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"),
    ],
)
def test_isomorphic_cells_share_a_canonical_form(a: str, b: str) -> None:
    space = NB201Space(dims=1)
    arch_a, arch_b = nb201_to_arch(a), nb201_to_arch(b)
    assert arch_a != arch_b
    assert space.canonical(arch_a) == space.canonical(arch_b)
    assert space.canonical(space.canonical(arch_a)) == space.canonical(arch_a)


def test_different_functions_stay_apart() -> None:
    space = NB201Space(dims=1)
    one = nb201_to_arch("|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|")
    zero_input = nb201_to_arch("|none~0|+|none~0|none~1|+|nor_conv_1x1~0|nor_conv_1x1~1|none~2|")
    two = nb201_to_arch("|skip_connect~0|+|none~0|none~1|+|nor_conv_1x1~0|nor_conv_1x1~1|none~2|")
    assert space.canonical(one) == space.canonical(zero_input)  # conv(x) + conv(0) = conv(x)
    assert space.canonical(one) != space.canonical(two)  # conv(x) vs two convs of x


def test_canonical_respects_rules_and_refuses_outsiders() -> None:
    # Forbid the all-none cell: the zero class is then led by the next zero cell.
    space = NB201Space(dims=1, rules=[{"count": {"decisions": "cell.edge_*", "equal": "none",
                                                 "max": 5}}])
    dead = nb201_to_arch("|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|")
    representative = space.canonical(dead)
    space.validate(representative)
    assert nb201_expression(representative) == "0"
    with pytest.raises(InvalidArchitectureError, match="rules"):
        space.canonical(Architecture(dict.fromkeys(NB201_DECISIONS, "none")))


@pytest.mark.parametrize("text", ["{|avg_pool_3x3~0|+|none~0|", "{", '{"a": }', "  {[1]"])
def test_a_broken_json_form_is_an_invalid_architecture_not_a_bare_value_error(text: str) -> None:
    # regression (fuzzing): text starting with "{" went to json.loads, whose ValueError escaped
    with pytest.raises(InvalidArchitectureError, match="not an architecture string"):
        SPACES.create("nb201", {}).parse(text)

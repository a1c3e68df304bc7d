"""Spaces of plain decisions (``choices``): declaration, YAML shape checks, builders."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
import torch
import yaml

import nasforge as nf
from nasforge.errors import ConfigError
from nasforge.space import SPACES, ChoicesSpace
from nasforge.tasks.base import TaskInfo
from nasforge.testing.space_contract import SearchSpaceContract
from tests.space import function_spaces as fs

GRAPH = {"link": ["chain", "skip", "dense"], "ops": {"repeat": 4, "options": ["conv", "skip",
                                                                              "pool"]}}
TASK = TaskInfo(name="tab", input_shape=(5,), n_classes=3, kind="tabular")


class TestChoicesSpaces(SearchSpaceContract):
    @pytest.fixture(params=["lookup", "built"])
    def space(self, request: pytest.FixtureRequest) -> ChoicesSpace:
        if request.param == "lookup":
            return ChoicesSpace(decisions=GRAPH)
        return ChoicesSpace(decisions=fs.CHOICES, builder=f"{fs.PATH}:build_choices")

    def test_build(self, space: ChoicesSpace, task_info: TaskInfo) -> None:
        if space.builder is None:
            pytest.skip("a lookup space has no builder")
        super().test_build(space, task_info)


def test_yaml_declaration() -> None:
    section = yaml.safe_load("""
    name: choices
    decisions:
      link: [chain, skip, dense]
      ops: {repeat: 4, options: [conv, skip, pool]}
      scale: [0.5, 1.0]
      fixed: [7]
    """)
    space = SPACES.create(section.pop("name"), section)
    assert space.decisions == ["link", "ops.0", "ops.1", "ops.2", "ops.3", "scale"]
    assert space.size == 3 * 3**4 * 2
    assert nf.space.Choices is ChoicesSpace
    arch = space.parse("link=skip ops.0=conv ops.1=pool ops.2=skip ops.3=conv scale=1")
    assert arch["scale"] == 1.0 and isinstance(arch["scale"], float)
    assert SPACES.create("choices", space.get_params()) == space
    assert pickle.loads(pickle.dumps(space)) == space


def test_lookup_space_has_no_builder() -> None:
    space = ChoicesSpace(decisions=GRAPH)
    arch = space.sample(np.random.default_rng(0))
    with pytest.raises(ConfigError, match=r"space\.builder: this choices space has no builder"):
        space.build(arch, TASK)


def test_builder_builds() -> None:
    space = ChoicesSpace(decisions=fs.CHOICES, builder=f"{fs.PATH}:build_choices")
    arch = space.parse("width=8 ops.0=relu ops.1=skip")
    assert space.build(arch, TASK)(torch.randn(2, 5)).shape == (2, 3)
    clone = pickle.loads(pickle.dumps(space))
    assert clone.build(arch, TASK)(torch.randn(1, 5)).shape == (1, 3)


@pytest.mark.parametrize(
    ("decisions", "field", "match"),
    [
        ({}, "space.decisions", "non-empty mapping"),
        ([["a", "b"]], "space.decisions", "valid dictionary"),
        ({"link": []}, "space.decisions.link", "non-empty list of options"),
        ({"link": "abc"}, "space.decisions.link", "expected a list of options"),
        ({"link": ["a", "a"]}, "space.decisions.link", "distinct"),
        ({"a.b": [1, 2]}, "space.decisions.a.b", "without dots"),
        ({"ops": {"repeat": 0, "options": [1, 2]}}, "space.decisions.ops.repeat", ">= 1"),
        ({"ops": {"repeat": 2}}, "space.decisions.ops.options", "missing"),
        ({"ops": {"repeat": 2, "options": [1, 2], "depth": 3}}, "space.decisions.ops.depth",
         "unknown key"),
        ({"ops": {"options": [[1], 2]}}, "space.decisions.ops.options", "str, int, float"),
        ({"a": [1], "b": ["x"]}, "space.decisions", "nothing to search"),
    ],
)
def test_bad_declarations(decisions: Any, field: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        SPACES.create("choices", {"decisions": decisions}, field="space")
    assert info.value.problems[0].field == field


def test_every_problem_is_listed() -> None:
    with pytest.raises(ConfigError) as info:
        ChoicesSpace(decisions={"a": [], "b": [1, 1], "c": [1, 2]})
    assert [p.field for p in info.value.problems] == ["space.decisions.a", "space.decisions.b"]


@pytest.mark.parametrize(
    ("builder", "match"),
    [
        ("no_such_module_xyz:build", "space.builder: cannot import module 'no_such_module_xyz'"),
        (f"{fs.PATH}:missing", "space.builder: module 'tests.space.function_spaces' has no "
                               "attribute 'missing'"),
        (f"{fs.PATH}:NOT_A_FUNCTION", "space.builder: .* not a function"),
    ],
)
def test_bad_builders(builder: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ChoicesSpace(decisions=GRAPH, builder=builder)

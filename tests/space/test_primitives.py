"""The generic engine: names, sizes, inactive decisions, sampling, mutation, encoding, errors."""

from __future__ import annotations

import numpy as np
import pytest

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, InvalidArchitectureError
from nasforge.space import Cell, Choice, Repeat, Structure


def stage_space() -> Structure:
    return Structure({
        "stage0": {"blocks": Repeat({"kernel": Choice([3, 5]), "act": Choice(["relu", "gelu"])},
                                    depth=Choice([1, 2, 3]))},
        "head": {"width": Choice([8, 16, 32])},
    })


def nested_space() -> Structure:
    inner = Repeat({"k": Choice([1, 2])}, depth=Choice([0, 1, 2]))
    return Structure({"outer": Repeat({"inner": inner, "w": Choice(["a", "b", "c"])},
                                      depth=Choice([1, 2]))})


def test_names_come_from_the_declaration() -> None:
    names = [d.name for d in stage_space().decisions]
    assert names[:3] == ["stage0.blocks.depth", "stage0.blocks.0.kernel", "stage0.blocks.0.act"]
    assert "stage0.blocks.2.kernel" in names
    assert names[-1] == "head.width"


def test_cell_edges_in_nb201_order() -> None:
    s = Structure({"cell": Cell(n_nodes=4, ops=["a", "b"])})
    assert [d.name for d in s.decisions] == [
        "cell.edge_1_0", "cell.edge_2_0", "cell.edge_2_1",
        "cell.edge_3_0", "cell.edge_3_1", "cell.edge_3_2",
    ]
    assert s.size == 2**6


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (stage_space, (4 + 16 + 64) * 3),
        # outer body: 3 widths x (1 + 2 + 4) inner = 21 -> 21 + 21**2
        (nested_space, 21 + 21**2),
        (lambda: Structure({"a": Choice([1, 2, 3]), "b": [Choice(["x", "y"]), 7]}), 6),
        (lambda: Structure({"r": Repeat({"k": Choice([1, 2])}, depth=3)}), 8),
    ],
)
def test_size_is_exact_and_matches_enumeration(factory, expected) -> None:
    s = factory()
    assert s.size == expected
    archs = list(s.enumerate())
    assert len(archs) == expected == len(set(archs))
    for arch in archs:
        s.validate(arch)


def test_single_option_choice_is_fixed() -> None:
    s = Structure({"a": Choice([4]), "b": Choice([1, 2]), "r": Repeat({"k": Choice([3])},
                                                                       depth=Choice([2]))})
    assert [d.name for d in s.decisions] == ["b"]
    assert s.resolve(Architecture(b=2)) == {"a": 4, "b": 2, "r": [{"k": 3}, {"k": 3}]}


def test_inactive_positions_are_absent() -> None:
    s = stage_space()
    rng = np.random.default_rng(0)
    depths = set()
    for _ in range(50):
        arch = s.sample(rng)
        depth = arch["stage0.blocks.depth"]
        depths.add(depth)
        for k in range(3):
            assert (f"stage0.blocks.{k}.kernel" in arch) == (k < depth)
    assert depths == {1, 2, 3}


def test_depth_is_sampled_uniformly() -> None:
    s = stage_space()
    rng = np.random.default_rng(1)
    counts = np.bincount([s.sample(rng)["stage0.blocks.depth"] for _ in range(3000)],
                         minlength=4)[1:]
    assert counts.min() > 900 and counts.max() < 1100


def test_resolve() -> None:
    s = stage_space()
    arch = Architecture({"stage0.blocks.depth": 2, "stage0.blocks.0.kernel": 3,
                         "stage0.blocks.0.act": "relu", "stage0.blocks.1.kernel": 5,
                         "stage0.blocks.1.act": "gelu", "head.width": 8})
    assert s.resolve(arch) == {
        "stage0": {"blocks": [{"kernel": 3, "act": "relu"}, {"kernel": 5, "act": "gelu"}]},
        "head": {"width": 8},
    }


def test_validate_errors_name_the_decision() -> None:
    s = stage_space()
    arch = s.sample(np.random.default_rng(2)).replace(**{"stage0.blocks.depth": 1})
    arch = s.complete(arch)
    with pytest.raises(InvalidArchitectureError, match=r"must be one of \[3, 5\]; got 4") as e:
        s.validate(arch.replace(**{"stage0.blocks.0.kernel": 4}))
    assert e.value.path == ("stage0", "blocks", "0", "kernel")
    with pytest.raises(InvalidArchitectureError, match=r"inactive because stage0\.blocks\.depth=1"):
        s.validate(arch.replace(**{"stage0.blocks.1.kernel": 3}))
    with pytest.raises(InvalidArchitectureError, match=r"did you mean 'head\.width'") as e:
        s.validate(arch.replace(**{"head.widht": 8}))
    assert e.value.path == ("head", "widht")
    missing = {k: v for k, v in arch.items() if k != "head.width"}
    with pytest.raises(InvalidArchitectureError, match=r"missing decision 'head.width'.*\[8, 16"):
        s.validate(Architecture(missing))
    with pytest.raises(InvalidArchitectureError, match="expected an Architecture"):
        s.validate("not an arch")  # type: ignore[arg-type]


def test_values_are_typed_strictly() -> None:
    s = Structure({"p": Choice([0, 1]), "f": Choice([0.5, 1.0])})
    s.validate(Architecture(p=1, f=1.0))
    with pytest.raises(InvalidArchitectureError, match="got True"):
        s.validate(Architecture(p=True, f=1.0))
    with pytest.raises(InvalidArchitectureError, match="got 1 "):
        s.validate(Architecture(p=1, f=1))


def test_mutate_changes_exactly_one_decision_when_depth_is_fixed() -> None:
    s = Structure({"a": Choice([1, 2, 3]), "b": Choice(["x", "y"]), "c": Choice([True, False])})
    rng = np.random.default_rng(3)
    arch = s.sample(rng)
    for _ in range(30):
        child = s.mutate(arch, rng)
        assert sum(child[k] != arch[k] for k in arch) == 1
        arch = child


def test_growing_depth_copies_the_previous_position() -> None:
    s = stage_space()
    arch = Architecture({"stage0.blocks.depth": 1, "stage0.blocks.0.kernel": 5,
                         "stage0.blocks.0.act": "gelu", "head.width": 8})
    deeper = [n for n in s.neighbours(arch) if n["stage0.blocks.depth"] == 3]
    assert len(deeper) == 1
    assert deeper[0]["stage0.blocks.2.kernel"] == 5 and deeper[0]["stage0.blocks.1.act"] == "gelu"
    shallower = s.complete(deeper[0].replace(**{"stage0.blocks.depth": 1}), "stage0.blocks.depth")
    assert shallower == arch


def test_nested_growth_copies_within_the_right_repeat() -> None:
    s = nested_space()
    arch = s.complete({"outer.depth": 1, "outer.0.inner.depth": 2, "outer.0.inner.0.k": 2,
                       "outer.0.inner.1.k": 1, "outer.0.w": "c"})
    grown = s.complete({**arch, "outer.depth": 2}, "outer.depth")
    assert grown["outer.1.w"] == "c" and grown["outer.1.inner.depth"] == 2
    assert grown["outer.1.inner.1.k"] == 1
    s.validate(grown)


def test_neighbours_count_and_order() -> None:
    s = Structure({"a": Choice([1, 2, 3]), "b": Choice(["x", "y"])})
    arch = Architecture(a=1, b="x")
    assert s.neighbours(arch) == [Architecture(a=2, b="x"), Architecture(a=3, b="x"),
                                  Architecture(a=1, b="y")]


def test_encode_length_and_inactive_zeros() -> None:
    s = stage_space()
    assert s.n_features == 3 + 3 * (2 + 2) + 3
    rng = np.random.default_rng(4)
    for _ in range(20):
        arch = s.sample(rng)
        v = s.encode(arch)
        assert v.shape == (s.n_features,)
        assert v.sum() == len(arch)  # one 1 per active decision, zeros elsewhere
        depth = arch["stage0.blocks.depth"]
        block = slice(3 + 4 * depth, 3 + 4 * 3)
        assert not v[block].any()


def test_mutating_a_single_architecture_space_fails_clearly() -> None:
    s = Structure({"a": 1})
    assert s.size == 1
    with pytest.raises(ConfigError, match="single architecture"):
        s.mutate(Architecture(), np.random.default_rng(0))
    assert s.neighbours(Architecture()) == []


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Choice([]), "non-empty"),
        (lambda: Choice([1, 1]), "distinct"),
        (lambda: Choice([[1]]), "str, int, float or bool"),
        (lambda: Choice("abc"), "list of options"),
        (lambda: Repeat({}, depth=-1), "ints >= 0"),
        (lambda: Repeat({}, depth=[1, "2"]), "ints >= 0"),
        (lambda: Cell(n_nodes=1, ops=["a"]), "int >= 2"),
        (lambda: Cell(ops=[1, 2]), "operation names"),
        (lambda: Structure({"a.b": Choice([1, 2])}), "without dots"),
        (lambda: Structure({"a": object()}), "unsupported declaration node"),
        (lambda: Structure(Choice([1, 2])), "no name"),
    ],
)
def test_bad_declarations(make, match) -> None:
    with pytest.raises(ConfigError, match=match):
        make()

"""Validity rules (nasforge.space.rules): the vocabulary, its checks and the rule-aware space
operations, on declared spaces and NB201."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, InvalidArchitectureError
from nasforge.space import SPACES, DeclaredSpace, NB201Space
from nasforge.space.rules import Rules, reference_of, resolve_reference

LAYERS = [
    {"type": "conv", "width": [4, 8], "kernel": [3, 5]},
    {"type": "repeat", "depth": [1, 2], "body": [{"type": "conv", "width": 8, "kernel": [3, 5]}]},
]
SKIP_ALL = {"not_all": {"decisions": "cell.edge_*", "equal": "skip_connect"}}


def no_big_kernels(arch: Architecture) -> bool:
    """A predicate for the tests: at most one kernel of 5."""
    return sum(1 for k, v in arch.items() if k.endswith("kernel") and v == 5) <= 1


def not_a_bool(arch: Architecture) -> str:
    return "yes"


def declared(rules: list[dict[str, object]]) -> DeclaredSpace:
    return DeclaredSpace(layers=LAYERS, rules=rules)


def brute_force(space: DeclaredSpace, keeps: object) -> list[Architecture]:
    unruled = DeclaredSpace(layers=LAYERS)
    return [a for a in unruled.enumerate() if keeps(a)]  # type: ignore[operator]


def test_forbid_removes_a_combination() -> None:
    space = declared([{"forbid": {"conv0.width": 4, "conv0.kernel": 3}}])
    expected = brute_force(space, lambda a: not (a["conv0.width"] == 4 and a["conv0.kernel"] == 3))
    assert list(space.enumerate()) == expected
    assert space.size == len(expected) == 18  # 24 minus the 6 with width 4 and kernel 3
    bad = expected[0].replace(**{"conv0.width": 4, "conv0.kernel": 3})
    with pytest.raises(InvalidArchitectureError, match=r"space\.rules\.0 \(forbid") as info:
        space.validate(bad)
    assert info.value.path == ("space", "rules", "0")


def test_forbid_with_a_list_means_any_of_the_values() -> None:
    space = declared([{"forbid": {"conv0.kernel": [3, 5], "conv0.width": 8}}])
    assert all(a["conv0.width"] == 4 for a in space.enumerate())


def test_not_all_counts_only_present_decisions() -> None:
    # repeat1.1.kernel exists only at depth 2: at depth 1 the rule is about two kernels.
    space = declared([{"not_all": {"decisions": "*kernel", "equal": 5}}])

    def keeps(a: Architecture) -> bool:
        kernels = [v for k, v in a.items() if k.endswith("kernel")]
        return not all(k == 5 for k in kernels)

    assert list(space.enumerate()) == brute_force(space, keeps)


def test_count_bounds_how_many_decisions_take_a_value() -> None:
    space = declared([{"count": {"decisions": ["*kernel"], "equal": [5], "min": 1, "max": 1}}])

    def keeps(a: Architecture) -> bool:
        return sum(v == 5 for k, v in a.items() if k.endswith("kernel")) == 1

    assert list(space.enumerate()) == brute_force(space, keeps)


def test_a_predicate_by_reference_and_by_function() -> None:
    by_name = declared([{"valid": f"{__name__}:no_big_kernels"}])
    by_function = declared([{"valid": no_big_kernels}])
    assert by_function.rules == by_name.rules == [{"valid": f"{__name__}:no_big_kernels"}]
    assert by_function == by_name
    assert list(by_name.enumerate()) == brute_force(by_name, no_big_kernels)
    clone = pickle.loads(pickle.dumps(by_function))
    assert clone.sample(np.random.default_rng(0)) == by_name.sample(np.random.default_rng(0))


def test_a_predicate_must_be_importable_and_return_a_bool() -> None:
    with pytest.raises(ConfigError, match=r"space\.rules\.0\.valid: a lambda cannot be imported"):
        declared([{"valid": lambda a: True}])
    with pytest.raises(ConfigError, match=r"cannot import module 'no_such_module_xyz'"):
        declared([{"valid": "no_such_module_xyz:f"}])
    with pytest.raises(ConfigError, match=r"has no attribute 'missing'"):
        declared([{"valid": f"{__name__}:missing"}])
    with pytest.raises(ConfigError, match=r"expected 'module:function'"):
        declared([{"valid": "no colon"}])
    space = declared([{"valid": f"{__name__}:not_a_bool"}])
    with pytest.raises(ConfigError, match=r"returned str 'yes'.*return True \(valid\)"):
        space.sample(np.random.default_rng(0))


@pytest.mark.parametrize(
    ("rule", "field", "text"),
    [
        ({"forbid": {"conv0.widht": 4}}, r"space\.rules\.0\.forbid\.conv0\.widht",
         r"did you mean 'conv0\.width'"),
        ({"forbid": {"conv0.width": 7}}, r"space\.rules\.0\.forbid\.conv0\.width",
         r"7 is not an option.*use one of \[4, 8\]"),
        ({"not_all": {"decisions": "cell.*", "equal": 3}}, r"space\.rules\.0\.not_all\.decisions",
         "matches no decision"),
        ({"not_all": {"decisions": "*kernel"}}, r"space\.rules\.0\.not_all",
         "expected a mapping with 'decisions' and 'equal'"),
        ({"count": {"decisions": "*kernel", "equal": 5}}, r"space\.rules\.0\.count",
         "neither min nor max"),
        ({"count": {"decisions": "*kernel", "equal": 5, "min": 2, "max": 1}},
         r"space\.rules\.0\.count\.min", "must be <= max"),
        ({"count": {"decisions": "*kernel", "equal": 5, "max": 9}},
         r"space\.rules\.0\.count\.max", "never applies"),
        ({"forbidd": {"conv0.width": 4}}, r"space\.rules\.0", "did you mean 'forbid'"),
        ({"forbid": {}, "count": {}}, r"space\.rules\.0", "one key among"),
    ],
)
def test_bad_rules_name_the_rule_and_the_fix(rule: dict[str, object], field: str,
                                              text: str) -> None:
    with pytest.raises(ConfigError, match=field) as info:
        declared([{"forbid": {"conv0.width": 8, "conv0.kernel": 5}}, rule][1:])
    assert info.value.problems[0].fix
    assert pytest.importorskip("re").search(text, str(info.value)), str(info.value)


def test_a_number_matches_an_equal_option_of_another_type() -> None:
    space = DeclaredSpace(layers=[{"type": "dropout", "p": [0.0, 0.5]},
                                  {"type": "conv", "width": [4, 8]}],
                          rules=[{"forbid": {"dropout0.p": 0, "conv1.width": 4}}])
    assert space.size == 3


def test_rules_must_be_a_list() -> None:
    with pytest.raises(ConfigError, match=r"DeclaredSpace\.rules: Input should be"):
        declared({"forbid": {"conv0.width": 4}})  # type: ignore[arg-type]


def test_sampling_falls_back_to_the_valid_list_when_rules_leave_little() -> None:
    # Only one architecture of 15,625 is valid: rejection fails, the valid list answers.
    only = {f"cell.edge_{j}_{i}": "nor_conv_3x3" for j, i in
            ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))}
    rules = [{"count": {"decisions": "cell.edge_*", "equal": "nor_conv_3x3", "min": 6}}]
    space = NB201Space(rules=rules)
    rng = np.random.default_rng(0)
    assert {space.sample(rng) for _ in range(3)} == {Architecture(only)}
    assert space.size == 1
    with pytest.raises(ConfigError, match="no mutation exists"):
        space.mutate(Architecture(only), rng)


def test_rules_that_leave_nothing_are_a_clear_error() -> None:
    space = declared([{"forbid": {"conv0.width": 4}}, {"forbid": {"conv0.width": 8}}])
    with pytest.raises(ConfigError, match="no architecture of the space keeps the rules"):
        space.sample(np.random.default_rng(0))
    assert space.size == 0


def test_an_unlistable_space_says_the_rules_leave_almost_nothing() -> None:
    rules = Rules.compile([{"forbid": {"a": 1}}], {"a": [0, 1]})
    with pytest.raises(ConfigError, match=r"none of 1000 sampled .* leave \(almost\) nothing"):
        rules.sample(lambda rng: Architecture({"a": 1}), np.random.default_rng(0))


def test_size_estimate_for_big_spaces_is_close_and_fixed() -> None:
    # 4 stages x depth up to 3 of 3 kernels: far above the exact-count limit.
    layers = [{"type": "repeat", "depth": [1, 2, 3, 4],
               "body": [{"type": "conv", "kernel": [3, 5, 7], "width": [4, 8, 16]}]}
              for _ in range(3)]
    unruled = DeclaredSpace(layers=layers)
    assert unruled.size > 200_000
    space = DeclaredSpace(layers=layers, rules=[{"forbid": {"repeat0.depth": 1}}])
    # Depth 1 of the first stage holds 9 of the 9 + 81 + 729 + 6561 bodies.
    exact = unruled.size * (1 - 9 / (9 + 81 + 729 + 6561))
    assert isinstance(space.size, float)
    assert abs(space.size - exact) / exact < 0.05
    assert DeclaredSpace(layers=layers, rules=space.rules).size == space.size


def test_mutate_and_neighbours_keep_the_rules_on_nb201() -> None:
    space = NB201Space(rules=[SKIP_ALL, {"forbid": {"cell.edge_1_0": "none",
                                                    "cell.edge_2_0": "none"}}])
    rng = np.random.default_rng(3)
    arch = Architecture({f"cell.edge_{j}_{i}": "skip_connect" for j, i in
                         ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1))} | {"cell.edge_3_2": "none"})
    for _ in range(50):
        child = space.mutate(arch, rng)
        space.validate(child)
        assert list(child.values()).count("skip_connect") < 6
    for n in space.neighbours(arch):
        assert not (n["cell.edge_1_0"] == "none" and n["cell.edge_2_0"] == "none")
        assert set(n.values()) != {"skip_connect"}
    assert space.size == 15_625 - 1 - 625 + 0  # all-skip is not also a none/none cell


def test_rules_from_yaml_params_through_the_registry() -> None:
    space = SPACES.create("nb201", {"rules": [SKIP_ALL]})
    assert space.size == 15_624
    with pytest.raises(ConfigError, match=r"space\.rules\.0\.not_all\.equal"):
        SPACES.create("nb201", {"rules": [{"not_all": {"decisions": "cell.edge_*",
                                                       "equal": "skip"}}]})


def test_references_round_trip() -> None:
    assert resolve_reference(reference_of(no_big_kernels)) is no_big_kernels
    assert math.isfinite(len(reference_of(no_big_kernels)))

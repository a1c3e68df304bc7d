"""Options that cannot apply are refused at the pre-flight check (Strategy.preflight)."""

from __future__ import annotations

import pytest

from nasforge.architecture import Architecture
from nasforge.evaluate.base import EvalContext, Evaluator
from nasforge.space import ChainSpace, NB201Space, nb201_to_arch
from nasforge.strategy import STRATEGIES
from nasforge.strategy._dedup import AskedArchs
from nasforge.testing.toys import ToyEvaluator, ToySpace
from nasforge.trial import Candidate, Result


class NoFidelity(Evaluator):
    """An evaluator whose results do not depend on a fidelity (max_fidelity is None)."""

    def __init__(self) -> None:
        pass

    def evaluate(self, candidate: Candidate, ctx: EvalContext) -> Result:
        return Result(metrics={"val_accuracy": 1.0})


@pytest.mark.parametrize("name", ["bananas", "gp_bo"])
@pytest.mark.parametrize("encoding", ["path", "adjacency"])
def test_a_cell_encoding_on_a_space_without_paths_is_refused(name: str, encoding: str) -> None:
    strategy = STRATEGIES.create(name, {"encoding": encoding})
    problems = strategy.preflight(ChainSpace(), ToyEvaluator())
    assert len(problems) == 1
    assert problems[0].field == "strategy.encoding"
    assert "ChainSpace has no cell paths" in problems[0].message
    assert "onehot" in problems[0].fix
    assert strategy.preflight(NB201Space(), ToyEvaluator()) == []


@pytest.mark.parametrize("name", ["bananas", "gp_bo"])
def test_the_default_encoding_fits_every_space(name: str) -> None:
    strategy = STRATEGIES.create(name)
    assert strategy.get_params()["encoding"] == "auto"
    for space in (ChainSpace(), ToySpace(), NB201Space()):
        assert strategy.preflight(space, ToyEvaluator()) == []
    strategy.setup(ToySpace(), [], 0)
    assert strategy.encoding_kind() == "onehot"  # type: ignore[attr-defined]
    strategy.setup(NB201Space(), [], 0)
    assert strategy.encoding_kind() == "path"  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["hyperband", "successive_halving", "bohb", "mf_local_search"])
def test_multi_fidelity_needs_an_evaluator_with_a_fidelity(name: str) -> None:
    strategy = STRATEGIES.create(name)
    problems = strategy.preflight(ToySpace(), NoFidelity())
    assert len(problems) == 1
    assert "has no fidelity (its max_fidelity is None)" in problems[0].message
    assert name in problems[0].message
    assert "single-fidelity strategy" in problems[0].fix
    assert strategy.preflight(ToySpace(), ToyEvaluator()) == []


@pytest.mark.parametrize("name", ["random", "regularized_evolution", "local_search", "tpe"])
def test_other_strategies_find_nothing_to_refuse(name: str) -> None:
    assert STRATEGIES.create(name).preflight(ChainSpace(), NoFidelity()) == []


def test_asked_archs_count_isomorphic_nb201_cells_once() -> None:
    asked = AskedArchs(NB201Space(dims=1))
    chain = nb201_to_arch("|skip_connect~0|+|none~0|none~1|+|none~0|nor_conv_1x1~1|none~2|")
    direct = nb201_to_arch("|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|")
    asked.add(chain)
    assert direct in asked and len(asked) == 1
    assert Architecture({"junk": 1}) not in asked  # outside the space: never asked

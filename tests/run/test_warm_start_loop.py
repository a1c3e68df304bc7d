"""Transfer: a study warm-started from the best trials of an earlier one."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasforge.errors import ConfigError
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study

BASE = {"task": "toy", "space": {"name": "toy", "n_decisions": 4, "n_options": 4},
        "evaluator": "toy", "executor": "inline", "export_best": False}


def _run(tmp_path: Path, name: str, **changes: object) -> Study:
    spec = parse_spec({**BASE, "name": name, "root": str(tmp_path), **changes})
    return Study.create(spec).run()


@pytest.mark.parametrize("strategy", [
    {"name": "regularized_evolution", "population": 6, "sample": 2},
    {"name": "local_search", "n_initial": 4},
])
def test_best_earlier_archs_are_asked_first(tmp_path: Path, strategy: dict[str, object]) -> None:
    earlier = _run(tmp_path, "a", strategy="random", budget={"trials": 12}, seed=1)
    top = [t.arch for t in earlier.ranked()[:3]]
    later = _run(tmp_path, "b", strategy=strategy, budget={"trials": 6}, seed=2,
                 warm_start={"study": str(tmp_path / "a"), "top": 3})
    assert [t.arch for t in later.trials()[:3]] == top
    # Deterministic like everything else: the same warm start gives the same run.
    again = _run(tmp_path, "c", strategy=strategy, budget={"trials": 6}, seed=2,
                 warm_start={"study": str(tmp_path / "a"), "top": 3})
    assert [t.arch for t in again.trials()] == [t.arch for t in later.trials()]


def test_missing_warm_start_study_fails_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"warm_start\.study: no study in"):
        _run(tmp_path, "x", strategy="random", budget={"trials": 2},
             warm_start={"study": str(tmp_path / "nope")})
    assert not (tmp_path / "x").exists()

"""The metric vocabulary's directions, and objectives that take them."""

from __future__ import annotations

from nasforge import metrics as M
from nasforge.objective import Objective


def test_every_shared_metric_with_a_direction_is_in_the_vocabulary() -> None:
    assert set(M.DIRECTIONS) <= set(M.ALL)
    assert M.direction(M.VAL_MSE) == "min" and M.direction(M.TEST_R2) == "max"
    assert M.direction("my_metric") is None
    assert M.DEFAULT_OBJECTIVE == {"classification": M.VAL_ACCURACY, "regression": M.VAL_MSE}


def test_objective_without_direction_takes_the_natural_one() -> None:
    assert Objective(metric="val_mse").direction == "min"
    assert Objective.model_validate({"metric": "val_r2"}).direction == "max"
    assert Objective(metric="val_mse", direction="max").direction == "max"  # explicit wins
    assert Objective(metric="custom").direction == "max"
    low, high = {"val_mse": 0.2}, {"val_mse": 0.9}
    assert Objective(metric="val_mse").oriented(low) > Objective(metric="val_mse").oriented(high)

"""The ranking benchmark script: a tiny real run, the JSON it merges, its correlations and bad
arguments."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from nasforge.references import load_file

ranking = load_file(Path(__file__).parents[2] / "benchmarks" / "ranking.py")

TINY = ["--n", "4", "--epochs", "1", "--workers", "1", "--num-samples", "300",
        "--supernet-epochs", "1", "--bn-batches", "1"]


def _strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_a_tiny_run_writes_every_signal_and_keeps_other_keys(tmp_path: Path) -> None:
    out = tmp_path / "oneshot.json"
    out.write_text(json.dumps({"nb201_synflow": {"spearman": 0.75}}))
    assert ranking.main([*TINY, "--out", str(out)]) == 0
    data = _strict(out.read_text())
    assert data["nb201_synflow"] == {"spearman": 0.75}
    assert set(data["ranking"]) == {"supernet", "synflow", "naswot", "snip", "grad_norm", "jacov",
                                    "params", "flops", "epoch1"}
    for name, entry in data["ranking"].items():
        extra = {"train_seconds"} if name == "supernet" else set()
        assert set(entry) == {"kendall", "spearman", "kendall_test", "spearman_test", "n_archs",
                              "seconds_per_arch", *extra}, name
        assert entry["n_archs"] == 4 and entry["seconds_per_arch"] > 0
        for key in ("kendall", "spearman", "kendall_test", "spearman_test"):
            assert entry[key] is None or -1.0 <= entry[key] <= 1.0
    meta = data["_ranking_meta"]
    assert meta["supernet"]["epochs"] == 1 and meta["supernet"]["status"] == "ok"
    assert meta["supernet"]["train_seconds"] > 0 and meta["n_archs"] == 4
    assert meta["epochs"] == 1 and meta["space"]["cells_per_stage"] == 2
    rows = meta["archs"]
    assert len({r["arch"] for r in rows}) == 4
    for row in rows:
        assert 0.0 <= row["test_accuracy"] <= 100.0 and row["params"] > 0 and row["flops"] > 0
        assert 0.0 <= row["supernet"] <= 100.0
        # with one epoch in all, the 1-epoch run is the full run (answered from its checkpoint)
        assert row["epoch1"] == row["val_accuracy"]
    assert data["ranking"]["epoch1"]["kendall"] == 1.0

    # a second run replaces its own keys and still keeps the others
    data["ranking"]["synflow"]["kendall"] = 9.0
    out.write_text(json.dumps(data))
    assert ranking.main([*TINY, "--out", str(out)]) == 0
    again = _strict(out.read_text())
    assert again["ranking"]["synflow"]["kendall"] != 9.0
    assert again["nb201_synflow"] == {"spearman": 0.75}
    assert [r["arch"] for r in again["_ranking_meta"]["archs"]] == [r["arch"] for r in rows]


def test_reuse_measures_only_the_supernet_and_keeps_the_stored_rows(tmp_path: Path) -> None:
    out = tmp_path / "oneshot.json"
    assert ranking.main([*TINY, "--n", "3", "--out", str(out)]) == 0
    first = _strict(out.read_text())
    first["ranking"]["synflow"]["kendall"] = 0.123  # a stored value the reuse must keep
    out.write_text(json.dumps(first))
    assert ranking.main([*TINY, "--n", "3", "--reuse", "--supernet-epochs", "2",
                         "--out", str(out)]) == 0
    again = _strict(out.read_text())
    assert again["ranking"]["synflow"]["kendall"] == 0.123
    assert again["_ranking_meta"]["supernet"]["epochs"] == 2
    assert "reused" in again["_ranking_meta"]
    keep = ("arch", "val_accuracy", "test_accuracy", "epoch1", "synflow")
    assert [{k: r[k] for k in keep} for r in again["_ranking_meta"]["archs"]] == \
        [{k: r[k] for k in keep} for r in first["_ranking_meta"]["archs"]]


def test_reuse_without_matching_results_is_refused(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        ranking.main([*TINY, "--reuse", "--out", str(tmp_path / "oneshot.json")])
    assert info.value.code == 2
    assert "--reuse" in capsys.readouterr().err


def test_the_params_signal_is_the_built_networks_parameter_count(tmp_path: Path) -> None:
    from nasforge.evaluate.costs import count_params
    from nasforge.space import SPACES
    from nasforge.tasks import get_task

    out = tmp_path / "oneshot.json"
    assert ranking.main([*TINY, "--n", "3", "--out", str(out)]) == 0
    space = SPACES.create("nb201", {"dims": 1, "channels": 16, "cells_per_stage": 2})
    info = get_task({"name": "mnist1d", "num_samples": 300}).info()
    for row in _strict(out.read_text())["_ranking_meta"]["archs"]:
        assert row["params"] == count_params(space.build(space.parse(row["arch"]), info))


def test_samples_are_distinct_and_seeded() -> None:
    first = ranking.sample_archs(30, 0)
    assert len(set(first)) == 30 and first == ranking.sample_archs(30, 0)
    assert first != ranking.sample_archs(30, 1)


def test_correlations_rank_minus_inf_lowest_and_leave_out_nan() -> None:
    tau, rho, n = ranking.correlations([-math.inf, 1.0, 2.0, math.nan], [1.0, 2.0, 3.0, 0.0])
    assert (tau, rho, n) == (pytest.approx(1.0), pytest.approx(1.0), 3)
    tau, rho, n = ranking.correlations([3.0, 2.0, 1.0], [1.0, 2.0, 3.0])
    assert (tau, rho) == (pytest.approx(-1.0), pytest.approx(-1.0))
    tau, rho, n = ranking.correlations([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])
    assert math.isnan(tau) and math.isnan(rho) and n == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--n", "2"], "--n must be at least 3"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--seed", "-1"], "--seed must be a non-negative integer"),
        (["--num-samples", "10"], "--num-samples"),
        (["--n", "20000"], "more than the space's 15625 architectures"),
        (["--supernet-epochs", "0"], "--supernet-epochs must be at least 1"),
        (["--bn-batches", "-1"], "--bn-batches must be 0 or more"),
    ],
)
def test_bad_arguments_are_refused(argv: list[str], message: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        ranking.main([*argv, "--out", str(tmp_path / "oneshot.json")])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "oneshot.json").exists()

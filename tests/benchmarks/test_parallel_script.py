"""The parallel benchmark's simulated part and the JSON layout it writes, on a synthetic table.

Nothing here asserts a wall-clock time; the simulated part is deterministic and tiny here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nasforge.evaluate.tabular import write_dummy_nb201_table
from nasforge.references import load_file

parallel = load_file(Path(__file__).parents[2] / "benchmarks" / "parallel.py")
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def dummy_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    table = write_dummy_nb201_table(tmp_path / "table.csv.gz")
    monkeypatch.setenv("NASFORGE_NB201", str(table))
    return table


@pytest.mark.usefixtures("dummy_table")
def test_the_simulated_part_keeps_the_issue_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "STRATEGIES", {
        "local_search": {"name": "local_search", "n_initial": 5},
        "mf_local_search": {"name": "mf_local_search", "low_fidelity": 12, "ratio": 10},
    })
    out = tmp_path / "parallel.json"
    real = {"inline": {"1": {"trials_per_min": 3.0}, "2": None, "efficiency": None}}
    out.write_text(json.dumps({"real": real}))
    monkeypatch.setattr(parallel, "simulated_part",
                        lambda n_trials, seeds, f=parallel.simulated_part: f(30, 1))
    assert parallel.main(["--parts", "simulated", "--quick", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["real"] == real  # merged, not replaced
    sim = results["simulated"]
    assert sim["trials"] == 30 and set(sim["strategies"]) == {"local_search", "mf_local_search"}
    for row in sim["strategies"].values():
        assert set(row) == {"1", "8", "64", "kept", "speedup"}
        # more workers finish the same trials in less simulated time
        assert row["1"]["sim_hours"] > row["8"]["sim_hours"] > row["64"]["sim_hours"]
        assert row["speedup"]["8"] > 1
        assert row["1"]["curve"][-1][1] == row["1"]["best_val_accuracy"] is not None


@pytest.mark.usefixtures("dummy_table")
def test_one_simulated_run_is_deterministic() -> None:
    first = parallel.simulated_run("regularized_evolution", 8, 0, 25)
    assert first == parallel.simulated_run("regularized_evolution", 8, 0, 25)
    hours = [h for h, _ in first["curve"]]
    accs = [a for _, a in first["curve"]]
    assert hours == sorted(hours) and accs == sorted(accs) and first["best"] == accs[-1]


def test_unknown_parts_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parallel.main(["--parts", "real,gpu"])
    assert "unknown part(s) gpu" in capsys.readouterr().err

"""The scale benchmark's bookkeeping: window medians, utilisation, the JSON it writes.

Nothing here asserts a wall-clock time; the runs are tiny and only their layout is checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nasforge.architecture import Architecture
from nasforge.references import load_file
from nasforge.trial import Candidate, Result, Trial, TrialState

scale = load_file(Path(__file__).parents[2] / "benchmarks" / "scale.py")


def _stamps(gaps_ms: list[float]) -> list[float]:
    stamps = [10.0]
    for gap in gaps_ms:
        stamps.append(stamps[-1] + gap / 1000)
    return stamps


def test_window_median_is_the_median_gap_around_the_point() -> None:
    # trial k takes k ms, except trial 5, which takes 100 ms (an outlier the median ignores)
    gaps = [float(k) for k in range(1, 11)]
    gaps[4] = 100.0
    stamps = _stamps(gaps)
    # trials 3..6 around trial 5: 3, 4, 100, 6 ms
    assert scale.window_median_ms(stamps, at=5, width=4) == pytest.approx(5.0)
    # near either end the window shifts inside: trials 1..4, then 7..10
    assert scale.window_median_ms(stamps, at=1, width=4) == pytest.approx(2.5)
    assert scale.window_median_ms(stamps, at=10, width=4) == pytest.approx(8.5)
    # a window wider than the run takes every trial
    assert scale.window_median_ms(stamps, at=3, width=50) == pytest.approx(6.5)


@pytest.mark.parametrize("at", [0, 11])
def test_window_outside_the_run_is_refused(at: int) -> None:
    with pytest.raises(ValueError, match=f"trial {at} is outside the 10 trials timed"):
        scale.window_median_ms(_stamps([1.0] * 10), at=at)


def test_ms_at_keeps_the_points_the_run_reached() -> None:
    stamps = _stamps([2.0] * 150)
    assert scale.ms_at(stamps, [100, 1000, 150]) == {"100": pytest.approx(2.0),
                                                     "150": pytest.approx(2.0)}


def test_growth_needs_both_points() -> None:
    assert scale.growth({"100": 0.2, "10000": 0.3}) == pytest.approx(1.5)
    assert scale.growth({"100": 0.2, "1000": 0.3}) is None


def _trial(number: int, start: float, cost_s: float) -> Trial:
    return Trial(
        study_id=1, number=number, candidate=Candidate(Architecture(d0=number), fidelity=1),
        state=TrialState.COMPLETE, result=Result(metrics={"x": 1.0}, cost_s=cost_s),
        started_at=start - 5.0,  # written before the trial reached a worker: never used
        finished_at=start + cost_s,
    )


def test_utilisation_of_synthetic_trials() -> None:
    # two workers: A runs 0-4 and 4-6, B runs 0-3, waits 1 s, runs 4-5, and has nothing left
    # after 5 while A finishes at 6 (the tail)
    trials = [_trial(0, 100.0, 4.0), _trial(1, 100.0, 3.0), _trial(2, 104.0, 2.0),
              _trial(3, 104.0, 1.0)]
    trials.append(Trial(study_id=1, number=4, candidate=Candidate(Architecture(d0=4)),
                        state=TrialState.RUNNING, started_at=104.0))  # unfinished: left out
    intervals = scale.busy_intervals(trials)
    assert intervals == [(100.0, 104.0), (100.0, 103.0), (104.0, 106.0), (104.0, 105.0)]
    figures = scale.utilisation(intervals, n_workers=2)
    assert figures["busy_s"] == pytest.approx(10.0)
    assert figures["wall_s"] == pytest.approx(6.0)
    assert figures["whole"] == pytest.approx(10.0 / 12.0)
    # up to the last start (t=4): A busy 4 s, B busy 3 s, of 2 * 4
    assert figures["wall_until_last_start_s"] == pytest.approx(4.0)
    assert figures["until_last_start"] == pytest.approx(7.0 / 8.0)
    assert figures["tail_s"] == pytest.approx(2.0)


def test_utilisation_of_one_trial_has_no_window_before_its_start() -> None:
    figures = scale.utilisation([(0.0, 2.0)], n_workers=2)
    assert figures["whole"] == pytest.approx(0.5)
    assert figures["until_last_start"] is None
    with pytest.raises(ValueError, match="no trials"):
        scale.utilisation([], n_workers=2)


def test_hyperband_spec_is_valid_in_both_modes(tmp_path: Path) -> None:
    for reproducible in (False, True):
        run = scale.hyperband_spec(str(tmp_path), 40, reproducible=reproducible, channels=8)
        assert run.reproducible is reproducible
        assert run.executor.params["workers"] == scale.N_WORKERS
        assert run.budget.trials == 40


def test_small_run_writes_the_json_layout(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    result = scale.main(["--trials", "300", "--optuna-trials", "100", "--skip-utilisation",
                         "--out", str(out)])
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(result))
    for strategy in ("random", "regularized_evolution"):
        row = written[strategy]
        assert set(row["ms_at"]) == {"100"}  # 1000 and more are beyond a 300-trial study
        assert row["ms_at"]["100"] > 0 and row["trials"] == 300
        for key in ("resume_s", "open_s", "resume_replay_s", "resume_finish_s"):
            assert row[key] >= 0
        assert row["resume_replay_s"] <= row["resume_s"]
        assert "ratio_10000_over_100" not in row
        assert set(written["nasforge_over_optuna"][strategy]) == {"100"}
    assert set(written["optuna_random"]["ms_at"]) == {"100"}
    assert written["optuna_random"]["trials"] == 100
    for key in scale.UTILISATION_KEYS:  # skipped, and nothing earlier to keep
        assert written[key] is None
    assert "--skip-utilisation" in written["commands"]["scale"]
    assert written["machine"]["cpus"] >= 1


def test_a_skipped_part_keeps_the_earlier_figures(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    earlier = {"random": {"ms_at": {"100": 0.2}}, "hyperband_mnist1d_utilisation": 0.98,
               "hyperband_mnist1d": {"workers": 2}, "commands": {"utilisation": "earlier"}}
    out.write_text(json.dumps(earlier))
    written = scale.main(["--skip-scale", "--skip-utilisation", "--out", str(out)])
    assert written["random"] == {"ms_at": {"100": 0.2}}
    assert written["hyperband_mnist1d_utilisation"] == 0.98
    assert written["hyperband_mnist1d"] == {"workers": 2}
    assert written["hyperband_mnist1d_utilisation_reproducible"] is None
    assert written["commands"] == {"utilisation": "earlier"}
    assert json.loads(out.read_text())["hyperband_mnist1d_utilisation"] == 0.98


@pytest.mark.parametrize(("content", "why"), [("{'a': 1", "is not JSON"),
                                             ("[1]", "does not hold a JSON object")])
def test_unusable_out_file_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, why: str
) -> None:
    out = tmp_path / "scale.json"
    out.write_text(content)
    with pytest.raises(SystemExit) as info:
        scale.main(["--trials", "10", "--out", str(out)])
    assert info.value.code == 2
    assert why in capsys.readouterr().err
    assert out.read_text() == content

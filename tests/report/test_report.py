from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import pytest

from nasforge.architecture import Architecture
from nasforge.objective import Objective
from nasforge.report import history, pareto_trials, write_report
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study
from nasforge.trial import Candidate, Result, Trial, TrialState


def _trial(n: int, acc: float | None, params: float = 1.0) -> Trial:
    result = Result(metrics={"val_accuracy": acc, "params": params}) if acc is not None \
        else Result.failed("boom")
    state = TrialState.COMPLETE if acc is not None else TrialState.FAILED
    return Trial(0, n, Candidate(Architecture(a=n)), state, result)


def test_history_tracks_best_so_far() -> None:
    objectives = [Objective(metric="val_accuracy")]
    points = history([_trial(0, 50.0), _trial(1, None), _trial(2, 40.0), _trial(3, 70.0)],
                     objectives)
    assert [p.best_so_far for p in points] == [50.0, 50.0, 50.0, 70.0]
    assert [p.value for p in points] == [50.0, None, 40.0, 70.0]


def test_pareto_front_of_accuracy_and_params() -> None:
    objectives = [Objective(metric="val_accuracy"), Objective(metric="params", direction="min")]
    trials = [_trial(0, 90.0, 100), _trial(1, 80.0, 10), _trial(2, 70.0, 50), _trial(3, 95, 200)]
    # best first by the first objective (val_accuracy), then the second
    assert [t.number for t in pareto_trials(trials, objectives)] == [3, 0, 1]


def test_html_report_lists_top_trials_and_failures(tmp_path: Path) -> None:
    def table_rows(text: str, heading: str) -> list[list[str]]:
        """The cells (tags stripped, unescaped) of the data rows of the table after ``heading``."""
        start = text.index(f"<h2>{heading}</h2>")
        table = text[start:text.index("</table>", start)]
        rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)[1:]  # the first: the headers
        return [[html.unescape(re.sub(r"<[^>]+>", "", cell))
                 for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)] for row in rows]

    # Random search over a 4-architecture space asks all four: two fail (a raised error, a NaN).
    spec = parse_spec({"task": "toy", "space": {"name": "toy", "n_decisions": 1, "n_options": 4},
                       "strategy": "random", "executor": "inline",
                       "evaluator": {"name": "toy", "fail": ['{"d0":0}'], "nan": ['{"d0":2}']},
                       "budget": {"trials": 4}, "root": str(tmp_path), "export_best": False})
    study = Study.create(spec).run()
    trials = study.trials()
    failed = [t for t in trials if t.state is not TrialState.COMPLETE]
    assert len(failed) == 2 and all(t.state is TrialState.FAILED for t in failed)
    text = write_report(study, tmp_path / "r.html").read_text()
    assert "Top trials" in text and "data:image/png;base64," in text
    top = table_rows(text, "Top trials")
    assert sorted(int(row[0]) for row in top) == sorted(
        t.number for t in trials if t.state is TrialState.COMPLETE)
    # Each failed trial's number, state and reason, in one row (the reason HTML-escaped).
    expected = [[str(t.number), t.state.value, t.result.reason if t.result else ""]
                for t in failed]
    assert all(reason for _, _, reason in expected)
    assert sorted(table_rows(text, "Not completed")) == sorted(expected)


def test_html_report_without_matplotlib_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = parse_spec({"task": "toy", "space": "toy", "strategy": "random", "executor": "inline",
                       "evaluator": "toy", "budget": {"trials": 3}, "root": str(tmp_path),
                       "export_best": False})
    study = Study.create(spec).run()
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the plot extra were missing
    text = write_report(study, tmp_path / "r.html").read_text()
    assert "data:image/png" not in text and "Top trials" in text
    assert "pip install &#x27;nasforge[plot]&#x27;" in text

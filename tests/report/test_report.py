"""The HTML report: data functions, sections, escaping, several studies, no plot extra."""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import pytest

from nasforge.architecture import Architecture
from nasforge.objective import Objective
from nasforge.report import history, pareto_trials, write_report
from nasforge.report.data import decision_options, event_rows
from nasforge.run.study import Study
from nasforge.store.base import Event, EventKind
from nasforge.trial import Candidate, Result, Trial, TrialState


def _trial(n: int, acc: float | None, params: float = 1.0, finished: float | None = None) -> Trial:
    result = Result(metrics={"val_accuracy": acc, "params": params}) if acc is not None \
        else Result.failed("boom")
    state = TrialState.COMPLETE if acc is not None else TrialState.FAILED
    return Trial(0, n, Candidate(Architecture(a=n)), state, result, started_at=100.0,
                 finished_at=finished)


def table_rows(text: str, heading: str) -> list[list[str]]:
    """The cells (tags stripped, unescaped) of the data rows of the table after ``heading``."""
    start = text.index(f"<h3>{heading}</h3>")
    table = text[start:text.index("</table>", start)]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)[1:]  # the first: the headers
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell))
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)] for row in rows]


def test_history_tracks_best_so_far() -> None:
    objectives = [Objective(metric="val_accuracy")]
    points = history([_trial(0, 50.0), _trial(1, None), _trial(2, 40.0), _trial(3, 70.0)],
                     objectives)
    assert [p.best_so_far for p in points] == [50.0, 50.0, 50.0, 70.0]
    assert [p.value for p in points] == [50.0, None, 40.0, 70.0]


def test_history_by_time_follows_the_finish_order() -> None:
    # Trial 1 finished first (a parallel worker), trial 0 last; trial 2 has no finish time.
    trials = [_trial(0, 90.0, finished=130.0), _trial(1, 60.0, finished=110.0),
              _trial(2, 99.0)]
    points = history(trials, [Objective(metric="val_accuracy")], by_time=True)
    assert [(p.number, p.elapsed_s, p.best_so_far) for p in points] == [
        (1, 10.0, 60.0), (0, 30.0, 90.0)]


def test_pareto_front_of_accuracy_and_params() -> None:
    objectives = [Objective(metric="val_accuracy"), Objective(metric="params", direction="min")]
    trials = [_trial(0, 90.0, 100), _trial(1, 80.0, 10), _trial(2, 70.0, 50), _trial(3, 95, 200)]
    assert [t.number for t in pareto_trials(trials, objectives)] == [3, 0, 1]


def test_decision_options_come_from_the_space_then_from_the_trials(
    completed_study: Study,
) -> None:
    options = decision_options(completed_study.parts.space, completed_study.trials())
    assert list(options)[:2] == ["cell.edge_1_0", "cell.edge_2_0"]
    assert options["cell.edge_1_0"] == ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                                        "avg_pool_3x3"]
    # Without a declared table, the values used, in order of first use.
    trials = [_trial(2, 1.0), _trial(0, 1.0), _trial(2, 1.0)]
    assert decision_options(object(), trials) == {"a": [0, 2]}  # type: ignore[arg-type]


def test_event_rows_list_any_kind_in_time_order() -> None:
    events = [Event(3, 0, EventKind.STOP, {"by": "me"}, 30.0),
              Event(1, 0, EventKind.STOP, {}, 10.0, handled_at=11.0, applied_at=4),
              Event(2, 0, EventKind.STOP, {"a": 1, "b": "x"}, 20.0, handled_at=21.0)]
    rows = event_rows(events)
    assert [(r.id, r.kind, r.details, r.outcome) for r in rows] == [
        (1, "stop", "", "applied from trial #4"), (2, "stop", "a=1, b=x", "refused"),
        (3, "stop", "by=me", "pending")]


def test_report_of_a_completed_study(completed_study: Study, out: Path) -> None:
    text = write_report(completed_study, out).read_text()
    top = table_rows(text, "Top trials")
    ranked = completed_study.ranked()
    assert [int(r[0]) for r in top] == [t.number for t in ranked[:20]]
    # Metric columns first, the architecture (NB201 string) last.
    assert top[0][-1] == completed_study.parts.space.format(ranked[0].arch)
    assert float(top[0][1]) == pytest.approx(ranked[0].metrics["val_accuracy"], rel=1e-3)
    assert text.count("aria-label='cell'") == 3  # pictures of the three best cells
    for title in ("best val_accuracy so far against trials", "against time",
                  "distribution of val_accuracy", "decisions of the completed trials",
                  "which decisions matter", "mean val_accuracy by choice"):
        assert title in text, title
    assert "<script src=" not in text  # nothing loaded from elsewhere
    assert "Failed and infeasible" not in text


def test_report_of_a_study_with_failures(failing_study: Study, out: Path) -> None:
    text = write_report(failing_study, out, figures=out.parent / "figs").read_text()
    bad = table_rows(text, "Failed and infeasible trials")
    expected = {t.number: t for t in failing_study.trials()
                if t.state is not TrialState.COMPLETE or t.violation is not None}
    assert {int(r[0]) for r in bad} == set(expected) and len(expected) >= 2
    states = {r[1] for r in bad}
    assert {"FAILED", "INFEASIBLE (trained)"} <= states
    # The error message (with a script in it) is text, never markup.
    assert "<script>alert" not in text and "&lt;script&gt;alert" in text
    assert any("diverged" in r[2] for r in bad)
    assert "Learning curves" in text and "One-shot architecture weights" in text
    stored = {p.trial for p in failing_study.curves() if p.metric.startswith("alpha.")}
    assert f"{len(stored)} trials stored weights; 3 shown." in text
    assert text.count("one-shot architecture weights over training") == 3
    events = table_rows(text, "Steering events")
    assert [(r[1], r[2], r[3]) for r in events] == [("stop", "why=<b>enough</b>", "pending")]
    assert (out.parent / "figs" / "best_so_far.png").stat().st_size > 1000
    assert "figs/best_so_far.png" in text


def test_report_of_a_multi_objective_study(multi_study: Study, out: Path) -> None:
    text = write_report(multi_study, out).read_text()
    front = table_rows(text, "Pareto front")
    assert [int(r[0]) for r in front] == [t.number for t in multi_study.best_trials()]
    value, _ = multi_study.hypervolume()
    shown = re.search(r"<b class=hv>([^<]+)</b>", text)
    assert shown is not None and float(shown[1].replace(",", "")) == pytest.approx(value,
                                                                                     rel=1e-3)
    assert "Pareto front: params (min) against val_accuracy (max)" in text


def test_several_studies_are_compared(completed_study: Study, multi_study: Study,
                                      out: Path) -> None:
    text = write_report([completed_study, multi_study], out).read_text()
    assert "<h2 id=compare>Comparison</h2>" in text
    assert text.index("id=compare") < text.index("id=s0") < text.index("id=s1")
    start = text.index("id=compare")
    rows = re.findall(r"<tr>(.*?)</tr>", text[start:text.index("</table>", start)], re.S)[1:]
    names = [re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)[0] for r in rows]
    assert names == ["nb", "mo"]


def test_report_without_plotly_says_what_to_install(
    multi_study: Study, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "plotly", None)  # as if the plot extra were missing
    monkeypatch.setitem(sys.modules, "plotly.offline", None)
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    text = write_report(multi_study, out).read_text()
    assert "Plotly.newPlot" not in text and "Pareto front" in text
    assert "pip install &#x27;nasforge[plot]&#x27;" in text


def test_trials_beside_the_search_are_listed_apart(tmp_path: Path) -> None:
    from nasforge.run.spec import parse_spec

    spec = parse_spec({"name": "r", "task": "toy", "space": {"name": "toy", "n_decisions": 2},
                       "strategy": "random", "executor": "inline", "evaluator": "toy",
                       "budget": {"trials": 5}, "root": str(tmp_path), "export_best": False})
    study = Study.create(spec).run()
    best = study.best()
    # A retrained seed of the best architecture: stored like any trial, but not the search's.
    study.store.create_trial(study.record.id, 5, Candidate(best.arch), asked_after=5,
                             source="retrain")
    study.store.finish_trial(study.record.id, 5, Result(metrics={"val_accuracy": 12.5}))
    text = write_report(study, tmp_path / "r.html").read_text()
    others = table_rows(text, "Other trials")
    assert [r[:4] for r in others] == [["5", "retrain", "COMPLETE", "12.5"]]
    assert "5" not in [r[0] for r in table_rows(text, "Top trials")]

"""A big study's report stays light: fANOVA and parallel coordinates work on seeded samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasforge.report import html as report_html
from nasforge.report import importance as report_importance
from nasforge.report import optuna_bridge, write_report
from nasforge.run.study import Study


def test_samples_are_drawn_and_said(failing_study: Study, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("optuna")
    usable = [t for t in failing_study.trials() if t.violation is None and t.metrics]
    monkeypatch.setattr(report_importance, "MAX_TRIALS", 5)
    monkeypatch.setattr(report_html, "N_LINES", 6)
    fitted: list[int] = []
    original = optuna_bridge.optuna_study

    def counting(study: Study, trials: list[object] | None = None) -> object:
        fitted.append(len(trials or []))
        return original(study, trials)  # type: ignore[arg-type]

    monkeypatch.setattr(optuna_bridge, "optuna_study", counting)
    text = write_report(failing_study, tmp_path / "r.html").read_text()
    assert fitted == [5]  # the forest saw the sample only
    assert f"fANOVA fitted on a seeded sample of 5 of the {len(usable)} feasible" in text
    assert f"a seeded sample of 6 of the {len(usable):,} feasible trials" in text
    # The same seed draws the same sample, so the ranking repeats.
    first = report_importance.importances(failing_study, failing_study.trials())
    assert first == report_importance.importances(failing_study, failing_study.trials())

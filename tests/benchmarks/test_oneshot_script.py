"""The one-shot benchmark script: the JSON it merges, its targets, its plot and bad arguments.

The searches and retraining themselves are tested through the study (tests/run/test_oneshot.py);
here ``measure`` is replaced by recorded rows, so the script's own logic runs in a second.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nasforge.references import load_file

oneshot = load_file(Path(__file__).parents[2] / "benchmarks" / "oneshot.py")


def _row(acc: float, cpu_min: float, collapsed: bool = False) -> dict[str, Any]:
    return {"test_mean": acc, "test_std": 0.1, "seeds": 3, "search_cpu_min": cpu_min,
            "collapsed": collapsed}


ROWS = {"darts": _row(98.2, 4.0), "gdas": _row(97.0, 3.0), "enas": _row(96.0, 5.0),
        "spos": _row(97.5, 6.0), "regularized_evolution": _row(97.9, 6.0)}


def test_targets_say_met_or_missed() -> None:
    lines = oneshot.targets(ROWS)
    assert lines[0] == "one-shot >= 98 % within 10 CPU-min: met by darts"
    assert lines[1] == "no collapsed cell: met"
    assert lines[2].endswith("at equal CPU time: met") and "darts, 98.20 %" in lines[2]
    worse = {**ROWS, "darts": _row(98.2, 12.0, collapsed=True)}
    lines = oneshot.targets(worse)
    assert lines[0].endswith("MISSED") and lines[1] == "no collapsed cell: MISSED (darts)"


def test_main_merges_the_mnist1d_key_and_keeps_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "oneshot.json"
    out.write_text(json.dumps({"ranking": {"supernet": {"kendall": 0.5}},
                               "nb201_synflow": {"spearman": 0.75}}))
    weights = {f"alpha.cell.edge_{j}_{i}.{op}": [0.2, 0.3]
               for j, i in ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
               for op in ("none", "skip_connect", "nor_conv_3x3")}
    found = [{"method": m, "arch": "{}", "search_cpu_s": 60.0} for m in ROWS]
    found[0]["weights"] = weights
    monkeypatch.setattr(oneshot, "measure", lambda *a: {"rows": ROWS, "found": found,
                                                         "trained": [], "re_budget_s": 60.0})
    plot = tmp_path / "w.png"
    assert oneshot.main(["--out", str(out), "--plot", str(plot)]) == 0
    data = json.loads(out.read_text())
    assert data["ranking"] == {"supernet": {"kendall": 0.5}}
    assert data["nb201_synflow"] == {"spearman": 0.75}
    assert data["mnist1d"] == ROWS
    assert set(data["mnist1d"]["darts"]) == {"test_mean", "test_std", "seeds", "search_cpu_min",
                                             "collapsed"}
    meta = data["_mnist1d_meta"]
    assert meta["seeds"] == 3 and "weights" not in meta["found"][0]
    assert plot.stat().st_size > 1000
    shown = capsys.readouterr().out
    assert "98.20 ± 0.10 %" in shown and "regularized_evolution" in shown


@pytest.mark.parametrize(("args", "message"), [
    (["--methods", "darts,nope"], "--methods: unknown"),
    (["--seeds", "0"], "--seeds must be at least 1"),
])
def test_bad_arguments_are_refused(args: list[str], message: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        oneshot.main(args)
    assert message in capsys.readouterr().err


def test_a_run_of_some_methods_keeps_the_others_stored_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "oneshot.json"
    old_found = [{"method": m, "arch": f"cell-{m}", "search_cpu_s": 60.0} for m in ROWS]
    old_trained = [{"arch": f"cell-{m}", "seed": 0, "test_accuracy": 97.0} for m in ROWS]
    out.write_text(json.dumps({"mnist1d": ROWS, "ranking": {"x": 1},
                               "_mnist1d_meta": {"epochs": 20, "found": old_found,
                                                 "trained": old_trained}}))
    new = {"darts": _row(98.9, 2.0), "regularized_evolution": _row(98.0, 2.0)}
    found = [{"method": m, "arch": f"new-{m}", "search_cpu_s": 120.0} for m in new]
    found[0].update(search_epochs=30.0, warmup_epochs=7, supernet_val_accuracy=91.25,
                    stopped=None, nb201="|nor_conv_3x3~0|+...")
    trained = [{"arch": f"new-{m}", "seed": 0, "test_accuracy": 98.0} for m in new]
    monkeypatch.setattr(oneshot, "measure", lambda *a: {"rows": new, "found": found,
                                                         "trained": trained,
                                                         "re_budget_s": 120.0})
    argv = ["--out", str(out), "--plot", str(tmp_path / "w.png"), "--epochs", "30",
            "--methods", "darts,regularized_evolution"]
    assert oneshot.main(argv) == 0
    data = json.loads(out.read_text())
    assert data["ranking"] == {"x": 1}
    assert data["mnist1d"] == {**ROWS, **new}
    meta = data["_mnist1d_meta"]
    assert {f["method"]: f["arch"] for f in meta["found"]} == {
        "gdas": "cell-gdas", "enas": "cell-enas", "spos": "cell-spos",
        "darts": "new-darts", "regularized_evolution": "new-regularized_evolution"}
    assert {t["arch"] for t in meta["trained"]} == {f["arch"] for f in meta["found"]}
    assert [(r["methods"], r["epochs"]) for r in meta["runs"]] == [
        (["enas", "gdas", "spos"], 20), (["darts", "regularized_evolution"], 30)]
    assert "met by darts" in meta["targets"][0]
    shown = capsys.readouterr().out
    assert "stored from an earlier run: gdas, enas, spos" in shown and "98.90 ± 0.10" in shown
    assert "darts: 30 epochs (7 warm-up), supernet val accuracy 91.2 %, not stopped" in shown

"""The benchmark script's bookkeeping: queries, best-by-validation, aggregation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nasforge.references import load_file

nb201 = load_file(Path(__file__).parents[2] / "benchmarks" / "nb201.py")


def test_curve_counts_unique_queries_and_keeps_best_by_validation() -> None:
    points = [("a", 80.0, 70.0), ("b", 85.0, 60.0), ("a", 80.0, 70.0), ("c", 84.0, 90.0),
              ("d", 86.0, 65.0)]
    curve = nb201._curve(points, [1, 2, 3, 4])
    assert curve == {1: (80.0, 70.0), 2: (85.0, 60.0), 3: (85.0, 60.0), 4: (86.0, 65.0)}


def test_aggregate_means_and_regret() -> None:
    rows = [("s", "cifar10", seed, {"curve": {10: (90.0 + seed, 94.0 + seed)}, "seconds": 1.0,
                                    "proxy_scores": 0, "epochs": {10: 2000.0}})
            for seed in (0, 1)]
    rows.append(("s", "cifar10", 2, {"error": "ValueError: boom"}))
    out = nb201.aggregate(rows, [10], {"cifar10": {"best_val": 92.0}})
    cell = out["cifar10"]["s"]["10"]
    assert cell["mean"] == pytest.approx(94.5) and cell["n"] == 2
    assert cell["val_regret"] == pytest.approx(1.5)
    assert cell["epochs_per_query"] == pytest.approx(200.0)
    assert out["cifar10"]["s"]["errors"] == ["ValueError: boom"]


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        nb201.main(["--strategies", "nope", "--seeds", "1"])
    assert info.value.code == 2
    assert "unknown strategies ['nope']" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "why"),
    [("", "is empty"), ("\n", "is empty"), ("{'cifar10': 1", "is not JSON"),
     ("[1, 2]", "holds a JSON list")],
)
def test_unusable_out_file_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    content: str, why: str,
) -> None:
    out = tmp_path / "nb201.json"
    out.write_text(content)

    def no_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the searches started")

    monkeypatch.setattr(nb201.mp, "get_context", no_run)
    with pytest.raises(SystemExit) as info:
        nb201.main(["--strategies", "random", "--seeds", "1", "--budgets", "5", "--out", str(out)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"--out {out} {why}" in err and "delete it or pass another --out" in err
    assert out.read_text() == content  # left as it was


@pytest.mark.parametrize("flag", ["--markdown", "--replot"])
def test_reading_modes_name_a_missing_or_unusable_out_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(SystemExit) as info:
        nb201.main([flag, "--out", str(missing)])
    assert info.value.code == 2
    assert f"--out {missing} does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(SystemExit) as info:
        nb201.main([flag, "--out", str(empty)])
    assert info.value.code == 2
    assert f"--out {empty} is empty" in capsys.readouterr().err


def test_stored_results_accepts_a_results_object_or_no_file(tmp_path: Path) -> None:
    out = tmp_path / "nb201.json"
    assert nb201.stored_results(out, must_exist=False) is None
    out.write_text('{"cifar10": {}}')
    assert nb201.stored_results(out, must_exist=True) == {"cifar10": {}}


def test_results_go_beside_an_out_file_spoilt_during_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nb201.json"
    out.write_text("")  # e.g. truncated by another process while the searches ran
    results = {"cifar10": {"random": {"5": {"mean": 90.0}}}, "_meta": {"seeds": 1}}
    written = nb201._merge_and_write(results, out, [5], {})
    assert written == tmp_path / "nb201.unmerged.json"
    assert json.loads(written.read_text()) == results
    assert out.read_text() == ""
    assert f"wrote this run's results to {written} instead" in capsys.readouterr().err


def test_distinct_queries_count_canonical_forms_in_either_notation() -> None:
    # The first two compute the same function (a skip chain is the identity), in two notations;
    # the third is another network; the repeat of "a" is not a new query.
    a = "|skip_connect~0|+|none~0|none~1|+|none~0|nor_conv_1x1~1|none~2|"
    b = ('{"cell.edge_1_0":"none","cell.edge_2_0":"none","cell.edge_2_1":"none",'
         '"cell.edge_3_0":"nor_conv_1x1","cell.edge_3_1":"none","cell.edge_3_2":"none"}')
    c = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"
    assert nb201.canonical_key(a) == nb201.canonical_key(b) != nb201.canonical_key(c)
    assert nb201.distinct_queries([a, a, b, c], [1, 2, 3]) == {1: 1, 2: 1, 3: 2}


def test_aggregate_reports_distinct_queries_beside_queries() -> None:
    rows = [("s", "cifar10", seed, {"curve": {10: (90.0, 94.0)}, "seconds": 1.0,
                                    "proxy_scores": 0, "distinct": {10: 8 + seed}})
            for seed in (0, 1)]
    out = nb201.aggregate(rows, [10], {"cifar10": {"best_val": 92.0}})
    assert out["cifar10"]["s"]["10"]["distinct_mean"] == pytest.approx(8.5)
    table = nb201.markdown(out)
    assert "distinct queries at 10 q" in table and "| 8.5 |" in table

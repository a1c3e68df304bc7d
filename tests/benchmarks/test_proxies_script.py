"""The proxies benchmark script on a tiny dummy NB201 table: the JSON it merges, bad arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nasforge.evaluate.tabular._dummy import write_dummy_nb201_table
from nasforge.references import load_file

proxies = load_file(Path(__file__).parents[2] / "benchmarks" / "proxies.py")

CELLS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "|none~0|+|skip_connect~0|none~1|+|none~0|none~1|nor_conv_1x1~2|",
    "|nor_conv_1x1~0|+|none~0|avg_pool_3x3~1|+|nor_conv_3x3~0|none~1|none~2|",
]


@pytest.fixture
def table(tmp_path: Path) -> Path:
    return write_dummy_nb201_table(tmp_path / "nb201.csv", archs=CELLS)


def test_a_tiny_run_merges_its_entry_and_keeps_other_keys(table: Path, tmp_path: Path) -> None:
    out = tmp_path / "oneshot.json"
    out.write_text(json.dumps({"mnist1d": {"darts": {"test_mean": 1.0}}}))
    assert proxies.main(["--n", "3", "--workers", "1", "--path", str(table),
                         "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["mnist1d"] == {"darts": {"test_mean": 1.0}}
    entry = data["nb201_synflow"]
    assert entry["n_archs"] == 3 and -1.0 <= entry["spearman"] <= 1.0
    assert isinstance(entry["params_match"], bool) and "MACs" in entry["flops_convention"]
    assert entry["seconds_per_arch"] > 0 and "stored_logsynflow_spearman" in entry


def test_the_dummy_tables_params_are_not_nasforges_and_are_reported(table: Path) -> None:
    # the dummy table's params are synthetic, so the check must find the mismatches
    from nasforge.evaluate.tabular import NB201Table

    entry = proxies.measure(NB201Table.load(str(table), require_complete=False), 3, 0, 1)
    assert entry["params_match"] is False and entry["n_params_mismatches"] == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--n", "1"], "--n must be at least 3"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--n", "99"], "more than the table's 4 cells"),
    ],
)
def test_bad_arguments_are_refused(argv: list[str], message: str, table: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        proxies.main([*argv, "--path", str(table)])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_missing_table_is_a_clear_error(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert proxies.main(["--path", str(tmp_path / "nope.csv")]) == 2
    assert "--path" in capsys.readouterr().err

"""NB201Table: loading, validation, lookups and path resolution, on synthetic tables."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from nasforge.errors import ConfigError, DataNotFoundError, InvalidArchitectureError
from nasforge.evaluate.tabular import (
    COLUMNS,
    N_ARCHS,
    NB201Table,
    column_of,
    resolve_nb201_path,
)
from nasforge.evaluate.tabular import _table as table_module
from nasforge.evaluate.tabular._dummy import OPTIMUM, dummy_columns
from nasforge.space._nb201 import nb201_to_arch

SMALL = [  # the cells small_table writes by default, in its order
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    OPTIMUM,
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|",
]
ALL_NONE = SMALL[0]
OTHER = SMALL[2]


def test_full_table_loads_and_knows_its_optimum(full_table_path: Path) -> None:
    table = NB201Table.load(full_table_path)
    assert len(table) == table.rows == N_ARCHS
    for dataset in ("cifar10", "cifar100", "imagenet16-120"):
        best = table.optimum(dataset)
        assert best.best_val_arch == best.best_test_arch == OPTIMUM
        assert best.test_at_best_val == best.best_test
        assert best.best_val == pytest.approx(table.lookup(OPTIMUM, dataset)["val_accuracy"])


def test_load_is_cached_per_file(full_table_path: Path, small_table: Callable[..., Path]) -> None:
    assert NB201Table.load(full_table_path) is NB201Table.load(str(full_table_path))
    path = small_table()
    first = NB201Table.load(path, require_complete=False)
    path.write_bytes(gzip.compress(path.read_bytes()[:0] + _csv_of(SMALL[:2])))
    os.utime(path, ns=(1, 1))  # a changed file is read again
    assert len(NB201Table.load(path, require_complete=False)) == 2 != len(first)


def _csv_of(archs: list[str]) -> bytes:
    data = dummy_columns(archs)
    lines = [",".join(COLUMNS)]
    for i in range(len(archs)):
        cells = []
        for name in COLUMNS:
            value = data[name][i]
            cells.append("" if isinstance(value, float) and np.isnan(value) else str(value))
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(
    ("dataset", "val_col", "test_col", "prefix"),
    [
        ("cifar10", "c10v_val_acc_{}", "c10_test_acc_{}", "c10"),
        ("cifar100", "c100_val_acc_{}", "c100_test_acc_{}", "c100"),
        ("imagenet16-120", "in_val_acc_{}", "in_test_acc_{}", "in"),
    ],
)
@pytest.mark.parametrize("fidelity", [12, 200])
def test_lookup_reads_the_documented_columns(
    small_table: Callable[..., Path],
    dataset: str,
    val_col: str,
    test_col: str,
    prefix: str,
    fidelity: int,
) -> None:
    table = NB201Table.load(small_table(), require_complete=False)
    row = SMALL.index(OTHER)
    expected = dummy_columns(SMALL)
    got = table.lookup(OTHER, dataset, fidelity)
    assert got["val_accuracy"] == pytest.approx(expected[val_col.format(fidelity)][row])
    assert got["test_accuracy"] == pytest.approx(expected[test_col.format(fidelity)][row])
    assert got["params"] == pytest.approx(expected[f"{prefix}_params_M"][row] * 1e6)
    assert got["flops"] == pytest.approx(expected[f"{prefix}_flops_M"][row] * 1e6)
    per_epoch = expected[f"{prefix}_train_time_per_epoch_s"][row]
    assert got["train_seconds"] == pytest.approx(fidelity * per_epoch)
    assert got["epochs"] == fidelity
    # the vectorised view agrees with the lookup
    for metric, value in got.items():
        if metric != "epochs":
            assert table.values(metric, dataset, fidelity)[row] == pytest.approx(value)


def test_lookup_by_architecture_equals_lookup_by_string(small_table: Callable[..., Path]) -> None:
    table = NB201Table.load(small_table(), require_complete=False)
    assert table.lookup(nb201_to_arch(OTHER)) == table.lookup(OTHER)
    assert table.find(nb201_to_arch(OTHER)) == SMALL.index(OTHER)
    assert OTHER in table
    assert table.nb201_index(0) == table.indices[0]


def test_all_none_cell_scores_chance(small_table: Callable[..., Path]) -> None:
    table = NB201Table.load(small_table(), require_complete=False)
    assert table.lookup(ALL_NONE, "cifar10")["test_accuracy"] == 10.0
    assert np.isnan(table.proxy(ALL_NONE, "jacov"))
    assert np.isfinite(table.proxy(OTHER, "naswot", "cifar100"))


def test_missing_architecture_and_bad_queries(small_table: Callable[..., Path]) -> None:
    table = NB201Table.load(small_table(), require_complete=False)
    absent = "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert table.find(absent) is None
    with pytest.raises(InvalidArchitectureError, match="not in the NAS-Bench-201 table"):
        table.lookup(absent)
    with pytest.raises(ConfigError, match="unknown NAS-Bench-201 dataset 'imagenet'"):
        table.lookup(OTHER, "imagenet")
    with pytest.raises(ConfigError, match="fidelity must be 12 or 200"):
        table.lookup(OTHER, "cifar10", 50)
    with pytest.raises(ConfigError, match="jacov scores for cifar10 only"):
        column_of("jacov", "cifar100")
    with pytest.raises(ConfigError, match="unknown NAS-Bench-201 table metric 'latency'"):
        table.values("latency")
    with pytest.raises(InvalidArchitectureError, match=r"missing 'cell.edge_1_0'"):
        table.find({"depth": 3})


# -- validation -------------------------------------------------------------------------------
def test_partial_table_needs_require_complete_false(small_table: Callable[..., Path]) -> None:
    path = small_table()
    with pytest.raises(ConfigError, match=r"has 4 architectures, expected all 15,625") as info:
        NB201Table.load(path, field="evaluator.path")
    assert str(path) in str(info.value)
    assert "evaluator.path" in str(info.value)


def test_missing_column_is_named(small_table: Callable[..., Path]) -> None:
    path = small_table(columns=[c for c in COLUMNS if c != "c100_val_acc_200"])
    with pytest.raises(ConfigError, match=r"missing column\(s\) c100_val_acc_200"):
        NB201Table.load(path, require_complete=False)


def test_truncated_gzip_is_reported(full_table_path: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(full_table_path.read_bytes()[:20_000])
    with pytest.raises(ConfigError, match="truncated") as info:
        NB201Table.load(cut)
    assert str(cut) in str(info.value)


def test_not_gzip_is_reported(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.csv.gz"
    bogus.write_text("index,arch\n0,x\n")
    with pytest.raises(ConfigError, match="not a valid NAS-Bench-201 table"):
        NB201Table.load(bogus)


def _edit(path: Path, old: str, new: str) -> Path:
    text = gzip.decompress(path.read_bytes()).decode()
    assert old in text
    path.write_bytes(gzip.compress(text.replace(old, new, 1).encode()))
    return path


def test_non_numeric_value_is_reported(small_table: Callable[..., Path]) -> None:
    path = small_table()
    first_line = gzip.decompress(path.read_bytes()).decode().splitlines()[1]
    arch_field = first_line.split(",")[1]
    _edit(path, f"{arch_field},", f"{arch_field},abc")  # prefix the next field with letters
    with pytest.raises(ConfigError, match=r"row 1 holds '.*abc.*', not a number"):
        NB201Table.load(path, require_complete=False)


def test_empty_accuracy_is_reported(small_table: Callable[..., Path]) -> None:
    path = small_table()
    first_line = gzip.decompress(path.read_bytes()).decode().splitlines()[1]
    value = first_line.split(",")[2]
    _edit(path, f"{first_line.split(',')[1]},{value},", f"{first_line.split(',')[1]},,")
    with pytest.raises(ConfigError, match="row 1 is empty or not finite"):
        NB201Table.load(path, require_complete=False)


def test_out_of_range_accuracy_is_reported(small_table: Callable[..., Path]) -> None:
    path = small_table()
    first_line = gzip.decompress(path.read_bytes()).decode().splitlines()[1]
    fields = first_line.split(",")
    _edit(path, f"{fields[1]},{fields[2]},", f"{fields[1]},250.0,")
    with pytest.raises(ConfigError, match=r"row 1 is 250.0, expected an accuracy in percent"):
        NB201Table.load(path, require_complete=False)


def test_duplicate_and_malformed_archs_are_reported(small_table: Callable[..., Path]) -> None:
    dup = small_table("dup.csv.gz")
    _edit(dup, SMALL[1], SMALL[0])
    with pytest.raises(ConfigError, match="appears more than once"):
        NB201Table.load(dup, require_complete=False)
    bad = small_table("bad.csv.gz")
    _edit(bad, SMALL[1], SMALL[1].replace("nor_conv_3x3~0", "conv7x7~0", 1))
    with pytest.raises(ConfigError, match="not an NB201 cell string"):
        NB201Table.load(bad, require_complete=False)


# -- where the file is found ------------------------------------------------------------------
def test_explicit_path_and_folder(small_table: Callable[..., Path], tmp_path: Path) -> None:
    path = small_table("nb201_table.csv.gz")
    assert resolve_nb201_path(path) == path
    assert resolve_nb201_path(tmp_path) == path  # a folder holding the file
    with pytest.raises(DataNotFoundError, match=r"evaluator.path: NAS-Bench-201 table .*nope"):
        resolve_nb201_path(tmp_path / "nope.csv.gz", field="evaluator.path")


def test_env_var_is_used_and_named(
    small_table: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = small_table()
    monkeypatch.setenv("NASFORGE_NB201", str(path))
    assert resolve_nb201_path() == path
    monkeypatch.setenv("NASFORGE_NB201", str(tmp_path / "gone.csv.gz"))
    with pytest.raises(DataNotFoundError, match=r"NASFORGE_NB201 points at .*gone"):
        resolve_nb201_path()


def test_shared_folder_relative_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared" / "data" / "nasbench201"
    shared.mkdir(parents=True)
    (shared / "nb201_table.csv.gz").write_bytes(b"")
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.chdir(repo)
    assert resolve_nb201_path() == (shared / "nb201_table.csv.gz").resolve()


def test_nothing_found_names_option_and_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(table_module, "_source_shared_path", lambda: None)
    with pytest.raises(DataNotFoundError) as info:
        resolve_nb201_path(field="evaluator.path")
    message = str(info.value)
    assert "no evaluator.path given" in message
    assert "NASFORGE_NB201 is not set" in message
    assert "export NASFORGE_NB201=" in message

"""Benchmark 4's script (computed synflow in place of the stored column) on a dummy table."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from nasforge.evaluate.proxy import CachedProxy
from nasforge.evaluate.tabular import NB201Task
from nasforge.evaluate.tabular._dummy import write_dummy_nb201_table
from nasforge.references import load_file
from nasforge.space import NB201Space, nb201_to_arch

zc = load_file(Path(__file__).parents[2] / "benchmarks" / "zc_computed.py")


def test_every_cell_once() -> None:
    cells = zc.all_cells()
    assert len(cells) == len(set(cells)) == 15625
    assert all(nb201_to_arch(c) is not None for c in cells[:5])


def test_precomputed_scores_are_the_ones_a_search_reads(tmp_path: Path) -> None:
    cache = tmp_path / "scores.db"
    cells = zc.all_cells()[-2:]
    assert zc._score_chunk((cells, str(cache)))[:2] == (2, 2)
    assert zc._score_chunk((cells, str(cache)))[:2] == (2, 0)  # cached now
    spec = zc.computed_proxy(cache)
    proxy = CachedProxy(proxy=spec["proxy"], path=spec["path"])
    proxy.bind(NB201Task(dataset="cifar10"))
    proxy.score(nb201_to_arch(cells[0]), NB201Space(dims=2))
    assert proxy.n_computed == 0


def _fill(cache: Path) -> None:
    """Fake scores for every cell, in the namespace the searches use (no synflow computed)."""
    spec = zc.computed_proxy(cache)
    proxy = CachedProxy(proxy=spec["proxy"], path=spec["path"])
    proxy.bind(NB201Task(dataset="cifar10"))
    namespace = proxy.namespace(NB201Space(dims=2))
    proxy.close()
    with sqlite3.connect(cache) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS scores (namespace TEXT NOT NULL, arch TEXT NOT "
                     "NULL, score REAL NOT NULL, PRIMARY KEY (namespace, arch)) WITHOUT ROWID")
        conn.executemany("INSERT INTO scores VALUES (?, ?, ?)",
                         [(namespace, str(nb201_to_arch(c)), float(i % 97))
                          for i, c in enumerate(zc.all_cells())])


@pytest.mark.slow
def test_a_search_reads_every_score_from_the_cache(tmp_path: Path) -> None:
    table = write_dummy_nb201_table(tmp_path / "nb201.csv.gz")
    cache = tmp_path / "scores.db"
    _fill(cache)
    run = zc.run_computed("zc_local_search", 0, (5, 10), str(table), str(cache))
    assert run["computed_in_search"] == 0 and run["proxy_scores"] > 0
    assert set(run["curve"]) == {5, 10}


def test_the_table_sets_both_proxies_side_by_side() -> None:
    entry = {"25": {"mean": 94.37, "std": 0.0, "distinct_mean": 25.0}, "proxy_scores_mean": 1000}
    text = zc.markdown({"zc_local_search": entry}, {"zc_local_search": entry}, (25,))
    lines = text.splitlines()
    assert "stored `logsynflow` column" in lines[2] and "computed `synflow`" in lines[3]
    assert "94.37 ± 0.00" in lines[3] and "| 1000 |" in lines[3]


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        zc.main(["--budgets", "a,b"])
    assert "--budgets must be whole numbers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        zc.main(["--seeds", "0"])


def test_stored_entries_come_from_nb201_json() -> None:
    stored = zc.stored_entries((25,))
    data = json.loads((zc.RESULTS / "nb201.json").read_text())["cifar10"]
    assert stored["zc_local_search"]["25"] == data["zc_local_search"]["25"]

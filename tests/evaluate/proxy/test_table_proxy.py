"""TableProxy (``nb201_table`` in PROXIES): zero-cost scores read from the NB201 table."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import pytest

from nasforge.errors import ConfigError, DataNotFoundError
from nasforge.evaluate.proxy import PROXIES, TableProxy
from nasforge.evaluate.tabular import write_dummy_nb201_table
from nasforge.evaluate.tabular._dummy import dummy_columns
from nasforge.space import NB201Space
from nasforge.space._nb201 import nb201_to_arch

CELLS = [
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|",
]
ABSENT = "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(write_dummy_nb201_table(tmp_path / "t.csv.gz", archs=CELLS))


@pytest.mark.parametrize(
    ("metric", "dataset", "column"),
    [
        ("naswot", "cifar10", "c10_naswot"),
        ("naswot", "cifar100", "c100_naswot"),
        ("logsynflow", "imagenet16-120", "in_logsynflow"),
        ("jacov", "cifar10", "c10_jacov_naswot_v1"),
    ],
)
def test_scores_are_the_table_columns(path: str, metric: str, dataset: str, column: str) -> None:
    proxy = PROXIES.create(
        "nb201_table", {"metric": metric, "dataset": dataset, "path": path,
                        "require_complete": False}
    )
    expected = dummy_columns(CELLS)[column]
    space = NB201Space()
    assert proxy.score(nb201_to_arch(CELLS[1]), space) == pytest.approx(expected[1])
    assert proxy.score(nb201_to_arch(CELLS[2]), space) == pytest.approx(expected[2])


def test_missing_scores_and_cells_rank_last(path: str) -> None:
    jacov = TableProxy(metric="jacov", path=path, require_complete=False)
    assert jacov.score(nb201_to_arch(CELLS[0]), NB201Space()) == -math.inf  # no score in source
    assert jacov.score(nb201_to_arch(ABSENT), NB201Space()) == -math.inf  # not in the table


def test_round_trip_and_pickle(path: str) -> None:
    proxy = TableProxy(metric="logsynflow", dataset="cifar100", path=path, require_complete=False)
    assert PROXIES.create("nb201_table", proxy.get_params()) == proxy
    blob = pickle.dumps(proxy)
    assert len(blob) < 2_000
    arch = nb201_to_arch(CELLS[1])
    assert pickle.loads(blob).score(arch, NB201Space()) == proxy.score(arch, NB201Space())


def test_bad_configurations(path: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="jacov scores for cifar10 only"):
        TableProxy(metric="jacov", dataset="cifar100", path=path, require_complete=False)
    with pytest.raises(ConfigError, match=r"proxy.metric"):
        PROXIES.create("nb201_table", {"metric": "synflow", "path": path}, field="proxy")
    with pytest.raises(ConfigError, match=r"proxy.path: .* expected all 15,625 cells"):
        TableProxy(path=path)
    with pytest.raises(DataNotFoundError, match=r"proxy.path"):
        TableProxy(path=str(tmp_path / "nope.csv.gz"))

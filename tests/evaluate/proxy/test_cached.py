"""The ``cached`` proxy: any proxy's scores computed once and shared through a SQLite file."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from nasforge.errors import ConfigError
from nasforge.evaluate.proxy import PROXIES, CachedProxy, SynFlowProxy
from nasforge.space import NB201Space, nb201_to_arch
from nasforge.tasks import TASKS

CELLS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
]
SPACE = NB201Space(dims=1, channels=4, cells_per_stage=1)


def _cached(path: Path, **inner: object) -> CachedProxy:
    proxy = PROXIES.create("cached", {"proxy": {"name": "synflow", **inner}, "path": str(path)})
    assert isinstance(proxy, CachedProxy)
    proxy.bind(TASKS.create("mnist1d", {"num_samples": 200}))
    return proxy


def test_scores_equal_the_inner_proxys_and_are_computed_once(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "scores.db"
    first = _cached(path)
    direct = SynFlowProxy()
    direct.bind(TASKS.create("mnist1d", {"num_samples": 200}))
    archs = [nb201_to_arch(c) for c in CELLS]
    scores = [first.score(a, SPACE) for a in archs]
    assert scores == [direct.score(a, SPACE) for a in archs]  # -inf for the all-none cell too
    assert scores[2] == float("-inf") and first.n_computed == 3
    assert [first.score(a, SPACE) for a in archs] == scores and first.n_computed == 3
    second = pickle.loads(pickle.dumps(_cached(path)))  # another process: reads the file
    assert [second.score(a, SPACE) for a in archs] == scores and second.n_computed == 0


def test_other_settings_do_not_share_scores(tmp_path: Path) -> None:
    path = tmp_path / "scores.db"
    arch = nb201_to_arch(CELLS[0])
    base = _cached(path)
    base.score(arch, SPACE)
    other_seed = _cached(path, seed=1)
    other_seed.score(arch, SPACE)
    wider = _cached(path)
    wider.score(arch, NB201Space(dims=1, channels=8, cells_per_stage=1))
    assert (other_seed.n_computed, wider.n_computed) == (1, 1)
    assert base.namespace(SPACE) != other_seed.namespace(SPACE)


@pytest.mark.parametrize(("params", "message"), [
    ({"proxy": "synflow", "path": "x.db"}, "proxy.proxy: Input should be a valid dictionary"),
    ({"proxy": {"name": "cached", "proxy": {"name": "synflow"}, "path": "y"}, "path": "x.db"},
     "cannot wrap another one"),
    ({"proxy": {"name": "synflw"}, "path": "x.db"}, "synflow"),
    ({"proxy": {"name": "synflow"}, "path": ""}, "proxy.path: expected a file path"),
])
def test_bad_settings_are_named(params: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PROXIES.create("cached", params)

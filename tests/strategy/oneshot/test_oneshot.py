"""One-shot strategies outside a study: settings, collapse checks, determinism, checkpoints."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.space import NB201Space, nb201_to_arch
from nasforge.strategy import STRATEGIES
from nasforge.strategy.oneshot import (
    DERIVED,
    SEARCH_METRICS,
    OneShotStrategy,
    collapsed,
    has_parametric_path,
    parameter_free_share,
    spaces_with_supernet,
    top_k,
)
from nasforge.strategy.oneshot._engine import CHECKPOINT
from nasforge.trial import Status
from tests.strategy.oneshot.oneshot_toys import FAST, TINY_SPACE, Reports, context, tiny_task

ONE_SHOT = sorted(n for n in STRATEGIES.names() if issubclass(STRATEGIES.get(n), OneShotStrategy))


def cell(text: str) -> Architecture:
    return nb201_to_arch(text)


def test_the_four_papers_are_registered_and_cited() -> None:
    import importlib

    assert ONE_SHOT == ["darts", "enas", "gdas", "spos"]
    for name in ONE_SHOT:
        cls = STRATEGIES.get(name)
        assert "arxiv.org" in cls.paper
        assert "arxiv.org" in (importlib.import_module(cls.__module__).__doc__ or "")


# -- collapse ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|"
     "skip_connect~2|", True),                                     # all skip
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", True),     # zero cell
    # 3 of 6 skip/none (no majority), but the only conv feeds node 1, which reaches the output
    # only through a none edge: no parametric path
    ("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|avg_pool_3x3~0|none~1|skip_connect~2|", True),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|none~1|"
     "nor_conv_1x1~2|", False),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|"
     "nor_conv_3x3~2|", False),
])
def test_collapsed_cells(text: str, expected: bool) -> None:
    assert collapsed(NB201Space(dims=1), cell(text)) is expected


def test_parametric_path_and_shares() -> None:
    arch = cell("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|avg_pool_3x3~0|none~1|skip_connect~2|")
    assert has_parametric_path(arch) is False
    assert parameter_free_share(arch) == pytest.approx(5 / 6)
    assert has_parametric_path(Architecture({"depth": 2})) is None  # not a cell


def test_collapsed_refuses_a_foreign_architecture() -> None:
    with pytest.raises(ValueError, match="edge"):
        collapsed(NB201Space(dims=1), Architecture({"depth": 2}))


def test_top_k_is_the_k_most_likely_joint_choices() -> None:
    logp = [[math.log(p) for p in ps] for ps in ([0.5, 0.3, 0.2], [0.6, 0.4], [0.1, 0.7, 0.2])]
    every = sorted(itertools.product(*(range(len(o)) for o in logp)),
                   key=lambda c: -sum(logp[d][i] for d, i in enumerate(c)))
    assert top_k(logp, 5) == every[:5]
    assert len(top_k(logp, 100)) == 18


# -- settings ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "params", "field"), [
    ("darts", {"epochs": 0}, "strategy.epochs"),
    ("darts", {"lr": 0.01, "lr_min": 0.1}, "strategy.lr_min"),
    ("darts", {"epochs": 3, "guard_warmup": 3}, "strategy.guard_warmup"),
    ("darts", {"order": 3}, "strategy.order"),
    ("darts", {"max_parameter_free": 1.5}, "strategy.max_parameter_free"),
    ("gdas", {"tau_max": 1.0, "tau_min": 2.0}, "strategy.tau_min"),
    ("gdas", {"arch_lr": 0}, "strategy.arch_lr"),
    ("enas", {"top": 5, "n_final": 3}, "strategy.top"),
    ("enas", {"baseline_decay": 1.0}, "strategy.baseline_decay"),
    ("spos", {"parents": 30, "population": 10}, "strategy.parents"),
    ("spos", {"batch_size": 0}, "strategy.batch_size"),
    ("spos", {"epoch": 3}, "strategy.epoch"),
])
def test_bad_settings_name_the_field(name: str, params: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        STRATEGIES.create(name, params, field="strategy")


@pytest.mark.parametrize("name", ONE_SHOT)
def test_get_params_rebuilds_an_equal_strategy(name: str) -> None:
    strategy = STRATEGIES.create(name, FAST[name])
    assert STRATEGIES.create(name, strategy.get_params()) == strategy


def test_preflight_refuses_a_space_without_supernet_naming_what_works() -> None:
    from nasforge.space import SPACES

    space = SPACES.create("choices", {"decisions": {"a": [1, 2]}})
    problems = STRATEGIES.create("darts").preflight(space, None)  # type: ignore[arg-type]
    assert [p.field for p in problems] == ["strategy.name"]
    assert "regularized_evolution" in problems[0].fix and "darts" not in problems[0].fix
    assert "nb201" in problems[0].fix and "nb201" in spaces_with_supernet()
    assert STRATEGIES.create("darts").preflight(NB201Space(dims=1), None) == []  # type: ignore[arg-type]


# -- searching --------------------------------------------------------------------------------
def _search(name: str, tmp: Path | None = None, seed: int = 0, reporter: Any = None,
            **changes: Any) -> Any:
    strategy = STRATEGIES.create(name, {**FAST[name], **changes})
    ctx = context(NB201Space(**TINY_SPACE), tiny_task(),
                  None if tmp is None else str(tmp), reporter)
    return strategy.search(ctx, seed)


def _same(a: Any, b: Any) -> None:
    assert a.status is Status.OK, a.reason
    assert a.info[DERIVED] == b.info[DERIVED]
    for key in SEARCH_METRICS:
        if key != "search_cpu_s":
            assert a.metrics[key] == b.metrics[key], key


@pytest.mark.parametrize("name", ONE_SHOT)
def test_search_is_deterministic_and_reports_architecture_weights(name: str) -> None:
    reports = Reports()
    first = _search(name, reporter=reports)
    _same(first, _search(name))
    assert set(first.metrics) == set(SEARCH_METRICS)
    assert first.cost_s == first.metrics["search_cpu_s"] > 0
    derived = [Architecture.parse(t) for t in first.info[DERIVED]]
    assert derived and all(NB201Space(**TINY_SPACE).contains(a) for a in derived)
    assert [s for s, _ in reports.steps] == [0, 1]  # one report per epoch
    values = reports.steps[-1][1]
    assert math.isfinite(values["train_loss"])
    alphas = {k: v for k, v in values.items() if k.startswith("alpha.")}
    if name == "spos":
        assert not alphas  # uniform sampling has no architecture weights
    else:
        assert len(alphas) == 30  # 6 edges x 5 operations
        edge = [v for k, v in alphas.items() if k.startswith("alpha.cell.edge_1_0.")]
        assert sum(edge) == pytest.approx(1.0)


def test_a_different_seed_trains_a_different_supernet() -> None:
    a, b = _search("darts", seed=0), _search("darts", seed=1)
    assert a.metrics["supernet_val_accuracy"] != b.metrics["supernet_val_accuracy"] or \
        a.info[DERIVED] != b.info[DERIVED]


def test_second_order_darts_runs_and_differs_from_first_order() -> None:
    first, second = _search("darts", order=1), _search("darts", order=2)
    assert second.status is Status.OK, second.reason
    assert (first.info[DERIVED], first.metrics["supernet_val_accuracy"]) != \
        (second.info[DERIVED], second.metrics["supernet_val_accuracy"])


class _Killed(BaseException):
    """Stands for the worker being killed (not an Exception, so nothing catches it)."""


@pytest.mark.parametrize("name", ["darts", "enas"])
def test_a_killed_search_resumes_from_its_checkpoint_as_if_never_killed(
    name: str, tmp_path: Path
) -> None:
    straight = _search(name, tmp_path / "straight")

    def kill(step: int) -> None:
        raise _Killed

    (tmp_path / "killed").mkdir()
    with pytest.raises(_Killed):
        _search(name, tmp_path / "killed", reporter=Reports(on_step=kill))
    saved = torch.load(tmp_path / "killed" / CHECKPOINT, weights_only=False)
    assert saved["epoch"] == 1
    reports = Reports()
    resumed = _search(name, tmp_path / "killed", reporter=reports)
    _same(resumed, straight)
    # the saved epoch's report is sent again (a restarted trial's curve starts afresh)
    assert [s for s, _ in reports.steps] == [0, 1]


def test_divergence_fails_cleanly_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    strategy = STRATEGIES.create("darts", FAST["darts"])
    ctx = context(NB201Space(**TINY_SPACE), tiny_task(), str(run_dir))
    from nasforge.strategy.oneshot._engine import SearchRun

    search = SearchRun(strategy, ctx, 0)

    def poison(step: int) -> None:  # after epoch 1 is saved, the weights blow up
        with torch.no_grad():
            next(search.supernet.parameters()).fill_(float("nan"))

    search.ctx = context(NB201Space(**TINY_SPACE), tiny_task(), str(run_dir),
                         Reports(on_step=poison))
    result = search.run()
    assert result.status is Status.FAILED
    assert "diverged: non-finite" in (result.reason or "")
    assert "epoch 2" in (result.reason or "") and "checkpoint (epoch 1) is kept" in (
        result.reason or "")
    assert "strategy.lr" in (result.reason or "")
    saved = torch.load(run_dir / CHECKPOINT, weights_only=False)
    assert saved["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in saved["supernet"].values()
               if v.is_floating_point())


def test_the_collapse_guard_stops_and_proposes_a_cell_that_did_not_collapse() -> None:
    # a huge architecture learning rate and a strong auxiliary skip push towards skip cells
    guarded = _search("darts", epochs=4, arch_lr=0.5, guard_warmup=0, max_parameter_free=0.34)
    assert guarded.status is Status.OK, guarded.reason
    arch = Architecture.parse(guarded.info[DERIVED][0])
    assert not collapsed(NB201Space(**TINY_SPACE), arch)
    assert parameter_free_share(arch) <= 0.34
    if "stopped" in guarded.info:
        assert guarded.info["stopped"].startswith("collapse guard: stopped after epoch")
        assert guarded.metrics["search_epochs"] < 4

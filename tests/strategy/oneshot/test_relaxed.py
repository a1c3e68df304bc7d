"""DARTS's and GDAS's weight warm-up, derivation without ``none``, BatchNorm without affine, and
the collapse guard counted from after the warm-up."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError
from nasforge.space import NB201Space
from nasforge.strategy import STRATEGIES
from nasforge.strategy.oneshot import DERIVED
from nasforge.strategy.oneshot._engine import SearchRun
from nasforge.strategy.oneshot._relaxed import NONE_OPTIONS, RelaxedSearch, batch_norms
from nasforge.trial import Status
from tests.strategy.oneshot.oneshot_toys import FAST, TINY_SPACE, Reports, context, tiny_task

RELAXED = ["darts", "gdas"]


def _strategy(name: str, **changes: Any) -> RelaxedSearch:
    strategy = STRATEGIES.create(name, {**FAST[name], **changes})
    assert isinstance(strategy, RelaxedSearch)
    return strategy


def _run(strategy: RelaxedSearch) -> SearchRun:
    """A search set up as :meth:`SearchRun.run` does, before its first epoch."""
    run = SearchRun(strategy, context(NB201Space(**TINY_SPACE), tiny_task()), 0)
    torch.manual_seed(0)
    run.supernet = run.space.supernet(run.info)
    strategy._init_state(run)
    return run


def _favour(run: SearchRun, option: str) -> None:
    """Make ``option`` every decision's largest architecture parameter by far."""
    with torch.no_grad():
        for name, a in run.state["_alpha"].items():
            a.zero_()
            a[run.supernet.choices[name].index(option)] = 10.0


# -- settings ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", RELAXED)
@pytest.mark.parametrize(("params", "field"), [
    ({"epochs": 4, "warmup_epochs": 4}, "strategy.warmup_epochs"),
    ({"warmup_epochs": -1}, "strategy.warmup_epochs"),
    ({"warmup_epochs": "two"}, "strategy.warmup_epochs"),
    ({"epochs": 4, "warmup_epochs": 2, "guard_warmup": 2}, "strategy.guard_warmup"),
    ({"derive_none": "sometimes"}, "strategy.derive_none"),
    ({"bn_affine": "maybe"}, "strategy.bn_affine"),
])
def test_bad_new_settings_name_the_field(name: str, params: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")) as caught:
        STRATEGIES.create(name, params, field="strategy")
    if field == "strategy.guard_warmup":
        assert "warmup_epochs (2)" in str(caught.value)


@pytest.mark.parametrize("name", RELAXED)
def test_defaults_warm_up_a_quarter_derive_without_none_and_freeze_bn(name: str) -> None:
    strategy = STRATEGIES.create(name, {"epochs": 20})
    assert (strategy.warmup_epochs, strategy.derive_none, strategy.bn_affine) == (5, False, False)
    assert STRATEGIES.create(name, strategy.get_params()) == strategy
    # without the guard, every epoch but the last may warm up
    assert STRATEGIES.create(name, {"epochs": 3, "warmup_epochs": 2,
                                    "collapse_guard": False}).warmup_epochs == 2


# -- derivation -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", RELAXED)
def test_derivation_never_proposes_none_unless_asked(name: str) -> None:
    run = _run(_strategy(name, top=3, warmup_epochs=0, collapse_guard=False))
    _favour(run, "none")
    for arch in [run.strategy._current(run), *run.strategy._final(run)]:
        assert arch is not None
        assert not any(v in NONE_OPTIONS for v in arch.values()), arch
    asked = _run(_strategy(name, top=1, warmup_epochs=0, collapse_guard=False,
                           derive_none=True))
    _favour(asked, "none")
    assert set(asked.strategy._final(asked)[0].values()) == {"none"}
    assert set(asked.strategy._current(asked).values()) == {"none"}  # type: ignore[union-attr]


def test_a_whole_search_derives_no_none() -> None:
    result = STRATEGIES.create("darts", {**FAST["darts"], "arch_lr": 0.5, "top": 3,
                                         "collapse_guard": False}).search(
        context(NB201Space(**TINY_SPACE), tiny_task()), 0)
    assert result.status is Status.OK, result.reason
    for text in result.info[DERIVED]:
        assert "none" not in Architecture.parse(text).values()


# -- the weight warm-up -----------------------------------------------------------------------
@pytest.mark.parametrize("name", RELAXED)
def test_alpha_is_frozen_during_the_warm_up_and_moves_after(name: str) -> None:
    run = _run(_strategy(name, epochs=3, warmup_epochs=1, arch_lr=0.1))
    alpha = {k: a.detach().clone() for k, a in run.state["_alpha"].items()}
    weights = [p.detach().clone() for p in run.supernet.parameters()]
    run.epoch = 0
    run.strategy._train_epoch(run)
    assert all(torch.equal(alpha[k], a) for k, a in run.state["_alpha"].items())
    assert any(not torch.equal(w, p) for w, p in zip(weights, run.supernet.parameters(),
                                                     strict=True))
    assert run.strategy._current(run) is None  # nothing is derived from unmoved parameters
    run.epoch = 1
    run.strategy._train_epoch(run)
    assert any(not torch.equal(alpha[k], a) for k, a in run.state["_alpha"].items())
    assert run.strategy._current(run) is not None


def test_gdas_temperature_decays_over_the_epochs_after_the_warm_up() -> None:
    gdas = STRATEGIES.create("gdas", {"epochs": 6, "warmup_epochs": 2, "tau_max": 10.0,
                                      "tau_min": 0.1})
    assert [gdas.tau(e) for e in (0, 1, 2)] == [10.0, 10.0, 10.0]
    assert gdas.tau(5) == pytest.approx(0.1)
    assert gdas.tau(3) < 10.0


@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_scale_and_shift_are_learnt_only_with_bn_affine(affine: bool) -> None:
    run = _run(_strategy("darts", bn_affine=affine))
    norms = batch_norms(run.supernet)
    assert norms
    run.epoch = 0
    run.strategy._train_epoch(run)
    frozen = all(torch.equal(n.weight, torch.ones_like(n.weight))
                 and torch.equal(n.bias, torch.zeros_like(n.bias)) for n in norms)
    assert frozen is not affine


# -- the collapse guard after the warm-up -----------------------------------------------------
def test_the_guard_does_not_judge_before_the_warm_up_and_guard_warmup_are_over() -> None:
    strategy = _strategy("darts", epochs=6, warmup_epochs=2, guard_warmup=1, derive_none=True)
    run = _run(strategy)
    skips = Architecture({n: "skip_connect" for n in run.supernet.choices})
    for done in (1, 2, 3):
        run.epoch = done
        assert strategy._guard(run, skips) is None
    run.epoch = 4
    assert (strategy._guard(run, skips) or "").startswith("collapse guard: stopped after epoch 4")


def test_a_guard_that_would_stop_at_once_waits_for_the_warm_up() -> None:
    # any parameter-free operation trips this guard, so without a warm-up it stops at once
    strict = {"epochs": 4, "guard_warmup": 0, "max_parameter_free": 0.01}
    ctx = context(NB201Space(**TINY_SPACE), tiny_task())
    at_once = STRATEGIES.create("darts", {**FAST["darts"], **strict,
                                          "warmup_epochs": 0}).search(ctx, 0)
    assert at_once.metrics["search_epochs"] == 1, at_once.info
    reports = Reports()
    warmed = STRATEGIES.create("darts", {**FAST["darts"], **strict, "warmup_epochs": 3}).search(
        context(NB201Space(**TINY_SPACE), tiny_task(), reporter=reports), 0)
    assert warmed.status is Status.OK, warmed.reason
    assert warmed.metrics["search_epochs"] == 4
    # warm-up epochs report the (uniform) weights but derive and judge nothing
    assert ["collapsed" in values for _, values in reports.steps] == [False, False, False, True]


class _Killed(BaseException):
    """Stands for the worker being killed (not an Exception, so nothing catches it)."""


def test_a_search_killed_in_the_warm_up_resumes_as_if_never_killed(tmp_path: Any) -> None:
    settings = {**FAST["gdas"], "epochs": 3, "warmup_epochs": 1}

    def search(workdir: Any, reporter: Any = None) -> Any:
        workdir.mkdir(exist_ok=True)
        return STRATEGIES.create("gdas", settings).search(
            context(NB201Space(**TINY_SPACE), tiny_task(), str(workdir), reporter), 0)

    straight = search(tmp_path / "straight")

    def kill(step: int) -> None:
        raise _Killed

    with pytest.raises(_Killed):
        search(tmp_path / "killed", Reports(on_step=kill))
    resumed = search(tmp_path / "killed")
    assert resumed.info[DERIVED] == straight.info[DERIVED]
    assert resumed.metrics["supernet_val_accuracy"] == straight.metrics["supernet_val_accuracy"]

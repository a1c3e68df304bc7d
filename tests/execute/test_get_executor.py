"""get_executor and the executor registry."""

from __future__ import annotations

import multiprocessing

import pytest

from nasforge.errors import ConfigError
from nasforge.execute import EXECUTORS, InlineExecutor, ProcessExecutor, get_executor
from nasforge.execute.ray import ray_available


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in EXECUTORS.names()])
def test_get_params_rebuilds_an_equal_executor(name: str) -> None:
    if name == "ray" and not ray_available():
        pytest.skip("the ray extra is not installed")
    ex = EXECUTORS.create(name)
    try:
        again = EXECUTORS.create(name, ex.get_params())
        assert again == ex
        assert get_executor({"name": name, **ex.get_params()}) == ex
        again.shutdown()
    finally:
        ex.shutdown()


def test_builtins_are_registered() -> None:
    assert {"inline", "process"} <= set(EXECUTORS.names())


def test_get_executor_specs() -> None:
    before = set(multiprocessing.active_children())
    assert isinstance(get_executor("inline"), InlineExecutor)
    ex = get_executor({"name": "process", "workers": 3, "start_method": "forkserver"})
    assert isinstance(ex, ProcessExecutor)
    assert (ex.n_workers, ex.threads_per_worker, ex.start_method) == (3, 1, "forkserver")
    assert get_executor(ex) is ex
    assert ex.free_slots() == 3
    # Building the configuration does not start processes.
    assert set(multiprocessing.active_children()) <= before
    ex.shutdown()


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        pytest.param("proces", "did you mean 'process'", id="typo"),
        pytest.param({"workers": 2}, "executor.name", id="no-name"),
        pytest.param({"name": "process", "workers": 0}, "workers.*>= 1", id="zero-workers"),
        pytest.param({"name": "process", "wrokers": 2}, "did you mean 'workers'", id="unknown"),
        pytest.param({"name": "process", "start_method": "thread"}, "start_method", id="method"),
        pytest.param(3, "expected a name or a mapping", id="int"),
    ],
)
def test_get_executor_errors_name_the_field(spec: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        get_executor(spec)  # type: ignore[arg-type]


def test_constructor_validates_eagerly() -> None:
    with pytest.raises(ConfigError, match="threads_per_worker"):
        ProcessExecutor(threads_per_worker=0)


def test_the_ray_executor_without_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # runs whether or not Ray is installed: the check is made before anything imports it
    monkeypatch.setattr("nasforge.execute.ray.ray_available", lambda: False)
    with pytest.raises(ConfigError, match=r"executor.name: the ray executor needs Ray, which is "
                                          r"not installed.*pip install 'nasforge\[ray\]'"):
        get_executor({"name": "ray", "workers": 2})

"""A GPU per process-pool worker, checked with faked device lists (no GPU is needed).

The assignment functions are pure; the pool test fakes ``visible_gpus`` and asks each real
worker process for its ``CUDA_VISIBLE_DEVICES``, so what the worker sees is checked, not only
what the parent meant to give it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from nasforge.errors import ConfigError
from nasforge.execute import (
    ProcessExecutor,
    assign_gpus,
    auto_workers,
    choose_gpus,
    get_executor,
    visible_gpus,
)

pytestmark = pytest.mark.timeout(120)
FIELD = "executor.gpus"


def test_visible_gpus_follows_cuda_visible_devices() -> None:
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2,5"}) == ["2", "5"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}) == []


def test_each_worker_gets_its_own_gpu_and_more_workers_share_round_robin() -> None:
    assert assign_gpus(4, ["0", "1", "2", "3"]) == ["0", "1", "2", "3"]
    assert assign_gpus(2, ["0", "1", "2", "3"]) == ["0", "1"]
    assert assign_gpus(3, ["4", "7"]) == ["4", "7", "4"]
    assert assign_gpus(2, []) == [None, None]  # no GPU: the environment is left alone


def test_auto_workers_is_one_per_gpu_or_one_per_core() -> None:
    assert auto_workers(["0", "1", "2"]) == 3
    assert auto_workers([], n_cpus=16) == 16
    assert auto_workers([]) == len(os.sched_getaffinity(0))


def test_choose_gpus_by_count_list_or_auto() -> None:
    devices = ["0", "1", "2"]
    assert choose_gpus("auto", devices, field=FIELD) == devices
    assert choose_gpus(2, devices, field=FIELD) == ["0", "1"]
    assert choose_gpus([2, 0], devices, field=FIELD) == ["2", "0"]
    assert choose_gpus(0, devices, field=FIELD) == []


def test_more_gpus_than_exist_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"executor.gpus: asks for 4 GPU\(s\) but this machine "
                                          r"has 2 \(visible: 0, 1\).*use at most 2"):
        choose_gpus(4, ["0", "1"], field=FIELD)
    with pytest.raises(ConfigError, match=r"GPU 3 does not exist \(visible: 0, 1\)"):
        choose_gpus([0, 3], ["0", "1"], field=FIELD)
    with pytest.raises(ConfigError, match="lists a GPU twice"):
        choose_gpus([1, 1], ["0", "1"], field=FIELD)
    with pytest.raises(ConfigError, match=r"asks for 1 GPU\(s\) but this machine has 0 "
                                          r"\(visible: none\)"):
        choose_gpus(1, [], field=FIELD)


@pytest.fixture
def four_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nasforge.execute.pool.visible_gpus", lambda: ["0", "1", "2", "3"])


@pytest.mark.usefixtures("four_gpus")
def test_workers_auto_is_one_per_gpu() -> None:
    ex = ProcessExecutor(workers="auto")
    assert ex.n_workers == 4 and ex.worker_gpus == ["0", "1", "2", "3"]
    assert ProcessExecutor(workers="auto", gpus=[1, 3]).worker_gpus == ["1", "3"]
    assert ProcessExecutor(workers=2, gpus=0).worker_gpus == ["", ""]  # hides the GPUs
    assert ex.get_params()["workers"] == "auto"


@pytest.mark.usefixtures("four_gpus")
def test_too_many_gpus_in_a_spec_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"executor.gpus: asks for 8 GPU\(s\) but this machine "
                                          "has 4"):
        get_executor({"name": "process", "workers": 2, "gpus": 8})
    with pytest.raises(ConfigError, match=r"executor\.workers"):
        get_executor({"name": "process", "workers": "many"})


def test_without_a_gpu_auto_is_one_worker_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nasforge.execute.pool.visible_gpus", lambda: [])
    ex = ProcessExecutor(workers="auto")
    assert ex.n_workers == len(os.sched_getaffinity(0)) and set(ex.worker_gpus) == {None}


def gpu_env(marker: str) -> tuple[str | None, int]:
    """The worker's CUDA_VISIBLE_DEVICES; waits for ``marker`` so both workers are busy."""
    seen = os.environ.get("CUDA_VISIBLE_DEVICES")
    Path(marker, str(os.getpid())).write_text(seen or "")
    while len(list(Path(marker).iterdir())) < 2:
        time.sleep(0.01)
    return seen, os.getpid()


def die() -> None:
    os._exit(3)


def test_each_worker_process_sees_its_own_gpu_and_a_replacement_keeps_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("nasforge.execute.pool.visible_gpus", lambda: ["3", "5"])
    with ProcessExecutor(workers=2) as ex:
        first = tmp_path / "first"
        first.mkdir()
        seen = [f.result(timeout=60) for f in [ex.submit(gpu_env, str(first)) for _ in "ab"]]
        assert sorted(s for s, _ in seen) == ["3", "5"]
        crashed = ex.submit(die)
        with pytest.raises(Exception, match="died unexpectedly"):
            crashed.result(timeout=60)
        second = tmp_path / "second"
        second.mkdir()
        again = [f.result(timeout=60) for f in [ex.submit(gpu_env, str(second)) for _ in "ab"]]
        assert sorted(s for s, _ in again) == ["3", "5"]  # the replacement got the dead one's

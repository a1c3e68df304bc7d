"""RayExecutor on a local Ray instance: results, retries of dead workers, time limits, studies.

Ray takes seconds to start, so one instance (2 CPUs) serves the module; the first test starts
its own through a study, to check where Ray's files go. Calls synchronise through marker files,
never through sleeps; durations appear only as generous "it did not hang" bounds.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nasforge.errors import ConfigError, TrialTimeout
from nasforge.evaluate.base import EVALUATORS, EvalContext
from nasforge.execute import RayExecutor, Resources, WorkerCrashedError, get_executor
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study
from nasforge.testing.toys import ToyEvaluator
from nasforge.trial import Candidate, Result, TrialState

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.timeout(180)]
# Functions and classes of this module travel by value: Ray's workers need not import tests/.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

BASE: dict[str, Any] = {
    "name": "r",
    "task": "toy",
    "space": {"name": "toy", "n_decisions": 4, "n_options": 4},
    "strategy": {"name": "regularized_evolution", "population": 4, "sample": 2},
    "evaluator": "toy",
    "budget": {"trials": 10},
    "reproducible": True,
    "export_best": False,
}


@EVALUATORS.register("ray_test_die_once")
class DieOnceEvaluator(ToyEvaluator):
    """The toy evaluator, except that the first attempt at trial ``number`` kills its worker."""

    def __init__(self, *, marker_dir: str = "", number: int = 1) -> None:
        super().__init__()
        self.marker_dir = marker_dir
        self.number = number

    def evaluate(self, candidate: Candidate, ctx: EvalContext) -> Result:
        marker = Path(self.marker_dir, f"attempt-{ctx.number}")
        if ctx.number == self.number and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)  # the worker process dies mid-trial
        return super().evaluate(candidate, ctx)


def study(tmp_path: Path, executor: dict[str, Any], **changes: Any) -> Study:
    data = {**BASE, "root": str(tmp_path), "executor": executor, **changes}
    return Study.create(parse_spec(data)).run()


def outcomes(s: Study) -> list[tuple[str, str, dict[str, float]]]:
    return [(str(t.arch), t.state.value, dict(t.metrics)) for t in s.trials()]


# ------------------------------------------------------------ its own instance, in a study


def test_a_study_on_ray_equals_the_process_pool_and_keeps_ray_files_in_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if ray.is_initialized():  # pragma: no cover - only if another module left one running
        pytest.skip("a Ray instance is already running in this process")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    on_ray = study(tmp_path / "ray", {"name": "ray", "workers": 2, "num_cpus": 2})
    pooled = study(tmp_path / "pool", {"name": "process", "workers": 2})
    assert outcomes(on_ray) == outcomes(pooled)
    assert all(t.state is TrialState.COMPLETE for t in on_ray.trials())
    assert list((tmp_path / "ray" / "r" / "ray").glob("session_*/logs"))
    assert not list(home.iterdir())  # nothing written to the user's home
    assert not ray.is_initialized()  # the study stopped the instance it started
    assert not list(Path(tempfile.gettempdir()).glob("nasforge-ray-*"))  # nor left a link


# ------------------------------------------------------------ one shared instance


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    # the token the first test's executor chose, if it ran: Ray keeps the first one it read
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    temp = tempfile.mkdtemp(prefix="nfray-")
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp, configure_logging=False)
    yield
    ray.shutdown()


def block(started: str, release: str, value: Any) -> Any:
    Path(started).write_text(str(os.getpid()))
    while not os.path.exists(release):
        time.sleep(0.01)
    return value


def fail(message: str) -> None:
    raise ValueError(message)


def kill_first_attempt(marker: str, value: Any) -> Any:
    if not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)
    return value


def always_die() -> None:
    os._exit(1)


def wait_for(path: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


@pytest.mark.usefixtures("local_ray")
def test_results_errors_and_the_queue(tmp_path: Path) -> None:
    with RayExecutor(workers=2) as ex:
        ex.prepare()
        release = tmp_path / "go"
        blocked = [ex.submit(block, str(tmp_path / f"s{i}"), str(release), i) for i in range(3)]
        assert ex.free_slots() == 0
        wait_for(tmp_path / "s0")
        wait_for(tmp_path / "s1")
        assert not (tmp_path / "s2").exists()  # only `workers` calls run at once
        release.write_text("")
        assert [f.result(timeout=60) for f in blocked] == [0, 1, 2]
        with pytest.raises(ValueError, match="bad input") as info:
            ex.submit(fail, "bad input").result(timeout=60)
        assert "Traceback" in str(info.value.__cause__)  # the worker's traceback comes along


@pytest.mark.usefixtures("local_ray")
def test_a_worker_killed_mid_call_is_retried(tmp_path: Path) -> None:
    with RayExecutor(workers=1, max_retries=1) as ex:
        assert ex.submit(kill_first_attempt, str(tmp_path / "m"), 7).result(timeout=90) == 7
        with pytest.raises(WorkerCrashedError, match=r"died 2 time\(s\) \(max_retries=1\)"):
            ex.submit(always_die).result(timeout=90)


@pytest.mark.usefixtures("local_ray")
def test_the_time_limit_cancels_the_task(tmp_path: Path) -> None:
    with RayExecutor(workers=1) as ex:
        stuck = ex.submit(block, str(tmp_path / "s"), str(tmp_path / "never"), 0,
                          time_limit_s=0.5)
        with pytest.raises(TrialTimeout, match=r"time limit of 0\.5 s.*in its Ray worker"):
            stuck.result(timeout=60)
        assert ex.submit(pow, 2, 5).result(timeout=60) == 32  # the executor goes on


@pytest.mark.usefixtures("local_ray")
def test_a_study_survives_a_worker_killed_mid_trial(tmp_path: Path) -> None:
    evaluator = {"name": "ray_test_die_once", "marker_dir": str(tmp_path), "number": 1}
    s = study(tmp_path, {"name": "ray", "workers": 2}, evaluator=evaluator, budget={"trials": 6})
    assert (tmp_path / "attempt-1").exists()  # trial 1's first worker did die
    trials = s.trials()
    assert len(trials) == 6 and all(t.state is TrialState.COMPLETE for t in trials)


@pytest.mark.usefixtures("local_ray")
def test_a_trial_whose_workers_keep_dying_is_failed_with_the_reason(tmp_path: Path) -> None:
    evaluator = {"name": "ray_test_die_once", "marker_dir": str(tmp_path), "number": 2}
    s = study(tmp_path, {"name": "ray", "workers": 1, "max_retries": 0}, evaluator=evaluator,
              budget={"trials": 4})
    failed = [t for t in s.trials() if t.state is TrialState.FAILED]
    assert [t.number for t in failed] == [2]
    assert failed[0].result is not None
    assert "WorkerCrashedError" in (failed[0].result.reason or "")
    assert "max_retries=0" in (failed[0].result.reason or "")


# ------------------------------------------------------------ bad input, within seconds


@pytest.mark.usefixtures("local_ray")
def test_resources_no_node_has_are_refused_at_once() -> None:
    began = time.monotonic()
    with pytest.raises(ConfigError, match=r"executor.gpus_per_trial: each trial asks for 1 "
                                          r"CPU\(s\), 4 GPU\(s\).*no node.*largest has CPU 2"):
        RayExecutor(gpus_per_trial=4).prepare()
    with pytest.raises(ConfigError, match=r"executor.cpus_per_trial: each trial asks for 64"):
        RayExecutor(cpus_per_trial=64).prepare()
    assert time.monotonic() - began < 10


@pytest.mark.usefixtures("local_ray")
def test_the_evaluators_needs_are_checked_and_the_config_overrides_them() -> None:
    with pytest.raises(ConfigError, match=r"asks for 1 CPU\(s\), 2 GPU\(s\)"):
        RayExecutor().prepare(resources=Resources(gpus=2))
    ex = RayExecutor(gpus_per_trial=0, memory_gb_per_trial=0.1)
    ex.prepare(resources=Resources(cpus=2, gpus=2))  # the config's 0 GPUs win; 2 CPUs fit
    with ex:
        assert ex.submit(pow, 3, 2).result(timeout=60) == 9
    with pytest.raises(ConfigError, match=r"1 CPU\(s\), 0 GPU\(s\), 4096 GiB memory"):
        RayExecutor(memory_gb_per_trial=4096).prepare()


def test_an_unreachable_address_is_a_clear_error_within_seconds() -> None:
    began = time.monotonic()
    with pytest.raises(ConfigError, match=r"executor.address: no Ray cluster answers at "
                                          r"127.0.0.1:9.*ray start --head"):
        RayExecutor(address="127.0.0.1:9").prepare()
    with pytest.raises(ConfigError, match="expected HOST:PORT"):
        RayExecutor(address="nowhere").prepare()
    assert time.monotonic() - began < 15


def test_the_constructor_starts_nothing_and_checks_its_parameters() -> None:
    ex = get_executor({"name": "ray", "workers": 3, "address": "10.0.0.5:6379"})
    assert ex.n_workers == 3 and ex.get_params()["address"] == "10.0.0.5:6379"
    with pytest.raises(ConfigError, match=r"executor\.max_retries"):
        get_executor({"name": "ray", "max_retries": -1})

"""InlineExecutor: calls run at submit time; failures land on the future."""

from __future__ import annotations

import pytest

from nasforge.errors import ConfigError
from nasforge.execute import ExecutorShutdownError, InlineExecutor


def _fail(message: str) -> None:
    raise ValueError(message)


def test_result_and_order_of_calls() -> None:
    calls: list[int] = []
    with InlineExecutor() as ex:
        futures = [ex.submit(calls.append, i) for i in range(3)]
        assert calls == [0, 1, 2]  # ran inside submit, in order
        assert all(f.done() for f in futures)
        assert ex.submit(pow, 2, 10).result() == 1024
        assert ex.submit(dict, a=1).result() == {"a": 1}


def test_exception_is_set_on_the_future_not_raised() -> None:
    ex = InlineExecutor()
    future = ex.submit(_fail, "broken trial")
    assert isinstance(future.exception(), ValueError)
    with pytest.raises(ValueError, match="broken trial"):
        future.result()


def test_keyboard_interrupt_propagates_and_is_recorded() -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    ex = InlineExecutor()
    with pytest.raises(KeyboardInterrupt):
        ex.submit(interrupt)


def test_slots_wait_and_shutdown() -> None:
    ex = InlineExecutor()
    assert ex.n_workers == 1
    assert ex.free_slots() == 1
    future = ex.submit(abs, -3)
    assert ex.wait([future], timeout=0) == {future}
    assert ex.wait([], timeout=0) == set()
    ex.shutdown()
    assert ex.free_slots() == 0
    with pytest.raises(ExecutorShutdownError, match="after shutdown"):
        ex.submit(abs, 1)


def test_time_limit_is_accepted_but_validated() -> None:
    ex = InlineExecutor()
    assert ex.submit(abs, -1, time_limit_s=0.5).result() == 1
    with pytest.raises(ConfigError, match="time_limit_s"):
        ex.submit(abs, -1, time_limit_s=0)
    with pytest.raises(ConfigError, match="time_limit_s"):
        ex.submit(abs, -1, time_limit_s=float("nan"))

"""The tell policies: how many results an ask waits for."""

from __future__ import annotations

import pytest

from nasforge.run.tell_policy import ArrivalOrder, TrialOrder, tell_policy


def test_arrival_order_never_waits() -> None:
    policy = ArrivalOrder()
    assert [policy.quota(n) for n in range(5)] == [None] * 5
    assert policy.tells_on_arrival


@pytest.mark.parametrize("lag", [1, 2, 4])
def test_trial_order_asks_after_trials_up_to_n_minus_lag(lag: int) -> None:
    policy = TrialOrder(lag)
    quotas = [policy.quota(n) for n in range(8)]
    # Trial n is asked after exactly the results of trials 0 .. n - lag.
    assert quotas == [max(0, n - lag + 1) for n in range(8)]
    assert not policy.tells_on_arrival


def test_trial_order_refuses_a_lag_below_one() -> None:
    with pytest.raises(ValueError, match="lag must be >= 1"):
        TrialOrder(0)


def test_the_spec_flag_picks_the_policy() -> None:
    assert isinstance(tell_policy(reproducible=False, n_workers=4), ArrivalOrder)
    ordered = tell_policy(reproducible=True, n_workers=3)
    assert isinstance(ordered, TrialOrder) and ordered.lag == 3

"""What an evaluator says one trial needs, as the study hands it to the executor."""

from __future__ import annotations

import pytest

from nasforge.execute import Resources
from nasforge.execute.resources import requested_resources


class _States:
    def trial_resources(self) -> Resources:
        return Resources(cpus=2, gpus=0.5)


class _Wrong:
    def trial_resources(self) -> dict[str, float]:
        return {"gpus": 1}


def test_an_evaluator_states_its_needs_or_none() -> None:
    assert requested_resources(_States()) == Resources(cpus=2, gpus=0.5, memory_gb=None)
    assert requested_resources(object()) is None


def test_a_wrong_answer_names_the_evaluator_and_the_type_expected() -> None:
    with pytest.raises(TypeError, match=r"_Wrong.trial_resources\(\) must return "
                                        r"nasforge.execute.Resources or None; got dict"):
        requested_resources(_Wrong())

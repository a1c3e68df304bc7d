"""`FixedStrategy`: proposes a scripted list of architectures, for testing loops and stores."""

from __future__ import annotations

from typing import Any

from nasforge.architecture import Architecture
from nasforge.strategy.base import STRATEGIES, Strategy
from nasforge.trial import Candidate, Trial


@STRATEGIES.register("fixed")
class FixedStrategy(Strategy):
    """Asks the given architectures in order (with optional fidelities), then returns ``None``.

    Records every told trial in ``told``, so tests can check what the loop told and when.
    """

    def __init__(self, *, archs: list[dict[str, Any]], fidelities: list[int] | None = None) -> None:
        self.archs = archs
        self.fidelities = fidelities
        self.told: list[Trial] = []

    def _reset(self) -> None:
        self.told = []

    def _ask(self, number: int) -> Candidate | None:
        if number >= len(self.archs):
            return None
        fidelity = self.fidelities[number] if self.fidelities else None
        return Candidate(Architecture(self.archs[number]), fidelity)

    def _tell(self, trial: Trial) -> None:
        self.told.append(trial)

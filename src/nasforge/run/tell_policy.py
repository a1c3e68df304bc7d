"""When a finished trial is told to the strategy, and when the next trial may be asked.

The policy is the one place where worker utilisation is traded against a reproducible sequence of
architectures:

- :class:`ArrivalOrder` (the default) tells each result as soon as it is stored and never makes
  a free worker wait. With several workers, which results trial ``n`` was asked after depends on
  timing, so a from-scratch rerun with the same seed may propose other architectures.
- :class:`TrialOrder` (``reproducible: true``) asks trial ``n`` after exactly the results of
  trials ``0 .. n - lag`` (``lag`` = the number of workers), told in trial order. The sequence
  depends only on the seed, at the price of a free worker waiting while an earlier, longer trial
  finishes.

Either way the store records how many results each trial was asked after and when each result
was told, so a resume replays the real interleaving and is exact in both modes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class TellPolicy(ABC):
    """Decides how many results must have been told before trial ``number`` is asked."""

    @abstractmethod
    def quota(self, number: int) -> int | None:
        """The exact number of told results trial ``number`` must be asked after.

        ``None`` means "whatever has arrived": tell every stored result, then ask at once.
        """

    @property
    @abstractmethod
    def tells_on_arrival(self) -> bool:
        """Whether a result is told as soon as it is stored (rather than when the next ask needs
        it)."""


class ArrivalOrder(TellPolicy):
    """Tell results as they arrive; never keep a worker waiting."""

    def quota(self, number: int) -> int | None:
        return None

    @property
    def tells_on_arrival(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "ArrivalOrder()"


class TrialOrder(TellPolicy):
    """Tell results in trial order; trial ``n`` is asked after trials ``0 .. n - lag``.

    Args:
        lag: how many trials may be outstanding (asked but not told) at an ask; the number of
            workers keeps every worker busy when trials take equal time.
    """

    def __init__(self, lag: int) -> None:
        if lag < 1:
            raise ValueError(f"TrialOrder lag must be >= 1; got {lag}")
        self.lag = lag

    def quota(self, number: int) -> int | None:
        return max(0, number - self.lag + 1)

    @property
    def tells_on_arrival(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"TrialOrder(lag={self.lag})"


def tell_policy(*, reproducible: bool, n_workers: int) -> TellPolicy:
    """The policy a run spec asks for."""
    return TrialOrder(max(1, n_workers)) if reproducible else ArrivalOrder()

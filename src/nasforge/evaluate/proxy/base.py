"""Zero-cost proxies: a cheap score of an architecture, used to guide a search.

A proxy scores an architecture without training it (a lookup in a benchmark table, or a statistic
of an untrained network such as NASWOT or SynFlow). Strategies may use one to pre-rank candidates;
each call counts as one proxy score, and strategies report how many they used.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from nasforge.config import Component
from nasforge.registry import Registry

if TYPE_CHECKING:
    from nasforge.architecture import Architecture
    from nasforge.space.base import SearchSpace


class Proxy(Component, ABC):
    """Scores architectures cheaply; larger is better. Must be deterministic and picklable."""

    @abstractmethod
    def score(self, arch: Architecture, space: SearchSpace) -> float:
        """The proxy score of ``arch`` (a member of ``space``); larger means more promising."""


PROXIES: Registry[Proxy] = Registry("proxy")
"""Registered proxies (``@PROXIES.register("nb201_table")``)."""

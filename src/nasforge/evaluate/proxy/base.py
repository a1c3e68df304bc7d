"""Zero-cost proxies: a cheap score of an architecture, used to guide a search.

A proxy scores an architecture without training it (a lookup in a benchmark table, or a statistic
of an untrained network such as NASWOT or SynFlow). Strategies may use one to pre-rank candidates;
each call counts as one proxy score, and strategies report how many they used.

Proxies computed on a network (:mod:`nasforge.evaluate.proxy._network`) need the task the
network is built for. A strategy or evaluator that holds one calls :meth:`Proxy.bind` with the
study's task before the first score; proxies that need no task (a table lookup) ignore it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from nasforge.config import Component
from nasforge.registry import Registry

if TYPE_CHECKING:
    from nasforge.architecture import Architecture
    from nasforge.space.base import SearchSpace
    from nasforge.tasks.base import Task


class Proxy(Component, ABC):
    """Scores architectures cheaply; larger is better. Must be deterministic and picklable."""

    def bind(self, task: Task) -> None:
        """Use ``task`` (the study's) for networks and data when the proxy names none itself.

        Called by strategies and the ``proxy`` evaluator before scoring; the default does
        nothing (a table lookup needs no task). Binding again replaces the previous task.
        """

    @property
    def metric_name(self) -> str:
        """The metric key of this proxy's score (its registry name unless overridden)."""
        return self.name

    @abstractmethod
    def score(self, arch: Architecture, space: SearchSpace) -> float:
        """The proxy score of ``arch`` (a member of ``space``); larger means more promising."""


PROXIES: Registry[Proxy] = Registry("proxy")
"""Registered proxies (``@PROXIES.register("nb201_table")``)."""

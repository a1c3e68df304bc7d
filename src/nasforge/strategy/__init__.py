"""Search strategies: what to try next, through ask/tell.

Importing this package registers the built-in black-box strategies in :data:`STRATEGIES`:
``random`` (:class:`RandomSearch`), ``regularized_evolution`` (:class:`RegularizedEvolution`) and
``local_search`` (:class:`LocalSearch`).
"""

from __future__ import annotations

from nasforge.strategy._evolution import RegularizedEvolution
from nasforge.strategy._local_search import LocalSearch
from nasforge.strategy._random import RandomSearch
from nasforge.strategy.base import STRATEGIES, Strategy

__all__ = ["STRATEGIES", "LocalSearch", "RandomSearch", "RegularizedEvolution", "Strategy"]

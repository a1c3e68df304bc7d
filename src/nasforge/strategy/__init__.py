"""Search strategies: what to try next, through ask/tell.

Importing this package registers the built-in black-box strategies in :data:`STRATEGIES`:
``random`` (:class:`RandomSearch`), ``regularized_evolution`` (:class:`RegularizedEvolution`) and
``local_search`` (:class:`LocalSearch`), the model-based ``bananas`` (:class:`BANANAS`),
``gp_bo`` (:class:`GPBO`) and ``tpe`` (:class:`TPE`), and the proxy-guided ``zc_local_search``
(:class:`ZCLocalSearch`).
"""

from __future__ import annotations

from nasforge.strategy._bananas import BANANAS
from nasforge.strategy._bo import GPBO, TPE
from nasforge.strategy._evolution import RegularizedEvolution
from nasforge.strategy._local_search import LocalSearch
from nasforge.strategy._random import RandomSearch
from nasforge.strategy._zc import ZCLocalSearch, zc_warmup
from nasforge.strategy.base import STRATEGIES, Strategy

__all__ = [
    "BANANAS",
    "GPBO",
    "STRATEGIES",
    "TPE",
    "LocalSearch",
    "RandomSearch",
    "RegularizedEvolution",
    "Strategy",
    "ZCLocalSearch",
    "zc_warmup",
]

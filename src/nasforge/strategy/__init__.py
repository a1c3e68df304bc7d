"""Search strategies: what to try next, through ask/tell.

Importing this package registers the built-in black-box strategies in :data:`STRATEGIES`:

- ``random`` (:class:`RandomSearch`), ``regularized_evolution`` (:class:`RegularizedEvolution`),
  ``local_search`` (:class:`LocalSearch`), ``reinforce`` (:class:`REINFORCE`);
- model-based: ``bananas`` (:class:`BANANAS`), ``gp_bo`` (:class:`GPBO`), ``tpe`` (:class:`TPE`);
- multi-fidelity: ``successive_halving``, ``hyperband``, ``bohb`` and ``mf_local_search``
  (:class:`MultiFidelityLocalSearch`);
- proxy-guided: ``zc_local_search`` (:class:`ZCLocalSearch`);
- multi-objective: ``nsga2`` (:class:`NSGA2`), ``pareto_local_search``
  (:class:`ParetoLocalSearch`) and ``parego`` (:class:`ParEGO`), over every objective of a study;
- ``optuna`` (:class:`OptunaStrategy`): any Optuna sampler inside the nasforge loop;
- one-shot (:mod:`nasforge.strategy.oneshot`): ``darts``, ``gdas``, ``enas`` and ``spos`` on a
  space's supernet.
"""

from __future__ import annotations

from nasforge.strategy._bananas import BANANAS
from nasforge.strategy._bo import GPBO, TPE
from nasforge.strategy._evolution import RegularizedEvolution
from nasforge.strategy._hyperband import BOHB, Hyperband, SuccessiveHalving
from nasforge.strategy._local_search import LocalSearch
from nasforge.strategy._mf_local_search import MultiFidelityLocalSearch
from nasforge.strategy._nsga2 import NSGA2
from nasforge.strategy._optuna import OptunaStrategy
from nasforge.strategy._parego import ParEGO
from nasforge.strategy._pareto_local_search import ParetoLocalSearch
from nasforge.strategy._random import RandomSearch
from nasforge.strategy._reinforce import REINFORCE
from nasforge.strategy._zc import ZCLocalSearch, zc_warmup
from nasforge.strategy.base import STRATEGIES, Strategy
from nasforge.strategy.oneshot import DARTS, ENAS, GDAS, SPOS, OneShotStrategy

__all__ = [
    "BANANAS",
    "BOHB",
    "DARTS",
    "ENAS",
    "GDAS",
    "GPBO",
    "NSGA2",
    "REINFORCE",
    "SPOS",
    "STRATEGIES",
    "TPE",
    "Hyperband",
    "LocalSearch",
    "MultiFidelityLocalSearch",
    "OneShotStrategy",
    "OptunaStrategy",
    "ParEGO",
    "ParetoLocalSearch",
    "RandomSearch",
    "RegularizedEvolution",
    "Strategy",
    "SuccessiveHalving",
    "ZCLocalSearch",
    "zc_warmup",
]

"""`TableProxy` (``nb201_table`` in PROXIES): zero-cost proxy scores read from the NB201 table.

The NAS-Bench-201 table carries scores of untrained networks computed by others: NASWOT (Mellor
et al., "Neural Architecture Search without Training", ICML 2021,
https://arxiv.org/abs/2006.04647; ``naswot`` is the log-determinant kernel of the paper's v2,
``jacov`` the Jacobian covariance of its v1) and log-SynFlow (Tanaka et al., "Pruning neural
networks without any data by iteratively conserving synaptic flow", NeurIPS 2020,
https://arxiv.org/abs/2006.05467, as used by FreeREA). Looking one up stands in for computing it
on a network, so strategies count each call as one proxy score.

Deviation: cells the source could not score (341 degenerate cells have no ``jacov``) score
``-inf``, ranking them last, instead of raising.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from nasforge.evaluate.proxy.base import PROXIES, Proxy
from nasforge.evaluate.tabular._table import Dataset, NB201Table, ProxyMetric, column_of

if TYPE_CHECKING:
    from nasforge.architecture import Architecture
    from nasforge.space.base import SearchSpace


@PROXIES.register("nb201_table")
class TableProxy(Proxy):
    """A zero-cost proxy score looked up in the NAS-Bench-201 table; larger is better.

    Args:
        metric: ``naswot`` (log-det NASWOT), ``logsynflow`` or ``jacov`` (NASWOT v1; CIFAR-10 only).
        dataset: ``cifar10``, ``cifar100`` or ``imagenet16-120`` (the scores' input data).
        path: the table (``None``: ``$NASFORGE_NB201``, then the shared folder; see
            :func:`~nasforge.evaluate.tabular.resolve_nb201_path`).
        require_complete: require all 15,625 cells; only tests with tiny tables turn it off.
    """

    def __init__(
        self,
        *,
        metric: ProxyMetric = "naswot",
        dataset: Dataset = "cifar10",
        path: str | None = None,
        require_complete: bool = True,
    ) -> None:
        self.metric = metric
        self.dataset = dataset
        self.path = path
        self.require_complete = require_complete
        self._column = column_of(metric, dataset)  # jacov on another dataset fails here
        _ = self.table  # validate eagerly

    @property
    def table(self) -> NB201Table:
        table = self.__dict__.get("_table")
        if table is None:
            table = NB201Table.load(
                self.path, require_complete=self.require_complete, field="proxy.path"
            )
            self._table = table
        return table

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_table", None)
        return state

    def score(self, arch: Architecture, space: SearchSpace) -> float:
        """The score of ``arch``; ``-inf`` when the source has none or the table lacks the cell."""
        table = self.table
        row = table.find(arch)
        if row is None:
            return -math.inf
        value = float(table.column(self._column)[row])
        return value if math.isfinite(value) else -math.inf

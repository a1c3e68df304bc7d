"""`ProxyEvaluator` (``proxy`` in EVALUATORS): score candidates with zero-cost proxies alone.

Nothing is trained: each candidate's untrained network is scored by one or several registered
proxies, each reported as a metric named after it (``synflow``, ``naswot``, ... larger is
better), so a study can rank a whole space by proxies in seconds::

    evaluator: {name: proxy, proxy: {name: synflow}}
    evaluator: {name: proxy, proxy: [{name: synflow}, {name: naswot, batch_size: 32}]}
    objectives: [synflow]          # the first proxy's metric is the default objective to name

Proxies that name no task of their own are bound to the study's task (``ctx.task``). A score
that is not finite (e.g. SynFlow of a cell whose output ignores its input) fails the trial with
the reason, as any non-finite metric does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nasforge.errors import ConfigError, Problem
from nasforge.evaluate.base import EVALUATORS, Evaluator
from nasforge.evaluate.proxy.base import PROXIES, Proxy
from nasforge.trial import Result, Status

if TYPE_CHECKING:
    from nasforge.evaluate.base import EvalContext
    from nasforge.trial import Candidate

ProxySpec = dict[str, Any]


def _make(spec: Any, field: str) -> Proxy:
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise ConfigError([Problem(
            field, f"expected a mapping with a 'name' key; got {spec!r}",
            f"use e.g. {{name: synflow}}; proxies: {', '.join(PROXIES.names())}")])
    return PROXIES.create(spec["name"], {k: v for k, v in spec.items() if k != "name"},
                          field=field)


@EVALUATORS.register("proxy")
class ProxyEvaluator(Evaluator):
    """Scores each candidate's untrained network with zero-cost proxies; trains nothing.

    Args:
        proxy: one proxy (``{name: synflow, **params}``) or a list of them; each one's score is
            the metric of its name, and two proxies may not report the same name.
    """

    curve = ()

    def __init__(self, *, proxy: ProxySpec | list[ProxySpec]) -> None:
        self.proxy = proxy
        specs = proxy if isinstance(proxy, list) else [proxy]
        if not specs:
            raise ConfigError([Problem("evaluator.proxy", "the list of proxies is empty",
                                       "give at least one, e.g. proxy: {name: synflow}")])
        self._proxies = [_make(s, f"evaluator.proxy.{i}" if isinstance(proxy, list)
                               else "evaluator.proxy") for i, s in enumerate(specs)]
        names = [p.metric_name for p in self._proxies]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError([Problem(
                "evaluator.proxy", f"proxies {repeated} are listed more than once, so their "
                "metrics would overwrite each other", "list each proxy once")])

    def declared_metrics(self) -> tuple[str, ...]:
        return tuple(p.metric_name for p in self._proxies)

    def evaluate(self, candidate: Candidate, ctx: EvalContext) -> Result:
        started = time.perf_counter()
        metrics: dict[str, float] = {}
        for proxy in self._proxies:
            proxy.bind(ctx.task)
            metrics[proxy.metric_name] = float(proxy.score(candidate.arch, ctx.space))
        cost_s = time.perf_counter() - started
        bad = [k for k, v in metrics.items() if not math.isfinite(v)]
        if bad:
            return Result(metrics={k: v for k, v in metrics.items() if k not in bad},
                          status=Status.FAILED, cost_s=cost_s,
                          reason=f"proxy score(s) {', '.join(f'{k}={metrics[k]}' for k in bad)}:"
                                 " the untrained network gives no usable signal (e.g. its "
                                 "output does not depend on its input)")
        return Result(metrics=metrics, cost_s=cost_s)

"""Zero-cost proxies: cheap scores that guide a search.

Built-ins register on import: ``nb201_table`` (:class:`TableProxy`, scores read from the
NAS-Bench-201 table) and the proxies computed on the untrained network a space builds
(:class:`NetworkProxy`): ``synflow`` (:class:`SynFlowProxy`, data-free), ``naswot``
(:class:`NASWOTProxy`), ``snip`` (:class:`SnipProxy`), ``grad_norm`` (:class:`GradNormProxy`),
``jacov`` (:class:`JacovProxy`), ``params`` (:class:`ParamsProxy`) and ``flops``
(:class:`FlopsProxy`); ``cached`` (:class:`CachedProxy`) keeps any of their scores in a file
shared across searches. The ``proxy`` evaluator (:class:`ProxyEvaluator`) reports them as metrics.
"""

from nasforge.evaluate.proxy._network import DataProxy, NetworkProxy
from nasforge.evaluate.proxy.base import PROXIES, Proxy
from nasforge.evaluate.proxy.cached import CachedProxy
from nasforge.evaluate.proxy.costs import FlopsProxy, ParamsProxy
from nasforge.evaluate.proxy.evaluator import ProxyEvaluator
from nasforge.evaluate.proxy.grad_norm import GradNormProxy
from nasforge.evaluate.proxy.jacov import JacovProxy
from nasforge.evaluate.proxy.naswot import NASWOTProxy
from nasforge.evaluate.proxy.snip import SnipProxy
from nasforge.evaluate.proxy.synflow import SynFlowProxy
from nasforge.evaluate.proxy.table import TableProxy

__all__ = [
    "PROXIES",
    "CachedProxy",
    "DataProxy",
    "FlopsProxy",
    "GradNormProxy",
    "JacovProxy",
    "NASWOTProxy",
    "NetworkProxy",
    "ParamsProxy",
    "Proxy",
    "ProxyEvaluator",
    "SnipProxy",
    "SynFlowProxy",
    "TableProxy",
]

"""One-shot strategies: weight sharing and differentiable search on a space's supernet.

Importing this package registers, in :data:`~nasforge.strategy.STRATEGIES`:

- ``darts`` (:class:`DARTS`, Liu et al. 2019): softmax-relaxed choices, first or second order;
- ``gdas`` (:class:`GDAS`, Dong & Yang 2019): Gumbel-softmax sampling of one path per step;
- ``enas`` (:class:`ENAS`, Pham et al. 2018): an LSTM controller trained by REINFORCE;
- ``spos`` (:class:`SPOS`, Guo et al. 2020): uniform single-path training, then evolution.

Each is a :class:`OneShotStrategy`: the study runs its search as one trial of source ``oneshot``
(checkpointed every epoch, its architecture weights reported every epoch as a learning curve),
then scores the architectures it derived as ordinary trials with the study's evaluator (see
:mod:`nasforge.strategy.oneshot.base` and :mod:`nasforge.run.oneshot`). DARTS and GDAS warm
the weights up before the architecture (``warmup_epochs``), derive cells without ``none``
(``derive_none``), search with BatchNorm without affine (``bn_affine``) and have a collapse
guard, on by default and counted from after the warm-up
(:mod:`nasforge.strategy.oneshot._relaxed`); :func:`collapsed` says whether a cell collapsed.
They need a space with a supernet (``space.has_supernet``); the study's pre-flight check refuses
any other space, naming the strategies that work with it.

Example (YAML)::

    space: {name: nb201, dims: 1, channels: 16, cells_per_stage: 2}
    strategy: {name: darts, epochs: 10, top: 2}
    evaluator: {name: train, epochs: 15}
"""

from __future__ import annotations

from nasforge.strategy.oneshot._collapse import (
    collapsed,
    default_parameter_free,
    has_parametric_path,
    parameter_free_share,
    skip_or_none_share,
)
from nasforge.strategy.oneshot._darts import DARTS
from nasforge.strategy.oneshot._enas import ENAS
from nasforge.strategy.oneshot._gdas import GDAS
from nasforge.strategy.oneshot._relaxed import RelaxedSearch
from nasforge.strategy.oneshot._spos import SPOS
from nasforge.strategy.oneshot.base import (
    DERIVED,
    SEARCH_METRICS,
    OneShotStrategy,
    is_one_shot,
    spaces_with_supernet,
    top_k,
)

__all__ = [
    "DARTS",
    "DERIVED",
    "ENAS",
    "GDAS",
    "SEARCH_METRICS",
    "SPOS",
    "OneShotStrategy",
    "RelaxedSearch",
    "collapsed",
    "default_parameter_free",
    "has_parametric_path",
    "is_one_shot",
    "parameter_free_share",
    "skip_or_none_share",
    "spaces_with_supernet",
    "top_k",
]

"""Supernets: every network of a search space in one module, sharing weights.

Weight sharing replaces training each candidate from scratch by training one *supernet* whose
sub-networks share parameters (ENAS, Pham et al. 2018; SPOS, Guo et al. 2020; DARTS, Liu et al.
2019). The public names:

- :class:`Supernet` (an ``nn.Module``): ``choices`` (decision -> options, in the space's order),
  ``use(arch)`` (single path), ``use_weights({name: 1-D tensor})`` (a weighted mixture; options
  of weight exactly 0 are not computed, so a straight-through one-hot computes one option),
  ``parameter_free(name, option)``, ``forward(x)`` as the space's networks.
- ``SearchSpace.supernet(task)`` / ``SearchSpace.has_supernet``: the spaces written in the layer
  vocabulary have one (``nb201`` in 1-D and 2-D, ``chain``, ``mlp``, ``declared``:
  :class:`LayerSupernet`); the others raise :class:`~nasforge.errors.NoSupernetError`, which
  names the space, the reason and what works instead.
- :func:`recalibrate_bn`: reset and re-estimate BatchNorm statistics for the current path.
- :func:`copy_to_network`: a path's inherited weights loaded into ``space.build(arch, task)``.

Training needs task data, so it lives with the evaluators:
:func:`nasforge.evaluate.train_single_path` ``(supernet, space, task.load(), *, epochs, seed,
checkpoint=...)`` trains by uniform single-path sampling (SPOS, Guo et al. 2020), resumable from
its checkpoint file, and returns its cost; the ``supernet`` evaluator
(:class:`nasforge.evaluate.SupernetEvaluator`) scores architectures with the trained weights.

Invariant (tested): after ``supernet.use(a)``, ``forward`` equals the network
``space.build(a, task)`` with its weights copied from the supernet's slices
(:func:`copy_to_network`).

Example:
    >>> import torch
    >>> from nasforge.space import NB201Space
    >>> from nasforge.tasks.base import TaskInfo
    >>> space = NB201Space(dims=1, channels=4, cells_per_stage=1)
    >>> net = space.supernet(TaskInfo(name="t", input_shape=(1, 16), n_classes=3, kind="signal"))
    >>> len(net.choices), net.parameter_free("cell.edge_1_0", "skip_connect")
    (6, True)
    >>> net.use(space.sample(__import__("numpy").random.default_rng(0)))
    >>> net(torch.zeros(2, 1, 16)).shape
    torch.Size([2, 3])
"""

from __future__ import annotations

from nasforge.errors import NoSupernetError
from nasforge.space.supernet._base import Selection, Supernet
from nasforge.space.supernet._bn import recalibrate_bn
from nasforge.space.supernet._dynamic import slice_like
from nasforge.space.supernet._inherit import copy_to_network
from nasforge.space.supernet._layers import LayerSupernet

__all__ = [
    "LayerSupernet",
    "NoSupernetError",
    "Selection",
    "Supernet",
    "copy_to_network",
    "recalibrate_bn",
    "slice_like",
]

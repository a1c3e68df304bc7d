"""`Supernet`: every network of a space in one module, sharing weights, switched per call.

A supernet relaxes some decisions (:attr:`Supernet.choices`). Its mixed layers read one shared
:class:`Selection`, set by :meth:`Supernet.use` (a single path: each choice computes only the
architecture's option) or :meth:`Supernet.use_weights` (a mixture: the weighted sum of the
options, options of weight exactly 0 skipped). The supernet holds no architecture parameters;
DARTS/GDAS-style callers own them and pass them in.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import torch
from torch import nn

from nasforge.architecture import Architecture, Value
from nasforge.errors import InvalidArchitectureError
from nasforge.space._primitives import value_key


class Selection:
    """What the mixed layers compute now: a single path, or a mixture of the options.

    One object is shared by a supernet and all its mixed layers (it is not a module, so it is
    neither a parameter nor part of the state dict).
    """

    def __init__(self, choices: Mapping[str, tuple[Value, ...]]) -> None:
        self.choices = choices
        self.path: Mapping[str, Value] | None = None
        self.weights: Mapping[str, torch.Tensor] | None = None

    @property
    def is_mixture(self) -> bool:
        return self.weights is not None

    def value(self, name: str) -> Value:
        """The single-path value of decision ``name``."""
        if self.path is None:
            raise RuntimeError("the supernet has no path: call use(arch) or use_weights(...) "
                               "before forward")
        if name not in self.path:
            raise InvalidArchitectureError(
                f"the architecture has no value for {name!r}, which this network computes; "
                "give every active decision of the space", path=tuple(name.split(".")))
        return self.path[name]

    def mixture(self, name: str) -> list[tuple[int, torch.Tensor]]:
        """``(option index, weight)`` of every option of ``name`` whose weight is not exactly 0."""
        assert self.weights is not None
        w = self.weights[name]
        nonzero = (w.detach() != 0).tolist()
        return [(i, w[i]) for i, keep in enumerate(nonzero) if keep]


class Supernet(nn.Module):
    """All sub-networks of a search space in one module, sharing weights.

    Contract: ``choices`` maps each decision the supernet relaxes to its options in the space's
    order; ``use(arch)`` makes ``forward`` compute ``arch``'s network (single path: SPOS, ENAS,
    the ``supernet`` evaluator); ``use_weights(w)`` makes it compute, for each decision, the sum
    of its options weighted by ``w[name]`` (DARTS; GDAS with a straight-through one-hot, whose
    zero options are not computed); gradients flow into the weight tensors. ``forward`` maps
    the space's inputs for the task to its outputs, as the space's built networks do.

    Args:
        choices: decision name -> options, in the space's order.
        parameter_free: decision name -> the options that have no parameters (``none``, skip,
            pooling, an activation ...).
    """

    def __init__(self, choices: Mapping[str, Sequence[Value]],
                 parameter_free: Mapping[str, Collection[Value]]) -> None:
        super().__init__()
        self.choices: dict[str, tuple[Value, ...]] = {n: tuple(o) for n, o in choices.items()}
        self._free = {n: frozenset(value_key(v) for v in vs) for n, vs in parameter_free.items()}
        self.selection = Selection(self.choices)

    # -- switching ------------------------------------------------------------------------------

    def check_arch(self, arch: Architecture) -> None:
        """Raise :class:`InvalidArchitectureError` unless ``arch`` chooses among :attr:`choices`.

        Subclasses that know their space validate against it too (rules, conditions).
        """
        for name, value in arch.items():
            options = self.choices.get(name)
            if options is None:
                raise InvalidArchitectureError(
                    f"unknown decision {name!r}; this supernet's decisions are "
                    f"{list(self.choices)}", path=tuple(name.split(".")))
            if all(value_key(value) != value_key(o) for o in options):
                raise InvalidArchitectureError(
                    f"{value!r} is not an option; choose one of {list(options)}",
                    path=tuple(name.split(".")))

    def use(self, arch: Architecture) -> None:
        """Single-path mode: every mixed choice computes only ``arch``'s option.

        Raises:
            InvalidArchitectureError: ``arch`` is not an architecture of the space.
        """
        if not isinstance(arch, Architecture):
            arch = Architecture(arch)
        self.check_arch(arch)
        self.selection.path = dict(arch)
        self.selection.weights = None

    def use_weights(self, weights: Mapping[str, torch.Tensor]) -> None:
        """Mixture mode: choice ``name`` computes ``sum_i weights[name][i] * option_i(x)``.

        Every decision of :attr:`choices` needs a 1-D tensor over its options; an option whose
        weight is exactly 0 (after ``.detach()``) is not computed.

        Raises:
            ValueError: a decision is missing or unknown, or a tensor has the wrong shape.
        """
        missing = [n for n in self.choices if n not in weights]
        unknown = [n for n in weights if n not in self.choices]
        if missing or unknown:
            raise ValueError(
                f"use_weights needs one tensor per decision of the supernet; missing "
                f"{missing}, unknown {unknown} (decisions: {list(self.choices)})")
        for name, w in weights.items():
            n = len(self.choices[name])
            if not isinstance(w, torch.Tensor) or w.dim() != 1 or w.shape[0] != n:
                shape = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
                raise ValueError(f"weights[{name!r}] must be a 1-D tensor of {n} weights (one "
                                 f"per option {list(self.choices[name])}); got {shape}")
        self.selection.weights = dict(weights)
        self.selection.path = None

    def parameter_free(self, name: str, option: Value) -> bool:
        """Whether ``option`` of decision ``name`` has no parameters (none, skip, pooling)."""
        if name not in self.choices:
            raise KeyError(f"unknown decision {name!r}; decisions: {list(self.choices)}")
        return value_key(option) in self._free.get(name, frozenset())

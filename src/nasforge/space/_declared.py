"""`DeclaredSpace`: a user's search space written as a list of layer specs, no subclassing.

Example (YAML)::

    space:
      name: declared
      layers:
        - {type: conv, width: [16, 32], kernel: [3, 5], activation: [relu, gelu]}
        - {type: repeat, depth: [1, 2, 3],
           body: [{type: conv, width: [32, 64], kernel: [3, 5, 7], skip: [true, false]}]}
        - {type: pool}
        - {type: cell, nodes: 4, ops: [none, skip_connect, nor_conv_3x3], channels: 16}
        - {type: dropout, p: [0.0, 0.2]}
      rules:                      # optional: architectures to leave out (nasforge.space.rules)
        - {forbid: {conv0.kernel: 3, conv0.width: 16}}

Example (Python):
    >>> from nasforge.space import Choice, Conv, DeclaredSpace, Pool, Repeat
    >>> space = DeclaredSpace(layers=[
    ...     Conv(width=Choice([16, 32]), kernel=[3, 5]),
    ...     Repeat([Conv(width=32, skip=[True, False])], depth=Choice([1, 2])),
    ...     Pool(kind="avg"),
    ... ])
    >>> space.decisions
    ['conv0.width', 'conv0.kernel', 'repeat1.depth', 'repeat1.0.skip', 'repeat1.1.skip']
    >>> space.size
    24
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from nasforge.errors import ConfigError
from nasforge.space._layers import check_layers, normalize_layer
from nasforge.space._structured import LayerSpace
from nasforge.space.base import SPACES
from nasforge.space.rules import normalize_rules


@SPACES.register("declared")
class DeclaredSpace(LayerSpace):
    """A search space declared as a list of layer specs whose fields may be choices.

    See :mod:`nasforge.space._layers` for the layer types, their fields and how decisions are
    named. Specs may be dicts (as from YAML) or the Python helpers (``Conv``, ``Dense``,
    ``Pool``, ``Repeat``, ``Cell`` ...); both are stored as the same JSON-able dicts, so
    ``get_params()`` can be saved in a database and rebuilt with ``SPACES.create``.

    Args:
        layers: the layer specs, input to output; a global average pool and a linear head to the
            number of classes are always added.
        dims: 1 for 1-D layers, 2 for 2-D, ``auto`` to follow the task (2-D for images).
        rules: validity rules over the decisions (see :mod:`nasforge.space.rules`).
    """

    def __init__(
        self,
        *,
        layers: Sequence[Any],
        dims: Literal[1, 2, "auto"] = "auto",
        rules: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        normalized = [normalize_layer(layer) for layer in layers]
        problems = check_layers(normalized)
        if problems:
            raise ConfigError(problems, source="DeclaredSpace")
        self.layers = normalized
        self.dims = dims
        self.rules = normalize_rules(rules)
        self.structure  # noqa: B018 - compile eagerly so a bad declaration fails here
        self.space_rules  # noqa: B018 - and rules naming unknown decisions too

    def layer_specs(self) -> list[dict[str, Any]]:
        return self.layers

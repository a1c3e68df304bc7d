"""`MLPSpace`: a multilayer perceptron for tabular data with a searched depth.

Decisions: ``layers.depth`` and, per layer ``k``, ``layers.<k>.width``, ``layers.<k>.activation``
and ``layers.<k>.dropout``. Inputs of any shape are flattened.

Example:
    >>> MLPSpace(depths=[1, 2], widths=[32, 64], activations=["relu"], dropouts=[0.0]).size
    6
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import Field

from nasforge.space._structured import LayerSpace
from nasforge.space.base import SPACES
from nasforge.space.rules import normalize_rules


@SPACES.register("mlp")
class MLPSpace(LayerSpace):
    """Dense layers with searched depth, and width, activation and dropout per layer.

    Args:
        depths: the number-of-layers options.
        widths: width options of each layer.
        activations: activation options of each layer.
        dropouts: dropout-rate options of each layer (after its activation).
        norm: normalisation after each linear layer: ``none``, ``batch`` or ``layer``.
        rules: validity rules over the decisions (see :mod:`nasforge.space.rules`).
    """

    dims = 1

    def __init__(
        self,
        *,
        depths: Sequence[Annotated[int, Field(ge=0)]] = (1, 2, 3, 4),
        widths: Sequence[Annotated[int, Field(ge=1)]] = (32, 64, 128, 256),
        activations: Sequence[str] = ("relu", "gelu", "tanh"),
        dropouts: Sequence[Annotated[float, Field(ge=0, lt=1)]] = (0.0, 0.2),
        norm: Literal["none", "batch", "layer"] = "none",
        rules: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.depths = list(depths)
        self.widths = list(widths)
        self.activations = list(activations)
        self.dropouts = [float(p) for p in dropouts]
        self.norm = norm
        self.rules = normalize_rules(rules)
        self.structure  # noqa: B018 - check the options eagerly
        self.space_rules  # noqa: B018 - and the rules

    def layer_specs(self) -> list[dict[str, Any]]:
        dense = {"type": "dense", "width": self.widths, "activation": self.activations,
                 "dropout": self.dropouts, "norm": self.norm}
        return [{"type": "repeat", "name": "layers", "depth": self.depths, "body": [dense]}]

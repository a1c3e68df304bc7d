"""`ChainSpace`: a macro chain of convolution stages, each with a searched depth.

Stage ``s`` repeats a conv block ``depth`` times (a decision ``stage<s>.depth``); each block
chooses its width from the stage's options, its kernel size, its activation and whether it has a
residual connection (``stage<s>.<k>.width`` / ``kernel`` / ``activation`` / ``skip``). A fixed
3x3 stem comes first and a 2x max pool sits between stages.

Example:
    >>> space = ChainSpace(n_stages=2, depths=[1, 2], kernels=[3, 5])
    >>> space.decisions[:3]
    ['stage0.depth', 'stage0.0.width', 'stage0.0.kernel']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import Field

from nasforge.errors import ConfigError, Problem
from nasforge.space._structured import LayerSpace
from nasforge.space.base import SPACES
from nasforge.space.rules import normalize_rules


@SPACES.register("chain")
class ChainSpace(LayerSpace):
    """A chain of ``n_stages`` conv stages with searched depth, width, kernel, activation, skip.

    Args:
        n_stages: number of stages (downsampling by 2 between them).
        depths: the depth options of every stage.
        kernels: kernel-size options (odd) of every block.
        widths: per-stage width options (one list per stage); default ``[16, 32]`` doubled at
            each stage.
        activations: activation options of every block.
        skips: residual options of every block.
        stem_width: channels of the fixed stem convolution.
        dims: 1 for 1-D signals, 2 for images, ``auto`` to follow the task.
        rules: validity rules over the decisions (see :mod:`nasforge.space.rules`).
    """

    def __init__(
        self,
        *,
        n_stages: Annotated[int, Field(ge=1, le=8)] = 3,
        depths: Sequence[Annotated[int, Field(ge=0)]] = (1, 2, 3),
        kernels: Sequence[Annotated[int, Field(ge=1)]] = (3, 5, 7),
        widths: Sequence[Sequence[Annotated[int, Field(ge=1)]]] | None = None,
        activations: Sequence[str] = ("relu", "gelu"),
        skips: Sequence[bool] = (True, False),
        stem_width: Annotated[int, Field(ge=1)] = 16,
        dims: Literal[1, 2, "auto"] = "auto",
        rules: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        if widths is not None and len(widths) != n_stages:
            raise ConfigError([Problem("ChainSpace.widths", f"expected one list of width "
                                       f"options per stage ({n_stages}); got {len(widths)}",
                                       "give n_stages lists or omit widths")])
        self.n_stages = n_stages
        self.depths = list(depths)
        self.kernels = list(kernels)
        self.widths = None if widths is None else [list(w) for w in widths]
        self.activations = list(activations)
        self.skips = list(skips)
        self.stem_width = stem_width
        self.dims = dims
        self.rules = normalize_rules(rules)
        self.structure  # noqa: B018 - check the options eagerly
        self.space_rules  # noqa: B018 - and the rules

    def stage_widths(self, stage: int) -> list[int]:
        if self.widths is not None:
            return self.widths[stage]
        return [16 * 2**stage, 32 * 2**stage]

    def layer_specs(self) -> list[dict[str, Any]]:
        layers: list[dict[str, Any]] = [
            {"type": "conv", "name": "stem", "width": self.stem_width, "kernel": 3},
        ]
        for s in range(self.n_stages):
            if s > 0:
                layers.append({"type": "pool", "name": f"down{s}", "kind": "max", "size": 2})
            block = {"type": "conv", "width": self.stage_widths(s), "kernel": self.kernels,
                     "activation": self.activations, "skip": self.skips}
            layers.append({"type": "repeat", "name": f"stage{s}", "depth": self.depths,
                           "body": [block]})
        return layers

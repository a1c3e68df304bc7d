"""Declare a search space in Python, then sample, mutate, encode and build from it.

The same space could be written in YAML (see ``custom_space.yaml``): layer helpers return the
plain dicts that YAML gives, and a field given as a ``Choice`` (or a list) is searched.

Run with ``python examples/custom_space.py``.
"""

from __future__ import annotations

import numpy as np
import torch

from nasforge.space import SPACES, CellLayer, Choice, Conv, DeclaredSpace, Dropout, Pool, Repeat
from nasforge.tasks.base import TaskInfo


def make_space() -> DeclaredSpace:
    return DeclaredSpace(
        layers=[
            Conv(width=Choice([16, 32]), kernel=Choice([3, 5]), activation=["relu", "gelu"]),
            Repeat(
                [Conv(width=Choice([32, 64]), kernel=Choice([3, 5, 7]), skip=[True, False])],
                depth=Choice([1, 2, 3]),
            ),
            Pool(kind="max"),
            CellLayer(ops=["none", "skip_connect", "nor_conv_3x3", "avg_pool_3x3"], channels=16),
            Dropout(p=Choice([0.0, 0.2])),
        ],
        dims="auto",
    )


def main() -> None:
    space = make_space()
    print(f"{space.size:,} architectures; decisions: {', '.join(space.decisions)}")

    rng = np.random.default_rng(0)
    arch = space.sample(rng)
    child = space.mutate(arch, rng)
    print("sampled:", arch)
    print("mutated:", child)
    print("encoding length:", space.encode(arch).shape[0])

    # The parameters are plain JSON: store them, and rebuild the same space from the registry.
    rebuilt = SPACES.create("declared", space.get_params())
    assert rebuilt == space

    task = TaskInfo(name="mnist1d-like", input_shape=(1, 40), n_classes=10, kind="signal")
    model = space.build(arch, task)
    logits = model(torch.randn(8, *task.input_shape))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"built a {n_params:,}-parameter network; logits {tuple(logits.shape)}")


if __name__ == "__main__":
    main()

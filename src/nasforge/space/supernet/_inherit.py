"""Weight inheritance: copy a supernet path's weights into the stand-alone network it stands for.

The supernet's parametric layers run in the same order as the built network's (the supernet
mirrors :func:`~nasforge.space._layers.build_layers`), so one forward pass of each on the same
example, recording the parametric leaf layers as they run, pairs them up; each network tensor
is then the supernet tensor's slice (:func:`~nasforge.space.supernet._dynamic.slice_like`).
"""

from __future__ import annotations

import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.space.supernet._base import Supernet
from nasforge.space.supernet._dynamic import slice_like

_KINDS: dict[str, tuple[type[nn.Module], ...]] = {
    "conv": (nn.Conv1d, nn.Conv2d),
    "batch_norm": (nn.BatchNorm1d, nn.BatchNorm2d),
    "linear": (nn.Linear,),
    "group_norm": (nn.GroupNorm,),
    "layer_norm": (nn.LayerNorm,),
}
_DYN = {"DynConv": "conv", "DynBatchNorm": "batch_norm", "DynLinear": "linear",
        "DynGroupNorm": "group_norm", "DynLayerNorm": "layer_norm"}


def _kind(module: nn.Module) -> str | None:
    if type(module).__name__ in _DYN:
        return _DYN[type(module).__name__]
    for kind, classes in _KINDS.items():
        if isinstance(module, classes):
            return kind
    return None


def _run_order(module: nn.Module, x: torch.Tensor) -> list[nn.Module]:
    """The parametric leaf layers of ``module`` in the order they run on ``x`` (eval mode)."""
    order: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda mod, _i, _o: order.append(mod))
             for m in module.modules() if _kind(m) is not None]
    training = module.training
    try:
        module.eval()
        with torch.no_grad():
            module(x)
    finally:
        module.train(training)
        for h in hooks:
            h.remove()
    return order


def copy_to_network(supernet: Supernet, arch: Architecture, network: nn.Module,
                    example: torch.Tensor) -> nn.Module:
    """Load ``arch``'s inherited weights (and BatchNorm statistics) into ``network``.

    ``network`` is ``space.build(arch, task)`` for the supernet's space and task; ``example`` is
    one input batch (shapes only matter). After the copy, ``network(x)`` equals the supernet's
    ``forward(x)`` on ``arch``'s path. The supernet is left on that path.

    Raises:
        ValueError: the two do not compute the same layers (not ``arch``'s network).
    """
    supernet.use(arch)
    ours, theirs = _run_order(supernet, example), _run_order(network, example)
    kinds = [_kind(m) for m in ours], [_kind(m) for m in theirs]
    if kinds[0] != kinds[1]:
        raise ValueError(f"the network does not compute {arch}'s path of the supernet: its "
                         f"layers {kinds[1]} differ from the path's {kinds[0]}")
    with torch.no_grad():
        for src, dst in zip(ours, theirs, strict=True):
            state = dict(src.state_dict())
            dims = 0
            if _kind(dst) == "conv":
                dims = 1 if isinstance(dst, nn.Conv1d) else 2
            for name, tensor in dst.state_dict().items():
                tensor.copy_(slice_like(state[name], tensor.shape, dims if name == "weight"
                                        else 0))
    return network

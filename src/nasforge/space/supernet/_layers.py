"""The supernet of a space in the layer vocabulary (``nb201``, ``chain``, ``mlp``, ``declared``).

:class:`LayerSupernet` mirrors :func:`nasforge.space._layers.build_layers` layer by layer, with
every field that is a choice made *mixed*:

- a cell edge holds one module per operation (NB201's weight-sharing supernet: each edge's
  ``nor_conv_3x3`` is one set of weights shared by every cell that picks it);
- a ``conv``/``dense``/``resblock`` width and a conv kernel are **weight slices** of one tensor
  at the largest option (:mod:`._dynamic`); in a mixture, kernels are mixed into one weight and
  widths by masking the channels above each option;
- activations, norms, skips, dropout rates and pooling kinds are sums over their options in a
  mixture, and the chosen one on a single path;
- a repeat builds its deepest option; a path runs the first ``depth`` positions (SPOS's depth
  choice), a mixture sums the outputs after each depth (channels zero-padded).

Layers that share decisions (NB201's one cell everywhere) still have weights of their own;
only the decisions are shared. Choices that change a feature map's size (a ``stride`` or pooling
``size`` choice, a strided layer inside a repeat with a depth choice, a spatial layer after a
dense width choice) cannot share one shape: the space then has no supernet
(:class:`~nasforge.errors.NoSupernetError` names the field).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.architecture import Architecture, Value
from nasforge.errors import NoSupernetError
from nasforge.space import _modules as m
from nasforge.space._layers import LAYER_FIELDS, _flattened, layer_names, resolve_dims
from nasforge.space.supernet._base import Selection, Supernet
from nasforge.space.supernet._dynamic import (
    DynBatchNorm,
    DynConv,
    DynGroupNorm,
    DynLayerNorm,
    DynLinear,
    centre,
)

if TYPE_CHECKING:
    from nasforge.space._structured import LayerSpace
    from nasforge.tasks.base import TaskInfo

_FREE_CELL_OPS = frozenset({"none", "skip_connect", "avg_pool_3x3", "max_pool_3x3"})


@dataclass(frozen=True)
class Field:
    """One field of a layer: a decision ``name`` over ``options``, or fixed (``name is None``)."""

    name: str | None
    options: tuple[Any, ...]

    def value(self, sel: Selection) -> Any:
        return self.options[0] if self.name is None else sel.value(self.name)

    def terms(self, sel: Selection) -> list[tuple[Any, torch.Tensor | None]]:
        """``(option, weight)`` of a mixture (a fixed field: its value with weight ``None``)."""
        if self.name is None:
            return [(self.options[0], None)]
        return [(self.options[i], w) for i, w in sel.mixture(self.name)]

    @property
    def largest(self) -> Any:
        return max(self.options)


def _weighted(terms: Sequence[tuple[torch.Tensor, torch.Tensor | None]],
              like: torch.Tensor) -> torch.Tensor:
    """``sum w * y`` over the terms (weight ``None`` = 1); zeros like ``like`` when empty."""
    total: torch.Tensor | None = None
    for y, w in terms:
        y = y if w is None else w * y
        total = y if total is None else total + y
    return torch.zeros_like(like) if total is None else total


def _width_mask(field: Field, sel: Selection, like: torch.Tensor) -> torch.Tensor:
    """``sum_i w_i * [channel < width_i]`` over channel axis 1, shaped to broadcast on ``like``."""
    c = like.shape[1]
    index = torch.arange(c, device=like.device)
    mask = _weighted([((index < width).to(like.dtype), w) for width, w in field.terms(sel)],
                     torch.zeros(c, dtype=like.dtype, device=like.device))
    return mask.reshape(1, c, *([1] * (like.dim() - 2)))


def _pad_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    if x.shape[1] == channels:
        return x
    pad = [0, 0] * (x.dim() - 2) + [0, channels - x.shape[1]]
    return F.pad(x, pad)


class _Mixed(nn.Module):
    """Base of the mixed layers: they share the supernet's :class:`Selection`."""

    def __init__(self, sel: Selection) -> None:
        super().__init__()
        self.sel = sel


class SuperConv(_Mixed):
    """The ``conv`` layer (:class:`nasforge.space._modules.ConvBlock`) with mixed fields."""

    def __init__(self, sel: Selection, dims: int, c_in: frozenset[int], f: Mapping[str, Field]
                 ) -> None:
        super().__init__(sel)
        self.f = dict(f)
        self.dims, self.stride = dims, int(f["stride"].options[0])
        c_max, w_max = max(c_in), f["width"].largest
        norms = f["norm"].options
        self.conv = DynConv(dims, c_max, w_max, f["kernel"].largest, self.stride,
                            bias="none" in norms)
        self.norms = nn.ModuleDict({
            k: DynBatchNorm(w_max) if k == "batch" else DynGroupNorm(w_max) if k == "layer"
            else nn.Identity() for k in norms})
        self.acts = nn.ModuleDict({a: m.make_act(a) for a in f["activation"].options})
        needs_proj = True in f["skip"].options and (
            self.stride != 1 or any(c != w for c in c_in for w in f["width"].options))
        self.proj_conv = DynConv(dims, c_max, w_max, 1, self.stride) if needs_proj else None
        self.proj_norm = DynBatchNorm(w_max) if needs_proj else None

    def _shortcut(self, x: torch.Tensor, width: int) -> torch.Tensor:
        if x.shape[1] == width and self.stride == 1:
            return x
        assert self.proj_conv is not None and self.proj_norm is not None
        out: torch.Tensor = self.proj_norm(self.proj_conv(x, width))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sel, f = self.sel, self.f
        if not sel.is_mixture:
            width, kernel, kind = (f[k].value(sel) for k in ("width", "kernel", "norm"))
            out = self.conv(x, width, kernel, bias=kind == "none")
            out = self.acts[f["activation"].value(sel)](self.norms[kind](out))
            if f["skip"].value(sel):
                out = out + self._shortcut(x, width)
            return out
        weight: torch.Tensor = self.conv.weight
        if f["kernel"].name is not None:  # one convolution with the mixed kernel
            k_max = weight.shape[-1]
            weight = _weighted([(F.pad(centre(weight, k, self.dims), [(k_max - k) // 2] * 2
                                       * self.dims), w) for k, w in f["kernel"].terms(sel)],
                               weight)
        y = self.conv(x, kernel=self.conv.kernel, weight=weight, bias=False)
        bias = self.conv.bias
        out = _weighted([(self.norms[k](y + bias.view(1, -1, *([1] * self.dims))
                                        if k == "none" and bias is not None else y), w)
                         for k, w in f["norm"].terms(sel)], y)
        out = _weighted([(self.acts[a](out), w) for a, w in f["activation"].terms(sel)], out)
        if f["width"].name is not None:
            out = out * _width_mask(f["width"], sel, out)
        terms = []
        for skip, w in f["skip"].terms(sel):
            terms.append((out + self._shortcut(x, out.shape[1]) if skip else out, w))
        return _weighted(terms, out)


class SuperDense(_Mixed):
    """The ``dense`` layer (:class:`nasforge.space._modules.DenseBlock`) with mixed fields."""

    def __init__(self, sel: Selection, f_in: frozenset[int], f: Mapping[str, Field]) -> None:
        super().__init__(sel)
        self.f = dict(f)
        i_max, w_max = max(f_in), f["width"].largest
        self.linear = DynLinear(i_max, w_max)
        self.norms = nn.ModuleDict({
            k: DynBatchNorm(w_max) if k == "batch" else DynLayerNorm(w_max) if k == "layer"
            else nn.Identity() for k in f["norm"].options})
        self.acts = nn.ModuleDict({a: m.make_act(a) for a in f["activation"].options})
        self.drops = nn.ModuleList([nn.Dropout(float(p)) if p > 0 else nn.Identity()
                                    for p in f["dropout"].options])
        needs_proj = True in f["skip"].options and any(
            c != w for c in f_in for w in f["width"].options)
        self.proj = DynLinear(i_max, w_max, bias=False) if needs_proj else None

    def _shortcut(self, x: torch.Tensor, width: int) -> torch.Tensor:
        if x.shape[1] == width:
            return x
        assert self.proj is not None
        out: torch.Tensor = self.proj(x, width)
        return out

    def _drop(self, p: float, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.drops[self.f["dropout"].options.index(p)](x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sel, f = self.sel, self.f
        if not sel.is_mixture:
            width = f["width"].value(sel)
            out = self.norms[f["norm"].value(sel)](self.linear(x, width))
            out = self._drop(f["dropout"].value(sel), self.acts[f["activation"].value(sel)](out))
            if f["skip"].value(sel):
                out = out + self._shortcut(x, width)
            return out
        y = self.linear(x)
        out = _weighted([(self.norms[k](y), w) for k, w in f["norm"].terms(sel)], y)
        out = _weighted([(self.acts[a](out), w) for a, w in f["activation"].terms(sel)], out)
        out = _weighted([(self._drop(p, out), w) for p, w in f["dropout"].terms(sel)], out)
        if f["width"].name is not None:
            out = out * _width_mask(f["width"], sel, out)
        terms = [(out + self._shortcut(x, out.shape[1]) if skip else out, w)
                 for skip, w in f["skip"].terms(sel)]
        return _weighted(terms, out)


class SuperChoice(_Mixed):
    """A parameter-light layer with one module per option of one field (pool kind, dropout
    rate, activation, norm kind): the chosen one, or their weighted sum."""

    def __init__(self, sel: Selection, field: Field, options: Sequence[nn.Module]) -> None:
        super().__init__(sel)
        self.field = field
        self.options = nn.ModuleList(options)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        opts = self.field.options
        if not self.sel.is_mixture:
            out: torch.Tensor = self.options[opts.index(self.field.value(self.sel))](x)
            return out
        return _weighted([(self.options[opts.index(v)](x), w)
                          for v, w in self.field.terms(self.sel)], x)


class _ReLUConvBN(nn.Module):
    """NB201's ``nor_conv`` at the input's channel count (weights sliced from the largest)."""

    def __init__(self, dims: int, c_in: int, c_out: int | None, kernel: int,
                 stride: int = 1) -> None:
        super().__init__()
        self.out = c_out  # None: as many channels as the input
        self.relu = nn.ReLU()
        self.conv = DynConv(dims, c_in, c_out or c_in, kernel, stride)
        self.bn = DynBatchNorm(c_out or c_in)

    def forward(self, x: torch.Tensor, c_out: int | None = None) -> torch.Tensor:
        width = c_out or self.out or x.shape[1]
        out: torch.Tensor = self.bn(self.conv(self.relu(x), width))
        return out


class SuperResBlock(_Mixed):
    """NB201's residual reduction block (:class:`nasforge.space._modules.ResBlock`), sliced."""

    def __init__(self, sel: Selection, dims: int, c_in: frozenset[int], width: Field,
                 stride: int, pool_kernel: tuple[int, ...]) -> None:
        super().__init__(sel)
        self.width, self.stride = width, stride
        c_max, w_max = max(c_in), width.largest
        self.conv_a = _ReLUConvBN(dims, c_max, w_max, 3, stride)
        self.conv_b = _ReLUConvBN(dims, w_max, w_max, 3)
        self.pool: nn.Module | None = None
        self.down: DynConv | _ReLUConvBN | None = None
        if stride > 1:
            self.pool = m.avg_pool(dims, pool_kernel if dims == 2 else pool_kernel[0],
                                   pool_kernel if dims == 2 else pool_kernel[0], ceil_mode=True)
            self.down = DynConv(dims, c_max, w_max, 1)
        elif any(c != w for c in c_in for w in width.options):
            self.down = _ReLUConvBN(dims, c_max, w_max, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixture = self.sel.is_mixture
        width = self.width.largest if mixture else self.width.value(self.sel)
        mid = self.conv_a(x, width)
        if mixture and self.width.name is not None:
            mid = mid * _width_mask(self.width, self.sel, mid)
        out: torch.Tensor = self.conv_b(mid, width)
        if self.pool is not None:
            assert isinstance(self.down, DynConv)
            out = out + self.down(self.pool(x), width)
        elif x.shape[1] != width:
            assert self.down is not None
            out = out + self.down(x, width)
        else:
            out = out + x
        if mixture and self.width.name is not None:
            out = out * _width_mask(self.width, self.sel, out)
        return out


class SuperCell(_Mixed):
    """A cell DAG (:class:`nasforge.space._modules.CellModule`) whose every edge is mixed."""

    def __init__(self, sel: Selection, dims: int, channels: int, n_nodes: int,
                 edges: Mapping[str, Field]) -> None:
        super().__init__(sel)
        self.n_nodes = n_nodes
        self.fields = dict(edges)
        self.edges = nn.ModuleDict()
        for key, field in edges.items():
            ops = nn.ModuleDict()
            for op in field.options:
                module = _cell_op(op, dims, channels)
                if module is not None:
                    ops[op] = module
            self.edges[key] = ops

    def _edge(self, key: str, x: torch.Tensor) -> torch.Tensor | None:
        field, ops = self.fields[key], self.edges[key]
        assert isinstance(ops, nn.ModuleDict)
        if not self.sel.is_mixture:
            op = field.value(self.sel)
            return ops[op](x) if op in ops else None
        terms = [(ops[op](x), w) for op, w in field.terms(self.sel) if op in ops]
        return _weighted(terms, x) if terms else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in range(1, self.n_nodes):
            total: torch.Tensor | None = None
            for i in range(j):
                y = self._edge(f"{j}_{i}", nodes[i])
                if y is not None:
                    total = y if total is None else total + y
            nodes.append(torch.zeros_like(x) if total is None else total)
        return nodes[-1]


def _cell_op(op: str, dims: int, channels: int) -> nn.Module | None:
    if op == "none":
        return None
    if op == "skip_connect":
        return nn.Identity()
    if op.startswith("nor_conv_"):
        return _ReLUConvBN(dims, channels, None, int(op[len("nor_conv_"):].split("x")[0]))
    module = m.CELL_OPS[op](dims, channels)
    assert module is not None
    return module


class _CellProjection(nn.Module):
    """The 1x1 convolution and BatchNorm to a cell's ``channels`` when the input has others."""

    def __init__(self, dims: int, c_in: int, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.conv = DynConv(dims, c_in, channels, 1)
        self.bn = DynBatchNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == self.channels:
            return x
        out: torch.Tensor = self.bn(self.conv(x))
        return out


class SuperRepeat(_Mixed):
    """A repeat at its deepest option; a path runs the first ``depth`` positions."""

    def __init__(self, sel: Selection, depth: Field, positions: Sequence[nn.Module]) -> None:
        super().__init__(sel)
        self.depth = depth
        self.positions = nn.ModuleList(positions)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.sel.is_mixture or self.depth.name is None:
            depth = self.depth.largest if self.sel.is_mixture else self.depth.value(self.sel)
            for position in self.positions[:depth]:
                x = position(x)
            return x
        wanted = dict((d, w) for d, w in self.depth.terms(self.sel))
        outs: list[tuple[torch.Tensor, torch.Tensor | None]] = []
        h = x
        if 0 in wanted:
            outs.append((h, wanted[0]))
        for d, position in enumerate(self.positions, start=1):
            if d > max(wanted, default=0):
                break
            h = position(h)
            if d in wanted:
                outs.append((h, wanted[d]))
        channels = max(y.shape[1] for y, _ in outs)
        return _weighted([(_pad_channels(y, channels), w) for y, w in outs],
                         _pad_channels(x, channels))


class _Builder:
    """Builds a supernet layer by layer, tracking the possible channel counts and the sizes."""

    def __init__(self, space_name: str, sel: Selection, dims: int,
                 input_shape: tuple[int, ...]) -> None:
        self.space_name, self.sel, self.dims = space_name, sel, dims
        self.modules: list[nn.Module] = []
        self.choices: dict[str, tuple[Value, ...]] = {}
        self.free: dict[str, set[Value]] = {}
        self.channels: frozenset[int] = frozenset({input_shape[0]})
        self.sizes: tuple[int, ...] = tuple(input_shape[1:])
        if len(input_shape) == 2 and dims == 2:
            self._reshape((input_shape[0], 1, input_shape[1]))
        elif len(input_shape) == 3 and dims == 1:
            self._reshape((input_shape[0], input_shape[1] * input_shape[2]))

    # -- shapes ---------------------------------------------------------------------------------

    def refuse(self, where: str, why: str) -> NoSupernetError:
        return NoSupernetError(
            self.space_name, f"{why} ({where}), so its networks cannot share one set of "
            "weights", works=f"fix {where} to one value to share weights, or search this space "
            "with a black-box strategy (e.g. regularized_evolution) and the train evaluator")

    def _reshape(self, shape: tuple[int, ...]) -> None:
        self.modules.append(m.Reshape(shape))
        self.channels, self.sizes = frozenset({shape[0]}), tuple(shape[1:])

    @property
    def spatial(self) -> bool:
        return bool(self.sizes)

    def _to_spatial(self, where: str) -> None:
        if not self.spatial:
            if len(self.channels) > 1:
                raise self.refuse(where, "a spatial layer follows a choice of the number of "
                                  "features")
            (features,) = self.channels
            self._reshape((1, features) if self.dims == 1 else (1, 1, features))

    def _to_flat(self) -> None:
        if self.spatial:
            self.modules.append(nn.Flatten())
            self.channels = frozenset(c * math.prod(self.sizes) for c in self.channels)
            self.sizes = ()

    def field(self, path: str, key: str, value: Any, free: Sequence[Any] = ()) -> Field:
        """A layer field: a decision ``<path>.<key>`` when ``value`` lists several options."""
        if not isinstance(value, list):
            return Field(None, (value,))
        if len(value) == 1:
            return Field(None, (value[0],))
        name = f"{path}.{key}"
        self.choices[name] = tuple(value)
        self.free.setdefault(name, set()).update(v for v in value if v in free)
        return Field(name, tuple(value))

    def fields(self, type_: str, spec: Mapping[str, Any], path: str,
               free: Mapping[str, Sequence[Any]] | None = None) -> dict[str, Field]:
        values = {k: f.default for k, f in LAYER_FIELDS[type_].items()}
        values.update({k: v for k, v in spec.items() if k not in ("type", "name")})
        return {k: self.field(path, k, v, (free or {}).get(k, ())) for k, v in values.items()}

    # -- layers ---------------------------------------------------------------------------------

    def layers(self, specs: Sequence[Mapping[str, Any]], prefix: str) -> None:
        for name, spec in zip(layer_names(specs), specs, strict=True):
            self.layer(spec, f"{prefix}{name}")

    def layer(self, spec: Mapping[str, Any], path: str) -> None:
        getattr(self, f"_{spec['type']}")(spec, path)

    def _repeat(self, spec: Mapping[str, Any], path: str) -> None:
        depth = self.field(path, "depth", spec.get("depth", 1), free=[0])
        outer = self.modules
        positions: list[nn.Module] = []
        seen: list[tuple[frozenset[int], tuple[int, ...]]] = [(self.channels, self.sizes)]
        for position in range(depth.largest):
            self.modules = []
            if _flattened(spec):
                self.layer(spec["body"][0], f"{path}.{position}")
            else:
                self.layers(spec["body"], f"{path}.{position}.")
            positions.append(nn.Sequential(*self.modules))
            seen.append((self.channels, self.sizes))
        self.modules = outer
        ends = [seen[d] for d in depth.options]
        if len({sizes for _, sizes in ends}) > 1:
            raise self.refuse(f"{path}.depth", "the depth choice changes the feature-map size "
                              "(a strided or pooling layer in the repeated body)")
        self.channels = frozenset().union(*(c for c, _ in ends))
        self.sizes = ends[0][1]
        self.modules.append(SuperRepeat(self.sel, depth, positions))

    def _conv(self, spec: Mapping[str, Any], path: str) -> None:
        self._to_spatial(path)
        f = self.fields("conv", spec, path)
        if f["stride"].name is not None:
            raise self.refuse(f"{f['stride'].name}", "a stride choice changes the feature-map "
                              "size")
        self.modules.append(SuperConv(self.sel, self.dims, self.channels, f))
        kernel, stride = f["kernel"].largest, int(f["stride"].options[0])
        self.channels = frozenset(f["width"].options)
        # odd kernels with kernel // 2 padding: every kernel option gives the same size
        self.sizes = tuple((n + 2 * (kernel // 2) - kernel) // stride + 1 for n in self.sizes)

    def _dense(self, spec: Mapping[str, Any], path: str) -> None:
        self._to_flat()
        f = self.fields("dense", spec, path)
        self.modules.append(SuperDense(self.sel, self.channels, f))
        self.channels = frozenset(f["width"].options)

    def _pool(self, spec: Mapping[str, Any], path: str) -> None:
        self._to_spatial(path)
        f = self.fields("pool", spec, path, free={"kind": ("max", "avg")})
        if f["size"].name is not None:
            raise self.refuse(f["size"].name, "a pooling size choice changes the feature-map "
                              "size")
        size = int(f["size"].options[0])
        kernel = tuple(size if n >= size else 1 for n in self.sizes)
        if all(k == 1 for k in kernel):
            return
        arg = kernel if self.dims == 2 else kernel[0]
        pools = [(m.max_pool if kind == "max" else m.avg_pool)(self.dims, arg, arg)
                 for kind in f["kind"].options]
        self.modules.append(SuperChoice(self.sel, f["kind"], pools))
        self.sizes = tuple((n - k) // k + 1 for n, k in zip(self.sizes, kernel, strict=True))

    def _dropout(self, spec: Mapping[str, Any], path: str) -> None:
        f = self.fields("dropout", spec, path)["p"]
        if f.name:
            self.free[f.name].update(f.options)
        self.modules.append(SuperChoice(self.sel, f, [nn.Dropout(float(p)) if p > 0
                                                      else nn.Identity() for p in f.options]))

    def _activation(self, spec: Mapping[str, Any], path: str) -> None:
        f = self.fields("activation", spec, path)["fn"]
        if f.name:
            self.free[f.name].update(f.options)
        self.modules.append(SuperChoice(self.sel, f, [m.make_act(a) for a in f.options]))

    def _norm(self, spec: Mapping[str, Any], path: str) -> None:
        f = self.fields("norm", spec, path)["kind"]
        c = max(self.channels)
        norms: list[nn.Module]
        if self.spatial:
            norms = [DynBatchNorm(c) if k == "batch" else DynGroupNorm(c) for k in f.options]
        else:
            norms = [DynBatchNorm(c) if k == "batch" else DynLayerNorm(c) for k in f.options]
        self.modules.append(SuperChoice(self.sel, f, norms))

    def _resblock(self, spec: Mapping[str, Any], path: str) -> None:
        self._to_spatial(path)
        f = self.fields("resblock", spec, path)
        if f["stride"].name is not None:
            raise self.refuse(f["stride"].name, "a stride choice changes the feature-map size")
        stride = int(f["stride"].options[0])
        pool_kernel = tuple(min(stride, n) for n in self.sizes)
        self.modules.append(SuperResBlock(self.sel, self.dims, self.channels, f["width"],
                                          stride, pool_kernel))
        self.channels = frozenset(f["width"].options)
        self.sizes = tuple((n - 1) // stride + 1 for n in self.sizes)

    def _cell(self, spec: Mapping[str, Any], path: str) -> None:
        self._to_spatial(path)
        fixed = spec.get("channels")
        # without fixed channels the cell keeps its input's; each op slices its weights to them
        channels = fixed or max(self.channels)
        if fixed is not None and self.channels != {fixed}:
            self.modules.append(_CellProjection(self.dims, max(self.channels), fixed))
        n_nodes = spec.get("nodes", 4)
        free = [op for op in spec["ops"] if op in _FREE_CELL_OPS]
        edges = {f"{j}_{i}": self.field(path, f"edge_{j}_{i}", list(spec["ops"]), free)
                 for j in range(1, n_nodes) for i in range(j)}
        self.modules.append(SuperCell(self.sel, self.dims, channels, n_nodes, edges))
        self.channels = frozenset({fixed}) if fixed is not None else self.channels


class LayerSupernet(Supernet):
    """The supernet of a :class:`~nasforge.space._structured.LayerSpace` for one task.

    Its module tree mirrors the built networks' (``features`` then a global average pool and a
    linear ``head``), with mixed layers where the space has choices; see the module docstring.

    Args:
        space: the space (its :meth:`~nasforge.space.base.SearchSpace.validate` checks every
            architecture passed to :meth:`use`).
        task: the task the networks are built for.

    Raises:
        NoSupernetError: a choice changes a feature map's size (the message names it).
    """

    def __init__(self, space: LayerSpace, task: TaskInfo) -> None:
        name = str(getattr(space, "name", type(space).__name__))
        layers = space.checked_layers()
        dims = resolve_dims(space.dims, task)
        probe = Selection({})
        builder = _Builder(name, probe, dims, tuple(task.input_shape))
        builder.layers(layers, "")
        order = [n for n in space.decisions if n in builder.choices]
        if set(order) != set(builder.choices):  # an internal invariant, not a user error
            raise AssertionError(f"supernet decisions {sorted(builder.choices)} differ from the "
                                 f"space's {space.decisions}")
        super().__init__({n: builder.choices[n] for n in order},
                         {n: builder.free.get(n, set()) for n in order})
        probe.choices = self.choices
        self.selection = probe  # the mixed layers already hold this object
        self.space = space
        self.features = nn.Sequential(*builder.modules)
        self.spatial = builder.spatial
        self.flatten = nn.Flatten(2) if self.spatial else nn.Identity()
        self.head = DynLinear(max(builder.channels), task.n_outputs)

    def check_arch(self, arch: Architecture) -> None:
        self.space.validate(arch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.features(x)
        if self.spatial:
            out = self.flatten(out).mean(dim=2)
        result: torch.Tensor = self.head(out)
        return result

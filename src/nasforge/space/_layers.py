"""The declarative model vocabulary: layer specs whose fields may be choices.

A layer spec is a JSON-able dict with a ``type`` and fields; a **list value is a choice** (a
single value is fixed, and so is a one-element list). Layer types and their fields (defaults in
brackets, ``*`` = required):

=============  ====================================================================================
``conv``       ``width*``, ``kernel`` [3, odd], ``stride`` [1], ``activation`` [relu],
               ``norm`` [batch | layer | none], ``skip`` [false: residual, projected if needed]
``dense``      ``width*``, ``activation`` [relu], ``norm`` [none], ``dropout`` [0.0],
               ``skip`` [false]
``pool``       ``kind`` [max | avg], ``size`` [2] (a dimension shorter than ``size`` is not pooled)
``dropout``    ``p*``
``activation`` ``fn`` [relu]
``norm``       ``kind`` [batch | layer]
``resblock``   ``width*``, ``stride`` [2]: NAS-Bench-201's residual reduction block
``cell``       ``ops*`` (each edge chooses one), ``nodes`` [4], ``channels`` [input channels]
``repeat``     ``body*`` (a list of layers), ``depth`` [1] (an int or a list of ints >= 0)
=============  ====================================================================================

Every layer may have a ``name`` (letters, digits, ``_``); by default it is ``<type><index>``.
Decisions are named ``<layer name>.<field>``; a cell's ``<name>.edge_<j>_<i>``; a repeat's
``<name>.depth`` and ``<name>.<position>.<body layer name>.<field>``, where a body of one unnamed
layer drops the body layer name (``blocks.2.kernel``). Layers in the same list with the same
name and an identical spec *share* their decisions (NAS-Bench-201 uses one cell everywhere).

Networks are built generically: 1-D layers for ``(C, L)`` inputs, 2-D for ``(C, H, W)``; flat
``(F,)`` features are treated as a 1-channel signal of length ``F`` by spatial layers, and
``dense`` layers flatten whatever they get. Every network ends with a global average pool (for
feature maps) and a linear head to ``task.n_outputs`` (classes, or regression targets).
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from nasforge.errors import ConfigError, Problem
from nasforge.space import _modules as m
from nasforge.space._primitives import Cell, Choice, Repeat, options_problem
from nasforge.tasks.base import TaskInfo

_REQUIRED = object()
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _is_int(v: object, low: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


@dataclass(frozen=True)
class FieldSpec:
    """One field of a layer type: what it accepts and its default."""

    expected: str
    check: Callable[[Any], bool]
    default: Any = _REQUIRED


_WIDTH = FieldSpec("an int >= 1", lambda v: _is_int(v, 1))
_ACT = FieldSpec(f"one of {sorted(m.ACTIVATIONS)}", lambda v: v in m.ACTIVATIONS, "relu")
_SKIP = FieldSpec("true or false", lambda v: isinstance(v, bool), False)
_RATE = FieldSpec(
    "a number in [0, 1)",
    lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1,
)


def _norm_field(default: str) -> FieldSpec:
    return FieldSpec("one of ['batch', 'layer', 'none']",
                     lambda v: v in ("batch", "layer", "none"), default)


LAYER_FIELDS: dict[str, dict[str, FieldSpec]] = {
    "conv": {
        "width": _WIDTH,
        "kernel": FieldSpec("an odd int >= 1", lambda v: _is_int(v, 1) and v % 2 == 1, 3),
        "stride": FieldSpec("an int >= 1", lambda v: _is_int(v, 1), 1),
        "activation": _ACT,
        "norm": _norm_field("batch"),
        "skip": _SKIP,
    },
    "dense": {
        "width": _WIDTH,
        "activation": _ACT,
        "norm": _norm_field("none"),
        "dropout": FieldSpec(_RATE.expected, _RATE.check, 0.0),
        "skip": _SKIP,
    },
    "pool": {
        "kind": FieldSpec("one of ['max', 'avg']", lambda v: v in ("max", "avg"), "max"),
        "size": FieldSpec("an int >= 1", lambda v: _is_int(v, 1), 2),
    },
    "dropout": {"p": _RATE},
    "activation": {"fn": _ACT},
    "norm": {"kind": FieldSpec("one of ['batch', 'layer']", lambda v: v in ("batch", "layer"),
                               "batch")},
    "resblock": {"width": _WIDTH, "stride": FieldSpec("an int >= 1", lambda v: _is_int(v, 1), 2)},
}
"""Fields of the plain layer types (``cell`` and ``repeat`` are structural and checked apart)."""

LAYER_TYPES: tuple[str, ...] = (*sorted(LAYER_FIELDS), "cell", "repeat")
_STRUCTURAL_FIELDS = {"cell": ("ops", "nodes", "channels"), "repeat": ("body", "depth")}


# --- Python helpers: each returns a plain spec dict ------------------------------------------

def _spec(type_: str, name: str | None, **fields: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": type_}
    if name is not None:
        spec["name"] = name
    spec.update({k: v for k, v in fields.items() if v is not None})
    return normalize_layer(spec)


def Conv(*, width: Any, kernel: Any = None, stride: Any = None, activation: Any = None,
         norm: Any = None, skip: Any = None, name: str | None = None) -> dict[str, Any]:
    """A convolution layer spec; any field may be a :class:`Choice` or a list of options."""
    return _spec("conv", name, width=width, kernel=kernel, stride=stride, activation=activation,
                 norm=norm, skip=skip)


def Dense(*, width: Any, activation: Any = None, norm: Any = None, dropout: Any = None,
          skip: Any = None, name: str | None = None) -> dict[str, Any]:
    """A fully connected layer spec (flattens feature maps)."""
    return _spec("dense", name, width=width, activation=activation, norm=norm, dropout=dropout,
                 skip=skip)


def Pool(*, kind: Any = None, size: Any = None, name: str | None = None) -> dict[str, Any]:
    """A max/average pooling layer spec (window = stride = ``size``)."""
    return _spec("pool", name, kind=kind, size=size)


def Dropout(*, p: Any, name: str | None = None) -> dict[str, Any]:
    """A dropout layer spec."""
    return _spec("dropout", name, p=p)


def Activation(*, fn: Any = None, name: str | None = None) -> dict[str, Any]:
    """An activation layer spec."""
    return _spec("activation", name, fn=fn)


def Norm(*, kind: Any = None, name: str | None = None) -> dict[str, Any]:
    """A normalisation layer spec."""
    return _spec("norm", name, kind=kind)


def ResBlock(*, width: Any, stride: Any = None, name: str | None = None) -> dict[str, Any]:
    """NAS-Bench-201's residual reduction block spec."""
    return _spec("resblock", name, width=width, stride=stride)


def CellLayer(*, ops: Sequence[str], nodes: int | None = None, channels: int | None = None,
              name: str | None = None) -> dict[str, Any]:
    """A cell layer spec (a :class:`Cell` placed in a network, optionally at ``channels``)."""
    return _spec("cell", name, ops=list(ops), nodes=nodes, channels=channels)


# --- normalisation: Python objects -> JSON-able specs ----------------------------------------

def _normalize_value(value: Any) -> Any:
    if isinstance(value, Choice):
        return list(value.options)
    if isinstance(value, (Repeat, Cell)):
        return normalize_layer(value)
    if isinstance(value, Mapping):
        return {k: _normalize_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalize_value(v) for v in value]
    return value


def normalize_layer(layer: Any) -> Any:
    """A JSON-able spec for a layer given as a dict, :class:`Repeat` or :class:`Cell`.

    Choices become lists and tuples lists; anything else is left for :func:`check_layers`.
    """
    if isinstance(layer, Repeat):
        body = layer.body if isinstance(layer.body, (list, tuple)) else [layer.body]
        depth = list(layer.depth.options) if isinstance(layer.depth, Choice) else layer.depth
        return {"type": "repeat", "depth": depth, "body": [normalize_layer(b) for b in body]}
    if isinstance(layer, Cell):
        return {"type": "cell", "nodes": layer.n_nodes, "ops": list(layer.ops)}
    if isinstance(layer, Mapping):
        out = {k: _normalize_value(v) for k, v in layer.items()}
        if out.get("type") == "repeat" and isinstance(out.get("body"), Mapping):
            out["body"] = [out["body"]]
        return out
    return copy.deepcopy(layer)


# --- checking ------------------------------------------------------------------------------

def layer_names(layers: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each layer's name: its ``name`` or ``<type><index>``."""
    return [str(spec.get("name", f"{spec.get('type')}{i}")) for i, spec in enumerate(layers)]


def _flattened(spec: Mapping[str, Any]) -> bool:
    body = spec["body"]
    return len(body) == 1 and "name" not in body[0]


def _check_field(where: str, kind: str, spec: FieldSpec, value: Any) -> list[Problem]:
    if isinstance(value, list):
        problem = options_problem(value)
        if problem:
            return [Problem(where, problem, f"list the options, e.g. [{spec.expected}, ...], "
                            "or give a single fixed value")]
        bad = [v for v in value if not spec.check(v)]
        if bad:
            return [Problem(where, f"each option must be {spec.expected}; got {bad[0]!r}",
                            f"use {spec.expected}")]
        return []
    if not spec.check(value):
        return [Problem(where, f"expected {spec.expected} or a list of them; got {value!r}",
                        f"use {spec.expected}")]
    return []


def _unknown_fields(where: str, type_: str, spec: Mapping[str, Any],
                    known: Sequence[str]) -> list[Problem]:
    problems = []
    for key in spec:
        if key in ("type", "name") or key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        problems.append(Problem(f"{where}.{key}", f"unknown field for a {type_} layer",
                                f"{hint}{type_} fields are: {', '.join(known)}"))
    return problems


def _check_cell(where: str, spec: Mapping[str, Any]) -> list[Problem]:
    problems = []
    ops = spec.get("ops", _REQUIRED)
    if ops is _REQUIRED:
        problems.append(Problem(f"{where}.ops", "missing required field",
                                f"add ops, a list from {sorted(m.CELL_OPS)}"))
    else:
        problem = options_problem(ops)
        unknown = [o for o in ops if o not in m.CELL_OPS] if problem is None else []
        if problem:
            problems.append(Problem(f"{where}.ops", problem,
                                    f"list operations from {sorted(m.CELL_OPS)}"))
        elif unknown:
            problems.append(Problem(f"{where}.ops", f"unknown cell operation {unknown[0]!r}",
                                    f"use names from {sorted(m.CELL_OPS)}"))
    nodes = spec.get("nodes", 4)
    if not _is_int(nodes, 2):
        problems.append(Problem(f"{where}.nodes", f"expected a fixed int >= 2; got {nodes!r}",
                                "use 4 (NAS-Bench-201)"))
    channels = spec.get("channels")
    if channels is not None and not _is_int(channels, 1):
        problems.append(Problem(f"{where}.channels", f"expected a fixed int >= 1; got "
                                f"{channels!r}", "omit it to keep the input channels"))
    return problems


def _check_repeat(where: str, spec: Mapping[str, Any]) -> list[Problem]:
    problems = []
    depth = spec.get("depth", 1)
    if isinstance(depth, list):
        problem = options_problem(depth)
        if problem is None and not all(_is_int(d, 0) for d in depth):
            problem = f"each depth must be an int >= 0; got {depth!r}"
        if problem:
            problems.append(Problem(f"{where}.depth", problem, "e.g. depth: [1, 2, 3]"))
    elif not _is_int(depth, 0):
        problems.append(Problem(f"{where}.depth", f"expected an int >= 0 or a list of them; "
                                f"got {depth!r}", "e.g. depth: [1, 2, 3]"))
    body = spec.get("body", _REQUIRED)
    if body is _REQUIRED:
        problems.append(Problem(f"{where}.body", "missing required field",
                                "add body: a list of layers to repeat"))
    elif not isinstance(body, list) or not body:
        problems.append(Problem(f"{where}.body", f"expected a non-empty list of layers; "
                                f"got {body!r}", "add body: [{type: conv, width: 32}]"))
    else:
        problems.extend(check_layers(body, f"{where}.body"))
    return problems


def check_layer(spec: Any, where: str) -> list[Problem]:
    """Problems with one layer spec (empty when it is valid)."""
    if not isinstance(spec, Mapping):
        return [Problem(where, f"expected a layer (a mapping with a 'type'); got {spec!r}",
                        "e.g. {type: conv, width: 16}")]
    type_ = spec.get("type")
    if type_ is None:
        return [Problem(f"{where}.type", "missing layer type",
                        f"add type: one of {', '.join(LAYER_TYPES)}")]
    if type_ not in LAYER_TYPES:
        close = difflib.get_close_matches(str(type_), LAYER_TYPES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return [Problem(f"{where}.type", f"unknown layer type {type_!r}",
                        f"{hint}use one of: {', '.join(LAYER_TYPES)}")]
    problems = []
    name = spec.get("name")
    if name is not None and (not isinstance(name, str) or not _NAME.match(name)):
        problems.append(Problem(f"{where}.name", f"expected a name of letters, digits and _ "
                                f"(not starting with a digit); got {name!r}", "rename the layer"))
    if type_ == "cell":
        return problems + _unknown_fields(where, type_, spec, _STRUCTURAL_FIELDS["cell"]) + \
            _check_cell(where, spec)
    if type_ == "repeat":
        return problems + _unknown_fields(where, type_, spec, _STRUCTURAL_FIELDS["repeat"]) + \
            _check_repeat(where, spec)
    fields = LAYER_FIELDS[type_]
    problems.extend(_unknown_fields(where, type_, spec, list(fields)))
    for key, field_spec in fields.items():
        if key not in spec:
            if field_spec.default is _REQUIRED:
                problems.append(Problem(f"{where}.{key}", "missing required field",
                                        f"add {key}: {field_spec.expected} or a list of them"))
            continue
        problems.extend(_check_field(f"{where}.{key}", type_, field_spec, spec[key]))
    return problems


def check_layers(layers: Any, where: str = "layers") -> list[Problem]:
    """Problems with a list of layer specs, including names shared by different specs."""
    if not isinstance(layers, list) or not layers:
        return [Problem(where, f"expected a non-empty list of layers; got {layers!r}",
                        "e.g. [{type: conv, width: [16, 32]}]")]
    problems = []
    for i, spec in enumerate(layers):
        problems.extend(check_layer(spec, f"{where}[{i}]"))
    if problems:
        return problems
    first: dict[str, int] = {}
    for i, name in enumerate(layer_names(layers)):
        if name in first and layers[first[name]] != layers[i]:
            problems.append(Problem(
                f"{where}[{i}].name",
                f"name {name!r} is already used by {where}[{first[name]}] with a different spec",
                "rename one (layers share decisions only when their specs are identical)",
            ))
        first.setdefault(name, i)
    return problems


# --- declaration ---------------------------------------------------------------------------

def _layer_node(spec: Mapping[str, Any]) -> Any:
    type_ = spec["type"]
    if type_ == "cell":
        return Cell(ops=spec["ops"], n_nodes=spec.get("nodes", 4))
    if type_ == "repeat":
        body = spec["body"]
        node = _layer_node(body[0]) if _flattened(spec) else layers_declaration(body)
        depth = spec.get("depth", 1)
        return Repeat(node, Choice(depth) if isinstance(depth, list) else depth)
    return {k: Choice(v) for k, v in spec.items() if isinstance(v, list)}


def layers_declaration(layers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The declaration tree of checked layer specs: layer name -> node (shared names merged)."""
    tree: dict[str, Any] = {}
    for name, spec in zip(layer_names(layers), layers, strict=True):
        if name not in tree:
            tree[name] = _layer_node(spec)
    return tree


# --- building ------------------------------------------------------------------------------

def resolve_dims(dims: int | str, task: TaskInfo) -> int:
    """1 or 2: ``auto`` means 2-D for image tasks and 1-D otherwise."""
    if dims == "auto":
        return 2 if task.kind == "image" else 1
    if dims not in (1, 2):
        raise ConfigError([Problem("dims", f"expected 1, 2 or 'auto'; got {dims!r}",
                                   "use dims: auto")])
    return int(dims)


class _Builder:
    """Builds modules layer by layer, tracking the shape of one example."""

    def __init__(self, dims: int, input_shape: tuple[int, ...]) -> None:
        self.dims = dims
        self.modules: list[nn.Module] = []
        self.shape: tuple[int, ...] = input_shape
        if len(input_shape) == 1:
            pass
        elif len(input_shape) == 2:
            if dims == 2:
                self._reshape((input_shape[0], 1, input_shape[1]))
        elif len(input_shape) == 3:
            if dims == 1:
                self._reshape((input_shape[0], input_shape[1] * input_shape[2]))
        else:
            raise ConfigError([Problem("task.input_shape", f"expected (F,), (C, L) or (C, H, W); "
                                       f"got {input_shape!r}", "reshape the task's inputs")])
        if any(n < 1 for n in input_shape):
            raise ConfigError([Problem("task.input_shape", f"sizes must be >= 1; got "
                                       f"{input_shape!r}", "fix the task's input shape")])

    def _reshape(self, shape: tuple[int, ...]) -> None:
        self.modules.append(m.Reshape(shape))
        self.shape = shape

    @property
    def spatial(self) -> bool:
        return len(self.shape) > 1

    def _to_spatial(self) -> None:
        if not self.spatial:
            features = self.shape[0]
            self._reshape((1, features) if self.dims == 1 else (1, 1, features))

    def _to_flat(self) -> None:
        if self.spatial:
            self.modules.append(nn.Flatten())
            self.shape = (math.prod(self.shape),)

    def layers(self, specs: Sequence[Mapping[str, Any]], resolved: Mapping[str, Any]) -> None:
        for name, spec in zip(layer_names(specs), specs, strict=True):
            self.layer(spec, resolved[name])

    def layer(self, spec: Mapping[str, Any], resolved: Any) -> None:
        type_ = spec["type"]
        if type_ == "repeat":
            for position in resolved:
                if _flattened(spec):
                    self.layer(spec["body"][0], position)
                else:
                    self.layers(spec["body"], position)
            return
        if type_ == "cell":
            self._cell(spec, resolved)
            return
        values = {k: f.default for k, f in LAYER_FIELDS[type_].items()}
        values.update({k: v for k, v in spec.items() if k not in ("type", "name")})
        values.update(resolved)
        getattr(self, f"_{type_}")(values)

    def _conv(self, v: Mapping[str, Any]) -> None:
        self._to_spatial()
        c_in, sizes = self.shape[0], self.shape[1:]
        kernel, stride = v["kernel"], v["stride"]
        self.modules.append(m.ConvBlock(self.dims, c_in, v["width"], kernel=kernel,
                                        stride=stride, activation=v["activation"],
                                        norm_kind=v["norm"], skip=v["skip"]))
        self.shape = (v["width"], *((n + 2 * (kernel // 2) - kernel) // stride + 1 for n in sizes))

    def _dense(self, v: Mapping[str, Any]) -> None:
        self._to_flat()
        self.modules.append(m.DenseBlock(self.shape[0], v["width"], activation=v["activation"],
                                         norm_kind=v["norm"], dropout=float(v["dropout"]),
                                         skip=v["skip"]))
        self.shape = (v["width"],)

    def _pool(self, v: Mapping[str, Any]) -> None:
        self._to_spatial()
        channels, sizes = self.shape[0], self.shape[1:]
        kernel = tuple(v["size"] if n >= v["size"] else 1 for n in sizes)
        if all(k == 1 for k in kernel):
            return  # too short to pool: a no-op rather than an error
        arg = kernel if self.dims == 2 else kernel[0]
        make = m.max_pool if v["kind"] == "max" else m.avg_pool
        self.modules.append(make(self.dims, arg, arg))
        self.shape = (channels, *((n - k) // k + 1 for n, k in zip(sizes, kernel, strict=True)))

    def _dropout(self, v: Mapping[str, Any]) -> None:
        if v["p"] > 0:
            self.modules.append(nn.Dropout(float(v["p"])))

    def _activation(self, v: Mapping[str, Any]) -> None:
        self.modules.append(m.make_act(v["fn"]))

    def _norm(self, v: Mapping[str, Any]) -> None:
        if self.spatial:
            self.modules.append(m.norm(v["kind"], self.dims, self.shape[0]))
        elif v["kind"] == "batch":
            self.modules.append(nn.BatchNorm1d(self.shape[0]))
        else:
            self.modules.append(nn.LayerNorm(self.shape[0]))

    def _resblock(self, v: Mapping[str, Any]) -> None:
        self._to_spatial()
        c_in, sizes = self.shape[0], self.shape[1:]
        stride = v["stride"]
        pool_kernel = tuple(min(stride, n) for n in sizes)
        self.modules.append(m.ResBlock(self.dims, c_in, v["width"], stride, pool_kernel))
        self.shape = (v["width"], *((n - 1) // stride + 1 for n in sizes))

    def _cell(self, spec: Mapping[str, Any], ops: Mapping[str, str]) -> None:
        self._to_spatial()
        c_in, sizes = self.shape[0], self.shape[1:]
        channels = spec.get("channels") or c_in
        if channels != c_in:
            self.modules.append(nn.Sequential(m.conv(self.dims, c_in, channels, 1),
                                              m.batch_norm(self.dims, channels)))
        self.modules.append(m.CellModule(self.dims, channels, spec.get("nodes", 4), ops))
        self.shape = (channels, *sizes)


def build_layers(layers: Sequence[Mapping[str, Any]], resolved: Mapping[str, Any],
                 task: TaskInfo, dims: int | str) -> m.DeclaredNet:
    """The network of checked ``layers`` under ``resolved`` decisions, for ``task``."""
    builder = _Builder(resolve_dims(dims, task), tuple(task.input_shape))
    builder.layers(layers, resolved)
    return m.DeclaredNet(nn.Sequential(*builder.modules), builder.shape[0], task.n_outputs,
                         spatial=builder.spatial)

"""Turn a built network into a Python source file that needs only ``torch``.

``torch.fx.symbolic_trace`` flattens the network into a graph whose leaves are standard
``torch.nn`` layers (convolutions, norms, activations, ...) and whose glue is plain torch calls.
We then write that graph out ourselves instead of with ``GraphModule.to_folder``, because
``to_folder`` hard-codes absolute paths and pickles every layer it cannot ``repr`` (``ReLU``,
pooling, ...), which makes the folder neither relocatable nor loadable with ``weights_only=True``.
Each leaf is written as a constructor call rebuilt from its stored attributes and checked
against the original (type, ``extra_repr`` and parameter shapes), so a layer the generator does
not understand fails here, at export time, rather than silently in the user's hands.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import math
import re
import types
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn

from nasforge.export._errors import StandaloneUnsupportedError

# Where the traced forward may find the functions it calls: torch itself and the stdlib modules
# fx uses for Python operators. Anything else (a nasforge helper, user code) would make the file
# depend on more than torch, so such a model falls back to a ``torch.export`` program instead.
_ALLOWED_MODULES = ("torch", "operator", "_operator", "math", "builtins")


@dataclass(frozen=True)
class StandaloneSource:
    """The generated module file and the weights it loads.

    Attributes:
        source: text of the ``model.py`` file.
        state_dict: the tensors ``model.py`` loads (the traced module's ``state_dict``).
    """

    source: str
    state_dict: dict[str, torch.Tensor]


def generate_standalone(
    model: nn.Module,
    *,
    class_name: str,
    weights_file: str,
    docstring: str,
    constants: dict[str, Any],
) -> StandaloneSource:
    """Trace ``model`` with torch.fx and write it as a torch-only module file.

    Args:
        model: the network, already in the mode (eval) and on the device (CPU) to export.
        class_name: name of the generated ``nn.Module`` subclass.
        weights_file: file name, next to the generated file, its constructor loads weights from.
        docstring: module docstring of the generated file (plain text, no triple quotes).
        constants: module-level constants to write (name to a literal value), e.g. the input
            shape, so the file documents what it expects.

    Returns:
        The source and the state dict to save as ``weights_file``.

    Raises:
        StandaloneUnsupportedError: fx cannot trace the model, or a layer or function it uses
            cannot be written without importing something other than torch.
    """
    try:
        graph_module = fx.symbolic_trace(model)
    except Exception as exc:  # tracing runs arbitrary user forward code: any error means "no"
        raise StandaloneUnsupportedError(
            f"torch.fx could not trace {type(model).__name__}: {type(exc).__name__}: {exc}"
        ) from exc
    code = graph_module.graph.python_code(root_module="self")
    forward = code.src.strip()
    imports = _global_imports(code.globals, forward)
    body = _init_body(graph_module)
    if '"""' in docstring:
        raise ValueError("docstring must not contain triple quotes")
    lines = [
        f'"""{docstring}"""',
        "",
        "import math",
        "from pathlib import Path",
        "",
        "import torch",
        *imports,
        "",
        *(f"{name} = {_literal(value, name)}" for name, value in constants.items()),
        f"WEIGHTS_FILE = Path(__file__).with_name({weights_file!r})",
        "",
        "",
        "def _owner(root: torch.nn.Module, path: str) -> tuple[torch.nn.Module, str]:",
        '    parent, _, name = path.rpartition(".")',
        "    return (root.get_submodule(parent) if parent else root), name",
        "",
        "",
        f"class {class_name}(torch.nn.Module):",
        '    """The exported network (``load_weights=False``: default torch initialisation)."""',
        "",
        "    def __init__(self, load_weights: bool = True) -> None:",
        "        super().__init__()",
        *(f"        {line}" for line in body),
        "        if load_weights:",
        "            state = torch.load(WEIGHTS_FILE, map_location='cpu', weights_only=True)",
        "            self.load_state_dict(state)",
        "",
        *(f"    {line}" if line.strip() else "" for line in forward.splitlines()),
        "",
        "",
        f"def load_model(device: str = 'cpu') -> {class_name}:",
        '    """The exported network with its weights, in eval mode, on ``device``."""',
        f"    return {class_name}().to(device).eval()",
        "",
    ]
    return StandaloneSource(
        source="\n".join(lines),
        state_dict={k: v.detach().clone() for k, v in graph_module.state_dict().items()},
    )


def _init_body(graph_module: fx.GraphModule) -> list[str]:
    """Constructor lines rebuilding the module tree, parameters and buffers of the trace."""
    leaves = {str(n.target) for n in graph_module.graph.nodes if n.op == "call_module"}
    lines: list[str] = []
    containers: list[tuple[str, nn.Module]] = [("", graph_module)]
    for path, module in graph_module.named_modules():
        if not path or any(path.startswith(f"{leaf}.") for leaf in leaves):
            continue  # the root, or a child a leaf's own constructor creates
        if path in leaves:
            expr = _constructor(path, module)
        elif type(module) is nn.Module:
            expr = "torch.nn.Module()"  # fx keeps the hierarchy with plain container modules
            containers.append((path, module))
        else:
            raise StandaloneUnsupportedError(
                f"submodule {path!r} ({type(module).__name__}) is neither a called layer nor a "
                "plain container in the traced graph"
            )
        lines.append(f"owner, name = _owner(self, {path!r})")
        lines.append(f"owner.add_module(name, {expr})")
    for path, container in containers:
        prefix = f"{path}." if path else ""
        for name, param in container._parameters.items():
            if param is None:
                continue
            lines.append(f"owner, name = _owner(self, {prefix + name!r})")
            lines.append(
                f"owner.register_parameter(name, torch.nn.Parameter({_empty(param)}, "
                f"requires_grad={param.requires_grad}))"
            )
        for name, buffer in container._buffers.items():
            if buffer is None:
                continue
            lines.append(f"owner, name = _owner(self, {prefix + name!r})")
            lines.append(f"owner.register_buffer(name, {_empty(buffer)})")
    return lines


def _empty(tensor: torch.Tensor) -> str:
    return f"torch.empty({tuple(tensor.shape)!r}, dtype={tensor.dtype})"


def _class_path(cls: type) -> str:
    if getattr(torch.nn, cls.__name__, None) is cls:
        return f"torch.nn.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def _constructor(path: str, module: nn.Module) -> str:
    """A constructor call that rebuilds the leaf ``module`` (weights aside), checked by
    building the layer from that very text (parsed back as literals, never evaluated)."""
    cls = type(module)
    if not cls.__module__.startswith("torch.") or "<" in cls.__qualname__:
        raise StandaloneUnsupportedError(
            f"layer {path!r} is a {cls.__module__}.{cls.__qualname__}, not a torch layer"
        )
    args: list[str] = []
    kwargs: dict[str, Any] = {}
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name in ("self", "device", "dtype") or param.kind in (
            param.VAR_POSITIONAL,
            param.VAR_KEYWORD,
        ):
            continue
        if not hasattr(module, name):
            if param.default is param.empty:
                raise StandaloneUnsupportedError(
                    f"layer {path!r} ({cls.__name__}) does not store its required constructor "
                    f"argument {name!r}"
                )
            continue
        value = getattr(module, name)
        if isinstance(param.default, bool) and (value is None or isinstance(value, torch.Tensor)):
            value = value is not None  # e.g. ``bias=True`` is stored as the bias tensor itself
        if type(value) is type(param.default) and value == param.default:
            continue
        text = _literal(value, f"{path}.{name}")
        args.append(f"{name}={text}")
        kwargs[name] = _read_literal(ast.parse(text, mode="eval").body)
    expr = f"{_class_path(cls)}({', '.join(args)})"
    try:  # rebuilt from the text just written (read back without eval), so the file is right
        rebuilt = _resolve(_class_path(cls))(**kwargs)
    except Exception as exc:
        raise StandaloneUnsupportedError(
            f"layer {path!r} cannot be rebuilt as {expr}: {type(exc).__name__}: {exc}"
        ) from exc
    if type(rebuilt) is not cls or _fingerprint(rebuilt) != _fingerprint(module):
        raise StandaloneUnsupportedError(
            f"layer {path!r} rebuilt as {expr} differs from the original {module!r}"
        )
    return expr


def _resolve(dotted: str) -> Any:
    """The object a dotted path written by :func:`_class_path` names (an import, no eval)."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(f"no module in {dotted!r}")


def _read_literal(node: ast.expr) -> Any:
    """The value of source text written by :func:`_literal` (its inverse, safe: no eval)."""
    if isinstance(node, ast.Constant) and (node.value is None
                                           or type(node.value) in (bool, int, float, str)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _read_literal(node.operand)
        if type(inner) in (int, float):
            return -inner
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        if node.value.id == "math" and node.attr in ("nan", "inf"):
            return getattr(math, node.attr)
        if node.value.id == "torch" and isinstance(getattr(torch, node.attr, None), torch.dtype):
            return getattr(torch, node.attr)
    if isinstance(node, ast.Tuple):
        return tuple(_read_literal(e) for e in node.elts)
    if isinstance(node, ast.List):
        return [_read_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_read_literal(k): _read_literal(v)  # type: ignore[arg-type]
                for k, v in zip(node.keys, node.values, strict=True)}
    raise StandaloneUnsupportedError(f"{ast.unparse(node)} is not a plain literal")


def _fingerprint(module: nn.Module) -> tuple[Any, ...]:
    return (
        repr(module),
        [(k, tuple(v.shape), v.dtype) for k, v in module.state_dict().items()],
    )


def _literal(value: Any, where: str) -> str:
    """Python source for a constructor argument or constant; only plain literals qualify."""
    if isinstance(value, torch.Size):
        value = tuple(value)
    if value is None or type(value) in (bool, int, str):
        return repr(value)
    if type(value) is float:
        if math.isnan(value):
            return "math.nan"
        if math.isinf(value):
            return "math.inf" if value > 0 else "-math.inf"
        return repr(value)
    if isinstance(value, torch.dtype):
        return str(value)
    if type(value) in (tuple, list):
        items = [_literal(v, where) for v in value]
        if type(value) is tuple:
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        return f"[{', '.join(items)}]"
    if type(value) is dict:
        pairs = [f"{_literal(k, where)}: {_literal(v, where)}" for k, v in value.items()]
        return "{" + ", ".join(pairs) + "}"
    raise StandaloneUnsupportedError(
        f"{where} is a {type(value).__name__} ({value!r}), not a plain literal"
    )


def _global_imports(globals_: dict[str, Any], forward: str) -> list[str]:
    """Import lines for the names the traced forward uses, refusing anything outside torch."""
    lines: list[str] = []
    for name, obj in globals_.items():
        if name in ("torch", "math") or not re.search(rf"\b{re.escape(name)}\b", forward):
            continue
        if name in ("inf", "nan"):
            lines.append(f"{name} = math.{name}")
        elif name == "NoneType":
            lines.append("NoneType = type(None)")
        elif type(obj) is str:  # a string annotation, e.g. "torch.Tensor" under PEP 563
            lines.append(f"{name} = {obj!r}")
        elif isinstance(obj, types.ModuleType):
            if obj.__name__.split(".")[0] not in _ALLOWED_MODULES:
                raise StandaloneUnsupportedError(f"the traced forward uses module {obj.__name__}")
            lines.append(f"import {obj.__name__} as {name}")
        else:
            lines.append(_import_object(name, obj))
    return lines


def _import_object(name: str, obj: Any) -> str:
    module_name = getattr(obj, "__module__", None) or ""
    qualname = getattr(obj, "__qualname__", None) or ""
    importable = (
        module_name.split(".")[0] in _ALLOWED_MODULES
        and qualname.isidentifier()
        and getattr(importlib.import_module(module_name), qualname, None) is obj
    )
    if not importable:
        raise StandaloneUnsupportedError(
            f"the traced forward calls {obj!r} from {module_name or 'an unknown module'}, "
            "which is not part of torch"
        )
    if qualname == name:
        return f"from {module_name} import {qualname}"
    return f"from {module_name} import {qualname} as {name}"

"""``loader.py`` for exports of define-by-run spaces: rebuild the network by calling its function.

A define-by-run network is the user's own code, so besides the traced ``model.py`` (when
torch.fx can trace it) its export carries a loader that imports the function named by the
space's ``path``, calls it with the exported architecture as the answers to ``a.choice`` and the
task's shape as ``task``, and loads ``weights.pt``. It needs torch and the user's module (which
may import nasforge itself), and works however the network's forward is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.export._errors import ExportError
from nasforge.export._generated import compare_generated
from nasforge.tasks.base import TaskInfo

LOADER_FILE = "loader.py"

_TEMPLATE = '''"""Rebuild the exported network by calling the function that defines it.

The network comes from the define-by-run function {path_text}: this file imports it (its module must
be importable, e.g. on PYTHONPATH, or the named .py file must exist), answers each ``a.choice``
with the exported architecture and loads ``{weights}`` from this directory. Usage, with this
file's directory on sys.path:

    from loader import load_model
    net = load_model()  # eval mode, on the CPU
"""

import importlib
import importlib.util
from pathlib import Path

import torch

FUNCTION = {path!r}
ARCH = {arch}
TASK = {task}
WEIGHTS_FILE = Path(__file__).with_name({weights!r})


class Answers:
    """``a`` for the function: each decision's exported value (a single option is fixed)."""

    def __init__(self, values):
        self.values = dict(values)
        self.asked = set()

    def choice(self, name, options):
        options = list(options)
        if len(options) == 1:
            return options[0]
        if name not in self.values:
            raise KeyError(
                f"{{FUNCTION}} asks {{name!r}}, which the exported architecture does not have: "
                "the function changed since the export (use the version that was searched)"
            )
        self.asked.add(name)
        return self.values[name]


class Task:
    """The exported task's shape, as the function's ``task`` argument."""

    def __init__(self, data):
        self.name = data["name"]
        self.input_shape = tuple(data["input_shape"])
        self.n_classes = data["n_classes"]
        self.kind = data["kind"]
        self.problem = data.get("problem", "classification")
        self.n_targets = data.get("n_targets", 0)

    @property
    def is_regression(self):
        return self.problem == "regression"

    @property
    def n_outputs(self):
        return self.n_targets if self.is_regression else self.n_classes


def _task():
    try:  # nasforge's own TaskInfo when it is installed, else a stand-in with the same fields
        from nasforge.tasks.base import TaskInfo
    except ImportError:
        return Task(TASK)
    return TaskInfo.from_dict(TASK)


def _function():
    where, _, qualname = FUNCTION.rpartition(":")
    if where.endswith(".py"):  # a file, e.g. the script the search was run from
        spec = importlib.util.spec_from_file_location(Path(where).stem, where)
        obj = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(obj)
    else:
        obj = importlib.import_module(where)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return getattr(obj, "function", obj)  # a decorated space gives the function it wraps


def build(load_weights=True):
    """The network, in training mode, with the exported weights unless ``load_weights=False``."""
    task = _task()
    answers = Answers(ARCH)
    net = _function()(answers, task)
    unasked = sorted(set(ARCH) - answers.asked)
    if unasked:
        raise KeyError(f"{{FUNCTION}} did not ask {{unasked}}: the function changed since export")
    lazy = torch.nn.modules.lazy.LazyModuleMixin
    if any(isinstance(m, lazy) for m in net.modules()):  # materialise them, as nasforge does
        net.eval()
        with torch.no_grad():
            net(torch.zeros(2, *task.input_shape))
        net.train()
    if load_weights:
        net.load_state_dict(torch.load(WEIGHTS_FILE, map_location="cpu", weights_only=True))
    return net


def load_model(device="cpu"):
    """The exported network with its weights, in eval mode, on ``device``."""
    return build().to(device).eval()
'''


def write_function_loader(
    tmp: Path,
    *,
    path: str,
    arch: Architecture,
    task: TaskInfo,
    weights_file: str,
    network: nn.Module,
    probe: torch.Tensor,
) -> dict[str, Any]:
    """Write ``loader.py`` into ``tmp``, check it against ``network`` and describe it.

    Raises:
        ExportError: the loader fails or rebuilds a network whose outputs differ.
    """
    # The path is code in FUNCTION (a repr: a literal whatever it holds) and text in the
    # docstring, where a '"' is escaped so that a file named 'x"""...' cannot end the docstring
    # and put code in the loader.
    source = _TEMPLATE.format(
        path=path,
        path_text=repr(path).replace('"', '\\"'),
        arch=repr(arch.to_dict()),
        task=repr(task.to_dict()),
        weights=weights_file,
    )
    target = tmp / LOADER_FILE
    target.write_text(source)
    try:
        max_abs, ok = compare_generated(target, network, probe, 1e-6, 1e-7)
    except Exception as exc:
        raise ExportError(
            f"the generated {LOADER_FILE}, which calls {path}, fails: {type(exc).__name__}: "
            f"{exc} (fix: export the network space.build(arch, task) built)"
        ) from exc
    if not ok:
        raise ExportError(
            f"the network {LOADER_FILE} rebuilds by calling {path} differs from the exported one "
            f"by up to {max_abs:.3g} (fix: keep all the network's state in its state_dict)"
        )
    return {"file": LOADER_FILE, "function": path, "max_abs_diff": max_abs}

"""Write a found architecture to a directory a user can ship, and check every artifact.

An export directory holds:

- ``architecture.json``: the space (registry name and parameters), the architecture, the task
  shape, metrics, provenance, and the figures of every check below;
- ``weights.pt``: the network's ``state_dict`` (``torch.load(..., weights_only=True)`` reads it);
- ``model.py`` + ``model_weights.pt``: the network as a module file that needs only torch
  (generated from a torch.fx trace), or, when fx cannot trace it, ``model.pt2``: a
  ``torch.export`` program, which also needs only torch;
- ``model.onnx``: ONNX with a dynamic batch axis, checked against PyTorch with onnxruntime;
- ``loader.py`` (define-by-run spaces only): rebuilds the network by calling the user's function
  with the architecture and loads ``weights.pt``; it works where torch.fx cannot trace;
- ``README.md``: how to load it with nasforge, with plain torch, and with onnxruntime.

Everything is written to a temporary sibling directory and moved into place only when all checks
pass, so a failed export never leaves a half-written directory behind.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nasforge.architecture import Architecture
from nasforge.export._codegen import generate_standalone
from nasforge.export._errors import (
    ExportError,
    ExportExistsError,
    ExportPathError,
    StandaloneUnsupportedError,
)
from nasforge.export._function_loader import write_function_loader
from nasforge.export._generated import compare_generated
from nasforge.export._onnx import (
    INPUT_NAME,
    OUTPUT_NAME,
    Exporter,
    check_onnx,
    compare,
    export_onnx,
)
from nasforge.imports import require_extra
from nasforge.space.base import SPACES, SearchSpace
from nasforge.tasks.base import TaskInfo

FORMAT = 1
"""Version of the export directory layout; :func:`~nasforge.export.load` refuses others."""

METADATA_FILE = "architecture.json"
WEIGHTS_FILE = "weights.pt"
STANDALONE_FILE = "model.py"
STANDALONE_WEIGHTS_FILE = "model_weights.pt"
PACKAGE_FILE = "__init__.py"
PROGRAM_FILE = "model.pt2"
ONNX_FILE = "model.onnx"
README_FILE = "README.md"
CLASS_NAME = "ExportedModel"

_TRACE_BATCH = 2  # the batch traced; the checks use another size, exercising the dynamic axis
_CHECK_BATCH = 3
_STANDALONE_TOLERANCE = (1e-6, 1e-7)  # (rtol, atol): the same ops in the same order


@dataclass(frozen=True)
class ExportInfo:
    """Where an export was written and how well each artifact reproduces the network.

    Attributes:
        out_dir: the export directory.
        metadata: ``architecture.json``.
        weights: ``weights.pt``.
        readme: ``README.md``.
        standalone: ``model.py`` (format ``fx``) or ``model.pt2`` (format ``torch_export``);
            ``None`` when neither could be written (the reason is in ``architecture.json``).
        standalone_format: ``"fx"``, ``"torch_export"`` or ``None``.
        standalone_max_abs_diff: largest output difference of the standalone module against the
            network (0.0 for the fx module, which runs the same operations).
        onnx: ``model.onnx``, or ``None`` when ONNX export was not asked for.
        onnx_exporter: ``"dynamo"`` or ``"torchscript"``; ``None`` without ONNX.
        onnx_max_abs_diff: largest difference of onnxruntime's output against PyTorch's.
        onnx_max_rel_diff: the same, relative to the largest absolute PyTorch output.
        loader: ``loader.py``, which calls the define-by-run function (``None`` for other
            spaces).
    """

    out_dir: Path
    metadata: Path
    weights: Path
    readme: Path
    standalone: Path | None
    standalone_format: str | None
    standalone_max_abs_diff: float | None
    onnx: Path | None
    onnx_exporter: str | None
    onnx_max_abs_diff: float | None
    onnx_max_rel_diff: float | None
    loader: Path | None = None


def export_model(
    out_dir: str | os.PathLike[str],
    *,
    space: SearchSpace,
    arch: Architecture,
    task: TaskInfo,
    model: nn.Module | None = None,
    state_dict: Mapping[str, torch.Tensor] | None = None,
    metrics: Mapping[str, float] | None = None,
    trial: int | None = None,
    study: str | None = None,
    onnx: bool = True,
    exporter: Exporter = "auto",
    rtol: float = 1e-4,
    atol: float = 1e-5,
    seed: int = 0,
    overwrite: bool = False,
) -> ExportInfo:
    """Export ``arch`` of ``space``, built for ``task``, to the directory ``out_dir``.

    The weights come from ``model`` (a network built by ``space.build(arch, task)``, e.g. the
    trained winner), from ``state_dict``, or from both (``state_dict`` loaded into ``model``);
    with neither, the network is freshly initialised (seeded by ``seed``) for retraining
    elsewhere. ``model`` is copied, never modified.

    Args:
        out_dir: directory to create (it may exist if empty, or be replaced with ``overwrite``).
        space: the search space ``arch`` belongs to; registered, so :func:`load` can rebuild it.
        arch: the architecture to export.
        task: the input shape and classes the network is built for.
        model: the network whose weights to export.
        state_dict: weights to export (loaded strictly into the built network).
        metrics: figures to record, e.g. ``{"val_accuracy": 91.2}`` (percent for accuracies).
        trial: number of the trial that found ``arch``, for provenance.
        study: name of the study that found ``arch``, for provenance.
        onnx: also write and verify ``model.onnx``.
        exporter: ONNX exporter: ``auto`` tries ``dynamo`` then ``torchscript``.
        rtol: allowed ONNX difference relative to the largest absolute PyTorch output.
        atol: allowed ONNX absolute difference on top of the relative part.
        seed: seed of the random check batch (and of the initialisation when no weights are
            given); the global torch RNG is left as it was.
        overwrite: replace an existing export at ``out_dir``.

    Returns:
        The paths written and the check figures.

    Raises:
        InvalidArchitectureError: ``arch`` is not in ``space``.
        ExportExistsError: ``out_dir`` exists and is not empty, and ``overwrite`` is false.
        ExportPathError: ``out_dir`` holds a NUL byte, ends in ``..``, or is a symbolic link
            (see :func:`checked_out_dir`); nothing is written.
        ExportError: ``exporter``, ``rtol`` or ``atol`` is invalid, the weights do not fit
            ``space.build(arch, task)``, ``out_dir`` is to be overwritten but holds no export,
            ONNX export fails, or onnxruntime disagrees with PyTorch beyond
            ``atol + rtol * max|output|``.
        MissingDependencyError: ``onnx`` is true and the ``onnx`` extra is not installed.
    """
    if exporter not in ("auto", "dynamo", "torchscript"):
        raise ExportError(
            f"exporter must be 'auto', 'dynamo' or 'torchscript', got {exporter!r} "
            "(fix: use 'auto' to try dynamo first)"
        )
    for label, value in (("rtol", rtol), ("atol", atol)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise ExportError(f"{label} must be a finite number >= 0, got {value!r}")
    out = checked_out_dir(out_dir)
    _check_target(out, overwrite)
    if onnx:
        require_extra("onnx", "ONNX export", "pass onnx=False to export without model.onnx")
    # Building layers (ours, the generated module's, the exporters') draws initial weights from
    # the global torch RNG; a user's seeded run must not be shifted by exporting.
    with torch.random.fork_rng(devices=[]):
        return _export(
            out,
            space=space,
            arch=arch,
            task=task,
            model=model,
            state_dict=state_dict,
            metrics=metrics,
            trial=trial,
            study=study,
            onnx=onnx,
            exporter=exporter,
            rtol=rtol,
            atol=atol,
            seed=seed,
        )


def _export(
    out: Path,
    *,
    space: SearchSpace,
    arch: Architecture,
    task: TaskInfo,
    model: nn.Module | None,
    state_dict: Mapping[str, torch.Tensor] | None,
    metrics: Mapping[str, float] | None,
    trial: int | None,
    study: str | None,
    onnx: bool,
    exporter: Exporter,
    rtol: float,
    atol: float,
    seed: int,
) -> ExportInfo:
    space.validate(arch)
    network, source = _network(space, arch, task, model, state_dict, seed)
    weights = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
    example = _batch(task, _TRACE_BATCH, seed)
    probe = _batch(task, _CHECK_BATCH, seed + 1)
    reload_diff = _check_rebuild(space, arch, task, network, weights, probe, out)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        torch.save(weights, tmp / WEIGHTS_FILE)
        standalone = _write_standalone(tmp, network, space, arch, task, example, probe)
        loader = None
        function_path = _function_path(space)
        if function_path is not None:
            loader = write_function_loader(
                tmp, path=function_path, arch=arch, task=task, weights_file=WEIGHTS_FILE,
                network=network, probe=probe,
            )
        onnx_check = None
        if onnx:
            used = export_onnx(network, example, tmp / ONNX_FILE, exporter)
            onnx_check = check_onnx(
                tmp / ONNX_FILE, network, probe, exporter=used, rtol=rtol, atol=atol
            )
            if not onnx_check.passed:
                raise ExportError(
                    f"the ONNX export of {space.format(arch)} for {out} disagrees with PyTorch: "
                    f"max abs difference {onnx_check.max_abs_diff:.3g} "
                    f"(relative {onnx_check.max_rel_diff:.3g}) on a batch of "
                    f"{onnx_check.batch_size}, allowed atol={atol} + rtol={rtol} x max|output| "
                    f"(fix: pass a larger rtol, exporter='torchscript', or onnx=False)"
                )
        metadata = {
            "format": FORMAT,
            "nasforge_version": _nasforge_version(),
            "torch_version": torch.__version__,
            "created_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "space": {"name": space.name, "params": space.get_params()},
            "arch": arch.to_dict(),
            "arch_string": space.format(arch),
            "arch_id": arch.arch_id,
            "task": task.to_dict(),
            "metrics": {k: _finite(float(v)) for k, v in (metrics or {}).items()},
            "trial": trial,
            "study": study,
            "weights": {
                "file": WEIGHTS_FILE,
                "source": source,
                "n_params": sum(p.numel() for p in network.parameters()),
                "reload_max_abs_diff": reload_diff,
            },
            "standalone": standalone,
            "function_loader": loader,
            "onnx": (
                {
                    "file": ONNX_FILE,
                    "input": INPUT_NAME,
                    "output": OUTPUT_NAME,
                    "dynamic_axes": {INPUT_NAME: [0], OUTPUT_NAME: [0]},
                }
                if onnx
                else None
            ),
            "onnx_check": (
                {
                    k: _finite(v) if isinstance(v, float) else v
                    for k, v in onnx_check.to_dict().items()
                }
                if onnx_check
                else None
            ),
        }
        try:
            text = json.dumps(metadata, indent=2, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ExportError(
                f"cannot write {METADATA_FILE} for {out}: {exc}; space.get_params() of "
                f"{type(space).__name__} must be JSON-able (got {space.get_params()!r})"
            ) from exc
        (tmp / METADATA_FILE).write_text(text + "\n")
        (tmp / README_FILE).write_text(_readme(metadata, out))
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    standalone_file = standalone.get("file")
    return ExportInfo(
        out_dir=out,
        metadata=out / METADATA_FILE,
        weights=out / WEIGHTS_FILE,
        readme=out / README_FILE,
        standalone=out / standalone_file if standalone_file else None,
        standalone_format=standalone.get("format"),
        standalone_max_abs_diff=standalone.get("max_abs_diff"),
        onnx=out / ONNX_FILE if onnx else None,
        onnx_exporter=onnx_check.exporter if onnx_check else None,
        onnx_max_abs_diff=onnx_check.max_abs_diff if onnx_check else None,
        onnx_max_rel_diff=onnx_check.max_rel_diff if onnx_check else None,
        loader=out / loader["file"] if loader else None,
    )


def _function_path(space: SearchSpace) -> str | None:
    """The ``module:function`` of a define-by-run space, else ``None``."""
    from nasforge.space import FunctionSpace

    return space.path if isinstance(space, FunctionSpace) else None


def checked_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """``out_dir`` as an absolute path, refused when writing there could land elsewhere.

    Every file an export writes has a fixed name inside the directory, so the directory's own
    path is all that can point outside it: a symbolic link (pre-created, say, in a study folder
    someone else gave you) would receive the export, and ``overwrite`` would empty its target;
    a path ending in ``..`` names a parent. Such paths are refused, not resolved.

    Raises:
        ExportPathError: the path holds a NUL byte, ends in ``.`` or ``..`` (or is empty), or
            is a symbolic link.
    """
    text = os.fspath(out_dir)
    if "\0" in str(text):
        raise ExportPathError(out_dir, "contains a NUL byte")
    if Path(text).name in ("", ".", ".."):
        raise ExportPathError(out_dir, "does not name a folder of its own (it ends in '.' or "
                                       "'..', or is empty)")
    out = Path(text).absolute()
    if out.is_symlink():
        raise ExportPathError(out_dir, f"is a symbolic link (to {os.readlink(out)!r}), so the "
                                       "export would be written, or an earlier one removed, "
                                       "where it points")
    return out


def _check_target(out: Path, overwrite: bool) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise ExportError(f"export path {out} is a file; pass a directory path")
    if not any(out.iterdir()):
        return
    if not overwrite:
        raise ExportExistsError(out)
    if not (out / METADATA_FILE).is_file():
        raise ExportError(
            f"refusing to overwrite {out}: it is not empty and holds no {METADATA_FILE}, so it "
            "is not a nasforge export (fix: choose another path)"
        )


def _network(
    space: SearchSpace,
    arch: Architecture,
    task: TaskInfo,
    model: nn.Module | None,
    state_dict: Mapping[str, torch.Tensor] | None,
    seed: int,
) -> tuple[nn.Module, str]:
    """A CPU copy in eval mode of the network to export, and where its weights came from."""
    if model is not None:
        network = copy.deepcopy(model)
        source = "model"
    else:
        network = build_quietly(space, arch, task, seed)
        source = "init"
    network = network.cpu().eval()
    if state_dict is not None:
        load_strict(network, state_dict, f"state_dict passed to export_model for {arch}")
        source = "state_dict"
    return network, source


def build_quietly(space: SearchSpace, arch: Architecture, task: TaskInfo, seed: int) -> nn.Module:
    """``space.build(arch, task)`` with its random initialisation seeded and the global RNG kept."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return space.build(arch, task)


def load_strict(network: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """``load_state_dict(strict=True)`` with the mismatch explained as an :class:`ExportError`."""
    own = network.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k}: expected {tuple(own[k].shape)}, got {tuple(state[k].shape)}"
        for k in sorted(set(own) & set(state))
        if tuple(own[k].shape) != tuple(state[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {_short(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_short(unexpected)}")
        if shapes:
            parts.append(f"shape mismatches {_short(shapes)}")
        raise ExportError(
            f"{what} does not fit the network {type(network).__name__} built from the space: "
            + "; ".join(parts)
            + " (fix: export the weights of the network built by space.build(arch, task) for "
            "the same task)"
        )
    network.load_state_dict(dict(state))


def _short(items: list[str], n: int = 5) -> str:
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def _check_rebuild(
    space: SearchSpace,
    arch: Architecture,
    task: TaskInfo,
    network: nn.Module,
    weights: dict[str, torch.Tensor],
    probe: torch.Tensor,
    out: Path,
) -> float:
    """Check that ``load`` will give back this network: rebuild it from the space and compare."""
    if not space.name or space.name not in SPACES or SPACES.get(space.name) is not type(space):
        warnings.warn(
            f"{type(space).__name__} is not registered under {space.name or '(no name)'!r} in "
            "nasforge.space.base.SPACES, so nasforge.export.load() cannot rebuild this export "
            "until it is (the standalone model and ONNX files still work). To silence this, "
            "register the space with @SPACES.register(name).",
            UserWarning,
            stacklevel=3,
        )
    rebuilt = build_quietly(space, arch, task, 0).cpu().eval()
    load_strict(rebuilt, weights, f"the weights of the model exported to {out}")
    with torch.no_grad():
        expected, got = network(probe), rebuilt(probe)
    max_abs, _, ok = compare(expected, got, *_STANDALONE_TOLERANCE)
    if not ok:
        raise ExportError(
            f"rebuilding {space.format(arch)} with space.build and loading the exported weights "
            f"gives outputs up to {max_abs:.3g} away from the given model, so load() would not "
            "reproduce it (fix: pass the network built by space.build(arch, task), and keep "
            "all its state in its state_dict)"
        )
    return max_abs


def _batch(task: TaskInfo, n: int, seed: int) -> torch.Tensor:
    """A deterministic standard-normal batch shaped for ``task``."""
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((n, *task.input_shape)).astype(np.float32)
    return torch.from_numpy(data)


def _write_standalone(
    tmp: Path,
    network: nn.Module,
    space: SearchSpace,
    arch: Architecture,
    task: TaskInfo,
    example: torch.Tensor,
    probe: torch.Tensor,
) -> dict[str, Any]:
    """Write ``model.py`` (fx) or else ``model.pt2`` (torch.export); describe what was written."""
    docstring = (
        "A network found by nasforge, as a module that needs only PyTorch.\n\n"
        "Load it with this file's directory on sys.path:\n\n"
        f"    from model import {CLASS_NAME}, load_model\n"
        "    net = load_model()  # weights from model_weights.pt next to this file, eval mode\n\n"
        "The forward was traced from the built network in eval mode with torch.fx; layers still\n"
        "follow .train()/.eval(). See architecture.json for the search space and metrics.\n"
    )
    constants = {
        "INPUT_SHAPE": tuple(task.input_shape),
        "N_CLASSES": task.n_classes,
        "N_OUTPUTS": task.n_outputs,
        "ARCH": arch.to_dict(),
    }
    try:
        generated = generate_standalone(
            network,
            class_name=CLASS_NAME,
            weights_file=STANDALONE_WEIGHTS_FILE,
            docstring=docstring,
            constants=constants,
        )
        (tmp / STANDALONE_FILE).write_text(generated.source)
        (tmp / PACKAGE_FILE).write_text(
            f'"""The exported network: ``load_model()`` or ``{CLASS_NAME}()``."""\n\n'
            f"from .model import {CLASS_NAME}, load_model\n\n"
            f'__all__ = ["{CLASS_NAME}", "load_model"]\n'
        )
        torch.save(generated.state_dict, tmp / STANDALONE_WEIGHTS_FILE)
        diff = _check_module_file(tmp / STANDALONE_FILE, network, probe)
        return {
            "format": "fx",
            "file": STANDALONE_FILE,
            "weights": STANDALONE_WEIGHTS_FILE,
            "class": CLASS_NAME,
            "max_abs_diff": diff,
        }
    except StandaloneUnsupportedError as exc:
        fx_reason = str(exc)
        (tmp / STANDALONE_FILE).unlink(missing_ok=True)
        (tmp / STANDALONE_WEIGHTS_FILE).unlink(missing_ok=True)
        (tmp / PACKAGE_FILE).unlink(missing_ok=True)
    try:
        program = torch.export.export(
            network, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},), strict=False
        )
        torch.export.save(program, tmp / PROGRAM_FILE)
        loaded = torch.export.load(tmp / PROGRAM_FILE).module()
        with torch.no_grad():
            max_abs, _, ok = compare(network(probe), loaded(probe), *_STANDALONE_TOLERANCE)
        if not ok:
            raise StandaloneUnsupportedError(
                f"the torch.export program differs from the network by up to {max_abs:.3g}"
            )
    except Exception as exc:  # torch.export fails in many ways; the export is still usable
        (tmp / PROGRAM_FILE).unlink(missing_ok=True)
        warnings.warn(
            f"no standalone module for {space.format(arch)}: torch.fx failed ({fx_reason}) and "
            f"torch.export failed ({type(exc).__name__}: {str(exc)[:300]}); the export still "
            "loads with nasforge.export.load(). To silence this, pass a model fx can trace.",
            UserWarning,
            stacklevel=3,
        )
        return {
            "format": None,
            "file": None,
            "fx_error": fx_reason,
            "torch_export_error": f"{type(exc).__name__}: {str(exc)[:1000]}",
        }
    return {
        "format": "torch_export",
        "file": PROGRAM_FILE,
        "fx_error": fx_reason,
        "max_abs_diff": max_abs,
    }


def _check_module_file(path: Path, network: nn.Module, probe: torch.Tensor) -> float:
    """Import the generated file, build its module and compare it with ``network``."""
    try:
        max_abs, ok = compare_generated(path, network, probe, *_STANDALONE_TOLERANCE)
    except Exception as exc:  # generated code failing at all means: use the fallback
        raise StandaloneUnsupportedError(
            f"the generated {path.name} fails: {type(exc).__name__}: {exc}"
        ) from exc
    if not ok:
        raise StandaloneUnsupportedError(
            f"the generated {path.name} differs from the network by up to {max_abs:.3g}"
        )
    return max_abs


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _nasforge_version() -> str:
    try:
        from importlib.metadata import version

        return version("nasforge")
    except Exception:  # not installed (e.g. run from a source tree)
        return "unknown"


def _readme(meta: dict[str, Any], out: Path) -> str:
    task = meta["task"]
    where = f"path/to/{out.name}"  # the directory may be moved before it is used
    shape = ", ".join(str(d) for d in task["input_shape"])
    standalone = meta["standalone"]
    provenance = "".join(
        [
            f"trial {meta['trial']} " if meta["trial"] is not None else "",
            f"of study `{meta['study']}`" if meta["study"] is not None else "",
        ]
    ).strip()
    provenance = f"found in {provenance}; " if provenance else ""
    metrics = "\n".join(f"| {k} | {v} |" for k, v in meta["metrics"].items()) or "| - | - |"
    lines = [
        f"# Exported architecture `{meta['arch_id']}`",
        "",
        f"- space: `{meta['space']['name']}` with `{json.dumps(meta['space']['params'])}`",
        f"- architecture: `{meta['arch_string']}`",
        f"- task: `{task['name']}` ({task['kind']}), input `(batch, {shape})`, "
        + (
            f"{task['n_targets']} regression target(s) (one output per target)"
            if task.get("problem") == "regression"
            else f"{task['n_classes']} classes (the network returns logits)"
        ),
        f"- {provenance}exported by nasforge {meta['nasforge_version']} with torch "
        f"{meta['torch_version']}",
        "",
        "| metric | value |",
        "|---|---|",
        metrics,
        "",
        "## 1. With nasforge",
        "",
        "```python",
        "from nasforge.export import load",
        "",
        f'model = load("{where}")  # the space rebuilds the network; weights.pt; eval mode',
        "```",
        "",
        "Spaces that are not built into nasforge must be registered (imported) before `load`.",
        "",
        "## 2. With PyTorch only",
        "",
    ]
    if standalone["format"] == "fx":
        lines += [
            "`model.py` needs only torch; it loads `model_weights.pt` from its own directory.",
            "",
            "```python",
            "import sys",
            "",
            f'sys.path.insert(0, "{where}")',
            "from model import load_model",
            "",
            "model = load_model()  # an ExportedModel, eval mode, on the CPU",
            "```",
            "",
            "The directory is also a package (`__init__.py`): with its parent on `sys.path`, "
            f"`import {out.name}` gives `{out.name}.load_model` when the name is a valid "
            "Python identifier.",
        ]
    elif standalone["format"] == "torch_export":
        lines += [
            "torch.fx could not trace this network, so it is saved as a `torch.export` program.",
            "",
            "```python",
            "import torch",
            "",
            f'model = torch.export.load("{where}/{PROGRAM_FILE}").module()',
            "```",
        ]
    else:
        lines += ["No standalone module could be written; see `architecture.json`."]
    if standalone["format"] != "fx" and standalone.get("fx_error"):
        lines += ["", f"torch.fx could not trace the network: {standalone['fx_error']}"]
    loader = meta.get("function_loader")
    if loader:
        lines += [
            "",
            "## 2b. By calling the function that defines it",
            "",
            f"The network is defined by the function `{loader['function']}` (a define-by-run "
            f"space). `{loader['file']}` imports it, answers each `a.choice` with this "
            f"architecture and loads `{WEIGHTS_FILE}`. It needs torch and that function's "
            "module on `sys.path`; it works however the network's forward is written"
            + (
                ", which is the way to load this export without nasforge, as torch.fx could "
                "not trace it."
                if standalone["format"] != "fx"
                else "."
            ),
            "",
            "```python",
            "import sys",
            "",
            f'sys.path.insert(0, "{where}")',
            "from loader import load_model",
            "",
            "model = load_model()  # eval mode, on the CPU",
            "```",
        ]
    lines += ["", "## 3. With onnxruntime", ""]
    if meta["onnx"]:
        check = meta["onnx_check"]
        lines += [
            f"`{ONNX_FILE}` takes `{INPUT_NAME}` (float32, `(batch, {shape})`, any batch size) "
            f"and returns `{OUTPUT_NAME}`. It matched PyTorch to {check['max_abs_diff']:.3g} "
            f"(max abs) on a random batch of {check['batch_size']}.",
            "",
            "```python",
            "import numpy as np",
            "import onnxruntime as ort",
            "",
            f'session = ort.InferenceSession("{where}/{ONNX_FILE}", '
            'providers=["CPUExecutionProvider"])',
            f"x = np.zeros((4, {shape}), dtype=np.float32)",
            f'(logits,) = session.run(["{OUTPUT_NAME}"], {{"{INPUT_NAME}": x}})',
            "```",
            "",
            "or `nasforge.export.load_onnx_session(path)`.",
        ]
    else:
        lines += ["This export was written without ONNX (`onnx=False`)."]
    return "\n".join(lines) + "\n"

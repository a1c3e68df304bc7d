"""Exporting winners of define-by-run spaces: model.py where fx traces, loader.py always."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from nasforge.export import ExportError, export_model, load
from nasforge.space import SPACES, FunctionSpace
from nasforge.tasks.base import TaskInfo

MODULE = "tests.space.function_spaces"
SIGNAL = TaskInfo(name="sig", input_shape=(1, 12), n_classes=3, kind="signal")
TABULAR = TaskInfo(name="tab", input_shape=(5,), n_classes=3, kind="tabular")
REPO = Path(__file__).resolve().parents[2]

_LOADER_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    import torch
    torch.set_num_threads(int(sys.argv[4]))
    from loader import load_model
    net = load_model()
    assert not net.training
    with torch.no_grad():
        torch.save(net(torch.load(sys.argv[2], weights_only=True)), sys.argv[3])
    """
)


def _space(name: str) -> FunctionSpace:
    space = SPACES.create("function", {"path": f"{MODULE}:{name}"})
    assert isinstance(space, FunctionSpace)
    return space


def _trained(space: FunctionSpace, task: TaskInfo, seed: int = 0) -> torch.nn.Module:
    arch = space.sample(np.random.default_rng(seed))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return space.build(arch, task).eval()


def _run_loader(export_dir: Path, x: torch.Tensor) -> torch.Tensor:
    """Run an export's loader.py in a fresh interpreter, with the function's module importable."""
    work = export_dir.parent
    torch.save(x, work / "x.pt")
    done = subprocess.run(
        [sys.executable, "-c", _LOADER_SCRIPT, str(export_dir), str(work / "x.pt"),
         str(work / "y.pt"), str(torch.get_num_threads())],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(work / "y.pt", weights_only=True)


def test_traceable_function_space_exports_model_py_and_loader(tmp_path: Path) -> None:
    space = _space("conv_net")
    arch = space.sample(np.random.default_rng(4))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        net = space.build(arch, SIGNAL).eval()
    info = export_model(tmp_path / "e", space=space, arch=arch, task=SIGNAL, model=net,
                        onnx=False)
    meta = json.loads(info.metadata.read_text())
    assert info.standalone_format == "fx"
    assert meta["space"] == {"name": "function",
                             "params": {"path": f"{MODULE}:conv_net", "rules": []}}
    assert meta["arch"] == arch.to_dict()
    assert info.loader == info.out_dir / "loader.py"
    assert meta["function_loader"]["function"] == f"{MODULE}:conv_net"
    assert meta["function_loader"]["max_abs_diff"] == 0.0
    readme = info.readme.read_text()
    assert "## 2b. By calling the function that defines it" in readme
    x = torch.randn(3, *SIGNAL.input_shape)
    with torch.no_grad():
        expected = net(x)
        assert torch.equal(load(info.out_dir)(x), expected)
    assert torch.equal(_run_loader(info.out_dir, x), expected)


def test_untraceable_function_space_gets_a_note_and_a_loader(tmp_path: Path) -> None:
    space = _space("gated_net")
    net = _trained(space, TABULAR)
    arch = space.sample(np.random.default_rng(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the no-standalone warning, when torch.export fails too
        info = export_model(tmp_path / "e", space=space, arch=arch, task=TABULAR, model=net,
                            onnx=False)
    meta = json.loads(info.metadata.read_text())
    assert info.standalone_format != "fx"
    assert "torch.fx could not trace" in meta["standalone"]["fx_error"]
    readme = info.readme.read_text()
    assert "torch.fx could not trace the network" in readme
    assert "as torch.fx could not trace it" in readme
    assert f"`{MODULE}:gated_net`" in readme
    for sign in (1.0, -1.0):  # both branches of the data-dependent forward
        x = sign * torch.ones(2, 5)
        with torch.no_grad():
            expected = net(x)
            assert torch.equal(load(info.out_dir)(x), expected)
        assert torch.equal(_run_loader(info.out_dir, x), expected)


def test_regression_export_readme(tmp_path: Path) -> None:
    task = TaskInfo("reg", (5,), 0, "tabular", problem="regression", n_targets=2)
    space = _space("plain_net")
    arch = space.sample(np.random.default_rng(0))
    info = export_model(tmp_path / "e", space=space, arch=arch, task=task, onnx=False)
    assert "2 regression target(s)" in info.readme.read_text()
    with torch.no_grad():
        assert load(info.out_dir)(torch.randn(4, 5)).shape == (4, 2)


def test_onnx_export_of_a_function_space(tmp_path: Path) -> None:
    space = _space("conv_net")
    net = _trained(space, SIGNAL, seed=2)
    arch = space.sample(np.random.default_rng(2))
    info = export_model(tmp_path / "e", space=space, arch=arch, task=SIGNAL, model=net)
    assert info.onnx is not None and info.onnx.is_file()
    assert info.onnx_max_abs_diff is not None and info.onnx_max_abs_diff < 1e-4


def test_load_names_the_module_to_make_importable(tmp_path: Path) -> None:
    space = _space("plain_net")
    arch = space.sample(np.random.default_rng(0))
    info = export_model(tmp_path / "e", space=space, arch=arch, task=TABULAR, onnx=False)
    meta = json.loads(info.metadata.read_text())
    meta["space"]["params"]["path"] = "gone_module_xyz:plain_net"
    info.metadata.write_text(json.dumps(meta))
    with pytest.raises(ExportError, match=r"space\.path: cannot import module 'gone_module_xyz'"
                                          r".*make it importable"):
        load(info.out_dir)

"""Checking a generated module file against the network it was generated from."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path

import torch
from torch import nn

from nasforge.export._onnx import compare


def compare_generated(
    path: Path, network: nn.Module, probe: torch.Tensor, rtol: float, atol: float
) -> tuple[float, bool]:
    """Import the generated ``path`` under a unique name, build its ``load_model()`` and compare
    its output on ``probe`` with ``network``'s: (max absolute difference, within tolerance).

    The caller's torch RNG is left as it was. Raises whatever the generated code raises, so each
    exporter can say what failing means for it.
    """
    name = f"_nasforge_generated_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # cannot happen for a .py path; keeps mypy exact
        raise ImportError(f"cannot import the generated {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        with torch.random.fork_rng(devices=[]):
            spec.loader.exec_module(module)
            rebuilt = module.load_model()
            with torch.no_grad():
                max_abs, _, ok = compare(network(probe), rebuilt(probe), rtol, atol)
    finally:
        sys.modules.pop(name, None)
    return max_abs, ok

"""Checkpoints are read with ``weights_only=True``: a crafted pickle is refused, never run."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from nasforge.checkpoint_io import load_checkpoint
from nasforge.errors import ConfigError


class _Payload:
    """Unpickling this runs ``os.system`` (the classic pickle attack), creating ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def write_malicious_checkpoint(path: Path, marker: Path) -> None:
    """A checkpoint-shaped dict with a code-running object inside."""
    torch.save({"version": 1, "model": {"w": torch.zeros(2)}, "rng": _Payload(marker)}, path)


def test_plain_values_and_generator_states_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rng.random()
    state = {"rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
             "history": [(1, 2.5), None, "text"], "w": torch.arange(3.0)}
    torch.save(state, tmp_path / "ok.pt")
    loaded = load_checkpoint(tmp_path / "ok.pt", field="evaluator")
    restored = np.random.default_rng(0)
    restored.bit_generator.state = loaded["rng"]
    assert restored.random() == rng.random()
    assert torch.equal(loaded["torch_rng"], state["torch_rng"])
    assert loaded["history"] == [(1, 2.5), None, "text"]


def test_a_malicious_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    write_malicious_checkpoint(tmp_path / "evil.pt", marker)
    with pytest.raises(ConfigError, match=r"strategy: the checkpoint .*evil\.pt holds something "
                       r"other than tensors .*delete the file"):
        load_checkpoint(tmp_path / "evil.pt", field="strategy")
    assert not marker.exists()


def test_a_file_that_is_not_a_checkpoint_gives_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not a torch file at all")
    with pytest.raises(ConfigError,
                       match=r"evaluator: the checkpoint .*junk\.pt (cannot be read|holds)"):
        load_checkpoint(tmp_path / "junk.pt", field="evaluator")

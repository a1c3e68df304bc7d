"""Shared test set-up: the toy components and the scripted strategy are registered everywhere."""

from __future__ import annotations

import os

import torch

import nasforge.testing.fixed
import nasforge.testing.toys  # noqa: F401  (registers the toy space, evaluator and task)

os.environ.setdefault("NASFORGE_PLUGINS", "nasforge.testing.toys,nasforge.testing.fixed")

# Tests use tiny models: one intra-op thread avoids oversubscribing the 2 CI cores.
torch.set_num_threads(1)

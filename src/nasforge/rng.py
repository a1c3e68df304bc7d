"""Deterministic random streams.

A strategy is a pure function of (seed, history): the random draws it makes for trial ``n`` come
from ``trial_rng(seed, n, stream)``, so replaying the stored history rebuilds its state exactly,
whatever happened between processes. Never use the global ``np.random``.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np


@functools.lru_cache(maxsize=1024)  # a few stream names, asked for once per trial
def stream_key(name: str) -> int:
    """A stable 32-bit integer for a stream name (``hash()`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def trial_rng(seed: int, number: int, stream: str = "strategy") -> np.random.Generator:
    """The generator for draw stream ``stream`` of trial ``number`` in a study seeded ``seed``."""
    return np.random.default_rng([seed & 0xFFFFFFFF, number, stream_key(stream)])


def derive_seed(seed: int, *parts: str | int) -> int:
    """A 31-bit seed derived from ``seed`` and any labels (e.g. an architecture id)."""
    text = ":".join([str(seed), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF

"""Reading the official NATS-Bench topology (``tss``) files through the optional ``nats_bench`` API.

NATS-Bench's topology search space is NAS-Bench-201's (same 15,625 cells, same strings). A user
who downloaded ``NATS-tss-v1_0-3ffb9-simple`` can evaluate against it instead of the compact table:
``evaluator: {name: nb201_table, source: nats, path: /data/NATS-tss-v1_0-3ffb9-simple}``. The
metrics mean the same as the table's (see
:class:`~nasforge.evaluate.tabular.TabularNB201Evaluator`); ``latency_ms`` is added from the
benchmark's cost info.

Dong et al., "NATS-Bench: Benchmarking NAS Algorithms for Architecture Topology and Size",
TPAMI 2021, https://arxiv.org/abs/2009.00437.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from nasforge import metrics as M
from nasforge.errors import ConfigError, DataNotFoundError, Problem

_NATS_NAME = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "ImageNet16-120"}
_CACHE: dict[str | None, Any] = {}
_LOCK = threading.Lock()


def import_nats_bench(field: str = "source") -> ModuleType:
    """The ``nats_bench`` module; a :class:`ConfigError` saying how to install it when absent."""
    try:
        import nats_bench  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise ConfigError(
            [
                Problem(
                    field,
                    "source 'nats' reads the official NATS-Bench files through the optional "
                    "nats_bench package, which is not installed",
                    "pip install nats_bench and download NATS-tss-v1_0-3ffb9-simple (see "
                    "https://github.com/D-X-Y/NATS-Bench), or use source: table with the compact "
                    "NAS-Bench-201 table",
                )
            ]
        ) from None
    return nats_bench


class NATSTopology:
    """Lookups in the official NATS-Bench topology benchmark, with the table's metric names.

    Args:
        path: the benchmark folder or file as ``nats_bench.create`` takes it; ``None`` lets
            ``nats_bench`` use its own default (``$TORCH_HOME/NATS-tss-v1_0-3ffb9-simple``).
    """

    def __init__(self, path: str | None, *, field: str = "path") -> None:
        nats_bench = import_nats_bench()
        if path is not None and not Path(path).expanduser().exists():
            raise DataNotFoundError(
                f"{field}: NATS-Bench topology benchmark {path} does not exist; download "
                "NATS-tss-v1_0-3ffb9-simple and give its path, or leave the path empty to use "
                "nats_bench's default under $TORCH_HOME"
            )
        key = None if path is None else str(Path(path).expanduser().resolve())
        with _LOCK:
            if key not in _CACHE:
                _CACHE[key] = nats_bench.create(key, "tss", fast_mode=True, verbose=False)
            self.api = _CACHE[key]
        self.path = key

    def find(self, arch: str) -> int | None:
        index = int(self.api.query_index_by_arch(arch))
        return None if index < 0 else index

    def lookup(self, index: int, dataset: str, fidelity: int) -> dict[str, float]:
        """The evaluator's metrics of the cell at ``index`` (is_random=False: seed-averaged)."""
        hp = str(fidelity)
        name = _NATS_NAME[dataset]
        val_name = "cifar10-valid" if dataset == "cifar10" else name
        val = self.api.get_more_info(index, val_name, hp=hp, is_random=False)
        info = val if val_name == name else self.api.get_more_info(
            index, name, hp=hp, is_random=False)
        cost = self.api.get_cost_info(index, name, hp=hp)
        return {
            M.VAL_ACCURACY: float(val["valid-accuracy"]),
            M.TEST_ACCURACY: float(info["test-accuracy"]),
            M.PARAMS: float(cost["params"]) * 1e6,
            M.FLOPS: float(cost["flops"]) * 1e6,
            M.LATENCY_MS: float(cost["latency"]) * 1e3,
            M.TRAIN_SECONDS: fidelity * float(info["train-per-time"]),
            M.EPOCHS: float(fidelity),
        }

"""A synthetic NAS-Bench-201 table in the real file's format, for tests that must not need the data.

The landscape is simple and known: each edge's operation adds a fixed, edge-weighted quality
(``nor_conv_3x3`` > ``nor_conv_1x1`` > ``skip_connect`` > ``avg_pool_3x3`` > ``none``), a cell with
no path from input to output scores chance, and a small seeded noise (±0.05) breaks ties. The
optimum on every dataset and fidelity is therefore the all-``nor_conv_3x3`` cell.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from nasforge.evaluate.tabular._table import COLUMNS
from nasforge.space._nb201 import NB201_OPS

_QUALITY = {"none": 0.0, "skip_connect": 0.35, "avg_pool_3x3": 0.25, "nor_conv_1x1": 0.7,
            "nor_conv_3x3": 1.0}
_EDGE_WEIGHT = (1.0, 0.6, 0.9, 0.5, 0.8, 1.1)
_CHANCE = {"c10": 10.0, "c100": 1.0, "in": 0.8333}
_SCALE = {"c10": 82.0, "c100": 72.0, "in": 45.0}

OPTIMUM = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|" \
    "nor_conv_3x3~2|"
"""The best cell of a dummy table, on every dataset and fidelity."""


def _all_strings() -> list[str]:
    return [
        f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"
        for a, b, c, d, e, f in itertools.product(NB201_OPS, repeat=6)
    ]


def dummy_columns(archs: Iterable[str] | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """The columns of a dummy table (all 15,625 cells in lexicographic order by default)."""
    every = _all_strings()
    position = {a: i for i, a in enumerate(every)}
    chosen = every if archs is None else list(archs)
    rows = np.array([position[a] for a in chosen], dtype=np.int64)
    ops = np.array(list(itertools.product(range(len(NB201_OPS)), repeat=6)))[rows]
    noise = np.random.default_rng(seed).normal(scale=0.05, size=(len(every), 12)).clip(-0.05, 0.05)
    noise = noise[rows]
    quality = np.array([_QUALITY[op] for op in NB201_OPS])
    s = (quality[ops] * np.array(_EDGE_WEIGHT)).sum(axis=1) / sum(_EDGE_WEIGHT)
    on = ops != NB201_OPS.index("none")
    n1 = on[:, 0]
    n2 = on[:, 1] | (on[:, 2] & n1)
    alive = on[:, 3] | (on[:, 4] & n1) | (on[:, 5] & n2)
    n3x3 = (ops == NB201_OPS.index("nor_conv_3x3")).sum(axis=1)
    n1x1 = (ops == NB201_OPS.index("nor_conv_1x1")).sum(axis=1)
    npool = (ops == NB201_OPS.index("avg_pool_3x3")).sum(axis=1)
    out: dict[str, Any] = {"index": rows, "arch": np.array(chosen, dtype=object)}
    for k, p in enumerate(("c10", "c100", "in")):
        for fid, factor in ((200, 1.0), (12, 0.8)):
            val = _CHANCE[p] + _SCALE[p] * factor * s + noise[:, 4 * k + (fid == 12)]
            test = val + 1.0 + noise[:, 4 * k + 2 + (fid == 12)]
            val_col = f"{'c10v' if p == 'c10' else p}_val_acc_{fid}"
            out[val_col] = np.where(alive, np.minimum(val, 100.0), _CHANCE[p]).round(6)
            test = np.where(alive, np.minimum(test, 100.0), _CHANCE[p])
            out[f"{p}_test_acc_{fid}"] = test.round(6)
        out[f"{p}_train_time_per_epoch_s"] = (
            (3.0 if p == "in" else 1.0) * (8 + 3 * n3x3 + 1.5 * n1x1 + 0.5 * npool)).round(4)
        extra = {"c10": 0.0, "c100": 0.00585, "in": 0.00715}[p]
        out[f"{p}_params_M"] = (0.0733 + 0.2436 * n3x3 + 0.0271 * n1x1 + extra).round(6)
        flops = (0.25 if p == "in" else 1.0) * (7.78 + 35.4 * n3x3 + 3.9 * n1x1)
        out[f"{p}_flops_M"] = flops.round(5)
        out[f"{p}_naswot"] = (700 + 80 * s + 5 * noise[:, 8 + k]).round(4)
        out[f"{p}_logsynflow"] = (600000 + 3e6 * s + 1e4 * noise[:, 11]).round(1)
    out["c10v_test_acc_200"] = (out["c10v_val_acc_200"] - 0.1).round(6)
    out["c100_oritest_acc_200"] = out["c100_test_acc_200"]
    out["in_oritest_acc_200"] = out["in_test_acc_200"]
    out["c10_jacov_naswot_v1"] = np.where(alive, (-800 + 500 * s).round(4), np.nan)
    return out


def write_dummy_nb201_table(
    path: str | os.PathLike[str],
    *,
    archs: Iterable[str] | None = None,
    seed: int = 0,
    columns: Iterable[str] | None = None,
) -> Path:
    """Write a synthetic NAS-Bench-201 table (gzip CSV when ``path`` ends in ``.gz``).

    Args:
        archs: the cells to include (default: all 15,625; fewer need ``require_complete=False``).
        seed: seed of the tie-breaking noise.
        columns: the columns to write, in order (default: every documented column); tests drop
            one to check validation.
    """
    from nasforge.imports import try_import

    with try_import("pandas", "Writing a dummy NAS-Bench-201 table") as imports:
        import pandas as pd
    imports.check()
    path = Path(path)
    data = dummy_columns(archs, seed)
    frame = pd.DataFrame({name: data[name] for name in (COLUMNS if columns is None else columns)})
    compression: Any = {"method": "gzip", "compresslevel": 1} if path.suffix == ".gz" else None
    frame.to_csv(path, index=False, na_rep="", compression=compression)
    return path

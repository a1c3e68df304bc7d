"""Zero-cost proxies on real NB201 networks: synflow computed by nasforge against the table.

Builds a seeded random sample of the 15,625 NAS-Bench-201 cells as nasforge's 2-D CIFAR-size
networks (``NB201Space(dims=2)``: 3×32×32 input, C=16, N=5, 10 classes), computes the data-free
``synflow`` proxy (:class:`nasforge.evaluate.proxy.SynFlowProxy`: log SynFlow, BatchNorm as
identity, double precision, seed 0) on each, and reports its Spearman ρ against the table's
200-epoch CIFAR-10 validation accuracy (``cifar10-valid``), beside the published 0.737 (Abdelfattah
et al. 2021, https://arxiv.org/abs/2101.08134) and beside the ρ of the table's stored
``c10_logsynflow`` column on the same cells. It also checks that every built network's parameter
count equals the table's ``c10_params_M`` exactly (to its 6 decimals) and compares FLOPs:

- nasforge counts ``torch.utils.flop_counter`` FLOPs, 2 per multiply-accumulate of convolutions
  and linear layers;
- the table follows the NB201 API (``get_model_infos``), which counts multiply-accumulates
  (MACs) of convolutions and linear layers plus the linear layer's bias additions, in millions
  rounded to 5 decimals. So ``table_flops_M × 1e6 ≈ nasforge_flops / 2 + n_classes``.

    python benchmarks/proxies.py --n 1000 --workers 2

merges ``{"nb201_synflow": {...}}`` into ``benchmarks/results/oneshot.json`` (other keys kept).
The table comes from ``--path``, else ``$NASFORGE_NB201``, else ``../shared/data/nasbench201/``.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
PUBLISHED_RHO = 0.737
FLOPS_CONVENTION = (
    "table: NB201 API, multiply-accumulates (MACs) of convolutions and linear layers plus the "
    "classifier's bias additions, in millions (5 decimals); nasforge: torch FlopCounterMode, 2 "
    "FLOPs per MAC, no bias; agreement means table_flops_M*1e6 == nasforge_flops/2 + n_classes "
    "within the table's rounding (5 FLOPs)"
)


def score_cells(cells: Sequence[str]) -> list[dict[str, Any]]:
    """synflow, params and FLOPs of each NB201 cell's CIFAR-size network (one torch thread)."""
    import torch

    from nasforge.evaluate.costs import count_flops, count_params
    from nasforge.evaluate.proxy import SynFlowProxy
    from nasforge.evaluate.proxy._network import build_network
    from nasforge.evaluate.tabular import NB201Task
    from nasforge.space import NB201Space, nb201_to_arch

    torch.set_num_threads(1)
    space = NB201Space(dims=2, channels=16, cells_per_stage=5)
    task = NB201Task(dataset="cifar10")
    info = task.info()
    proxy = SynFlowProxy(task={"name": "nb201", "dataset": "cifar10"}, seed=0)
    rows = []
    for cell in cells:
        arch = nb201_to_arch(cell)
        started = time.perf_counter()
        synflow = proxy.score(arch, space)
        seconds = time.perf_counter() - started
        net = build_network(space, arch, info, seed=0)
        rows.append({"arch": cell, "synflow": synflow, "seconds": seconds,
                     "params": count_params(net), "flops": count_flops(net, info.input_shape)})
    return rows


def _spearman(x: Sequence[float], y: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def measure(table: Any, n: int, seed: int, workers: int) -> dict[str, Any]:
    """The ``nb201_synflow`` entry for ``n`` cells drawn with ``seed`` from ``table``."""
    import numpy as np

    from nasforge.evaluate.tabular._table import column_of

    rows_drawn = np.random.default_rng(seed).choice(len(table), size=n, replace=False)
    cells = [table.archs[int(r)] for r in rows_drawn]
    chunks = [cells[i::workers] for i in range(workers)]
    if workers == 1:
        parts = [score_cells(cells)]
    else:
        with mp.get_context("spawn").Pool(workers) as pool:
            parts = pool.map(score_cells, chunks)
    scored = {row["arch"]: row for part in parts for row in part}
    rows = [scored[c] for c in cells]
    val = table.column(column_of("val_accuracy", "cifar10"))[rows_drawn]
    params_m = table.column(column_of("params", "cifar10"))[rows_drawn]
    flops_m = table.column(column_of("flops", "cifar10"))[rows_drawn]
    stored = table.column(column_of("logsynflow", "cifar10"))[rows_drawn]
    synflow = [r["synflow"] for r in rows]
    mismatches = [r["arch"] for r, p in zip(rows, params_m, strict=True)
                  if round(r["params"] / 1e6, 6) != round(float(p), 6)]
    flops_gap = [abs(float(f) * 1e6 - (r["flops"] / 2 + 10)) for r, f in
                 zip(rows, flops_m, strict=True)]
    has_stored = np.isfinite(stored)
    return {
        "spearman": round(_spearman(synflow, val), 4),
        "published_spearman": PUBLISHED_RHO,
        "n_archs": n,
        "seed": seed,
        "params_match": not mismatches,
        "params_mismatches": mismatches[:20],
        "n_params_mismatches": len(mismatches),
        "flops_convention": FLOPS_CONVENTION,
        "flops_match": max(flops_gap) <= 5.0,
        "flops_max_abs_gap": max(flops_gap),
        "stored_logsynflow_spearman": round(_spearman(stored[has_stored], val[has_stored]), 4),
        "stored_logsynflow_n": int(has_stored.sum()),
        "n_minus_inf": sum(1 for s in synflow if s == -math.inf),
        "seconds_per_arch": round(float(np.mean([r["seconds"] for r in rows])), 4),
        "seconds_per_arch_note": "synflow incl. building the network, one torch thread per "
                                 "process",
        "workers": workers,
    }


def merge_into(out: Path, key: str, entry: dict[str, Any]) -> None:
    """Write ``entry`` under ``key`` in the JSON file ``out``, keeping its other keys."""
    data: dict[str, Any] = {}
    if out.exists():
        data = json.loads(out.read_text())
    data[key] = entry
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="cells to sample (>= 3)")
    parser.add_argument("--out", type=Path, default=RESULTS / "oneshot.json")
    parser.add_argument("--seed", type=int, default=0, help="seeds the sample of cells")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--path", default=None, help="the table (default: NASFORGE_NB201)")
    args = parser.parse_args(argv)
    if args.n < 3:
        parser.error(f"--n must be at least 3 (a rank correlation needs points); got {args.n}")
    if args.workers < 1:
        parser.error(f"--workers must be at least 1; got {args.workers}")

    from nasforge.errors import ConfigError, DataNotFoundError
    from nasforge.evaluate.tabular import NB201Table

    try:
        table = NB201Table.load(args.path, require_complete=False, field="--path")
    except (ConfigError, DataNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.n > len(table):
        parser.error(f"--n {args.n} is more than the table's {len(table)} cells; use at most "
                     f"{len(table)}")
    started = time.perf_counter()
    entry = measure(table, args.n, args.seed, args.workers)
    entry["wall_s"] = round(time.perf_counter() - started, 1)
    merge_into(args.out, "nb201_synflow", entry)
    print(f"synflow on {entry['n_archs']} NB201 CIFAR networks: Spearman rho {entry['spearman']}"
          f" (published {PUBLISHED_RHO}; stored logsynflow {entry['stored_logsynflow_spearman']})"
          f", params match: {entry['params_match']}, FLOPs match: {entry['flops_match']} "
          f"(max gap {entry['flops_max_abs_gap']:.1f}), {entry['seconds_per_arch']} s/arch; "
          f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Proxy warm start with computed proxies: NB201 searches guided by synflow nasforge computes.

Benchmark 4 of the weight-sharing issue. `benchmarks/nb201.py` runs ``zc_local_search`` and
``mf_local_search_zc`` with the log-SynFlow column stored in the NAS-Bench-201 table
(``{name: nb201_table, metric: logsynflow}``). Here the same strategies, with the same settings,
budgets and 100 seeds, are guided by synflow **computed** on the CIFAR-size network nasforge
builds for each cell (``{name: synflow}``: data-free, BatchNorm as identity, seed 0), through the
``cached`` proxy (:class:`nasforge.evaluate.proxy.CachedProxy`), so the seeds share every score:
a cell is scored once, in a ``--precompute`` pass over the cells (2 worker processes), and each
search reads it back. Strategies still count a cached score as a proxy score, so the budgets
(1,000 scores for ``zc_local_search``, 500 for ``mf_local_search_zc``) are those of the stored
runs. CIFAR-10 only: the computed synflow of a CIFAR-10 network is what the table's column holds.

    python benchmarks/zc_computed.py --precompute --workers 2   # about 20 min on 2 cores, once
    python benchmarks/zc_computed.py --seeds 100 --budgets 25,50,100

writes ``benchmarks/results/zc_computed.json`` (``{"cifar10": {strategy: {budget: {"mean",
"std", "val_mean", "n", ...}}}, "stored": {...}}``, the stored-column results copied from
``nb201.json`` beside them) and prints both side by side. The cache is ``--cache``
(``benchmarks/.cache/synflow_nb201_cifar10.db`` by default, not committed).
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import nb201  # the stored-column benchmark, whose helpers this one shares

RESULTS = Path(__file__).parent / "results"
CACHE = Path(__file__).parent / ".cache" / "synflow_nb201_cifar10.db"
DATASET = "cifar10"
SPACE = {"name": "nb201", "dims": 2}
TASK = {"name": "nb201", "dataset": DATASET}
STRATEGIES: dict[str, tuple[str, dict[str, Any]]] = {
    # name here: (the stored-column entry of nb201.json it is compared with, strategy spec)
    "zc_local_search": ("zc_local_search", {"name": "zc_local_search"}),
    "mf_local_search_zc": ("mf_local_search_zc", {"name": "mf_local_search", "low_fidelity": 12,
                                                  "ratio": 10}),
}


def computed_proxy(cache: Path) -> dict[str, Any]:
    """The proxy spec of the computed runs: synflow on nasforge's network, cached in ``cache``."""
    return {"name": "cached", "proxy": {"name": "synflow", "seed": 0}, "path": str(cache)}


def all_cells() -> list[str]:
    """The 15,625 NB201 cells as architecture strings, in a fixed order."""
    return [f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"
            for a, b, c, d, e, f in itertools.product(nb201.OPS, repeat=6)]


def _score_chunk(args: tuple[list[str], str]) -> tuple[int, int, float]:
    """Score ``cells`` into the cache exactly as a search's proxy would (same namespace)."""
    cells, cache = args
    import torch

    from nasforge.evaluate.proxy import CachedProxy
    from nasforge.evaluate.tabular import NB201Task
    from nasforge.space import NB201Space, nb201_to_arch

    torch.set_num_threads(1)
    spec = computed_proxy(Path(cache))
    proxy = CachedProxy(proxy=spec["proxy"], path=spec["path"])
    proxy.bind(NB201Task(dataset=DATASET))  # what a study's strategy binds
    space = NB201Space(dims=2)
    started = time.perf_counter()
    for cell in cells:
        proxy.score(nb201_to_arch(cell), space)
    proxy.close()
    return len(cells), proxy.n_computed, time.perf_counter() - started


def precompute(cache: Path, workers: int) -> dict[str, Any]:
    """Score every cell (those already cached are skipped); returns counts and timing."""
    cells = all_cells()
    chunks = [(cells[i::workers * 8], str(cache)) for i in range(workers * 8)]
    started = time.perf_counter()
    with mp.get_context("spawn").Pool(workers) as pool:
        parts = pool.map(_score_chunk, chunks)
    computed = sum(p[1] for p in parts)
    busy = sum(p[2] for p in parts)
    return {"cells": len(cells), "computed": computed, "wall_s": time.perf_counter() - started,
            "seconds_per_computed_score": busy / computed if computed else None}


def run_computed(name: str, seed: int, budgets: Sequence[int], path: str,
                 cache: str) -> dict[str, Any]:
    """One search guided by the computed synflow, measured as ``nb201.run_nasforge`` does."""
    from nasforge.run.spec import parse_spec

    strategy = {**STRATEGIES[name][1], "proxy": computed_proxy(Path(cache))}
    spec = parse_spec({
        "name": f"{name}-computed-{seed}", "seed": seed, "task": TASK, "space": SPACE,
        "strategy": strategy,
        "evaluator": {"name": "nb201_table", "dataset": DATASET, "path": path},
        "executor": "inline", "budget": {"trials": 20 * max(budgets)}, "export_best": False,
    })
    study, measured = nb201.measure_search(spec, budgets)
    budget = getattr(study.parts.strategy, "_budget", None)  # its ProxyBudget
    inner = getattr(budget, "_proxy", None)
    return {**measured, "computed_in_search": getattr(inner, "n_computed", None)}


def _job(args: tuple[str, int, tuple[int, ...], str, str]) -> tuple[str, str, int, dict[str, Any]]:
    name, seed, budgets, path, cache = args
    import torch

    torch.set_num_threads(1)
    try:
        return name, DATASET, seed, run_computed(name, seed, budgets, path, cache)
    except Exception as exc:  # report, don't hide: the row says what failed
        return name, DATASET, seed, {"error": f"{type(exc).__name__}: {exc}"}


def _read_rows(path: Path) -> dict[tuple[str, int], Any]:
    """The finished searches in ``path`` by (strategy, seed); a row's budgets come back as ints."""
    done: dict[tuple[str, int], Any] = {}
    if not path.exists():
        return done
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        name, dataset, seed, res = json.loads(line)
        for key in ("curve", "epochs", "distinct"):
            if key in res:
                res[key] = {int(b): v for b, v in res[key].items()}
        if "curve" in res:
            res["curve"] = {b: tuple(v) for b, v in res["curve"].items()}
        done[(name, seed)] = (name, dataset, seed, res)
    return done


def stored_entries(budgets: Sequence[int]) -> dict[str, Any]:
    """The stored-column results of the same strategies, from ``results/nb201.json``."""
    data = json.loads((RESULTS / "nb201.json").read_text())[DATASET]
    out = {}
    for name, (stored, _) in STRATEGIES.items():
        entry = data.get(stored, {})
        out[name] = {str(b): entry[str(b)] for b in budgets if str(b) in entry}
        out[name]["proxy_scores_mean"] = entry.get("proxy_scores_mean")
    return out


def _cell(entry: dict[str, Any], budget: int) -> str:
    found = entry.get(str(budget))
    return "" if not found else f"{found['mean']:.2f} ± {found['std']:.2f}"


def markdown(computed: dict[str, Any], stored: dict[str, Any], budgets: Sequence[int]) -> str:
    """The README table: each strategy with the stored column and with the computed synflow."""
    head = ("| strategy | proxy | " + " | ".join(f"{b} q" for b in budgets)
            + " | proxy scores | distinct queries at " + f"{budgets[-1]} q |")
    lines = [head, "|" + "---|" * (len(budgets) + 4)]
    for name in STRATEGIES:
        for label, entry in (("stored `logsynflow` column", stored.get(name, {})),
                             ("computed `synflow`", computed.get(name, {}))):
            last = entry.get(str(budgets[-1]), {})
            distinct = last.get("distinct_mean")
            lines.append(f"| `{name}` | {label} | "
                         + " | ".join(_cell(entry, b) for b in budgets)
                         + f" | {entry.get('proxy_scores_mean') or 0:.0f} | "
                         + ("" if distinct is None else f"{distinct:.1f}") + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--precompute", action="store_true",
                        help="score every cell into the cache first")
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--budgets", default="25,50,100")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--path", default=None, help="the table (default: NASFORGE_NB201)")
    parser.add_argument("--out", type=Path, default=RESULTS / "zc_computed.json")
    parser.add_argument("--rows", type=Path, default=RESULTS / "zc_computed_rows.jsonl",
                        help="every finished search, one JSON line each; searches already "
                             "there are not run again")
    parser.add_argument("--no-run", action="store_true",
                        help="only aggregate the searches already in --rows")
    args = parser.parse_args(argv)
    try:
        budgets = tuple(sorted(int(b) for b in args.budgets.split(",")))
    except ValueError:
        parser.error(f"--budgets must be whole numbers separated by commas; got {args.budgets!r}")
    if args.seeds < 1 or args.workers < 1 or min(budgets) < 1:
        parser.error("--seeds, --workers and every budget must be at least 1")

    from nasforge.errors import ConfigError, DataNotFoundError
    from nasforge.evaluate.tabular import NB201Table, resolve_nb201_path
    from nasforge.evaluate.tabular._table import column_of

    try:
        path = str(resolve_nb201_path(args.path))
        table = NB201Table.load(path)
    except (ConfigError, DataNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.precompute:
        done = precompute(args.cache, args.workers)
        print(f"precomputed synflow: {done['computed']} of {done['cells']} cells scored in "
              f"{done['wall_s']:.0f} s ({done['seconds_per_computed_score'] or 0:.3f} s each, "
              f"{args.workers} workers); cache {args.cache}")
    done = _read_rows(args.rows)
    # Seeds in order, the strategies interleaved in pairs: the two workers score different
    # warm-up samples at once, and the other strategy's same-seed runs (the same warm-up draws)
    # then find them cached. A run stopped early keeps every finished search in --rows.
    jobs = [(name, seed, budgets, path, str(args.cache))
            for pair in range(0, args.seeds, 2) for name in STRATEGIES
            for seed in range(pair, min(pair + 2, args.seeds))
            if (name, seed) not in done]
    started = time.perf_counter()
    if jobs and not args.no_run:
        with mp.get_context("spawn").Pool(args.workers) as pool:
            for row in pool.imap_unordered(_job, jobs):
                with args.rows.open("a") as out:
                    out.write(json.dumps(row) + "\n")
                done[(row[0], row[2])] = row
                print(f"{row[0]} seed {row[2]} done ({len(done)} searches)", flush=True)
    rows = [done[k] for k in sorted(done, key=lambda k: (k[0], k[1])) if k[1] < args.seeds]
    for name in STRATEGIES:  # only seeds 0 .. n-1 that every strategy finished are reported
        n_done = len([r for r in rows if r[0] == name])
        if n_done < args.seeds:
            print(f"{name}: {n_done} of {args.seeds} seeds finished", file=sys.stderr)
    optima = {DATASET: {"best_val": float(table.column(column_of("val_accuracy",
                                                                 DATASET)).max())}}
    computed = nb201.aggregate(rows, budgets, optima)[DATASET]
    for name in computed:
        runs = [r for n, _, _, r in rows if n == name and "error" not in r]
        computed[name]["computed_in_search_total"] = sum(r["computed_in_search"] or 0
                                                         for r in runs)
    stored = stored_entries(budgets)
    seeds_done = {name: len([r for r in rows if r[0] == name]) for name in STRATEGIES}
    out = {DATASET: computed, "stored": stored, "proxy": computed_proxy(Path("<cache>")),
           "seeds": args.seeds, "seeds_done": seeds_done, "budgets": list(budgets),
           "wall_s": round(time.perf_counter() - started, 1),
           "note": "stored: nb201.json's runs with {name: nb201_table, metric: logsynflow}; "
                   "computed: the same strategy settings with synflow computed by nasforge on "
                   "each cell's CIFAR-10 network (cached proxy; a cached score still counts "
                   "as a proxy score)"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    print(markdown(computed, stored, budgets))
    for name, entry in computed.items():
        if entry.get("errors"):
            print(f"{name}: errors {entry['errors']}", file=sys.stderr)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

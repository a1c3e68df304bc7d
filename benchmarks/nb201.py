"""NAS-Bench-201 benchmark: every nasforge strategy beside Optuna, over many seeds.

Each nasforge search runs through the real study loop (in-memory SQLite store, inline executor)
with the ``nb201_table`` evaluator. Optuna's ``TPESampler`` and ``RandomSampler`` run through
Optuna's own study API on the same table, as Optuna users run them. A *query* is a unique
architecture whose 200-epoch result was looked up; 12-epoch lookups (multi-fidelity) and repeated
architectures are not queries. At each budget the figure is the test accuracy of the
best-by-validation architecture among the queries so far; ``val_mean`` is its validation accuracy.
Strategies that use zero-cost proxies (table columns) report how many architectures they scored.
*Distinct queries* count the distinct networks among the queries: architectures with the same
canonical form (``NB201Space.canonical``: cells that compute the same function) count once.
nasforge's strategies de-duplicate by canonical form, so for them the two numbers agree.

    python benchmarks/nb201.py --seeds 100 --budgets 25,50,100 --datasets cifar10 \\
        --strategies bananas,regularized_evolution,optuna_tpe

writes ``benchmarks/results/nb201.json`` (``{dataset: {strategy: {budget: {"mean", "std",
"val_mean", "distinct_mean", "n", ...}}}}``) and a PNG of the curves beside it, and prints a
table.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
DATASETS = ("cifar10", "cifar100", "imagenet16-120")
BUDGETS = (25, 50, 100, 150, 300)
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")

#: nasforge strategies as the benchmark runs them: (strategy spec, uses proxies).
PROXY = {"name": "nb201_table", "metric": "logsynflow"}
NASFORGE: dict[str, dict[str, Any]] = {
    "random": {"name": "random"},
    "regularized_evolution": {"name": "regularized_evolution", "population": 10, "sample": 3},
    "local_search": {"name": "local_search", "n_initial": 10},
    "reinforce": {"name": "reinforce"},
    "bananas": {"name": "bananas"},
    "gp_bo": {"name": "gp_bo"},
    "tpe": {"name": "tpe"},
    "successive_halving": {"name": "successive_halving", "rungs": [12, 200]},
    "hyperband": {"name": "hyperband", "rungs": [12, 200]},
    "bohb": {"name": "bohb", "rungs": [12, 200]},
    "bohb_eta10": {"name": "bohb", "rungs": [12, 200], "brackets": 1, "eta": 10},
    "mf_local_search": {"name": "mf_local_search", "low_fidelity": 12, "ratio": 10},
    "mf_local_search_zc": {"name": "mf_local_search", "low_fidelity": 12, "ratio": 10,
                           "proxy": PROXY},
    "optuna_tpe_in_loop": {"name": "optuna", "sampler": "tpe"},
    "zc_local_search": {"name": "zc_local_search", "proxy": PROXY},
    "bananas_zc": {"name": "bananas", "proxy": PROXY},
}
PEERS = ("optuna_tpe", "optuna_random")


def stored_results(path: Path, *, must_exist: bool) -> dict[str, Any] | None:
    """The results JSON in ``path`` (``--out``); ``None`` when there is none yet (and may not be).

    A run merges its cells into an existing file, so a file that is there must hold results.

    Raises:
        ValueError: ``path`` cannot be used; the message names it and says what to do.
    """
    fix = "delete it or pass another --out"
    if not path.exists():
        if must_exist:
            raise ValueError(f"{path} does not exist; run the benchmark first, or pass the --out "
                             "of an earlier run")
        return None
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} cannot be read ({exc}); {fix}") from None
    if not text.strip():
        raise ValueError(f"{path} is empty, but results are merged into an existing --out "
                         f"file; {fix}")
    try:
        stored = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON ({exc}); results are merged into an existing "
                         f"--out file, so {fix}") from None
    if not isinstance(stored, dict):
        raise ValueError(f"{path} holds a JSON {type(stored).__name__}, not benchmark results "
                         f"(an object); {fix}")
    return stored


def _proxy_with_dataset(spec: dict[str, Any], dataset: str, path: str) -> dict[str, Any]:
    spec = json.loads(json.dumps(spec))
    if "proxy" in spec:
        spec["proxy"] = {**spec["proxy"], "dataset": dataset, "path": path}
    return spec


class _QueryCounter:
    """Stops the study once ``limit`` unique architectures were looked up at 200 epochs."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def on_trial_finished(self, study: Any, trial: Any) -> None:
        if trial.candidate.fidelity in (None, 200) and trial.state.value == "COMPLETE":
            self.seen.add(str(trial.arch))
        if len(self.seen) >= self.limit:
            study.stop_reason = f"query budget of {self.limit} reached"


_SPACE: Any = None


def canonical_key(arch: str) -> str:
    """The canonical form of an architecture given as canonical JSON or an NB201 string."""
    global _SPACE
    from nasforge.architecture import Architecture
    from nasforge.space import NB201Space, nb201_to_arch

    if _SPACE is None:
        _SPACE = NB201Space(dims=2)  # its table of representatives is built once per process
    parsed = Architecture.parse(arch) if arch.startswith("{") else nb201_to_arch(arch)
    return str(_SPACE.canonical(parsed))


def distinct_queries(archs: Sequence[str], budgets: Sequence[int]) -> dict[int, int]:
    """Distinct networks (canonical forms) among the first ``b`` unique queries, per budget."""
    seen: set[str] = set()
    classes: set[str] = set()
    out: dict[int, int] = {}
    pending = sorted(budgets)
    for arch in archs:
        if arch in seen:
            continue
        seen.add(arch)
        classes.add(canonical_key(arch))
        while pending and len(seen) >= pending[0]:
            out[pending.pop(0)] = len(classes)
    return out


def _curve(points: Sequence[tuple[str, float, float]], budgets: Sequence[int]) -> dict[int, Any]:
    """Best-by-validation (val, test) after each budget of unique queries."""
    seen: set[str] = set()
    best = (-math.inf, math.nan)
    out: dict[int, Any] = {}
    pending = sorted(budgets)
    for arch, val, test in points:
        if arch in seen:
            continue
        seen.add(arch)
        if val > best[0]:
            best = (val, test)
        while pending and len(seen) >= pending[0]:
            out[pending.pop(0)] = best
    return out


def run_nasforge(name: str, dataset: str, seed: int, budgets: Sequence[int],
                 path: str) -> dict[str, Any]:
    from nasforge.run.spec import parse_spec

    spec = parse_spec({
        "name": f"{name}-{dataset}-{seed}", "seed": seed,
        "task": {"name": "nb201", "dataset": dataset},
        "space": {"name": "nb201", "dims": 2},
        "strategy": _proxy_with_dataset(NASFORGE[name], dataset, path),
        "evaluator": {"name": "nb201_table", "dataset": dataset, "path": path},
        "executor": "inline", "budget": {"trials": 20 * max(budgets)}, "export_best": False,
    })
    return measure_search(spec, budgets)[1]


def measure_search(spec: Any, budgets: Sequence[int]) -> tuple[Any, dict[str, Any]]:
    """Run the parsed ``spec`` until ``max(budgets)`` full-fidelity queries; the study and what
    it measured: the curve, seconds, simulated epochs at each budget, proxy scores, trials and
    distinct queries."""
    from nasforge.run.study import Study

    study = Study.create(spec, in_memory=True)
    counter = _QueryCounter(max(budgets))
    start = time.perf_counter()
    study.run([counter])
    seconds = time.perf_counter() - start
    points = [(str(t.arch), t.metrics["val_accuracy"], t.metrics["test_accuracy"])
              for t in study.trials()
              if t.state.value == "COMPLETE" and t.candidate.fidelity in (None, 200)]
    strategy = study.parts.strategy
    # Simulated training epochs spent (all fidelities) when each budget of queries was reached.
    epochs, seen, cost = 0.0, set(), {}
    pending = sorted(budgets)
    for t in study.trials():
        epochs += t.candidate.fidelity or 200
        if t.state.value == "COMPLETE" and t.candidate.fidelity in (None, 200):
            seen.add(str(t.arch))
        while pending and len(seen) >= pending[0]:
            cost[pending.pop(0)] = epochs
    return study, {"curve": _curve(points, budgets), "seconds": seconds, "epochs": cost,
                   "proxy_scores": getattr(strategy, "n_proxy_scores", 0),
                   "trials": len(study.trials()),
                   "distinct": distinct_queries([p[0] for p in points], budgets)}


def run_optuna(name: str, dataset: str, seed: int, budgets: Sequence[int],
               path: str) -> dict[str, Any]:
    import optuna

    from nasforge.evaluate.tabular import NB201Table

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = NB201Table.load(path)
    sampler = (optuna.samplers.TPESampler(seed=seed) if name == "optuna_tpe"
               else optuna.samplers.RandomSampler(seed=seed))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    edges = ("1_0", "2_0", "2_1", "3_0", "3_1", "3_2")
    points: list[tuple[str, float, float]] = []
    seen: set[str] = set()
    start = time.perf_counter()
    for _ in range(20 * max(budgets)):  # repeats are free, but never loop forever
        trial = study.ask()
        ops = {e: trial.suggest_categorical(f"edge_{e}", list(OPS)) for e in edges}
        arch = (f"|{ops['1_0']}~0|+|{ops['2_0']}~0|{ops['2_1']}~1|+|{ops['3_0']}~0|"
                f"{ops['3_1']}~1|{ops['3_2']}~2|")
        metrics = table.lookup(arch, dataset, 200)
        study.tell(trial, metrics["val_accuracy"])
        points.append((arch, metrics["val_accuracy"], metrics["test_accuracy"]))
        seen.add(arch)
        if len(seen) >= max(budgets):
            break
    seconds = time.perf_counter() - start
    return {"curve": _curve(points, budgets), "seconds": seconds,
            "proxy_scores": 0, "trials": len(points),
            "epochs": {b: 200.0 * _first_reaching(points, b) for b in budgets},
            "distinct": distinct_queries([p[0] for p in points], budgets)}


def _first_reaching(points: Sequence[tuple[str, float, float]], budget: int) -> int:
    """How many lookups (repeats included) it took to reach ``budget`` unique queries."""
    seen: set[str] = set()
    for i, (arch, _, _) in enumerate(points, 1):
        seen.add(arch)
        if len(seen) >= budget:
            return i
    return len(points)


def _job(args: tuple[str, str, int, tuple[int, ...], str]) -> tuple[str, str, int, dict[str, Any]]:
    name, dataset, seed, budgets, path = args
    import torch

    torch.set_num_threads(1)
    run: Callable[..., dict[str, Any]] = run_optuna if name in PEERS else run_nasforge
    try:
        return name, dataset, seed, run(name, dataset, seed, budgets, path)
    except Exception as exc:  # report, don't hide: the row says what failed
        return name, dataset, seed, {"error": f"{type(exc).__name__}: {exc}"}


def aggregate(rows: list[tuple[str, str, int, dict[str, Any]]], budgets: Sequence[int],
              optima: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, dataset, _, res in rows:
        entry = out.setdefault(dataset, {}).setdefault(name, {"_runs": []})
        entry["_runs"].append(res)
    for dataset, by_name in out.items():
        best_val = optima[dataset]["best_val"]
        for entry in by_name.values():
            runs = entry.pop("_runs")
            errors = [r["error"] for r in runs if "error" in r]
            ok = [r for r in runs if "error" not in r]
            if errors:
                entry["errors"] = sorted(set(errors))[:3]
            for b in budgets:
                vals = [r["curve"][b] for r in ok if b in r["curve"]]
                if not vals:
                    continue
                tests = [t for _, t in vals]
                valids = [v for v, _ in vals]
                entry[str(b)] = {
                    "mean": statistics.fmean(tests),
                    "std": statistics.pstdev(tests) if len(tests) > 1 else 0.0,
                    "val_mean": statistics.fmean(valids),
                    "val_regret": best_val - statistics.fmean(valids),
                    "n": len(tests),
                }
                spent = [r["epochs"][b] for r in ok if b in r.get("epochs", {})]
                if spent:  # simulated training epochs, all fidelities (plain queries: 200 each)
                    entry[str(b)]["epochs_per_query"] = statistics.fmean(spent) / b
                distinct = [r["distinct"][b] for r in ok if b in r.get("distinct", {})]
                if distinct:  # distinct networks (canonical forms) among the b queries
                    entry[str(b)]["distinct_mean"] = statistics.fmean(distinct)
            if ok:
                entry["proxy_scores_mean"] = statistics.fmean(r["proxy_scores"] for r in ok)
                entry["seconds_per_search"] = statistics.fmean(r["seconds"] for r in ok)
    return out


def print_table(results: dict[str, Any], budgets: Sequence[int]) -> None:
    for dataset, by_name in results.items():
        if dataset.startswith("_"):
            continue
        print(f"\n{dataset}: test accuracy of the best-by-validation architecture "
              "(mean ± std over seeds; [validation regret])")
        print(f"{'strategy':<24}" + "".join(f"{b:>22}" for b in budgets) + f"{'proxy':>8}"
              + f"{'distinct':>10}")
        for name, entry in sorted(by_name.items()):
            cells = []
            for b in budgets:
                e = entry.get(str(b))
                cells.append(f"{e['mean']:6.2f}±{e['std']:4.2f} [{e['val_regret']:5.2f}]"
                             if e else "—")
            proxy = entry.get("proxy_scores_mean", 0)
            top = entry.get(str(max(budgets))) or {}
            distinct = (f"{top['distinct_mean']:.1f}/{max(budgets)}"
                        if "distinct_mean" in top else "—")
            print(f"{name:<24}" + "".join(f"{c:>22}" for c in cells) + f"{proxy:>8.0f}"
                  + f"{distinct:>10}")
            if "errors" in entry:
                print(f"{'':<24}errors: {entry['errors']}")


def markdown(stored: dict[str, Any]) -> str:
    """README tables: one per dataset, strategies by their 100-query figure, peers marked."""
    lines = []
    for dataset in DATASETS:
        by_name = stored.get(dataset)
        if not by_name:
            continue
        budgets = sorted({int(k) for e in by_name.values() for k in e if k.isdigit()})
        regret = dataset == "imagenet16-120"
        what = "validation regret (lower is better)" if regret else "test of best-by-val (%)"
        lines += [f"\n**{dataset}**, {what}:\n",
                  "| strategy | " + " | ".join(f"{b} q" for b in budgets)
                  + f" | distinct queries at {budgets[-1]} q | proxy scores | epochs / query |",
                  "|---|" + "---|" * (len(budgets) + 3)]

        def key(item: tuple[str, dict[str, Any]], regret: bool = regret) -> float:
            cell = item[1].get("100") or {}
            return cell.get("val_regret", 9e9) if regret else -cell.get("mean", -9e9)

        for name, entry in sorted(by_name.items(), key=key):
            cells = []
            for b in budgets:
                c = entry.get(str(b))
                cells.append("" if c is None else f"{c['val_regret']:.2f}" if regret
                             else f"{c['mean']:.2f} ± {c['std']:.2f}")
            spent = (entry.get("100") or entry.get("50") or {}).get("epochs_per_query")
            label = f"{name} (Optuna's own API)" if name in PEERS else f"`{name}`"
            distinct = (entry.get(str(budgets[-1])) or {}).get("distinct_mean")
            lines.append(f"| {label} | " + " | ".join(cells)
                         + (f" | {distinct:.1f}" if distinct is not None else " | ")
                         + f" | {entry.get('proxy_scores_mean', 0):.0f} | "
                         + (f"{spent:.0f} |" if spent else " |"))
    return "\n".join(lines)


def plot(results: dict[str, Any], budgets: Sequence[int], optima: dict[str, Any],
         path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = [d for d in results if not d.startswith("_")]
    budgets = sorted({int(k) for by_name in results.values() for entry in by_name.values()
                      for k in entry if k.isdigit()} | set(budgets))
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.5), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        key = "val_mean" if dataset == "imagenet16-120" else "mean"
        colours = plt.get_cmap("tab20")
        for i, (name, entry) in enumerate(sorted(results[dataset].items())):
            xs = [b for b in budgets if str(b) in entry]
            style = "--" if name in PEERS else "-"
            ax.plot(xs, [entry[str(b)][key] for b in xs], style, marker="o", ms=3, label=name,
                    color=colours(i % 20))
        limit = optima[dataset]["best_val" if key == "val_mean" else "test_at_best_val"]
        ax.axhline(limit, color="k", lw=0.8, ls=":", label="optimum")
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(list(budgets), [str(b) for b in budgets])
        ax.set_title(f"{dataset} ({'validation' if key == 'val_mean' else 'test of best-by-val'})")
        ax.set_xlabel("queries (unique 200-epoch lookups)")
        ax.set_ylim(limit - 3, limit + 0.3)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy (%)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--strategies", default=",".join([*NASFORGE, *PEERS]))
    parser.add_argument("--out", type=Path, default=RESULTS / "nb201.json")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--path", default=None, help="the table (default: NASFORGE_NB201)")
    parser.add_argument("--replot", action="store_true",
                        help="only redraw the PNG from the JSON in --out")
    parser.add_argument("--markdown", action="store_true",
                        help="only print the README tables from the JSON in --out")
    args = parser.parse_args(argv)
    try:  # before the run: a bad --out would otherwise only fail once the run is over
        stored = stored_results(args.out, must_exist=args.markdown or args.replot)
    except ValueError as exc:
        parser.error(f"--out {exc}")
    if args.markdown:
        assert stored is not None
        print(markdown(stored))
        return 0
    if args.replot:
        assert stored is not None
        runs = stored.get("_runs") or [stored.get("_meta", {})]
        plot({k: v for k, v in stored.items() if k in DATASETS}, (), runs[-1]["optima"],
             args.out.with_suffix(".png"))
        return 0

    import nasforge.evaluate  # noqa: F401  (registers nb201_table)
    from nasforge.evaluate.tabular import NB201Table
    from nasforge.strategy.base import STRATEGIES

    budgets = tuple(sorted(int(b) for b in args.budgets.split(",")))
    datasets = args.datasets.split(",")
    names = args.strategies.split(",")
    unknown = [n for n in names if n not in NASFORGE and n not in PEERS]
    bad_datasets = [d for d in datasets if d not in DATASETS]
    if unknown or bad_datasets or args.seeds < 1 or min(budgets) < 1:
        parser.error(f"unknown strategies {unknown} (choose from {[*NASFORGE, *PEERS]}), "
                     f"datasets {bad_datasets} (choose from {list(DATASETS)}), "
                     "or seeds/budgets < 1")
    missing = [n for n in names if n in NASFORGE and NASFORGE[n]["name"] not in STRATEGIES]
    if missing:
        print(f"skipping strategies not registered in this build: {missing}", file=sys.stderr)
        names = [n for n in names if n not in missing]
    table = NB201Table.load(args.path)
    path = str(table.path)
    optima = {d: vars(table.optimum(d)) for d in DATASETS}
    jobs = [(n, d, s, budgets, path) for d in datasets for n in names for s in range(args.seeds)]
    start = time.perf_counter()
    rows = []
    with mp.get_context("spawn").Pool(args.workers) as pool:
        for i, row in enumerate(pool.imap_unordered(_job, jobs, chunksize=4), 1):
            rows.append(row)
            if i % max(1, len(jobs) // 20) == 0:
                print(f"  {i}/{len(jobs)} searches, {time.perf_counter() - start:.0f} s",
                      file=sys.stderr)
    results = aggregate(rows, budgets, optima)
    results["_meta"] = {"seeds": args.seeds, "budgets": list(budgets), "optima": optima,
                        "table": path, "seconds": time.perf_counter() - start,
                        "query": "unique architecture looked up at 200 epochs",
                        "figure": "test accuracy of the best-by-validation architecture"}
    print_table(results, budgets)
    return 0 if _merge_and_write(results, args.out, budgets, optima) == args.out else 1


def _merge_and_write(results: dict[str, Any], out: Path, budgets: Sequence[int],
                     optima: dict[str, Any]) -> Path:
    """Update ``out`` with this run's cells (a slice keeps the rest) and redraw the curves.

    ``out`` is read again here, so slices run at the same time all land in it. If it has become
    unusable since the start, this run's results go to a file beside it instead, which is
    returned.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        previous = stored_results(out, must_exist=False) or {}
    except ValueError as exc:
        aside = out.with_name(f"{out.stem}.unmerged{out.suffix or '.json'}")
        aside.write_text(json.dumps(results, indent=2))
        print(f"\n--out {exc}\nwrote this run's results to {aside} instead", file=sys.stderr)
        return aside
    runs = previous.setdefault("_runs", [])
    if "_meta" in previous:  # the layout of older files
        runs.insert(0, previous.pop("_meta"))
    for dataset, by_name in results.items():
        if dataset == "_meta":
            runs.append(by_name)
        else:
            previous.setdefault(dataset, {}).update(by_name)
    out.write_text(json.dumps(previous, indent=2))
    png = out.with_suffix(".png")
    plot({k: v for k, v in previous.items() if k in DATASETS}, budgets, optima, png)
    print(f"\nwrote {out} and {png}")
    return out


if __name__ == "__main__":
    sys.exit(main())

"""Multi-objective NAS-Bench-201 benchmark: the accuracy/FLOPs and accuracy/params fronts.

CIFAR-10, two problems: maximise validation accuracy (``cifar10-valid``, 200 epochs) and minimise
FLOPs (``nb201_flops``), then validation accuracy against params (``nb201_params``). nasforge's
multi-objective strategies run through the real study loop (in-memory store, inline executor,
the ``nb201_table`` evaluator, the two objectives in the spec). Optuna's ``NSGAIISampler``,
``TPESampler`` (MOTPE when a study has several objectives) and ``RandomSampler`` run through
Optuna's own multi-objective study API on the same table, as Optuna users run them.

A *query* is a unique architecture (NB201 string) looked up; repeats are free. At each budget of
``b`` queries:

- ``hv_frac``: the hypervolume of the first ``b`` queries divided by the true front's (the whole
  table's), both with the fixed reference point (85% validation accuracy, the largest FLOPs /
  params in the table), computed by :func:`nasforge.pareto.hypervolume` (moocore);
- ``front_found``: how many of the table's Pareto-optimal cells are among the queries (the true
  front is computed from the table: 10 cells for accuracy against FLOPs on the full table);
- ``front_found_class``: how many of them were found *up to isomorphism* (a cell computing the
  same function, :meth:`NB201Space.canonical`, was queried). nasforge's strategies never query two
  cells of one class, and 7 of the 10 true cells are not their class's representative: they are
  the luckiest of 65-400 equivalent cells (the table's accuracies of one function differ by up to
  1% from training noise), so ``front_found`` undercounts what a de-duplicating search finds.

    python benchmarks/multiobjective.py --seeds 30 --budgets 50,100,200 \\
        --strategies parego,nsga2,optuna_motpe --parts nb201

writes ``benchmarks/results/multiobjective.json`` (``{problem: {strategy: {budget: {"hv_frac",
"hv_std", "front_found", "n"}}}}``, plus ``_runs``) and a PNG of the fronts beside it, and prints
a table.

``--parts`` (default: all four, the full run) adds the issue's other benchmarks to the same file,
one after the other, so each latency is timed without a search beside it:

- ``latency``: the latency predictor against measured latency on held-out networks
  (``benchmarks/latency_predictor.py``; key ``latency_predictor``);
- ``mnist1d``: a real NSGA-II search on MNIST-1D for accuracy against measured latency, the front
  re-measured after it and the study's estimated energy (``benchmarks/mo_real.py``; key
  ``mnist1d_latency``, ``--minutes``);
- ``fairness``: accuracy against demographic parity on ``diabetes_fair``, beside the most accurate
  network of a search for accuracy alone (``benchmarks/mo_real.py``; key ``diabetes_fairness``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from nb201 import OPS, canonical_key, stored_results  # the sibling script's helpers

RESULTS = Path(__file__).parent / "results"
BUDGETS = (50, 100, 200)
DATASET = "cifar10"
REFERENCE_ACCURACY = 85.0
PROBLEMS: dict[str, str] = {"nb201_flops": "flops", "nb201_params": "params"}
"""Problem name → the cost metric minimised beside validation accuracy."""

NASFORGE: dict[str, dict[str, Any]] = {
    "parego": {"name": "parego"},
    "parego_mlp": {"name": "parego", "surrogate": "mlp"},
    "nsga2": {"name": "nsga2"},
    "pareto_local_search": {"name": "pareto_local_search"},
    "random": {"name": "random"},
}
PEERS = ("optuna_nsga2", "optuna_motpe", "optuna_random")
PARTS = ("nb201", "latency", "mnist1d", "fairness")
EDGES = ("1_0", "2_0", "2_1", "3_0", "3_1", "3_2")


class TrueFront:
    """The table's values for one problem, its Pareto-optimal cells and their hypervolume."""

    def __init__(self, table: Any, cost: str) -> None:
        from nasforge.pareto import hypervolume, pareto_set

        self.cost = cost
        self.accuracy = table.values("val_accuracy", DATASET)
        self.costs = table.values(cost, DATASET)
        self.row = {arch: i for i, arch in enumerate(table.archs)}
        self.reference = (REFERENCE_ACCURACY, float(self.costs.max()))
        points = list(zip(self.accuracy.tolist(), self.costs.tolist(), strict=True))
        self.cells = [table.archs[i] for i in pareto_set(points, ["max", "min"])]
        self.hypervolume = hypervolume([points[self.row[a]] for a in self.cells], ["max", "min"],
                                       reference=self.reference)
        self.classes = {canonical_key(a) for a in self.cells}

    def point(self, arch: str) -> tuple[float, float]:
        i = self.row[arch]
        return float(self.accuracy[i]), float(self.costs[i])

    def score(self, archs: Sequence[str]) -> tuple[float, int, int]:
        """(hypervolume fraction, true Pareto cells found, true Pareto cells found up to
        isomorphism) of the queried ``archs``."""
        from nasforge.pareto import hypervolume

        hv = hypervolume([self.point(a) for a in archs], ["max", "min"],
                         reference=self.reference) if archs else 0.0
        found = len(set(self.cells) & set(archs))
        classes = len(self.classes & {canonical_key(a) for a in archs})
        return hv / self.hypervolume, found, classes


def unique(archs: Sequence[str]) -> list[str]:
    """The architectures in first-query order, repeats dropped."""
    seen: set[str] = set()
    return [a for a in archs if not (a in seen or seen.add(a))]


def run_nasforge(name: str, problem: str, seed: int, budget: int, path: str) -> list[str]:
    """The architectures a nasforge strategy queried, in order (NB201 strings)."""
    from nb201 import _QueryCounter

    from nasforge.run.spec import parse_spec
    from nasforge.run.study import Study
    from nasforge.space._nb201 import arch_to_nb201

    spec = parse_spec({
        "name": f"{name}-{problem}-{seed}", "seed": seed,
        "task": {"name": "nb201", "dataset": DATASET},
        "space": {"name": "nb201", "dims": 2},
        "strategy": NASFORGE[name],
        "evaluator": {"name": "nb201_table", "dataset": DATASET, "path": path},
        "objectives": [{"metric": "val_accuracy", "direction": "max"},
                       {"metric": PROBLEMS[problem], "direction": "min"}],
        "executor": "inline", "budget": {"trials": 20 * budget}, "export_best": False,
    })
    study = Study.create(spec, in_memory=True)
    study.run([_QueryCounter(budget)])
    return unique([arch_to_nb201(t.arch) for t in study.trials()
                   if t.state.value == "COMPLETE"])


def run_optuna(name: str, problem: str, seed: int, budget: int, path: str) -> list[str]:
    """The architectures an Optuna sampler queried through Optuna's own study API."""
    import optuna

    from nasforge.evaluate.tabular import NB201Table

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = NB201Table.load(path)
    samplers = {"optuna_nsga2": optuna.samplers.NSGAIISampler,
                "optuna_motpe": optuna.samplers.TPESampler,
                "optuna_random": optuna.samplers.RandomSampler}
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=samplers[name](seed=seed))
    archs: list[str] = []
    seen: set[str] = set()
    for _ in range(20 * budget):  # repeats are free, but never loop forever
        trial = study.ask()
        ops = {e: trial.suggest_categorical(f"edge_{e}", list(OPS)) for e in EDGES}
        arch = (f"|{ops['1_0']}~0|+|{ops['2_0']}~0|{ops['2_1']}~1|+|{ops['3_0']}~0|"
                f"{ops['3_1']}~1|{ops['3_2']}~2|")
        metrics = table.lookup(arch, DATASET, 200)
        study.tell(trial, [metrics["val_accuracy"], metrics[PROBLEMS[problem]]])
        archs.append(arch)
        seen.add(arch)
        if len(seen) >= budget:
            break
    return unique(archs)


def _job(args: tuple[str, str, int, int, str]) -> tuple[str, str, int, dict[str, Any]]:
    name, problem, seed, budget, path = args
    import torch

    torch.set_num_threads(1)
    run = run_optuna if name in PEERS else run_nasforge
    start = time.perf_counter()
    try:
        archs = run(name, problem, seed, budget, path)
    except Exception as exc:  # report, don't hide: the row says what failed
        return name, problem, seed, {"error": f"{type(exc).__name__}: {exc}"}
    return name, problem, seed, {"archs": archs, "seconds": time.perf_counter() - start}


def _searches(jobs: Sequence[tuple[str, str, int, int, str]],
              workers: int) -> Iterator[tuple[str, str, int, dict[str, Any]]]:
    """Each job's row: in a pool of ``workers`` spawned processes, or in this process when
    ``workers`` is 1 (torch's thread count is restored afterwards)."""
    if workers > 1:
        with mp.get_context("spawn").Pool(workers) as pool:
            yield from pool.imap_unordered(_job, jobs)
        return
    import torch

    threads = torch.get_num_threads()
    try:
        for job in jobs:
            yield _job(job)
    finally:
        torch.set_num_threads(threads)


def aggregate(rows: Sequence[tuple[str, str, int, dict[str, Any]]], budgets: Sequence[int],
              fronts: dict[str, TrueFront]) -> dict[str, Any]:
    """``{problem: {strategy: {budget: {hv_frac, hv_std, front_found, n}}}}`` over the seeds."""
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for name, problem, _, res in rows:
        runs.setdefault(problem, {}).setdefault(name, []).append(res)
    out: dict[str, Any] = {}
    for problem, by_name in runs.items():
        for name, results in by_name.items():
            entry: dict[str, Any] = out.setdefault(problem, {}).setdefault(name, {})
            errors = sorted({r["error"] for r in results if "error" in r})
            ok = [r for r in results if "error" not in r]
            if errors:
                entry["errors"] = errors[:3]
            for b in budgets:
                scores = [fronts[problem].score(r["archs"][:b]) for r in ok
                          if len(r["archs"]) >= b]
                if not scores:
                    continue
                fracs = [s for s, _, _ in scores]
                entry[str(b)] = {
                    "hv_frac": statistics.fmean(fracs),
                    "hv_std": statistics.pstdev(fracs) if len(fracs) > 1 else 0.0,
                    "front_found": statistics.fmean(f for _, f, _ in scores),
                    "front_found_class": statistics.fmean(c for _, _, c in scores),
                    "n": len(scores),
                }
            if ok:
                entry["seconds_per_search"] = statistics.fmean(r["seconds"] for r in ok)
    return out


def print_table(results: dict[str, Any], budgets: Sequence[int],
                fronts: dict[str, TrueFront]) -> None:
    for problem in PROBLEMS:
        by_name = results.get(problem)
        if not by_name:
            continue
        front = fronts[problem]
        print(f"\n{problem}: hypervolume fraction ± std / true Pareto cells found (of "
              f"{len(front.cells)}) (found up to isomorphism); reference "
              f"({front.reference[0]:g}%, {front.reference[1]:.4g})")
        print(f"{'strategy':<22}" + "".join(f"{b:>30}" for b in budgets))
        for name, entry in sorted(by_name.items(),
                                  key=lambda e: -(e[1].get(str(budgets[0])) or {}).get(
                                      "hv_frac", 0.0)):
            cells = [f"{e['hv_frac']:.3f}±{e['hv_std']:.3f} / {e['front_found']:.2f}"
                     f" ({e['front_found_class']:.1f})"
                     if (e := entry.get(str(b))) else "—" for b in budgets]
            print(f"{name:<22}" + "".join(f"{c:>30}" for c in cells))
            if "errors" in entry:
                print(f"{'':<22}errors: {entry['errors']}")


def seed0_fronts(rows: Sequence[tuple[str, str, int, dict[str, Any]]], budget: int,
                 fronts: dict[str, TrueFront]) -> dict[str, dict[str, list[list[float]]]]:
    """``{problem: {strategy: [[accuracy, cost], ...]}}``: the front of the lowest seed's first
    ``budget`` queries, kept in the JSON so that the PNG shows every strategy of merged runs."""
    from nasforge.pareto import pareto_set

    out: dict[str, dict[str, list[list[float]]]] = {}
    for name, problem, _, res in sorted(rows, key=lambda r: r[2], reverse=True):
        if "archs" not in res:
            continue
        points = [fronts[problem].point(a) for a in res["archs"][:budget]]
        best = sorted((points[j] for j in pareto_set(points, ["max", "min"])),
                      key=lambda p: p[1])
        out.setdefault(problem, {})[name] = [list(p) for p in best]
    return out


def plot(stored: dict[str, Any], budget: int, fronts: dict[str, TrueFront], path: Path) -> None:
    """Each problem's table, true front and every strategy's stored front (lowest seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = stored.get("_fronts", {})
    problems = [p for p in PROBLEMS if p in found and p in fronts]
    if not problems:
        return
    fig, axes = plt.subplots(1, len(problems), figsize=(6.5 * len(problems), 4.8), squeeze=False)
    colours = plt.get_cmap("tab10")
    scale = 1e6
    for ax, problem in zip(axes[0], problems, strict=True):
        front = fronts[problem]
        ax.scatter(front.costs / scale, front.accuracy, s=2, c="0.85", label="table")
        true = sorted((front.point(a) for a in front.cells), key=lambda p: p[1])
        ax.step([c / scale for _, c in true], [a for a, _ in true], "k-", where="post", lw=1.2,
                label="true front")
        for i, (name, best) in enumerate(sorted(found[problem].items())):
            ax.step([c / scale for _, c in best], [a for a, _ in best], where="post",
                    marker="o", ms=3, lw=0.9, color=colours(i % 10),
                    ls="--" if name in PEERS else "-", label=name)
        ax.axhline(REFERENCE_ACCURACY, color="k", lw=0.6, ls=":")
        ax.set_ylim(REFERENCE_ACCURACY - 1, float(front.accuracy.max()) + 0.5)
        ax.set_xlabel(f"{front.cost} (millions)")
        ax.set_ylabel("CIFAR-10 validation accuracy (%)")
        ax.set_title(f"{problem}: fronts after {budget} queries (lowest seed)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)))
    parser.add_argument("--strategies", default=",".join([*NASFORGE, *PEERS]))
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--out", type=Path, default=RESULTS / "multiobjective.json")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="spawned processes (1: every search in this process)")
    parser.add_argument("--path", default=None, help="the table (default: NASFORGE_NB201)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"which benchmarks to run, of {','.join(PARTS)}")
    parser.add_argument("--minutes", type=float, default=20.0,
                        help="the MNIST-1D search's budget (part mnist1d)")
    parser.add_argument("--latency-n", type=int, default=200,
                        help="held-out networks per space (part latency)")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    if [p for p in parts if p not in PARTS] or not parts:
        parser.error(f"--parts must be a comma-separated subset of {','.join(PARTS)}; "
                     f"got {args.parts!r}")
    try:
        budgets = tuple(sorted({int(b) for b in args.budgets.split(",")}))
    except ValueError:
        parser.error(f"--budgets must be comma-separated integers; got {args.budgets!r}")
    names = args.strategies.split(",")
    problems = args.problems.split(",")
    unknown = [n for n in names if n not in NASFORGE and n not in PEERS]
    if unknown:
        parser.error(f"unknown strategies {unknown}; choose from {[*NASFORGE, *PEERS]}")
    bad = [p for p in problems if p not in PROBLEMS]
    if bad:
        parser.error(f"unknown problems {bad}; choose from {list(PROBLEMS)}")
    if args.seeds < 1 or min(budgets) < 1 or args.workers < 1:
        parser.error(f"--seeds, --budgets and --workers must be >= 1; got {args.seeds}, "
                     f"{args.budgets} and {args.workers}")
    try:  # before the run: a bad --out would otherwise only fail once the run is over
        stored_results(args.out, must_exist=False)
    except ValueError as exc:
        parser.error(f"--out {exc}")
    if "nb201" in parts:
        run_nb201(args, budgets, names, problems)
    if "latency" in parts:
        import latency_predictor

        latency_predictor.main(["--n", str(args.latency_n), "--out", str(args.out)])
    real = [p for p in ("mnist1d", "fairness") if p in parts]
    if real:
        import mo_real

        mo_real.main(["--parts", ",".join(real), "--minutes", str(args.minutes),
                      "--out", str(args.out)])
    return 0


def run_nb201(args: argparse.Namespace, budgets: tuple[int, ...], names: list[str],
              problems: list[str]) -> None:
    """The NAS-Bench-201 fronts: every strategy on every problem and seed, scored per budget."""

    import nasforge.evaluate  # noqa: F401  (registers nb201_table)
    from nasforge.evaluate.tabular import NB201Table

    table = NB201Table.load(args.path)
    path = str(table.path)
    fronts = {p: TrueFront(table, PROBLEMS[p]) for p in problems}
    jobs = [(n, p, s, max(budgets), path) for p in problems for n in names
            for s in range(args.seeds)]
    start = time.perf_counter()
    rows = []
    for i, row in enumerate(_searches(jobs, args.workers), 1):
        rows.append(row)
        if i % max(1, len(jobs) // 20) == 0:
            print(f"  {i}/{len(jobs)} searches, {time.perf_counter() - start:.0f} s",
                  file=sys.stderr)
    results = aggregate(rows, budgets, fronts)
    results["_meta"] = {
        "seeds": args.seeds, "budgets": list(budgets), "table": path, "dataset": DATASET,
        "seconds": time.perf_counter() - start,
        "query": "unique architecture (NB201 string) looked up at 200 epochs",
        "true_front": {p: {"cells": f.cells, "hypervolume": f.hypervolume,
                           "reference": list(f.reference)} for p, f in fronts.items()},
    }
    print_table(results, budgets, fronts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = stored_results(args.out, must_exist=False) or {}
    shown = 100 if 100 in budgets else max(budgets)
    results["_fronts"] = seed0_fronts(rows, shown, fronts)
    for key, value in results.items():
        if key == "_meta":
            previous.setdefault("_runs", []).append(value)
        elif key == "_fronts":
            for problem, by_name in value.items():
                previous.setdefault("_fronts", {}).setdefault(problem, {}).update(by_name)
        else:
            previous.setdefault(key, {}).update(value)
    args.out.write_text(json.dumps(previous, indent=2))
    png = args.out.with_suffix(".png")
    plot(previous, shown, fronts, png)
    print(f"\nwrote {args.out} and {png}")


if __name__ == "__main__":
    sys.exit(main())

"""Constraint-aware sampling on NAS-Bench-201: how much of the budget is spent on INFEASIBLE
candidates, and how good the best feasible network gets, with the strategies' feasibility check
on and off.

Problem: NAS-Bench-201, CIFAR-10 (the table from ``NASFORGE_NB201`` or ``--path``), maximise
validation accuracy under the constraint ``params <= 1.5e5`` (:data:`PARAMS_LIMIT`), which 78% of
the 15,625 cells break (the script prints the exact fraction). ``nsga2`` searches accuracy
against FLOPs under the same constraint. Every search has 100 trials (INFEASIBLE ones count:
they are trials of the study, stored untrained).

Each nasforge strategy runs twice through the normal study (``Study.create``, in memory):
``aware`` (the default ``constraint_aware: true``: the study hands the strategy its feasibility
check, and draws that break the bound are rejected before they are asked) and ``blind``
(``constraint_aware: false``: the study only filters, storing a breaking ask INFEASIBLE
untrained, as before). Beside them, Optuna's ``TPESampler`` with its constraints (its
constrained TPE: ``Trial.set_constraint`` in Optuna 5, ``constraints_func`` before) runs through
Optuna's own study API, as ``benchmarks/multiobjective.py`` runs its peers: Optuna proposes,
every proposal is one trial, and the constraint value is told with it.

Reported per strategy (mean and standard deviation over ``--seeds`` seeds): the fraction of
trials that were INFEASIBLE, and the best feasible validation accuracy reached. The table is
printed and written to ``benchmarks/results/constrained.json``::

    .venv/bin/python benchmarks/constrained.py [--seeds 10] [--trials 100] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from nb201 import OPS  # the sibling script's helpers

RESULTS = Path(__file__).parent / "results"
DATASET = "cifar10"
PARAMS_LIMIT = 1.5e5
"""The constraint's bound on params (78.2% of the CIFAR-10 cells have more)."""
TRIALS = 100
SEEDS = 10
EDGES = ("1_0", "2_0", "2_1", "3_0", "3_1", "3_2")
NASFORGE: dict[str, dict[str, Any]] = {
    "random": {"name": "random"},
    "regularized_evolution": {"name": "regularized_evolution", "population": 10, "sample": 3},
    "nsga2": {"name": "nsga2"},
}
"""nasforge strategies as the benchmark runs them (``nsga2`` with a second objective, FLOPs)."""
MODES = ("aware", "blind")
PEER = "optuna_tpe"


def objectives(name: str) -> list[dict[str, str]]:
    accuracy = {"metric": "val_accuracy", "direction": "max"}
    return [accuracy, {"metric": "flops", "direction": "min"}] if name == "nsga2" else [accuracy]


def run_nasforge(name: str, mode: str, seed: int, trials: int, path: str,
                 limit: float = PARAMS_LIMIT) -> dict[str, float]:
    """One study's INFEASIBLE fraction and best feasible validation accuracy."""
    from nasforge.run.spec import parse_spec
    from nasforge.run.study import Study
    from nasforge.trial import TrialState

    spec = parse_spec({
        "name": f"{name}-{mode}-{seed}", "seed": seed,
        "task": {"name": "nb201", "dataset": DATASET},
        "space": {"name": "nb201", "dims": 2},
        "strategy": {**NASFORGE[name], "constraint_aware": mode == "aware"},
        "evaluator": {"name": "nb201_table", "dataset": DATASET, "path": path},
        "objectives": objectives(name),
        "constraints": [f"params <= {limit!r}"],
        # a blind search may start with a run of infeasible asks: never stop it for that
        "max_consecutive_failures": None,
        "executor": "inline", "budget": {"trials": trials}, "export_best": False,
    })
    study = Study.create(spec, in_memory=True)
    study.run()
    done = study.trials()
    feasible = [t.metrics["val_accuracy"] for t in done
                if t.state is TrialState.COMPLETE and t.violation is None]
    n_infeasible = sum(t.state is TrialState.INFEASIBLE for t in done)
    return {"infeasible": n_infeasible / len(done), "best": max(feasible, default=float("nan")),
            "n_trials": float(len(done))}


def run_optuna(seed: int, trials: int, path: str,
               limit: float = PARAMS_LIMIT) -> dict[str, float]:
    """Optuna's constrained TPE (``constraints_func``) through Optuna's own study API."""
    import optuna

    from nasforge.evaluate.tabular import NB201Table

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = NB201Table.load(path)
    # Optuna 5 takes a trial's constraint values through Trial.set_constraint (its
    # constraints_func is deprecated); older releases only through constraints_func.
    new_api = hasattr(optuna.trial.Trial, "set_constraint")
    sampler = optuna.samplers.TPESampler(seed=seed) if new_api else optuna.samplers.TPESampler(
        seed=seed, constraints_func=lambda t: [t.user_attrs["params"] - limit])
    study = optuna.create_study(direction="maximize", sampler=sampler)
    best, n_infeasible = float("nan"), 0
    for _ in range(trials):
        trial = study.ask()
        ops = {e: trial.suggest_categorical(f"edge_{e}", list(OPS)) for e in EDGES}
        arch = (f"|{ops['1_0']}~0|+|{ops['2_0']}~0|{ops['2_1']}~1|+|{ops['3_0']}~0|"
                f"{ops['3_1']}~1|{ops['3_2']}~2|")
        metrics = table.lookup(arch, DATASET, 200)
        trial.set_user_attr("params", float(metrics["params"]))
        if new_api:
            trial.set_constraint("params", float(metrics["params"]) - limit)
        study.tell(trial, metrics["val_accuracy"])
        if metrics["params"] > limit:
            n_infeasible += 1
        elif not metrics["val_accuracy"] <= best:  # also replaces the initial NaN
            best = float(metrics["val_accuracy"])
    return {"infeasible": n_infeasible / trials, "best": best, "n_trials": float(trials)}


def summarise(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Mean and standard deviation of a cell's seeds."""
    def stats(key: str) -> tuple[float, float]:
        values = [r[key] for r in rows]
        return statistics.fmean(values), statistics.pstdev(values)

    infeasible, infeasible_std = stats("infeasible")
    best, best_std = stats("best")
    return {"infeasible_frac": round(infeasible, 4), "infeasible_std": round(infeasible_std, 4),
            "best_feasible_acc": round(best, 3), "best_feasible_std": round(best_std, 3),
            "n": len(rows)}


def print_table(results: dict[str, Any]) -> None:
    print(f"\nNB201 CIFAR-10, val_accuracy under {results['constraint']} "
          f"({results['table_infeasible_frac']:.1%} of the cells infeasible; best feasible cell "
          f"{results['best_feasible_cell_acc']:.2f}%), {results['trials']} trials, "
          f"{results['seeds']} seeds")
    print(f"{'strategy':<24}{'mode':<8}{'INFEASIBLE trials':>20}{'best feasible acc':>20}")
    for name, cells in results["strategies"].items():
        for mode, cell in cells.items():
            print(f"{name:<24}{mode:<8}"
                  f"{cell['infeasible_frac']:>13.1%} ± {cell['infeasible_std']:<5.1%}"
                  f"{cell['best_feasible_acc']:>13.2f} ± {cell['best_feasible_std']:.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--trials", type=int, default=TRIALS)
    parser.add_argument("--strategies", default=",".join([*NASFORGE, PEER]))
    parser.add_argument("--out", type=Path, default=RESULTS / "constrained.json")
    parser.add_argument("--path", default=None, help="the table (default: NASFORGE_NB201)")
    parser.add_argument("--params-limit", type=float, default=PARAMS_LIMIT,
                        help="the bound of the constraint params <= LIMIT")
    args = parser.parse_args(argv)
    names = args.strategies.split(",")
    unknown = [n for n in names if n not in NASFORGE and n != PEER]
    if unknown:
        parser.error(f"unknown strategies {unknown}; choose from {[*NASFORGE, PEER]}")
    if args.seeds < 1 or args.trials < 1:
        parser.error(f"--seeds and --trials must be >= 1; got {args.seeds} and {args.trials}")
    if args.out.exists() and args.out.is_dir():
        parser.error(f"--out {args.out} is a folder; give a file name")

    import nasforge.evaluate  # noqa: F401  (registers nb201_table)
    from nasforge.evaluate.tabular import NB201Table

    table = NB201Table.load(args.path)
    path = str(table.path)
    params = table.values("params", DATASET)
    accuracy = table.values("val_accuracy", DATASET)
    limit = args.params_limit
    feasible = params <= limit
    if not feasible.any():
        parser.error(f"--params-limit {limit:g}: no cell of the table meets params <= {limit:g}; "
                     f"the smallest has {params.min():g}")
    results: dict[str, Any] = {
        "dataset": DATASET, "constraint": f"params <= {limit:g}",
        "table_infeasible_frac": round(float(1.0 - feasible.mean()), 4),
        "best_feasible_cell_acc": round(float(accuracy[feasible].max()), 3),
        "trials": args.trials, "seeds": args.seeds, "strategies": {},
    }
    start = time.perf_counter()
    for name in names:
        if name == PEER:
            rows = [run_optuna(s, args.trials, path, limit) for s in range(args.seeds)]
            results["strategies"][name] = {"constrained": summarise(rows)}
        else:
            results["strategies"][name] = {
                mode: summarise([run_nasforge(name, mode, s, args.trials, path, limit)
                                 for s in range(args.seeds)])
                for mode in MODES
            }
        print(f"{name} done after {time.perf_counter() - start:.0f} s", file=sys.stderr)
    results["seconds"] = round(time.perf_counter() - start, 1)
    results["cpus"] = os.cpu_count()
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

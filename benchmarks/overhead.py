"""Per-trial overhead of the study loop and store, nasforge beside Optuna, in one run.

Each trial evaluates a trivial objective (a toy score of 6 categorical decisions with 5 options,
like an NB201 cell), so what is timed is the framework: ask + store + evaluate-call + tell. The
time of each trial is the gap between consecutive trial completions; the table reports the
median and the 90th percentile in milliseconds, with SQLite on disk and in memory.

    python benchmarks/overhead.py --trials 1000 --repeats 3

writes ``benchmarks/results/overhead.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import nasforge.testing.toys
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study
from nasforge.trial import Trial

OUT = Path(__file__).parent / "results" / "overhead.json"


class _Clock:
    def __init__(self) -> None:
        self.stamps: list[float] = []

    def on_start(self, study: Study) -> None:
        self.stamps = [time.perf_counter()]

    def on_trial_finished(self, study: Study, trial: Trial) -> None:
        self.stamps.append(time.perf_counter())


def _gaps_ms(stamps: list[float]) -> list[float]:
    return [1000 * (b - a) for a, b in itertools.pairwise(stamps)]


def nasforge_run(n_trials: int, root: str | None, seed: int) -> list[float]:
    spec = parse_spec({
        "name": f"overhead-{seed}", "seed": seed, "root": root or "runs", "task": "toy",
        "space": {"name": "toy", "n_decisions": 6, "n_options": 5},
        "strategy": "random", "evaluator": "toy", "executor": "inline",
        "budget": {"trials": n_trials}, "export_best": False,
    })
    clock = _Clock()
    Study.create(spec, in_memory=root is None).run([clock])
    return _gaps_ms(clock.stamps)


def optuna_run(n_trials: int, storage: str | None, seed: int) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = nasforge.testing.toys.ToySpace(n_decisions=6, n_options=5)

    def objective(trial: Any) -> float:
        arch = {f"d{i}": trial.suggest_categorical(f"d{i}", list(range(5))) for i in range(6)}
        from nasforge.architecture import Architecture

        return nasforge.testing.toys.toy_score(Architecture(arch), space)

    stamps = [time.perf_counter()]
    study = optuna.create_study(direction="maximize", storage=storage,
                                sampler=optuna.samplers.RandomSampler(seed=seed))
    study.optimize(objective, n_trials=n_trials,
                   callbacks=[lambda s, t: stamps.append(time.perf_counter())])
    return _gaps_ms(stamps)


def summarise(gaps: list[float]) -> dict[str, float]:
    ordered = sorted(gaps)
    return {"median_ms": statistics.median(ordered),
            "p90_ms": ordered[int(0.9 * (len(ordered) - 1))], "n": len(ordered)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration (seeds)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-optuna", action="store_true")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {
            "nasforge_sqlite": lambda s: nasforge_run(args.trials, tmp, s),
            "nasforge_memory": lambda s: nasforge_run(args.trials, None, s),
        }
        if not args.no_optuna:
            runs["optuna_sqlite"] = lambda s: optuna_run(args.trials, f"sqlite:///{tmp}/o{s}.db",
                                                         s)
            runs["optuna_memory"] = lambda s: optuna_run(args.trials, None, s)
        for name, fn in runs.items():
            gaps: list[float] = []
            for seed in range(args.repeats):
                gaps += fn(seed)
            results[name] = summarise(gaps)
    for kind in ("sqlite", "memory"):
        ours, peer = results[f"nasforge_{kind}"], results.get(f"optuna_{kind}")
        if peer:
            results[f"ratio_{kind}"] = {"nasforge_over_optuna":
                                        ours["median_ms"] / peer["median_ms"]}
    print(f"{'configuration':<18} {'median ms':>10} {'p90 ms':>10} {'trials':>8}")
    for name, row in results.items():
        if "median_ms" in row:
            print(f"{name:<18} {row['median_ms']:>10.3f} {row['p90_ms']:>10.3f} {row['n']:>8.0f}")
    for kind in ("sqlite", "memory"):
        if f"ratio_{kind}" in results:
            ratio = results[f"ratio_{kind}"]["nasforge_over_optuna"]
            print(f"nasforge / optuna per-trial overhead ({kind}): {ratio:.3g}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"trials": args.trials, "repeats": args.repeats,
                                    "results": results}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

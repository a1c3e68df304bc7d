"""Median pruning of your own training loop: nasforge with and without it, beside Optuna's.

The own-loop MNIST-1D example (``examples/own_training_loop.py``: a define-by-run 1-D CNN space
and a hand-written training loop that reports validation accuracy after each epoch) runs as a
``--trials``-trial random search three ways, for each seed:

- ``nasforge_median``: the nasforge study loop with ``pruner: {name: median}``;
- ``nasforge_none``: the same study without a pruner;
- ``optuna_median``: Optuna's own study API, ``RandomSampler`` and ``MedianPruner`` with the same
  settings, driving the *same* space function (each ``a.choice`` becomes
  ``trial.suggest_categorical``) and the same training function.

Everything runs in this one process with one torch thread, so ``time.process_time`` is the CPU
time of the search. The table gives CPU seconds and the best trial's test accuracy (the trial
with the best validation accuracy), mean ± std over the seeds, and the ratios the issue targets.

    python benchmarks/pruning.py --seeds 3 --trials 30

writes ``benchmarks/results/pruning.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import nasforge as nf
from nasforge.references import load_file
from nasforge.rng import derive_seed

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "own_training_loop.py"
OUT = Path(__file__).parent / "results" / "pruning.json"
MEDIAN = {"n_startup_trials": 5, "n_warmup_steps": 0}
"""The median pruner's settings, the same for nasforge and Optuna: Optuna's ``MedianPruner``
defaults (``--startup``, ``--warmup`` change them)."""


def _example() -> Any:
    """The example module (loaded once per process, so a test can change its ``EPOCHS``)."""
    return load_file(EXAMPLE)


def _best_test(rows: list[tuple[float, float]]) -> float:
    """The test accuracy of the row with the best validation accuracy (first on ties)."""
    return max(rows, key=lambda r: r[0])[1]


def nasforge_run(example: Any, seed: int, trials: int, pruned: bool, root: str) -> dict[str, Any]:
    start = time.process_time()
    study = nf.search(
        name=f"pruning-{seed}-{'median' if pruned else 'none'}",
        root=root,
        task="mnist1d",
        space=example.net,
        evaluator=example.fit,
        pruner={"name": "median", **MEDIAN} if pruned else {"name": "none"},
        strategy="random",
        executor="inline",
        budget={"trials": trials},
        seed=seed,
        export_best=False,
        overwrite=True,
    )
    cpu_s = time.process_time() - start
    done = [t for t in study.trials() if t.state.value == "COMPLETE"]
    rows = [(t.metrics["val_accuracy"], t.metrics["test_accuracy"]) for t in done]
    n_pruned = sum(t.state.value == "PRUNED" for t in study.trials())
    return {"cpu_s": cpu_s, "best_test": _best_test(rows), "pruned": n_pruned}


class _OptunaChoices:
    """The space function's ``a``: each decision is one of Optuna's categorical suggestions."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial

    def choice(self, name: str, options: list[Any]) -> Any:
        return self.trial.suggest_categorical(name, list(options))


class _OptunaTrialHandle:
    """The training function's ``trial``, backed by an Optuna trial."""

    def __init__(self, trial: Any, seed: int) -> None:
        self.trial = trial
        self.seed = seed
        self.number = trial.number

    def report(self, step: int, **values: float) -> None:
        self.trial.report(values["val_accuracy"], step)

    def should_prune(self) -> bool:
        return bool(self.trial.should_prune())


def optuna_run(example: Any, seed: int, trials: int) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = nf.tasks.get_task("mnist1d").load()
    build: Callable[..., torch.nn.Module] = example.net.function
    rows: list[tuple[float, float]] = []

    def objective(trial: optuna.Trial) -> float:
        trial_seed = derive_seed(seed, "optuna", trial.number)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(trial_seed)
            model = build(_OptunaChoices(trial), task.info)
            try:
                metrics = example.fit(model, task, _OptunaTrialHandle(trial, trial_seed))
            except nf.TrialPruned:
                raise optuna.TrialPruned() from None
        rows.append((metrics["val_accuracy"], metrics["test_accuracy"]))
        return float(metrics["val_accuracy"])

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(**MEDIAN),
    )
    start = time.process_time()
    study.optimize(objective, n_trials=trials, catch=())
    cpu_s = time.process_time() - start
    n_pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    return {"cpu_s": cpu_s, "best_test": _best_test(rows), "pruned": n_pruned}


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    tests = [r["best_test"] for r in runs]
    cpus = [r["cpu_s"] for r in runs]
    return {
        "cpu_s": statistics.mean(cpus),
        "cpu_s_std": statistics.stdev(cpus) if len(cpus) > 1 else 0.0,
        "best_test_mean": statistics.mean(tests),
        "best_test_std": statistics.stdev(tests) if len(tests) > 1 else 0.0,
        "pruned_mean": statistics.mean(r["pruned"] for r in runs),
        "seeds": len(runs),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-optuna", action="store_true")
    parser.add_argument("--startup", type=int, default=MEDIAN["n_startup_trials"],
                        help="median pruner: trials before any is pruned")
    parser.add_argument("--warmup", type=int, default=MEDIAN["n_warmup_steps"],
                        help="median pruner: steps of a trial before it may be pruned")
    args = parser.parse_args(argv)
    MEDIAN.update(n_startup_trials=args.startup, n_warmup_steps=args.warmup)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)


def _run(args: argparse.Namespace) -> dict[str, Any]:
    example = _example()
    runs: dict[str, list[dict[str, Any]]] = {
        "nasforge_median": [], "nasforge_none": [], "optuna_median": []
    }
    with tempfile.TemporaryDirectory() as root:
        for seed in range(args.seeds):
            runs["nasforge_median"].append(nasforge_run(example, seed, args.trials, True, root))
            runs["nasforge_none"].append(nasforge_run(example, seed, args.trials, False, root))
            if not args.no_optuna:
                runs["optuna_median"].append(optuna_run(example, seed, args.trials))
            print(f"seed {seed}: " + ", ".join(
                f"{k} {v[-1]['cpu_s']:.0f} s / {v[-1]['best_test']:.2f}%"
                for k, v in runs.items() if v), flush=True)
    results: dict[str, Any] = {k: _summary(v) for k, v in runs.items() if v}
    med, none = results["nasforge_median"], results["nasforge_none"]
    results["ratios"] = {
        "cpu_saved": 1 - med["cpu_s"] / none["cpu_s"],
        "best_test_gap_points": none["best_test_mean"] - med["best_test_mean"],
    }
    if "optuna_median" in results:
        opt = results["optuna_median"]
        results["ratios"]["cpu_vs_optuna"] = med["cpu_s"] / opt["cpu_s"]
        results["ratios"]["best_test_vs_optuna_points"] = (
            med["best_test_mean"] - opt["best_test_mean"]
        )
    results["trials"] = args.trials
    results["median_pruner"] = dict(MEDIAN)
    results["epochs"] = example.EPOCHS
    print(f"\n{'run':<16} {'CPU s':>14} {'best test %':>14} {'pruned':>7}")
    for name in ("nasforge_median", "nasforge_none", "optuna_median"):
        if name in results:
            r = results[name]
            print(f"{name:<16} {r['cpu_s']:>8.1f} ± {r['cpu_s_std']:<4.1f}"
                  f"{r['best_test_mean']:>8.2f} ± {r['best_test_std']:<4.2f} "
                  f"{r['pruned_mean']:>6.1f}")
    ratios = results["ratios"]
    print(f"\nCPU saved by pruning: {100 * ratios['cpu_saved']:.0f}% (target >= 40%); "
          f"best test gap {ratios['best_test_gap_points']:+.2f} points (target <= 0.3)")
    if "cpu_vs_optuna" in ratios:
        print(f"nasforge/Optuna CPU {ratios['cpu_vs_optuna']:.2f}, best test "
              f"{ratios['best_test_vs_optuna_points']:+.2f} points vs Optuna")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()

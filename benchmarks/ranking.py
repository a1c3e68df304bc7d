"""Ranking quality of the cheap signals against stand-alone training on MNIST-1D.

Samples ``--n`` distinct architectures of the 1-D ``nb201`` space on ``mnist1d`` (the demo's
settings: ``channels: 16, cells_per_stage: 2``), trains each stand-alone with the ``train``
evaluator for ``--epochs`` epochs (the demo's 15 by default; adamw, cosine schedule, batch 128,
latency not measured), and scores the same architectures with each computed zero-cost proxy of
:data:`nasforge.evaluate.proxy.PROXIES` (synflow, naswot, snip, grad_norm, jacov, params, flops;
each with its default seed 0, on the same task) and with 1-epoch training (``epoch1``: the train
evaluator at fidelity 1; the full run then continues from that run's checkpoint, which gives the
same weights as training straight through, so the epoch is not trained twice).

For every signal it reports Kendall τ (tau-b) and Spearman ρ (``scipy.stats``) against the
full-training validation accuracy (``kendall``, ``spearman``) and against its test accuracy
(``kendall_test``, ``spearman_test``), and the signal's cost in seconds per architecture (one
torch thread per worker process; a proxy's includes building the untrained network, epoch1's is
the whole 1-epoch evaluation). A proxy score of ``-inf`` (synflow of a network whose input never
reaches its output) ranks below every finite score; a NaN score is left out, and ``n_archs``
counts the architectures a signal was ranked on.

The supernet signal (``supernet``): the space's weight-sharing supernet is trained once on the
same task by uniform single-path sampling (SPOS; the ``supernet`` evaluator with
``--supernet-epochs`` epochs at a peak learning rate of :data:`SUPERNET_LR`, its other settings
the evaluator's defaults), and each
architecture is scored by its validation accuracy with the inherited weights after a BatchNorm
re-calibration on ``--bn-batches`` training batches. Its ``seconds_per_arch`` is the scoring
alone; the one-off training is ``train_seconds`` beside it (and in ``"_ranking_meta"``).

    python benchmarks/ranking.py --n 50 --epochs 15 --workers 2

merges ``{"ranking": {SIGNAL: {...}}, "_ranking_meta": {...}}`` into
``benchmarks/results/oneshot.json`` (other keys kept) and prints the table. With ``--reuse`` the
stand-alone training and the other signals are taken from that file (they must have been
measured with the same ``--n``, ``--epochs``, ``--seed`` and ``--num-samples``) and only the
supernet is measured (its one training, about 20 minutes at the default 300 epochs on one busy
core, then about 1.6 s per architecture):

    python benchmarks/ranking.py --reuse
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
PROXY_NAMES = ("synflow", "naswot", "snip", "grad_norm", "jacov", "params", "flops")
SIGNALS = ("supernet", *PROXY_NAMES, "epoch1")
SPACE: dict[str, Any] = {"dims": 1, "channels": 16, "cells_per_stage": 2}
"""The ``nb201`` space's settings, as in ``examples/demo.yaml``."""
TRAIN = {"batch_size": 128, "measure_latency": False}
"""The train evaluator's settings besides ``epochs`` (the demo's; latency is not a signal)."""
SUPERNET_EPOCHS = 300
"""Epochs of the supernet's uniform single-path training (each about one network's epoch)."""
SUPERNET_LR = 0.03
"""The supernet's peak learning rate (AdamW, cosine): weight sharing trains each path on a few
steps only, so it takes a higher rate than one network's 0.01."""
BN_BATCHES = 10
"""Training batches BatchNorm statistics are re-estimated on before each architecture is scored."""

_worker: dict[str, Any] = {}
"""Per process: the task, space, evaluator and proxies (built once by :func:`_setup`)."""


def _space() -> Any:
    """The 1-D ``nb201`` space of :data:`SPACE`."""
    from nasforge.space import SPACES

    return SPACES.create("nb201", SPACE)


def _task_spec(num_samples: int) -> dict[str, Any]:
    return {"name": "mnist1d", "num_samples": num_samples}


def _setup(epochs: int, num_samples: int, seed: int) -> None:
    """Build this process's parts (one torch thread, so workers do not compete for cores)."""
    import numpy as np
    import torch

    from nasforge.evaluate.base import EVALUATORS
    from nasforge.evaluate.proxy import PROXIES
    from nasforge.tasks import get_task

    torch.set_num_threads(1)
    task = get_task(_task_spec(num_samples))
    task.load()
    space = _space()
    proxies = {name: PROXIES.create(name, {"task": _task_spec(num_samples)})
               for name in PROXY_NAMES}
    # one warm-up score each, so a worker's one-off costs (the data minibatch, torch's first
    # call of a kind) are not charged to the first architecture it measures
    warm_up = space.sample(np.random.default_rng(2**31))  # not the sample's stream
    for proxy in proxies.values():
        proxy.score(warm_up, space)
    _worker.update(task=task, space=space, seed=seed, proxies=proxies,
                   evaluator=EVALUATORS.create("train", {"epochs": epochs, **TRAIN}))


def measure_arch(text: str) -> dict[str, Any]:
    """Every signal of one architecture (its canonical form) and its full training, with costs.

    Raises:
        RuntimeError: a training run did not complete (its status and reason are named).
    """
    from nasforge.evaluate.base import EvalContext, run_evaluation
    from nasforge.rng import derive_seed
    from nasforge.trial import Candidate, Status

    space, task, evaluator = _worker["space"], _worker["task"], _worker["evaluator"]
    arch = space.parse(text)
    row: dict[str, Any] = {"arch": text, "seconds": {}}
    for name, proxy in _worker["proxies"].items():
        started = time.perf_counter()
        row[name] = float(proxy.score(arch, space))
        row["seconds"][name] = time.perf_counter() - started
    seed = derive_seed(_worker["seed"], "ranking", arch.arch_id)
    with tempfile.TemporaryDirectory(prefix="nasforge-ranking-") as workdir:
        ctx = EvalContext(space=space, task=task, seed=seed, workdir=workdir)
        for fidelity, key in ((1, "epoch1"), (evaluator.epochs, "full")):
            started = time.perf_counter()
            result = run_evaluation(evaluator, Candidate(arch, fidelity=fidelity), ctx)
            row["seconds"][key] = time.perf_counter() - started
            if result.status is not Status.OK:
                raise RuntimeError(f"training {text} for {fidelity} epoch(s) ended "
                                   f"{result.status.value}: {result.reason}")
            if key == "epoch1":
                row["epoch1"] = float(result.metrics["val_accuracy"])
            else:
                row["val_accuracy"] = float(result.metrics["val_accuracy"])
                row["test_accuracy"] = float(result.metrics["test_accuracy"])
                row["train_seconds"] = float(result.metrics["train_seconds"])
    return row


def _init_worker(epochs: int, num_samples: int, seed: int) -> None:
    _setup(epochs, num_samples, seed)


def sample_archs(n: int, seed: int) -> list[str]:
    """``n`` distinct architectures of the space, drawn in order from ``seed``."""
    import numpy as np

    space = _space()
    rng = np.random.default_rng(seed)
    seen: dict[str, None] = {}
    while len(seen) < n:
        seen.setdefault(space.format(space.sample(rng)), None)
    return list(seen)


def measure_supernet(archs: Sequence[str], num_samples: int, seed: int, epochs: int,
                     bn_batches: int, directory: Path | None = None
                     ) -> tuple[list[float], dict[str, Any]]:
    """Each architecture's validation accuracy (%) with weights inherited from one supernet.

    The supernet is trained once (in this process, one torch thread) by the ``supernet``
    evaluator, into ``directory`` (default: a temporary one), where a later run with the same
    training settings finds it trained (a different ``bn_batches`` only scores again); returns
    the scores in ``archs``' order and the training record with the mean scoring seconds per
    architecture.

    Raises:
        RuntimeError: the supernet's training or a scoring did not complete.
    """
    import torch

    from nasforge.evaluate.base import EvalContext, run_evaluation
    from nasforge.evaluate.supernet import SupernetEvaluator
    from nasforge.tasks import get_task
    from nasforge.trial import Candidate, Status

    torch.set_num_threads(1)
    space, task = _space(), get_task(_task_spec(num_samples))
    evaluator = SupernetEvaluator(epochs=epochs, lr=SUPERNET_LR, bn_batches=bn_batches, seed=seed,
                                  device="cpu")
    with tempfile.TemporaryDirectory(prefix="nasforge-supernet-") as temporary:
        training = evaluator.train_supernet(space, task, directory or temporary)
        if training.status != "ok":
            raise RuntimeError(f"the supernet's training ended {training.status}: "
                               f"{training.reason}")
        print(f"supernet: {training.epochs} epochs in {training.train_seconds:.1f} s "
              f"(final training loss {training.train_loss:.3f})", flush=True)
        ctx = EvalContext(space=space, task=task, seed=seed)
        scores, started = [], time.perf_counter()
        for text in archs:
            result = run_evaluation(evaluator, Candidate(space.parse(text)), ctx)
            if result.status is not Status.OK:
                raise RuntimeError(f"scoring {text} on the supernet ended "
                                   f"{result.status.value}: {result.reason}")
            scores.append(float(result.metrics["val_accuracy"]))
        seconds = (time.perf_counter() - started) / len(archs)
    record = {**training.to_dict(), "bn_batches": bn_batches, "seconds_per_arch": seconds,
              "settings": evaluator.get_params()}
    record.pop("checkpoint")
    return scores, record


def correlations(signal: Sequence[float], target: Sequence[float]) -> tuple[float, float, int]:
    """Kendall τ-b and Spearman ρ of ``signal`` against ``target``, and the pairs used.

    ``-inf`` scores rank lowest; NaN scores are left out. A constant signal has no ranking
    (both are NaN).
    """
    from scipy.stats import kendalltau, spearmanr

    pairs = [(s, t) for s, t in zip(signal, target, strict=True) if not math.isnan(s)]
    if len(pairs) < 3 or len({s for s, _ in pairs}) < 2:
        return math.nan, math.nan, len(pairs)
    # ranks, not values: -inf is an ordinary lowest value for a rank correlation
    xs = [max(s, -sys.float_info.max) for s, _ in pairs]
    ys = [t for _, t in pairs]
    return (float(kendalltau(xs, ys).statistic), float(spearmanr(xs, ys).statistic),
            len(pairs))


def _json_value(x: Any) -> Any:
    """``x`` as strict JSON allows: a non-finite float becomes its name (``"-inf"``)."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def _rounded(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 4)


def summarise(rows: Sequence[dict[str, Any]], signals: Sequence[str] = SIGNALS
              ) -> dict[str, dict[str, Any]]:
    """The ``ranking`` entry: each signal's correlations with validation and test accuracy and
    its mean cost per architecture."""
    val = [r["val_accuracy"] for r in rows]
    test = [r["test_accuracy"] for r in rows]
    ranking: dict[str, dict[str, Any]] = {}
    for name in signals:
        scores = [r[name] for r in rows]
        kendall, spearman, used = correlations(scores, val)
        kendall_test, spearman_test, _ = correlations(scores, test)
        seconds = sum(r["seconds"][name] for r in rows) / len(rows)
        ranking[name] = {
            "kendall": _rounded(kendall), "spearman": _rounded(spearman),
            "kendall_test": _rounded(kendall_test), "spearman_test": _rounded(spearman_test),
            "n_archs": used, "seconds_per_arch": round(seconds, 4),
        }
    return ranking


def measure(archs: Sequence[str], epochs: int, workers: int, num_samples: int,
            seed: int) -> list[dict[str, Any]]:
    """The rows of :func:`measure_arch` for ``archs``, in their order, over ``workers``
    processes (spawned; ``1`` runs in this process)."""
    if workers == 1:
        _setup(epochs, num_samples, seed)
        return [_report(measure_arch(a), i, len(archs)) for i, a in enumerate(archs)]
    done: dict[str, dict[str, Any]] = {}
    with mp.get_context("spawn").Pool(workers, _init_worker,
                                      (epochs, num_samples, seed)) as pool:
        for row in pool.imap_unordered(measure_arch, archs, chunksize=1):
            done[row["arch"]] = _report(row, len(done), len(archs))
    return [done[a] for a in archs]


def _report(row: dict[str, Any], index: int, total: int) -> dict[str, Any]:
    print(f"[{index + 1}/{total}] val {row['val_accuracy']:.2f}% test "
          f"{row['test_accuracy']:.2f}% epoch1 {row['epoch1']:.2f}% "
          f"({row['seconds']['full'] + row['seconds']['epoch1']:.1f} s) {row['arch']}",
          flush=True)
    return row


def merge_into(out: Path, entries: dict[str, Any]) -> None:
    """Write ``entries``' keys into the JSON file ``out``, keeping its other keys."""
    data: dict[str, Any] = {}
    if out.exists():
        data = json.loads(out.read_text())
    data.update(entries)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _cell(x: float | None) -> str:
    return "    n/a" if x is None else f"{x:+7.3f}"


def print_table(ranking: dict[str, dict[str, Any]], meta: dict[str, Any]) -> None:
    print(f"\nRanking of {meta['n_archs']} MNIST-1D nb201 architectures against "
          f"{meta['epochs']}-epoch stand-alone training")
    print(f"{'signal':<10} {'tau val':>7} {'rho val':>7} {'tau test':>8} {'rho test':>8} "
          f"{'n':>3} {'s/arch':>8}")
    for name, r in ranking.items():
        print(f"{name:<10} {_cell(r['kendall'])} {_cell(r['spearman'])} "
              f" {_cell(r['kendall_test'])}  {_cell(r['spearman_test'])} {r['n_archs']:>3} "
              f"{r['seconds_per_arch']:>8.3f}")
    ref = meta["val_vs_test"]
    print(f"{'val->test':<10} {_cell(ref['kendall'])} {_cell(ref['spearman'])}  (validation "
          f"accuracy as a predictor of test accuracy, for reference)")
    sup = meta["supernet"]
    print(f"full training: {meta['full_training_seconds_per_arch']:.1f} s/arch; supernet: trained "
          f"once, {sup['epochs']} epochs in {sup['train_seconds']:.1f} s, then "
          f"{sup['seconds_per_arch']:.2f} s/arch to score ({sup['bn_batches']} BN batches)")


def _stored(args: argparse.Namespace) -> dict[str, Any] | None:
    """The results in ``args.out`` when they were measured with ``args``' settings."""
    if not args.out.exists():
        return None
    data: dict[str, Any] = json.loads(args.out.read_text())
    meta = data.get("_ranking_meta")
    if not meta or "ranking" not in data:
        return None
    same = (meta.get("n_archs") == args.n and meta.get("epochs") == args.epochs
            and meta.get("seed") == args.seed and meta.get("task") == _task_spec(args.num_samples)
            and meta.get("space") == {"name": "nb201", **SPACE}
            and [r["arch"] for r in meta.get("archs", [])] == sample_archs(args.n, args.seed))
    return data if same else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=50, help="architectures to sample (>= 3)")
    parser.add_argument("--epochs", type=int, default=15, help="epochs of the full training")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=RESULTS / "oneshot.json")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the sample of architectures and each training run")
    parser.add_argument("--num-samples", type=int, default=5000,
                        help="MNIST-1D examples generated (train + test; the task's default)")
    parser.add_argument("--supernet-epochs", type=int, default=SUPERNET_EPOCHS,
                        help="epochs of the supernet's uniform single-path training")
    parser.add_argument("--bn-batches", type=int, default=BN_BATCHES,
                        help="BatchNorm re-calibration batches before each supernet score")
    parser.add_argument("--supernet-dir", type=Path, default=None,
                        help="keep the trained supernet here (default: a temporary folder); a "
                             "later run with the same training settings only scores again")
    parser.add_argument("--reuse", action="store_true",
                        help="take stand-alone training and the other signals from --out; "
                             "measure only the supernet")
    args = parser.parse_args(argv)
    if args.n < 3:
        parser.error(f"--n must be at least 3 (a rank correlation needs points); got {args.n}")
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1; got {args.epochs}")
    if args.workers < 1:
        parser.error(f"--workers must be at least 1; got {args.workers}")
    if args.seed < 0:
        parser.error(f"--seed must be a non-negative integer; got {args.seed}")
    if args.supernet_epochs < 1:
        parser.error(f"--supernet-epochs must be at least 1; got {args.supernet_epochs}")
    if args.bn_batches < 0:
        parser.error(f"--bn-batches must be 0 or more; got {args.bn_batches}")

    from nasforge.errors import ConfigError
    from nasforge.tasks import get_task

    try:
        get_task(_task_spec(args.num_samples))
    except ConfigError as exc:
        parser.error(f"--num-samples: {exc}")
    size = _space().size
    if args.n > size:
        parser.error(f"--n {args.n} is more than the space's {int(size)} architectures; use at "
                     f"most {int(size)}")

    stored: dict[str, Any] | None = None
    if args.reuse:
        stored = _stored(args)
        if stored is None:
            parser.error(f"--reuse: {args.out} holds no stand-alone results of --n {args.n}, "
                         f"--epochs {args.epochs}, --seed {args.seed}, --num-samples "
                         f"{args.num_samples} on this space; run without --reuse first")

    started = time.perf_counter()
    if stored is None:
        rows = measure(sample_archs(args.n, args.seed), args.epochs, args.workers,
                       args.num_samples, args.seed)
    else:
        rows = [{**r, "seconds": {}} for r in stored["_ranking_meta"]["archs"]]
    scores, supernet = measure_supernet([r["arch"] for r in rows], args.num_samples, args.seed,
                                        args.supernet_epochs, args.bn_batches,
                                        args.supernet_dir)
    for row, score in zip(rows, scores, strict=True):
        row["supernet"] = score
        row["seconds"]["supernet"] = supernet["seconds_per_arch"]
    if stored is None:
        ranking = summarise(rows)
    else:  # the other signals as stored; only the supernet's row is new
        ranking = {"supernet": summarise(rows, ["supernet"])["supernet"],
                   **{k: v for k, v in stored["ranking"].items() if k != "supernet"}}
    ranking["supernet"]["train_seconds"] = round(supernet["train_seconds"], 1)
    kendall, spearman, _ = correlations([r["val_accuracy"] for r in rows],
                                        [r["test_accuracy"] for r in rows])
    meta = {
        "supernet": supernet,
        "target": "stand-alone training: val_accuracy (kendall, spearman) and test_accuracy "
                  "(kendall_test, spearman_test) of the train evaluator, best epoch's weights",
        "n_archs": len(rows), "epochs": args.epochs, "seed": args.seed,
        "workers": args.workers, "space": {"name": "nb201", **SPACE}, "train": dict(TRAIN),
        "task": _task_spec(args.num_samples),
        "val_vs_test": {"kendall": _rounded(kendall), "spearman": _rounded(spearman)},
        "full_training_seconds_per_arch": round(
            sum(r["seconds"]["full"] + r["seconds"]["epoch1"] for r in rows) / len(rows), 2)
        if stored is None else stored["_ranking_meta"]["full_training_seconds_per_arch"],
        "seconds_note": "wall seconds per architecture in one worker process with one torch "
                        "thread; a proxy's include building the untrained network; epoch1's "
                        "is its 1-epoch evaluation, and full training continues from it",
        "minus_inf_scores": {name: sum(r[name] == -math.inf for r in rows)
                             for name in PROXY_NAMES},
        "archs": [{k: _json_value(v) for k, v in r.items() if k != "seconds"} for r in rows],
        "wall_s": round(time.perf_counter() - started, 1),
    }
    if stored is not None:
        before = stored["_ranking_meta"]
        meta["standalone_wall_s"] = before.get("standalone_wall_s", before["wall_s"])
        meta["reused"] = ("stand-alone training and the zero-cost/epoch1 rows are those stored "
                          f"by the full run (wall time {meta['standalone_wall_s']} s); wall_s is "
                          "the supernet's alone")
        meta["workers"] = before["workers"]
    merge_into(args.out, {"ranking": ranking, "_ranking_meta": meta})
    print_table(ranking, meta)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Scratch benchmark for the model-based strategies on the NAS-Bench-201 table (dev only).

Drives strategies directly with ask/tell (no study, no store) and prints the mean test accuracy of
the best-by-validation architecture at a few query budgets (for ImageNet16-120 also the validation
regret). The proper benchmark is ``benchmarks/nb201.py``.

    .venv/bin/python benchmarks/_dev_bananas.py --strategy bananas --seeds 0-19 \
        --datasets cifar10 --budgets 25,50,100 --set steps=200 --proxy naswot
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from typing import Any

import numpy as np
import pandas as pd

from nasforge.evaluate.proxy.base import PROXIES, Proxy
from nasforge.objective import Objective
from nasforge.space._nb201 import NB201Space, arch_to_nb201
from nasforge.strategy import _bananas, _bo, _zc  # noqa: F401  (registers the strategies)
from nasforge.strategy.base import STRATEGIES
from nasforge.trial import Candidate, Result, Trial, TrialState

TABLE = os.environ.get("NASFORGE_NB201", "/work/shared/data/nasbench201/nb201_table.csv.gz")
COLUMNS = {
    "cifar10": ("c10v_val_acc_200", "c10_test_acc_200", "c10"),
    "cifar100": ("c100_val_acc_200", "c100_test_acc_200", "c100"),
    "imagenet16-120": ("in_val_acc_200", "in_test_acc_200", "in"),
}
_TABLE: pd.DataFrame | None = None


def table() -> pd.DataFrame:
    global _TABLE
    if _TABLE is None:
        _TABLE = pd.read_csv(TABLE).set_index("arch")
    return _TABLE


class DevTableProxy(Proxy):
    """A proxy reading a column of the table (stand-in until the real ``nb201_table`` exists)."""

    def __init__(self, *, column: str = "c10_naswot") -> None:
        self.column = column

    def score(self, arch: Any, space: Any) -> float:
        return float(table().at[arch_to_nb201(arch), self.column])


if "dev_table" not in PROXIES:
    PROXIES.register("dev_table")(DevTableProxy)


def run_one(job: tuple[str, dict[str, Any], str, int, list[int]]) -> dict[str, Any]:
    name, params, dataset, seed, budgets = job
    val_col, test_col, _ = COLUMNS[dataset]
    df = table()
    val, test = df[val_col].to_dict(), df[test_col].to_dict()
    space = NB201Space()
    strategy = STRATEGIES.create(name, params)
    strategy.setup(space, [Objective(metric="val_accuracy")], seed)
    best_val, best_test = -1.0, 0.0
    out: dict[str, Any] = {}
    seen: set[str] = set()
    start = time.perf_counter()
    number = 0
    while len(seen) < max(budgets):
        cand = strategy.ask(number)
        if cand is None:
            break
        key = arch_to_nb201(cand.arch)
        seen.add(key)
        res = Result(metrics={"val_accuracy": val[key]})
        strategy.tell(
            Trial(0, number, Candidate(cand.arch), TrialState.COMPLETE, res, number, number)
        )
        number += 1
        if val[key] > best_val:
            best_val, best_test = val[key], test[key]
        if len(seen) in budgets:
            out[str(len(seen))] = (best_test, best_val)
    out["seconds"] = time.perf_counter() - start
    out["proxy_scores"] = getattr(strategy, "n_proxy_scores", 0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--strategy", default="bananas")
    parser.add_argument("--seeds", default="0-19")
    parser.add_argument("--datasets", default="cifar10")
    parser.add_argument("--budgets", default="25,50,100")
    parser.add_argument("--set", action="append", default=[], help="param=json value")
    parser.add_argument("--proxy", default="", help="proxy column suffix, e.g. naswot")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    lo, _, hi = args.seeds.partition("-")
    seeds = list(range(int(lo), int(hi or lo) + 1))
    budgets = [int(b) for b in args.budgets.split(",")]
    params: dict[str, Any] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        params[key] = json.loads(value)
    for dataset in args.datasets.split(","):
        p = dict(params)
        if args.proxy:
            p["proxy"] = {"name": "dev_table", "column": f"{COLUMNS[dataset][2]}_{args.proxy}"}
        jobs = [(args.strategy, p, dataset, s, budgets) for s in seeds]
        with multiprocessing.get_context("fork").Pool(args.workers) as pool:
            results = pool.map(run_one, jobs)
        best_val = float(table()[COLUMNS[dataset][0]].max())
        line = [f"{dataset:15s} {args.strategy} {json.dumps(p)}"]
        for b in budgets:
            tests = [r[str(b)][0] for r in results if str(b) in r]
            vals = [r[str(b)][1] for r in results if str(b) in r]
            line.append(
                f"@{b}: test {np.mean(tests):.3f}±{np.std(tests):.2f} "
                f"regret {best_val - np.mean(vals):.3f}"
            )
        secs = np.mean([r["seconds"] for r in results])
        zc = np.mean([r["proxy_scores"] for r in results])
        line.append(f"[{secs:.1f}s/run, {zc:.0f} proxy scores]")
        print("  ".join(line), flush=True)


if __name__ == "__main__":
    main()

"""Fuzz every user input (nasforge.testing.fuzz) and count what happened to each input.

For each target, hypothesis draws ``--examples`` inputs (valid ones mixed with mutated ones); each
input either works, is refused with a clear error, or is an *uncaught* failure (a finding). Prints
a table and writes ``benchmarks/results/fuzz.json`` with the counts, the findings and the machine
load. There is no peer to compare with: the target is 0 uncaught over >= 10,000 inputs.

    .venv/bin/python benchmarks/fuzz.py --examples 1200
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings

from nasforge.testing.fuzz import Target, Uncaught, targets


def run_target(target: Target, examples: int, seed: int) -> float:
    """Feed ``examples`` generated inputs to ``target``; findings are counted, not raised."""

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(target.inputs())
    def prop(value: object) -> None:
        # counted; keep going so the count is of inputs, not of the first failure
        with contextlib.suppress(Uncaught):
            target.check(value)

    start = time.perf_counter()
    prop._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
    prop()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1200, help="inputs per target")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--only", nargs="*", help="target names (default: all)")
    parser.add_argument("--out", default="benchmarks/results/fuzz.json")
    args = parser.parse_args()
    rows = []
    for name, target in targets().items():
        if args.only and name not in args.only:
            continue
        seconds = run_target(target, args.examples, args.seed)
        c = target.counts
        rows.append({"target": name, "tried": sum(c.values()), "worked": c["ok"],
                     "clear_errors": c["clear"], "uncaught": c["uncaught"],
                     "seconds": round(seconds, 1), "findings": target.findings[:20]})
        print(f"{name:16} tried {rows[-1]['tried']:6}  ok {c['ok']:6}  clear {c['clear']:6}  "
              f"uncaught {c['uncaught']:4}  {seconds:6.1f}s", flush=True)
    total = {k: sum(r[k] for r in rows) for k in ("tried", "worked", "clear_errors", "uncaught")}
    print(f"{'total':16} tried {total['tried']:6}  ok {total['worked']:6}  "
          f"clear {total['clear_errors']:6}  uncaught {total['uncaught']:4}")
    load = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({
        "examples_per_target": args.examples, "seed": args.seed, "targets": rows,
        "total": total, "target_met": total["tried"] >= 10_000 and total["uncaught"] == 0,
        "load_avg_1_5_15": [round(x, 2) for x in load], "cpus": os.cpu_count(),
    }, indent=1) + "\n")


if __name__ == "__main__":
    main()

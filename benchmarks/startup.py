"""Start-up time of the ``nasforge`` command and of ``import nasforge``, beside ``import torch``.

Each figure is the median wall time of whole processes, each a fresh interpreter started with
``subprocess``, so it includes interpreter start-up and every import, as a user waits for it:

- ``nasforge --help`` (the installed console script next to this Python);
- ``python -c "import nasforge"``;
- ``python -c "import torch"``, the reference: nasforge must not pay for it before it needs it.

The commands run interleaved, one of each per round, after one untimed warm-up round (so the
file cache is warm for all alike).

    python benchmarks/startup.py --runs 10

writes ``benchmarks/results/startup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "results" / "startup.json"


def commands() -> dict[str, list[str]]:
    """The timed commands by result key (the console script, else ``python -m nasforge``)."""
    script = Path(sys.executable).with_name("nasforge.exe" if os.name == "nt" else "nasforge")
    help_cmd = [str(script), "--help"] if script.is_file() else [
        sys.executable, "-m", "nasforge", "--help"]
    return {
        "nasforge_help_s": help_cmd,
        "import_nasforge_s": [sys.executable, "-c", "import nasforge"],
        "import_torch_s": [sys.executable, "-c", "import torch"],
    }


def time_once(cmd: list[str]) -> float:
    """Wall seconds of one run of ``cmd``; raises if it fails."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def measure(cmds: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    """``runs`` timings of each command, interleaved, after one untimed warm-up round."""
    samples: dict[str, list[float]] = {key: [] for key in cmds}
    for round_ in range(runs + 1):
        for key, cmd in cmds.items():
            seconds = time_once(cmd)
            if round_:
                samples[key].append(seconds)
    return samples


def summarise(samples: dict[str, list[float]], cmds: dict[str, list[str]]) -> dict[str, Any]:
    """The JSON written: medians by key, then samples, ratios and the environment."""
    medians = {key: statistics.median(values) for key, values in samples.items()}
    torch_s = medians["import_torch_s"]
    import nasforge

    try:
        torch_version: str | None = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = None
    return {
        **{key: round(value, 4) for key, value in medians.items()},
        "ratio_to_import_torch": {
            key: round(value / torch_s, 3) for key, value in medians.items() if torch_s > 0
        },
        "runs": len(next(iter(samples.values()))),
        "samples_s": {key: [round(v, 4) for v in values] for key, values in samples.items()},
        "min_s": {key: round(min(values), 4) for key, values in samples.items()},
        "commands": {key: shlex.join([Path(cmd[0]).name, *cmd[1:]]) for key, cmd in cmds.items()},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        # Other work on the machine slows every command alike; the ratios are the robust part.
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "nasforge": nasforge.__version__,
        "torch": torch_version,
    }


def table(result: dict[str, Any]) -> str:
    torch_s = result["import_torch_s"]
    lines = [f"{'command':<30} {'median s':>9} {'min s':>7} {'vs import torch':>16}"]
    for key, command in result["commands"].items():
        ratio = result[key] / torch_s if torch_s > 0 else float("nan")
        lines.append(f"{command:<30} {result[key]:>9.3f} {result['min_s'][key]:>7.3f} "
                     f"{ratio:>15.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each command")
    parser.add_argument("--out", type=Path, default=OUT, help="JSON file to write")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be >= 1, got {args.runs}")
    cmds = commands()
    result = summarise(measure(cmds, args.runs), cmds)
    print(f"median of {args.runs} fresh processes each (Python {result['python']}, "
          f"{result['cpus']} CPUs, load average {result['load_average_1m']})")
    print(table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()

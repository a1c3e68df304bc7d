"""`snapshot()`: the machine a benchmark ran on and how busy it was, for its results JSON.

Timing and throughput figures on a shared machine mean little without the load beside them,
so the reliability benchmarks (chaos, faults, store_load) record this before and after a run.
"""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Any


def snapshot() -> dict[str, Any]:
    """CPU count, load averages (1, 5, 15 min), ``uptime``'s line, Python and platform."""
    try:
        up = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    except OSError:  # no uptime binary (a minimal container): the load averages still say it
        up = ""
    return {"cpus": os.cpu_count(), "load": [round(x, 2) for x in os.getloadavg()],
            "uptime": up.strip(), "python": platform.python_version(),
            "platform": platform.platform()}

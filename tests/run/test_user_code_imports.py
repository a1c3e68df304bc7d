"""When a study's user code (a define-by-run space given by file) is imported: `ls` and the
dashboard's study list import none, and opening one study (`show`, `report`, a dashboard study
page) imports that study's code only, never the code of the other studies in the folder. Each
entry point runs in a fresh process, so an import shows up as a line in the marker file the
user module appends to when it is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nasforge.testing.toys  # noqa: F401  (registers the toy task and evaluator)
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study

USER_MODULE = '''
from pathlib import Path
from torch import nn
with open({marker!r}, "a") as f:
    f.write({name!r} + "\\n")

def net(a, task):
    width = a.choice("width", [2, 4])
    return nn.Sequential(nn.Flatten(), nn.LazyLinear(width), nn.LazyLinear(task.n_outputs))

def fit(model, task, trial):
    return {{"val_accuracy": 0.5 + 0.1 * trial.number}}
'''


def _study(root: Path, name: str, marker: Path) -> None:
    module = root / f"user_{name}.py"
    module.write_text(USER_MODULE.format(marker=str(marker), name=name))
    spec = {"name": name, "seed": 1, "task": "toy", "root": str(root / "studies"),
            "space": {"name": "function", "path": f"{module}:net"},
            "strategy": "random", "executor": "inline",
            "evaluator": {"name": "function", "path": f"{module}:fit"},
            "budget": {"trials": 2}, "export_best": False}
    Study.create(parse_spec(spec)).run().close()


def _fresh_process(*args: str) -> str:
    """Run ``python ARGS`` in a new process (toys registered); its stdout."""
    env = {**os.environ, "NASFORGE_PLUGINS": "nasforge.testing.toys"}
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _two_studies(tmp_path: Path, marker: Path) -> Path:
    _study(tmp_path, "a", marker)
    _study(tmp_path, "b", marker)
    return tmp_path / "studies"


def _imports(marker: Path, *args: str) -> list[str]:
    marker.write_text("")
    _fresh_process("-m", "nasforge", *args)
    return marker.read_text().split()


def test_listing_imports_no_user_code_and_opening_a_study_imports_only_its_own(
    tmp_path: Path
) -> None:
    marker = tmp_path / "imported.txt"
    studies = _two_studies(tmp_path, marker)
    assert _imports(marker, "ls", str(studies)) == []
    shown = _imports(marker, "show", str(studies / "a"))
    assert set(shown) <= {"a"}
    assert set(_imports(marker, "report", str(studies / "b"), "--out",
                        str(tmp_path / "report.html"), "--no-pngs")) <= {"b"}


DASHBOARD = '''
import json, sys
from pathlib import Path
from fastapi.testclient import TestClient
from nasforge.report.dashboard import Studies
from nasforge.report.dashboard._app import create_app

marker = Path(sys.argv[2])
client = TestClient(create_app(Studies(Path(sys.argv[1])), "master"))
seen = {}
listing = client.get("/api/studies")
seen["list"] = marker.read_text().split()
seen["list_arch"] = [s["best"]["arch"] for s in listing.json()]
client.get("/api/studies/a")
seen["open_a"] = marker.read_text().split()
seen["a_arch"] = client.get("/api/studies/a/trials").json()[0]["arch"]
seen["list_again"] = [s["best"]["arch"] for s in client.get("/api/studies").json()]
print(json.dumps(seen))
'''


def test_the_dashboard_list_imports_no_user_code_and_a_study_page_only_its_own(
    tmp_path: Path
) -> None:
    import json

    marker = tmp_path / "imported.txt"
    studies = _two_studies(tmp_path, marker)
    marker.write_text("")
    script = tmp_path / "dash.py"
    script.write_text(DASHBOARD)
    out = _fresh_process(str(script), str(studies), str(marker))
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["list"] == []  # the list of two studies ran neither's code
    assert seen["open_a"] == ["a"]  # opening a ran a's code, not b's
    assert len(seen["list_arch"]) == 2 and all(seen["list_arch"])  # each best, in stored form
    assert seen["a_arch"] and seen["list_again"][1] == seen["list_arch"][1]

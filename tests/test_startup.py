"""Start-up stays light: what ``import nasforge`` and ``nasforge --help`` import, and extras.

These check *which modules* load, in fresh interpreters, never how long it takes; the timings are
``benchmarks/startup.py``'s job. A failure names the import chain that pulled the module in.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import nasforge
from nasforge.imports import (
    EXTRAS,
    MissingDependencyError,
    missing_modules,
    require_extra,
    try_import,
)

ROOT = Path(__file__).parents[1]
HEAVY = ("torch", "onnx", "onnxruntime", "onnxscript", "matplotlib", "pandas")
HELP_HEAVY = (*HEAVY, "numpy", "scipy", "sklearn")

# The test session sets NASFORGE_PLUGINS (tests/conftest.py); plugins may import what they like.
ENV = {k: v for k, v in os.environ.items() if k != "NASFORGE_PLUGINS"}

_REPORT = (
    "import json, sys; "
    "print(json.dumps(sorted(m for m in {names!r} if m in sys.modules)))"
)


def _loaded(code: str, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` are in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\n{_REPORT.format(names=names)}"],
        capture_output=True, text=True, check=True, cwd=ROOT, env=ENV, timeout=120,
    ).stdout
    return list(json.loads(out.strip().splitlines()[-1]))


def _chain(code: str, module: str) -> list[str]:
    """The import chain (outermost first) through which ``code`` first imported ``module``."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True,
                         text=True, cwd=ROOT, env=ENV, timeout=120).stderr
    rows = []
    for line in err.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+\d+ \|( *)(\S+)", line)
        if match:
            rows.append((len(match.group(1)), match.group(2)))
    for i, (depth, name) in enumerate(rows):
        if name == module:  # importtime prints a module after its imports: walk up the tree
            chain = [name]
            for d, parent in rows[i + 1:]:
                if d < depth:
                    chain.append(parent)
                    depth = d
            return chain[::-1]
    return []


HELP = "from nasforge.cli.main import main\nrc = main(['--help'])\nassert rc == 0, rc"


def test_import_nasforge_loads_no_heavy_dependency() -> None:
    loaded = _loaded("import nasforge", HEAVY)
    assert loaded == [], {m: " -> ".join(_chain("import nasforge", m)) for m in loaded}


def test_help_loads_neither_torch_nor_numpy() -> None:
    loaded = _loaded(HELP, HELP_HEAVY)
    assert loaded == [], {m: " -> ".join(_chain(HELP, m)) for m in loaded}


def test_version_loads_no_heavy_dependency() -> None:
    code = "from nasforge.cli.main import main\nrc = main(['--version'])"
    assert _loaded(code, HELP_HEAVY) == []


def test_public_names_resolve_lazily() -> None:
    import nasforge as nf

    assert nf.space.NB201 is nf.space.NB201Space
    assert nf.Budget(trials=3).trials == 3
    assert callable(nf.search) and callable(nf.load) and callable(nf.open_study)
    assert nf.evaluate.Train is nf.evaluate.TrainEvaluator
    assert nf.strategy.RegularizedEvolution.__name__ == "RegularizedEvolution"
    for name in nasforge.__all__:
        assert getattr(nasforge, name) is not None, name
    assert set(nasforge.__all__) <= set(dir(nasforge))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        nasforge.nope  # noqa: B018


def test_registration_does_not_depend_on_what_was_imported() -> None:
    code = (
        "from nasforge.run.parts import registries\n"
        "r = registries()\n"
        "assert {'nb201', 'chain', 'mlp'} <= set(r['space'].names()), r['space'].names()\n"
        "assert 'regularized_evolution' in r['strategy'].names()\n"
        "assert {'train', 'nb201_table'} <= set(r['evaluator'].names())\n"
        "assert 'mnist1d' in r['task'].names() and 'process' in r['executor'].names()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


# -- optional dependencies ---------------------------------------------------------------------


def test_extras_match_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    core = " ".join(project["dependencies"])
    for extra, modules in EXTRAS.items():
        declared = " ".join(extras[extra])
        for module in modules:
            assert module in declared, f"{module} missing from the {extra!r} extra"
            assert module not in core, f"{module} must not be a core dependency"
    assert extras["all"] == [f"nasforge[{','.join(EXTRAS)}]"]


def test_try_import_defers_a_missing_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    with try_import("onnx", "Running an ONNX export", "pass onnx=False") as imports:
        import onnxruntime  # noqa: F401
    assert not imports.is_successful()
    with pytest.raises(MissingDependencyError) as info:
        imports.check()
    error = info.value
    assert isinstance(error, ImportError) and error.name == "onnxruntime"
    assert (error.module, error.extra, error.feature) == ("onnxruntime", "onnx",
                                                          "Running an ONNX export")
    message = str(error)
    assert "Running an ONNX export needs the 'onnxruntime' package" in message
    assert "pip install 'nasforge[onnx]'" in message and "or pass onnx=False" in message


def test_try_import_succeeds_quietly() -> None:
    with try_import("plot", "Plotting") as imports:
        import json as _json  # noqa: F401
    assert imports.is_successful()
    imports.check()


def test_try_import_lets_other_errors_through() -> None:
    with pytest.raises(ZeroDivisionError), try_import("plot", "Plotting"):
        1 / 0  # noqa: B018


def test_unknown_extra_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown extra 'plots'; known extras: onnx, plot"):
        try_import("plots", "Plotting")


def test_require_extra_names_the_first_missing_module(monkeypatch: pytest.MonkeyPatch) -> None:
    assert missing_modules("pandas") == ([] if importlib.util.find_spec("pandas") else ["pandas"])
    monkeypatch.setitem(sys.modules, "pandas", None)
    assert missing_modules("pandas") == ["pandas"]
    with pytest.raises(MissingDependencyError, match=r"pip install 'nasforge\[pandas\]'\)"):
        require_extra("pandas", "Reading a CSV task")


def test_startup_benchmark_writes_the_figures(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("startup_script", ROOT / "benchmarks" /
                                                  "startup.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    cheap = {"nasforge_help_s": [sys.executable, "-c", "pass"],
             "import_nasforge_s": [sys.executable, "-c", "import nasforge"],
             "import_torch_s": [sys.executable, "-c", "pass"]}
    monkeypatch.setattr(script, "commands", lambda: cheap)
    out = tmp_path / "startup.json"
    script.main(["--runs", "2", "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["runs"] == 2 and len(result["samples_s"]["import_nasforge_s"]) == 2
    for key in ("nasforge_help_s", "import_nasforge_s", "import_torch_s"):
        assert result[key] > 0
    assert "import nasforge" in script.table(result)

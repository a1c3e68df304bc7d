"""A static scan of ``src/nasforge``: no call that runs untrusted text or data as code.

Issue 12 (Security) asks that weights load with ``torch.load(weights_only=True)``, YAML goes
through ``safe_load``, nothing is ``eval``-ed and no untrusted data is unpickled. This test keeps
it true: it walks every module of the package with :mod:`ast` and fails on each banned call that
the allow-list below does not name. Each allow-list entry says why that use is safe, and must
still match a call (a stale entry fails too), so the list cannot rot.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "nasforge"

_PICKLE_LIKE = {
    f"{module}.{function}"
    for module in ("pickle", "cloudpickle", "ray.cloudpickle", "marshal", "_pickle")
    for function in ("load", "loads", "Unpickler")
}
_YAML_UNSAFE = {"yaml.unsafe_load", "yaml.unsafe_load_all", "yaml.full_load",
                "yaml.full_load_all"}
_YAML_LOADERS = {"yaml.load", "yaml.load_all"}
_SHELLS = {"os.system", "os.popen", "os.popen2", "os.popen3", "commands.getoutput",
           "commands.getstatusoutput"}


@dataclass(frozen=True)
class Finding:
    """One banned call: the file (relative to ``src/nasforge``), the call as its rule names it
    (``pickle.loads``, ``torch.load``, ``eval``), and the line."""

    path: str
    call: str
    line: int

    def __str__(self) -> str:
        return f"src/nasforge/{self.path}:{self.line}: {self.call}"


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> dotted origin, from the module's imports (``import pickle as p``, ``from
    pickle import loads``), so an aliased call is caught under its real name."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_constant(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _banned(call: ast.Call, aliases: dict[str, str]) -> str | None:
    """The rule ``call`` breaks, named as the call it is, or ``None``."""
    name = _dotted(call.func, aliases)
    if name is None:  # a method of a call's result: tarfile.open(p).extractall(d)
        if not isinstance(call.func, ast.Attribute):
            return None
        name = f"<expression>.{call.func.attr}"
    last = name.rsplit(".", 1)[-1]
    if name in ("eval", "exec", "compile", "builtins.eval", "builtins.exec", "builtins.compile"):
        return name.removeprefix("builtins.")
    if name in ("__import__", "builtins.__import__"):
        first = call.args[0] if call.args else _keyword(call, "name")
        return None if isinstance(first, ast.Constant) else "__import__"
    if name in _PICKLE_LIKE:
        return name.removeprefix("ray.")
    if name == "dill" or name.startswith("dill.") or name == "shelve.open":
        return name
    if name in _YAML_UNSAFE:
        return name
    loader = _keyword(call, "Loader")
    if name in _YAML_LOADERS:
        if loader is None and len(call.args) > 1:
            loader = call.args[1]
        text = None if loader is None else _dotted(loader, aliases)
        return None if text is not None and "Safe" in text.rsplit(".", 1)[-1] else name
    if loader is not None and "Safe" not in (_dotted(loader, aliases) or ""):
        return f"{name}(Loader=...)"
    if name == "torch.load":
        return None if _is_constant(_keyword(call, "weights_only"), True) else name
    if name in _SHELLS:
        return name
    if name.startswith("subprocess.") or name.startswith("asyncio.create_subprocess"):
        shell = _keyword(call, "shell")
        if name == "asyncio.create_subprocess_shell" or (
            shell is not None and not _is_constant(shell, False)
        ):
            return f"{name}(shell=True)"
        return None
    if last == "extractall" and _keyword(call, "filter") is None:
        return "extractall"
    if last == "exec_module":  # runs a file as code: only where the file is known
        return "exec_module"
    return None


def scan_source(source: str, path: str = "<snippet>") -> list[Finding]:
    """Every banned call in ``source``."""
    tree = ast.parse(source)
    aliases = _aliases(tree)
    return [
        Finding(path, rule, node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and (rule := _banned(node, aliases)) is not None
    ]


def scan_package(root: Path = SRC) -> list[Finding]:
    found: list[Finding] = []
    for file in sorted(root.rglob("*.py")):
        found += scan_source(file.read_text(encoding="utf-8"), file.relative_to(root).as_posix())
    return found


ALLOWED: dict[tuple[str, str], str] = {
    ("execute/pool.py", "pickle.loads"):
        "calls and results between the driver and its own worker processes, over a private "
        "pipe that nothing else can write to; and a result's pickle checked before it is sent",
    ("execute/ray.py", "pickle.loads"):
        "a call the driver pickled for its own Ray task (Ray's object store is the cluster's "
        "trusted transport)",
    ("references.py", "exec_module"):
        "load_file imports the user's own file that a study names (space, evaluator, task): "
        "the documented import of user modules when the user opens that study",
    ("export/_generated.py", "exec_module"):
        "checks the module file export just generated, in a folder it just wrote",
    ("testing/space_contract.py", "pickle.loads"):
        "the contract suite round-trips an object this process has just pickled",
    ("testing/strategy_contract.py", "pickle.loads"):
        "the contract suite round-trips a strategy this process has just pickled",
}
"""(file, call) -> why it is safe. Every banned call in src must be named here."""


def test_src_has_no_banned_call_outside_the_allow_list() -> None:
    found = scan_package()
    unexplained = [f for f in found if (f.path, f.call) not in ALLOWED]
    assert not unexplained, (
        "calls that may run untrusted text or data as code (use yaml.safe_load, "
        "torch.load(..., weights_only=True), ast.literal_eval, an argument list instead of "
        "shell=True; or add an allow-list entry with its reason):\n"
        + "\n".join(map(str, unexplained))
    )


def test_every_allow_list_entry_still_matches_a_call() -> None:
    used = {(f.path, f.call) for f in scan_package()}
    stale = [f"{path}: {call}" for path, call in ALLOWED if (path, call) not in used]
    assert not stale, f"allow-list entries that match no call any more (remove them): {stale}"


def test_the_scan_reads_every_module() -> None:
    files = list(SRC.rglob("*.py"))
    assert len(files) > 100  # the whole package, not an empty or wrong folder
    assert any(f.call == "pickle.loads" for f in scan_package())


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        pytest.param("eval(text)", "eval", id="eval"),
        pytest.param("exec('x = 1')", "exec", id="exec"),
        pytest.param("code = compile(text, 'f', 'exec')", "compile", id="compile"),
        pytest.param("import builtins\nbuiltins.eval(s)", "eval", id="builtins.eval"),
        pytest.param("import yaml\nyaml.load(f)", "yaml.load", id="yaml.load"),
        pytest.param("import yaml\nyaml.load(f, Loader=yaml.Loader)", "yaml.load",
                     id="yaml.load-Loader"),
        pytest.param("import yaml\nyaml.load(f, yaml.FullLoader)", "yaml.load",
                     id="yaml.load-positional-loader"),
        pytest.param("import yaml\nyaml.unsafe_load(f)", "yaml.unsafe_load", id="unsafe_load"),
        pytest.param("import yaml\nyaml.full_load(f)", "yaml.full_load", id="full_load"),
        pytest.param("from yaml import load_all, UnsafeLoader\nload_all(f, Loader=UnsafeLoader)",
                     "yaml.load_all", id="yaml.load_all-imported"),
        pytest.param("import pickle\npickle.load(f)", "pickle.load", id="pickle.load"),
        pytest.param("import pickle as p\np.loads(b)", "pickle.loads", id="pickle-alias"),
        pytest.param("from pickle import loads\nloads(b)", "pickle.loads", id="from-pickle"),
        pytest.param("import pickle\npickle.Unpickler(f).load()", "pickle.Unpickler",
                     id="Unpickler"),
        pytest.param("import cloudpickle\ncloudpickle.loads(b)", "cloudpickle.loads",
                     id="cloudpickle"),
        pytest.param("from ray import cloudpickle\ncloudpickle.loads(b)", "cloudpickle.loads",
                     id="ray-cloudpickle"),
        pytest.param("import marshal\nmarshal.loads(b)", "marshal.loads", id="marshal"),
        pytest.param("import dill\ndill.loads(b)", "dill.loads", id="dill"),
        pytest.param("import torch\ntorch.load(p)", "torch.load", id="torch.load"),
        pytest.param("import torch\ntorch.load(p, weights_only=False)", "torch.load",
                     id="torch.load-weights_only-False"),
        pytest.param("import torch\ntorch.load(p, weights_only=flag)", "torch.load",
                     id="torch.load-weights_only-variable"),
        pytest.param("import subprocess\nsubprocess.run(cmd, shell=True)",
                     "subprocess.run(shell=True)", id="shell=True"),
        pytest.param("import subprocess\nsubprocess.Popen(cmd, shell=flag)",
                     "subprocess.Popen(shell=True)", id="shell-variable"),
        pytest.param("import os\nos.system('ls')", "os.system", id="os.system"),
        pytest.param("import os\nos.popen('ls')", "os.popen", id="os.popen"),
        pytest.param("import tarfile\ntarfile.open(p).extractall(d)", "extractall",
                     id="extractall"),
        pytest.param("__import__(name)", "__import__", id="__import__-variable"),
        pytest.param("spec.loader.exec_module(module)", "exec_module", id="exec_module"),
    ],
)
def test_the_scanner_catches_each_banned_pattern(source: str, rule: str) -> None:
    assert [f.call for f in scan_source(source)] == [rule]


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("import yaml\nyaml.safe_load(f)", id="safe_load"),
        pytest.param("import yaml\nyaml.load(f, Loader=yaml.SafeLoader)", id="SafeLoader"),
        pytest.param("import yaml\nyaml.load(f, Loader=yaml.CSafeLoader)", id="CSafeLoader"),
        pytest.param("import torch\ntorch.load(p, map_location='cpu', weights_only=True)",
                     id="weights_only"),
        pytest.param("import re\nre.compile('a+')", id="re.compile"),
        pytest.param("model.eval()", id="module.eval"),
        pytest.param("import ast\nast.literal_eval(s)", id="literal_eval"),
        pytest.param("import pickle\npickle.dumps(x)", id="pickle.dumps"),
        pytest.param("import subprocess\nsubprocess.run(['ls'], check=True)", id="argv"),
        pytest.param("import subprocess\nsubprocess.run(['ls'], shell=False)", id="shell-False"),
        pytest.param("tar.extractall(d, filter='data')", id="extractall-filter"),
        pytest.param("__import__('numpy')", id="__import__-literal"),
        pytest.param("text = 'eval(x)'", id="in-a-string"),
    ],
)
def test_the_scanner_passes_safe_calls(source: str) -> None:
    assert scan_source(textwrap.dedent(source)) == []

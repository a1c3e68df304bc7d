"""References to user code: one resolver for spaces, evaluators, datasets, builders and rules."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nasforge import references
from nasforge.errors import ConfigError


def test_a_module_function_is_named_by_module_and_resolves_back() -> None:
    ref = references.reference_of(references.resolve)
    assert ref == "nasforge.references:resolve"
    assert references.resolve(ref, field="x") is references.resolve


def test_lambdas_and_local_functions_are_refused_with_the_fix() -> None:
    def local() -> None: ...

    for fn in (lambda: None, local):
        with pytest.raises(ConfigError, match="top level of a module") as info:
            references.reference_of(fn, field="evaluator.path")
        assert info.value.problems[0].field == "evaluator.path"


def test_malformed_missing_and_not_callable_references_name_the_field() -> None:
    cases = {
        "no_colon": "expected 'module:function'",
        "no_such_module_xyz:f": "make 'no_such_module_xyz' importable",
        "nasforge.references:no_such_name": "has no attribute 'no_such_name'",
    }
    for ref, message in cases.items():
        with pytest.raises(ConfigError, match=message) as info:
            references.resolve(ref, field="space.path")
        assert info.value.problems[0].field == "space.path"
    with pytest.raises(ConfigError, match="not a function"):
        references.resolve_callable("nasforge.references:_RESOLVED", field="f")


def test_a_file_reference_loads_the_file_and_a_script_function_is_named_by_its_file(
    tmp_path: Path,
) -> None:
    script = tmp_path / "my_script_mod.py"
    script.write_text(textwrap.dedent("""
        import sys
        def fit():
            return 42
        if __name__ == "__main__":
            from nasforge import references
            print(references.reference_of(fit))
    """))
    fit = references.resolve(f"{script}:fit", field="f")
    assert fit() == 42
    assert references.reference_of(fit) == f"{script.resolve()}:fit"  # not on sys.path
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         check=True, cwd=tmp_path.parent).stdout.strip()
    assert out == f"{script.resolve()}:fit"


def test_a_function_space_of_a_script_pickles_by_its_file(tmp_path: Path) -> None:
    script = tmp_path / "script_space.py"
    script.write_text(textwrap.dedent("""
        import pickle, sys
        from torch import nn
        import nasforge as nf

        @nf.space.define
        def net(a, task):
            return nn.Sequential(nn.Flatten(), nn.Linear(8, a.choice("width", [4, 8])),
                                 nn.Linear(a.choice("width", [4, 8]), task.n_outputs))

        if __name__ == "__main__":
            sys.stdout.write(net.path + "\\n")
            sys.stdout.buffer.write(pickle.dumps(net))
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, check=True,
                         cwd=tmp_path).stdout
    path, _, blob = out.partition(b"\n")
    assert path.decode() == f"{script.resolve()}:net"
    space = pickle.loads(blob)  # imports the script's file in this process
    assert space.size == 2 and space.path == path.decode()


def test_deferred_user_imports_refuse_new_user_code_but_keep_what_is_imported(
    tmp_path: Path
) -> None:
    import json
    import threading

    from nasforge.run.study import import_plugins

    module = tmp_path / "deferred_user_mod.py"
    module.write_text("def f():\n    return 7\n")
    with references.user_imports_deferred() as refused:
        with pytest.raises(ConfigError, match="deferred_user_mod"):  # resolve's clear error
            references.resolve(f"{module}:f", field="space.path")
        with pytest.raises(references.UserCodeDeferred):
            references.import_user_module("no_module_of_this_name_anywhere")
        with pytest.raises(ConfigError, match="plugins"):
            import_plugins(["another_module_nobody_has"], where="here")
        other: list[object] = []  # another thread is not deferred
        thread = threading.Thread(target=lambda: other.append(references.resolve(f"{module}:f",
                                                                      field="x")()))
        thread.start()
        thread.join()
        assert other == [7]
        assert references.resolve(f"{module}:f", field="x")() == 7  # imported now: usable here too
        assert references.resolve("json:dumps", field="x") is json.dumps  # already-imported module
    assert len(refused) == 3 and "deferred_user_mod.py" in refused[0]
    assert "plugin 'another_module_nobody_has'" in refused[2]

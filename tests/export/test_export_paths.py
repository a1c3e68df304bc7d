"""Nothing an export writes lands outside its output directory.

Every file of an export has a fixed name inside the directory, so what can point elsewhere is
the directory's own path (a NUL byte, a trailing ``..``, a symbolic link, perhaps pre-created in
a study folder someone else made), a symbolic link left inside an earlier export that is
overwritten, and the user's function path written into the generated ``loader.py``.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from nasforge.export import ExportExistsError, ExportPathError, export_model
from nasforge.export._export import METADATA_FILE, WEIGHTS_FILE
from nasforge.space import FunctionSpace
from nasforge.tasks.base import TaskInfo

TABULAR = TaskInfo(name="tab", input_shape=(5,), n_classes=3, kind="tabular")


def _tree(root: Path) -> dict[str, bytes | str]:
    """Every entry under ``root``: file contents, or a link's target (links are not followed)."""
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[key] = f"-> {os.readlink(path)}"
        elif path.is_file():
            found[key] = path.read_bytes()
    return found


def _export(out: object, space, arch, task, **kwargs):  # type: ignore[no-untyped-def]
    return export_model(out, space=space, arch=arch, task=task, onnx=False, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside every export, holding a file that must never change."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "precious.txt").write_text("keep me")
    return folder


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        pytest.param("exports/bad\0name", "NUL", id="nul"),
        pytest.param("exports/..", "'..'", id="dotdot"),
        pytest.param("exports/inner/..", "'..'", id="inner-dotdot"),
        pytest.param("", "'..'", id="empty"),
    ],
)
def test_an_unusable_out_dir_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, space, arch, tasks, name: str, reason: str
) -> None:
    work = tmp_path / "work"
    (work / "exports").mkdir(parents=True)
    monkeypatch.chdir(work)
    before = _tree(tmp_path)
    with pytest.raises(ExportPathError, match=reason) as caught:
        _export(name, space, arch, tasks["image"])
    assert "fix:" in str(caught.value)
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("holds_export", [False, True], ids=["empty-target", "export-target"])
@pytest.mark.parametrize("overwrite", [False, True], ids=["keep", "overwrite"])
def test_an_out_dir_that_is_a_symlink_is_refused(
    tmp_path: Path, outside: Path, space, arch, tasks, holds_export: bool, overwrite: bool
) -> None:
    if holds_export:  # looks like an earlier export, so overwrite would empty it
        (outside / METADATA_FILE).write_text("{}")
    link = tmp_path / "study" / "best"
    link.parent.mkdir()
    link.symlink_to(outside, target_is_directory=True)
    before = _tree(outside)
    with pytest.raises(ExportPathError, match="symbolic link"):
        _export(link, space, arch, tasks["image"], overwrite=overwrite)
    assert _tree(outside) == before
    assert link.is_symlink()
    assert sorted(p.name for p in link.parent.iterdir()) == ["best"]  # no partial folder left


def test_overwriting_an_export_never_writes_through_links_inside_it(
    tmp_path: Path, outside: Path, space, arch, tasks
) -> None:
    out = tmp_path / "export"
    _export(out, space, arch, tasks["image"])
    # An earlier export whose files were replaced by links to files outside it.
    for name in (WEIGHTS_FILE, "model.py", "README.md"):
        (out / name).unlink(missing_ok=True)
        (out / name).symlink_to(outside / "precious.txt")
    (out / "linked_dir").symlink_to(outside, target_is_directory=True)
    before = _tree(outside)
    with pytest.raises(ExportExistsError):
        _export(out, space, arch, tasks["image"])
    assert _tree(outside) == before
    info = _export(out, space, arch, tasks["image"], overwrite=True)
    assert _tree(outside) == before
    assert not any(p.is_symlink() for p in out.rglob("*"))
    assert (info.weights).is_file()
    assert isinstance(torch.load(info.weights, weights_only=True), dict)


def test_export_writes_only_inside_out_dir(tmp_path: Path, outside: Path, space, arch,
                                           tasks) -> None:
    before = _tree(outside)
    info = _export(tmp_path / "exports" / "e", space, arch, tasks["image"])
    assert _tree(outside) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exports", "outside"]
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == ["e"]
    assert all(p.resolve().is_relative_to(info.out_dir) for p in info.out_dir.rglob("*"))


_NET = """
from torch import nn


def net(a, task):
    width = a.choice("width", [4, 8])
    return nn.Sequential(nn.Linear(5, width), nn.ReLU(), nn.Linear(width, task.n_outputs))
"""


def test_a_function_path_cannot_put_code_into_the_generated_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file name may hold quotes: before the fix, this one closed loader.py's docstring and
    # the code between the quotes ran when the loader was imported (export imports it to check).
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    evil = work / 'net"""+__import__("pathlib").Path("pwned").touch()+"""x.py'
    evil.write_text(_NET)
    path = f"{evil}:net"
    space = FunctionSpace(path=path)
    arch = space.sample(np.random.default_rng(0))
    info = export_model(tmp_path / "e", space=space, arch=arch, task=TABULAR, onnx=False)
    assert info.loader is not None
    assert not (work / "pwned").exists()
    tree = ast.parse(info.loader.read_text())
    docstring = ast.get_docstring(tree)
    assert docstring is not None and 'Path("pwned")' in docstring  # text, not code
    calls = [n for n in tree.body if isinstance(n, ast.Expr)]
    assert len(calls) == 1  # only the docstring is a bare expression at module level
    function = next(n.value for n in tree.body if isinstance(n, ast.Assign)
                    and getattr(n.targets[0], "id", None) == "FUNCTION")
    assert ast.literal_eval(function) == path

"""Command-line conventions: --version, -h, completion, delete, one number format, and messages
that name the command's own options."""

from __future__ import annotations

import io
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

import nasforge
from nasforge.cli.main import format_number, main

COMMANDS = ("search", "resume", "ls", "show", "export", "components", "delete")

TOY = {
    "name": "toy",
    "seed": 4,
    "task": "toy",
    "space": {"name": "toy", "n_decisions": 4, "n_options": 4},
    # Six scripted architectures; the first fails, so `show` has a failure to list.
    "strategy": {"name": "fixed", "archs": [{"d0": i % 4, "d1": i // 4, "d2": 3, "d3": 0}
                                            for i in range(6)]},
    "evaluator": {"name": "toy", "fail": ['{"d0":0,"d1":0,"d2":3,"d3":0}']},
    "executor": "inline",
    "budget": {"trials": 6},
    "export_best": False,
}


@pytest.fixture
def study_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({**TOY, "root": str(tmp_path / "runs")}))
    assert main(["search", str(config), "--no-progress"]) == 0
    capsys.readouterr()
    return tmp_path / "runs" / "toy"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out == f"nasforge {nasforge.__version__}\n" == "nasforge 0.1.0\n"
    assert metadata.version("nasforge") == nasforge.__version__


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_short_and_long_help_on_every_command(flag: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main([flag]) == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out
    for command in COMMANDS:
        assert main([command, flag]) == 0, command
        out = capsys.readouterr().out
        assert f"nasforge {command}" in out and "Example: nasforge" in out, command


def test_shell_completion_is_offered(capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Typer otherwise detects the shell from the parent processes (sh under make, not bash)
    # and ignores the one named on the command line.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--install-completion" in out and "--show-completion" in out
    assert main(["--show-completion", "bash"]) == 0
    assert "_nasforge_completion" in capsys.readouterr().out


def test_format_number_is_one_format() -> None:
    assert [format_number(v) for v in (None, 8, 2048, 98.876, 12_345, 125_000, 3.2e6, 1.5e9)] \
        == ["", "8", "2048", "98.88", "12.3k", "125.0k", "3.2M", "1.5G"]


def test_show_prints_readable_architectures_unbroken(
    study_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "50")  # a narrow terminal: the column wraps between words
    assert main(["show", str(study_dir)]) == 0
    out = capsys.readouterr().out
    top = out.split("not completed")[0]
    assert not re.search(r'\{"d0"', top), "architectures print as decision=value, not JSON"
    tokens = [word for word in re.findall(r"[^\s│]+", top) if "=" in word or word[:1] == "d"]
    assert sum(word.startswith("d0=") for word in tokens) == 5  # one per completed trial
    assert "not completed" in out and "FAILED" in out
    for word in tokens:
        if word.startswith("d") and word[1:2].isdigit():
            assert re.fullmatch(r"d[0-3]=[0-3]", word), f"a decision was split: {word!r}"


def test_ls_uses_the_number_format(study_dir: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["ls", str(study_dir.parent)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"val_accuracy \d+(\.\d{1,2})? ", out), out


# -- delete ------------------------------------------------------------------------------------


def _answer(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_delete_asks_and_keeps_the_study_on_no(
    study_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _answer(monkeypatch, "n\n")
    assert main(["delete", str(study_dir)]) == 1
    out = capsys.readouterr().out
    assert "Delete study 'toy'" in out and "6 trials" in out and "nothing deleted" in out
    assert (study_dir / "study.db").is_file()


def test_delete_on_yes(study_dir: Path, capsys: pytest.CaptureFixture[str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    _answer(monkeypatch, "y\n")
    assert main(["delete", str(study_dir)]) == 0
    assert f"deleted {study_dir}" in capsys.readouterr().out
    assert not study_dir.exists()


@pytest.mark.parametrize("flag", ["--yes", "-y"])
def test_delete_without_asking(study_dir: Path, flag: str, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    _answer(monkeypatch, "")  # nothing to read: it must not ask
    (study_dir / "checkpoints" / "x").mkdir(parents=True)
    assert main(["delete", str(study_dir), flag]) == 0
    assert "?" not in capsys.readouterr().out
    assert not study_dir.exists()
    assert study_dir.parent.is_dir()  # only the study folder goes


def test_delete_refuses_a_folder_that_is_not_a_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    assert main(["delete", str(tmp_path), "--yes"]) == 2
    err = capsys.readouterr().err
    assert "no study in" in err and "nothing was deleted" in err and "Traceback" not in err
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    assert main(["delete", str(tmp_path / "missing"), "--yes"]) == 2


def test_delete_refuses_a_running_study(study_dir: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from nasforge.run.lock import StudyLock

    with StudyLock(study_dir):  # as a running search or resume holds it
        assert main(["delete", str(study_dir), "--yes"]) == 2
    err = " ".join(capsys.readouterr().err.split())  # the console wraps at its width
    assert "already running" in err and "Traceback" not in err
    assert (study_dir / "study.db").is_file()


# -- messages in the command's own syntax ------------------------------------------------------


def test_export_over_an_existing_export_names_the_option(
    study_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nasforge.export import ExportExistsError
    from nasforge.run.study import Study

    def refuse(self: Study, out: Path, **kwargs: object) -> None:
        raise ExportExistsError(Path(out))

    monkeypatch.setattr(Study, "export", refuse)
    assert main(["export", str(study_dir), "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "overwrite=True" not in err and "Traceback" not in err


def test_export_without_the_onnx_extra_names_the_option(
    study_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nasforge.imports import MissingDependencyError
    from nasforge.run.study import Study

    def missing(self: Study, out: Path, **kwargs: object) -> None:
        raise MissingDependencyError("onnxruntime", "onnx", "ONNX export", "pass onnx=False")

    monkeypatch.setattr(Study, "export", missing)
    assert main(["export", str(study_dir), "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "pip install 'nasforge[onnx]'" in err and "--no-onnx" in err
    assert "onnx=False" not in err

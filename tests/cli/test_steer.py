"""``nasforge steer`` and ``nasforge dashboard`` from the command line: events written, bad input
refused with exit code 2 and one clear line."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from nasforge.cli.main import main
from nasforge.cli.steer import parse_steer
from nasforge.errors import ConfigError
from nasforge.evaluate.tabular._dummy import write_dummy_nb201_table
from nasforge.run.spec import parse_spec
from nasforge.run.study import Study


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dummy_nb201_table(tmp_path_factory.mktemp("nb201") / "nb201.csv.gz")


@pytest.fixture
def study_dir(tmp_path: Path, table: Path) -> Path:
    study = Study.create(parse_spec({
        "name": "s", "root": str(tmp_path), "space": {"name": "nb201", "dims": 2},
        "strategy": "random", "evaluator": {"name": "nb201_table", "path": str(table)},
        "executor": "inline", "budget": {"trials": 2}, "export_best": False,
    }))
    study.close()
    return tmp_path / "s"


def test_steer_writes_each_event(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arch = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"
    for args in (["forbid", "op=avg_pool_3x3"], ["pin", "cell.edge_1_0=nor_conv_3x3"],
                 ["inject", arch], ["budget", "trials=200", "minutes=30"], ["pause"],
                 ["resume"], ["stop"]):
        assert main(["steer", str(study_dir), *args]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "event 1: forbid op=avg_pool_3x3 (the study applies it before its next trial)" in out
    study = Study.open(study_dir)
    events = study.store.events(study.record.id)
    assert [(e.kind.value, dict(e.payload)) for e in events] == [
        ("forbid", {"op": "avg_pool_3x3"}),
        ("pin", {"decision": "cell.edge_1_0", "value": "nor_conv_3x3"}),
        ("inject", {"arch": arch}),
        ("budget", {"trials": 200, "minutes": 30.0}),
        ("pause", {}), ("resume", {}), ("stop", {}),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forbid", "op=max_pool"], "no decision of the space offers 'max_pool'"),
        (["pin", "cell.edge_7_0=none"], "the space has no decision 'cell.edge_7_0'"),
        (["forbid", "avg_pool_3x3"], "'avg_pool_3x3' is not NAME=VALUE"),
        (["budget", "trials=lots"], "trials='lots' is not a number"),
        (["budget", "epochs=3"], "unknown budget field 'epochs'"),
        (["inject", "{not an arch"], "inject: the architecture is not in the space"),
        (["pause", "now"], "takes no arguments"),
        (["explode"], "unknown action 'explode'"),
    ],
)
def test_bad_steering_exits_2_with_the_reason(
    study_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["steer", str(study_dir), *args]) == 2
    err = capsys.readouterr().err
    assert message in " ".join(err.split()) and "Traceback" not in err


def test_a_forbid_that_empties_a_decision_names_it(
    study_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["steer", str(study_dir), "pin", "cell.edge_2_1=none"]) == 0
    assert main(["steer", str(study_dir), "forbid", "op=none"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "it leaves decision 'cell.edge_2_1' with no option" in err


def test_steer_and_dashboard_refuse_a_folder_without_studies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["steer", str(tmp_path), "stop"]) == 2
    assert "no study in" in capsys.readouterr().err
    assert main(["dashboard", str(tmp_path / "nowhere"), "--port", "0"]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_a_taken_port_is_named_with_the_fix(
    study_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["dashboard", str(study_dir), "--port", str(port)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"port {port} on 127.0.0.1 is taken" in err and f"--port {port + 1}" in err


def test_parse_steer_reads_the_command_syntax() -> None:
    assert parse_steer("pin", ["op=nor_conv_3x3"]) == [("pin", {"op": "nor_conv_3x3"})]
    assert parse_steer("inject", ["a=1", "a=2"]) == [("inject", {"arch": "a=1"}),
                                                     ("inject", {"arch": "a=2"})]
    with pytest.raises(ConfigError, match="needs an argument"):
        parse_steer("forbid", [])


def test_commands_have_help_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("steer", "dashboard"):
        assert main([command, "--help"]) == 0
        assert "Example: nasforge" in capsys.readouterr().out


@pytest.mark.integration
def test_the_dashboard_command_prints_its_token_and_serves(study_dir: Path) -> None:
    import json
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "nasforge", "dashboard", str(study_dir), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        assert lines[0].startswith(f"nasforge dashboard on http://127.0.0.1:{port}/: 1 study")
        token = lines[1].split()[-1]
        assert f"#token={token}" in lines[2]
        url = f"http://127.0.0.1:{port}/api/studies/s/events"
        for _ in range(100):  # the server listens a moment after printing
            try:
                # the master token gets the study's own token, which steers it
                asked = urllib.request.Request(url.replace("/events", "/token"),
                                               headers={"Authorization": f"Bearer {token}"})
                with urllib.request.urlopen(asked, timeout=5) as response:
                    own = json.loads(response.read())["token"]
                request = urllib.request.Request(
                    url, data=json.dumps({"kind": "pause"}).encode(), method="POST",
                    headers={"Authorization": f"Bearer {own}",
                             "Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert response.status == 201
                break
            except OSError:
                import time

                time.sleep(0.1)
        else:
            pytest.fail("the dashboard never answered")
    finally:
        process.terminate()
        process.wait(timeout=20)
    study = Study.open(study_dir)
    assert [e.kind.value for e in study.store.events(study.record.id)] == ["pause"]

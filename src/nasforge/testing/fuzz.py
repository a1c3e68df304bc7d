"""Fuzz targets for every user input: run specs, ``--set``, architecture strings, declared and
define-by-run spaces, CLI arguments and the dashboard's HTTP API.

Each :class:`Target` pairs a hypothesis strategy (valid inputs mixed with mutated ones) with a
``run`` that feeds one input to nasforge. The property is the same for all: the input either
works or is refused with a *clear* error (a :class:`~nasforge.errors.NasforgeError`, a typer usage
error, an HTTP 4xx with a JSON ``detail``); any other exception is a finding (:class:`Uncaught`).
It lives in ``src`` so that the fast tests (``tests/testing/test_fuzz.py``), the slow full count
and ``benchmarks/fuzz.py`` share one definition, and a plugin author can fuzz a new component with
:func:`check` the same way.

Requires hypothesis (the ``dev`` extra); the CLI and dashboard targets need typer and fastapi.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from nasforge.errors import NasforgeError

OK, CLEAR = "ok", "clear"


class Uncaught(AssertionError):
    """An input made nasforge fail in a way a user cannot act on (a traceback, an HTTP 500)."""


def classify(call: Callable[[], object]) -> str:
    """Run ``call``: :data:`OK` when it works, :data:`CLEAR` when it raises a nasforge error.

    Raises:
        Uncaught: any other exception, chained to it.
    """
    try:
        call()
    except NasforgeError as exc:
        if not str(exc).strip():
            raise Uncaught(f"{type(exc).__name__} with an empty message") from exc
        return CLEAR
    except Exception as exc:  # that is the finding
        raise Uncaught(f"{type(exc).__name__}: {str(exc)[:300]}") from exc
    return OK


@dataclass
class Target:
    """One user input: how to generate it and how to feed it to nasforge (returns ok/clear)."""

    name: str
    inputs: Callable[[], st.SearchStrategy[Any]]
    run: Callable[[Any], str]
    counts: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)

    def check(self, value: Any) -> str:
        """Feed one input, count its outcome, raise :class:`Uncaught` on a finding."""
        try:
            outcome = self.run(value)
        except Uncaught as exc:
            self.counts["uncaught"] += 1
            self.findings.append(f"{exc} <- {value!r}"[:600])
            raise
        self.counts[outcome] += 1
        return outcome


# -- shared value strategies --------------------------------------------------------------------

_TEXT = st.text(max_size=12) | st.sampled_from(["", " ", "∞", "名前", "\x00", "a" * 300, "-1"])
_SCALAR = (
    st.none() | st.booleans() | st.integers() | st.integers(-(10**30), 10**30)
    | st.floats() | _TEXT
)
JUNK: st.SearchStrategy[Any] = st.recursive(
    _SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
"""Any JSON-like value, odd ones included (NaN, huge ints, unicode, NUL)."""


def _mutated(base: dict[str, Any], keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with some keys set to junk, deleted, or unknown keys added."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        data = json.loads(json.dumps(base))
        for _ in range(draw(st.integers(0, 3))):
            key = draw(st.sampled_from(keys) | _TEXT)
            how = draw(st.sampled_from(["set", "del", "nest"]))
            if how == "del":
                data.pop(key, None)
            elif how == "nest" and isinstance(data.get(key), dict) and data[key]:
                sub = draw(st.sampled_from(sorted(data[key])) | _TEXT)
                data[key][sub] = draw(JUNK)
            else:
                data[key] = draw(JUNK)
        return data

    return build()


# -- run specs ----------------------------------------------------------------------------------

SPEC: dict[str, Any] = {
    "name": "fuzz", "seed": 1, "space": {"name": "nb201", "dims": 1},
    "strategy": {"name": "regularized_evolution", "population_size": 10, "sample_size": 3},
    "evaluator": {"name": "train", "epochs": 1}, "executor": "inline",
    "budget": {"trials": 4}, "objectives": [{"metric": "val_accuracy", "direction": "max"}],
    "constraints": ["params <= 1e5"], "trial_time_limit_s": 60, "export_best": False,
}
"""A valid spec the spec targets mutate."""

_SPEC_KEYS = [*SPEC, "task", "pruner", "warm_start", "energy", "finalize", "plugins",
              "max_failure_rate", "hypervolume_reference", "reproducible", "root", "ordered"]


def _spec_dict(value: Any) -> str:
    from nasforge.run.spec import parse_spec

    return classify(lambda: parse_spec(value, source="fuzz"))


_YAML_ODDITIES = st.sampled_from([
    "!!python/object/apply:os.system ['echo pwned']", "!!python/object:builtins.dict {}",
    "!!python/name:os.system", "a: &x [1, *x]", "a: &a 1\nb: *a\nb: 2", "name: a\nname: b",
    "budget: {trials: 1e400}", "? [1, 2]\n: 3", "budget: !!binary aGk=", "- 1\n- 2", "'", "{",
    "seed: 0x10", "seed: .inf", "name: ~", "space: {<<: {name: nb201}}", "\t: x", "%YAML 1.1\n---",
    "a: " + "[" * 200, "name: \ud7ff\ue000", "x: !custom 1",
])


@st.composite
def _spec_text(draw: st.DrawFn) -> str:
    import yaml

    kind = draw(st.sampled_from(["mutated", "odd", "text", "spliced"]))
    if kind == "mutated":
        return str(yaml.safe_dump(draw(_mutated(SPEC, _SPEC_KEYS)), allow_unicode=True))
    if kind == "odd":
        return draw(_YAML_ODDITIES)
    if kind == "text":
        return draw(st.text(max_size=60))
    base = yaml.safe_dump(SPEC)
    return base + "\n" + draw(_YAML_ODDITIES)


def _spec_yaml(text: str) -> str:
    from nasforge.run.spec import load_spec

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        return classify(lambda: load_spec(path))


_SET_KEY = st.sampled_from(
    ["budget.trials", "seed", "name", "space.dims", "space", "strategy.population_size",
     "evaluator.epochs", "budget", "objectives", "objectives.0.metric", "name.x", "seed.x.y",
     "executor.workers", "energy.country", "task.name", "constraints", "finalize.top", "", "."]
) | _TEXT
_SET_VALUE = st.sampled_from(
    ["10", "-1", "1e999", "[1, 2]", "{a: 1}", "true", "null", "!!python/object:x {}", "'", "[",
     "0x1F", "nb201", "名前", "&a 1"]
) | st.text(max_size=15)


@st.composite
def _overrides(draw: st.DrawFn) -> list[str]:
    items = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            items.append(f"{draw(_SET_KEY)}={draw(_SET_VALUE)}")
        else:
            items.append(draw(st.text(max_size=20)))
    return items


def _set_overrides(items: list[str]) -> str:
    from nasforge.run.spec import parse_spec

    return classify(lambda: parse_spec(dict(SPEC), overrides=items, source="fuzz"))


# -- architecture strings -----------------------------------------------------------------------

_SPACES: dict[str, Any] = {}


def _space(name: str) -> Any:
    if name not in _SPACES:
        from nasforge.space import SPACES

        every: dict[str, dict[str, Any]] = {
            "nb201": {"dims": 1}, "chain": {}, "mlp": {},
            "choices": {"decisions": {"lr": [0.1, 0.01], "depth": [1, 2, 3],
                                      "act": ["relu", "gelu"]}},
            "declared": {"layers": [{"type": "conv", "width": [8, 16], "kernel": [3, 5]},
                                    {"type": "repeat", "depth": [1, 2],
                                     "body": [{"type": "dense", "width": [4, 8]}]}]},
        }
        _SPACES[name] = SPACES.create(name, every[name])
    return _SPACES[name]


_OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


@st.composite
def _arch_text(draw: st.DrawFn) -> tuple[str, str]:
    import numpy as np

    name = draw(st.sampled_from(["nb201", "chain", "mlp", "choices", "declared"]))
    space = _space(name)
    valid = space.format(space.sample(np.random.default_rng(draw(st.integers(0, 2**16)))))
    kind = draw(st.sampled_from(["valid", "cut", "splice", "char", "nb201ish", "text"]))
    if kind == "valid":
        text = valid
    elif kind == "cut":
        text = valid[: draw(st.integers(0, len(valid)))]
    elif kind == "splice":
        at = draw(st.integers(0, len(valid)))
        text = valid[:at] + draw(st.sampled_from(["|", "~", "+", "=", ",", "'", '"', "\\", "{",
                                                   "~0|", "|+|", "~-1", "~99", " "]) | _TEXT) \
            + valid[at:]
    elif kind == "char":
        at = draw(st.integers(0, max(len(valid) - 1, 0)))
        text = valid[:at] + draw(st.characters()) + valid[at + 1:]
    elif kind == "nb201ish":
        nodes = draw(st.lists(st.lists(st.tuples(st.sampled_from(_OPS) | _TEXT,
                                                  st.integers(-2, 5)), max_size=4), max_size=4))
        text = "+".join("|" + "|".join(f"{o}~{i}" for o, i in node) + "|" for node in nodes)
    else:
        text = draw(st.text(max_size=40))
    return name, text


def _arch_parse(value: tuple[str, str]) -> str:
    name, text = value
    space = _space(name)

    def go() -> None:
        arch = space.parse(text)
        again = space.parse(space.format(arch))  # a parsed string round-trips
        if again != arch:
            raise AssertionError(f"{text!r} parsed to {arch}, re-parsed to {again}")

    return classify(go)


@st.composite
def _steer_args(draw: st.DrawFn) -> tuple[str, list[str]]:
    action = draw(st.sampled_from(["forbid", "pin", "inject", "budget", "stop", "pause", "resume"])
                  | _TEXT)
    args = draw(st.lists(
        st.sampled_from(["op=none", "trials=5", "minutes=x", "cost_s=1e999", "=", "a=", "=b",
                         "cell.edge_1_0=none", "trials=-3"]) | st.text(max_size=20), max_size=3))
    return action, args


def _steer(value: tuple[str, list[str]]) -> str:
    from nasforge.cli.steer import parse_steer

    return classify(lambda: parse_steer(*value))


# -- declared spaces and rules ------------------------------------------------------------------

_LAYER = st.fixed_dictionaries(
    {"type": st.sampled_from(["conv", "dense", "pool", "dropout", "norm", "activation", "cell",
                              "repeat", "resblock"]) | _TEXT},
    optional={
        "width": st.lists(st.integers(-2, 64), max_size=3) | JUNK,
        "kernel": st.lists(st.sampled_from([1, 3, 5, 0, -1, 2.5]), max_size=3) | JUNK,
        "activation": st.lists(st.sampled_from(["relu", "gelu", "nope"]), max_size=2) | JUNK,
        "skip": st.lists(st.booleans(), max_size=2) | JUNK,
        "p": st.lists(st.floats(-1, 2), max_size=2) | JUNK,
        "depth": st.lists(st.integers(-1, 4), max_size=3) | JUNK,
        "nodes": st.integers(-1, 5) | JUNK,
        "ops": st.lists(st.sampled_from([*_OPS, "bad_op"]), max_size=3) | JUNK,
        "body": st.lists(st.fixed_dictionaries({"type": st.sampled_from(["conv", "dense"])},
                                               optional={"width": st.lists(st.integers(1, 8),
                                                                           max_size=2)}),
                         max_size=2) | JUNK,
        "kind": st.sampled_from(["avg", "max", "weird"]) | JUNK,
        "channels": st.integers(-1, 16) | JUNK,
        _TEXT: JUNK,
    },
)
_RULE = st.one_of(
    st.fixed_dictionaries({"forbid": st.dictionaries(
        st.sampled_from(["conv0.width", "conv0.kernel", "conv*", "nope"]) | _TEXT,
        st.sampled_from([8, 16, 3, 5, "x"]) | JUNK, max_size=2)}),
    st.fixed_dictionaries({"not_all": st.lists(st.sampled_from(["conv0.width", "x"]), max_size=2)
                           | JUNK}),
    st.fixed_dictionaries({"count": JUNK}),
    st.fixed_dictionaries({"valid": st.sampled_from(["os:system", "nope", "math:isnan", ""])
                           | JUNK}),
    JUNK,
)


def _declared_inputs() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"layers": st.lists(_LAYER, max_size=4) | JUNK},
        optional={"rules": st.lists(_RULE, max_size=3) | JUNK,
                  "dims": st.sampled_from([1, 2, "auto", 3, "x"])},
    ) | st.fixed_dictionaries(
        {"decisions": st.dictionaries(_TEXT, st.lists(JUNK, max_size=3) | JUNK, max_size=3)},
        optional={"rules": st.lists(_RULE, max_size=2)},
    ).map(lambda d: {"_choices": True, **d})


def _declared(params: dict[str, Any]) -> str:
    import numpy as np

    from nasforge.space import SPACES

    params = dict(params)
    name = "choices" if params.pop("_choices", False) else "declared"

    def go() -> None:
        space = SPACES.create(name, params)
        arch = space.sample(np.random.default_rng(0))
        space.validate(arch)
        space.parse(space.format(arch))

    return classify(go)


# -- define-by-run functions --------------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    """A generated define-by-run function: a few asks, then what it does at the end."""

    asks: tuple[tuple[str, Any, bool], ...]  # (name, options, only when the previous is truthy)
    ending: str  # module | raise | none | int | recurse | random | task

    def __call__(self, a: Any, task: Any) -> Any:
        import random

        from torch import nn

        last: Any = True
        for name, options, conditional in self.asks:
            if conditional and not last:
                continue
            last = a.choice(name, options)
        if self.ending == "raise":
            raise RuntimeError("the user's function broke")
        if self.ending == "none":
            return None
        if self.ending == "int":
            return 3
        if self.ending == "recurse":
            return self(a, task)
        if self.ending == "random":
            a.choice(f"r{random.random()}", [1, 2])
        return nn.Sequential(nn.Flatten(), nn.LazyLinear(task.n_outputs))


_GOOD_OPTIONS = st.lists(st.integers(0, 3), min_size=2, max_size=3, unique=True)
_OPTIONS = _GOOD_OPTIONS | _GOOD_OPTIONS | st.lists(
    st.integers(0, 3) | st.booleans() | st.sampled_from(["a", "b"]), max_size=4) | JUNK \
    | st.just([[1], [2]]) | st.just([{"a": 1}, {"b": 2}])
_PROGRAM = st.builds(
    Program,
    asks=st.lists(st.tuples(st.sampled_from(["w", "k", "d", "w", "k"]) | _TEXT, _OPTIONS,
                            st.booleans()), max_size=4).map(tuple),
    ending=st.sampled_from(["module"] * 4 + ["raise", "none", "int", "recurse", "random"]),
)


def _function(program: Program) -> str:
    import numpy as np

    from nasforge.space._function import FunctionSpace

    def go() -> None:
        def net(a: Any, task: Any) -> Any:
            return program(a, task)

        space = FunctionSpace.from_function(net, ())
        arch = space.sample(np.random.default_rng(0))
        space.validate(arch)

    return classify(go)


# -- the CLI ------------------------------------------------------------------------------------

_COMMANDS = ["search", "resume", "retrain", "ls", "show", "export", "components", "delete",
             "steer", "report", "export-optuna", "dashboard", "--version", "--help", "nope", ""]
_OPTIONS_CLI = ["--set", "--overwrite", "--help", "--json", "--top", "--format", "--out",
                "--port", "--host", "--token", "--trials", "--seed", "-v", "--yes", "--limit",
                "--what", "--", "-x"]


@st.composite
def _cli_args(draw: st.DrawFn) -> list[str]:
    args = [draw(st.sampled_from(_COMMANDS))]
    for _ in range(draw(st.integers(0, 4))):
        args.append(draw(st.sampled_from(_OPTIONS_CLI) | st.sampled_from(
            ["spec.yaml", "missing.yaml", "study", "runs", "nb201", "budget.trials=1", "x=",
             "forbid", "op=none", "-1", "1e999", "名前", "../..", "/"]) | st.text(max_size=10)))
    return [a for a in args if a]


@contextmanager
def _cli_folder() -> Iterator[Path]:
    """A scratch working folder holding a bad spec and a folder that is not a study."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            Path("spec.yaml").write_text("budget: {trials: -1}\nname: '../x'\n")
            Path("study").mkdir()
            Path("study/study.db").write_bytes(b"not sqlite")
            yield Path(tmp)
        finally:
            os.chdir(old)


def _cli(args: list[str]) -> str:
    from typer.testing import CliRunner

    from nasforge.cli.main import _register, app

    _register()
    if args[:1] in (["dashboard"], ["search"]) and not any(a.startswith("-h") or a == "--help"
                                                          for a in args):
        # these two would serve or train on a valid input: only their refusals are fuzzed here
        args = [args[0], "missing.yaml" if args[0] == "search" else "missing_dir", *args[1:]]
    with _cli_folder():
        result = CliRunner().invoke(app, args, catch_exceptions=True)
    output = result.output + (result.stderr if result.stderr_bytes else "")
    if "Traceback" in output:
        raise Uncaught(f"a traceback was printed for {args!r}: {output[-300:]}")
    exc = result.exception
    if exc is None or isinstance(exc, SystemExit):
        if result.exit_code == 0:
            return OK
        if not output.strip():
            raise Uncaught(f"exit code {result.exit_code} with no message for {args!r}")
        return CLEAR
    if isinstance(exc, NasforgeError):  # main() prints these as one line, exit code 2
        return CLEAR
    raise Uncaught(f"{type(exc).__name__}: {str(exc)[:300]} for {args!r}") from exc


# -- the dashboard's HTTP API -------------------------------------------------------------------

TOKEN = "fuzz-token"


@dataclass
class _Dashboard:
    client: Any
    tmp: tempfile.TemporaryDirectory[str]


_DASH: list[_Dashboard] = []


def _dashboard_client() -> Any:
    if not _DASH:
        from starlette.testclient import TestClient

        from nasforge.evaluate.tabular._dummy import write_dummy_nb201_table
        from nasforge.report.dashboard._app import create_app
        from nasforge.report.dashboard._studies import Studies
        from nasforge.run.spec import parse_spec
        from nasforge.run.study import Study

        tmp = tempfile.TemporaryDirectory()
        root = Path(tmp.name)
        table = write_dummy_nb201_table(root / "nb201.csv.gz")
        Study.create(parse_spec({
            "name": "s1", "root": str(root / "runs"), "space": {"name": "nb201", "dims": 2},
            "strategy": "random", "evaluator": {"name": "nb201_table", "path": str(table)},
            "executor": "inline", "budget": {"trials": 3}, "export_best": False,
        })).run().close()
        client = TestClient(create_app(Studies(root / "runs"), TOKEN), raise_server_exceptions=True)
        _DASH.append(_Dashboard(client, tmp))
    return _DASH[0].client


_PATHS = st.sampled_from([
    "/", "/api/studies", "/api/studies/s1", "/api/studies/s1/trials", "/api/studies/s1/events",
    "/api/studies/nope", "/api/studies/nope/events", "/api/studies/s1/trials?limit=-1",
    "/api/studies/s1/trials?limit=x", "/api/studies/s1/trials?limit=99999999999999999999",
    "/api/studies/%2e%2e/%2e%2e", "/api/studies/s1%00", "/api", "/api/studies//events",
    "/api/studies/s1/token", "/api/studies/nope/token",
])


@st.composite
def _http(draw: st.DrawFn) -> dict[str, Any]:
    from urllib.parse import quote

    from nasforge.report.dashboard._app import study_token

    own = study_token(TOKEN, "s1")  # steers s1 only; the master steers nothing
    path = draw(_PATHS | _PATHS.flatmap(lambda p: st.text(max_size=8).map(lambda s: p + quote(s))))
    method = draw(st.sampled_from(["GET", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD",
                                   "OPTIONS"]))
    auth = draw(st.sampled_from([None, f"Bearer {TOKEN}", f"Bearer {own}", f"Bearer {own}",
                                 "Bearer", "Bearer wrong", "Basic abc", "bearer  " + own, "",
                                 "Bearer \xff"]))
    event = draw(st.fixed_dictionaries(
        {"kind": st.sampled_from(["stop", "pause", "resume", "forbid", "pin", "inject", "budget",
                                  "nope"]) | JUNK},
        optional={"op": st.sampled_from(_OPS) | JUNK, "decision": st.sampled_from(
            ["cell.edge_1_0", "x"]) | JUNK, "value": JUNK, "arch": _TEXT | JUNK,
                  "trials": JUNK, "minutes": JUNK},
    ) | JUNK)
    raw = draw(st.none() | st.sampled_from(["{", "null", "[]", "\"x\"", "1e999"]))
    return {"method": method, "path": path, "auth": auth, "event": event, "raw": raw}


def _dashboard(req: dict[str, Any]) -> str:
    client = _dashboard_client()
    headers: dict[str, Any] = {}
    if req["auth"] is not None:  # as bytes: a client may send any octets
        headers["authorization"] = req["auth"].encode()
    try:
        if req["raw"] is not None:
            headers["content-type"] = "application/json"
            response = client.request(req["method"], req["path"], content=req["raw"],
                                      headers=headers)
        elif req["method"] in ("POST", "PUT", "PATCH"):
            # Encoded here, NaN and Infinity included (as Python's json and many clients
            # write them): httpx's own ``json=`` refuses them before anything is sent.
            headers["content-type"] = "application/json"
            response = client.request(req["method"], req["path"], headers=headers,
                                      content=json.dumps(req["event"]).encode())
        else:
            response = client.request(req["method"], req["path"], headers=headers)
    except Exception as exc:  # the server raised: a 500 in production
        raise Uncaught(f"{type(exc).__name__}: {str(exc)[:300]}") from exc
    code = response.status_code
    if code >= 500:
        raise Uncaught(f"HTTP {code} for {req['method']} {req['path']}: {response.text[:200]}")
    if 400 <= code < 500:
        if req["method"] != "HEAD":
            body = response.json()
            if not isinstance(body, dict) or not body.get("detail"):
                raise Uncaught(f"HTTP {code} without a JSON detail: {response.text[:200]}")
        return CLEAR
    return OK


# -- the registry of targets --------------------------------------------------------------------


def targets() -> dict[str, Target]:
    """Every fuzz target, fresh counters each call."""
    return {t.name: t for t in [
        Target("spec_yaml", _spec_text, _spec_yaml),
        Target("spec_dict", lambda: _mutated(SPEC, _SPEC_KEYS), _spec_dict),
        Target("set_overrides", _overrides, _set_overrides),
        Target("arch_string", _arch_text, _arch_parse),
        Target("steer_args", _steer_args, _steer),
        Target("declared_space", _declared_inputs, _declared),
        Target("function_space", lambda: _PROGRAM, _function),
        Target("cli", _cli_args, _cli),
        Target("dashboard_http", _http, _dashboard),
    ]}

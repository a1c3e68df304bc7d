"""``nasforge show``: a study's best trials and its failures."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nasforge.cli.main import app, format_number, user_errors

if TYPE_CHECKING:
    from nasforge.run.study import Study
    from nasforge.trial import Trial

SHOWN = ("val_accuracy", "test_accuracy", "test_mse", "val_r2", "params", "flops",
         "train_seconds", "epochs")


HEADERS = {"val_accuracy": "val", "test_accuracy": "test", "train_seconds": "train s",
           "val_r2": "val r2"}


def header(metric: str, units: dict[str, str]) -> str:
    """A column header: the short name, with the metric's unit when its evaluator declares one
    (``val %``); a metric without a unit (a 0-1 fraction, say) gets none."""
    name = HEADERS.get(metric, metric)
    unit = units.get(metric, "")
    return f"{name} {unit}" if unit else name


def _free_width(table: Table, console: Console, header: str, rows: list[list[str]]) -> int:
    """The width left for one more column after the columns already in ``table``."""
    widths = [len(_plain(c.header)) for c in table.columns]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    used = 1 + sum(w + 3 for w in widths)  # left edge; per column: content, padding, border
    return max(console.width - used - 3, len(header))


def _longest_word(cells: list[str]) -> int:
    return max((len(w) for cell in cells for w in cell.split()), default=0)


def _text_column(
    table: Table, console: Console, header: str, cells: list[str], rows: list[list[str]]
) -> None:
    """Add a last column of text that wraps between words, never inside one that fits.

    ``rows`` are the cells of the columns already added. The new column is made at least as wide
    as its longest word, as far as the console allows; only a word longer than the whole free
    width is folded (split), as a last resort.
    """
    free = _free_width(table, console, header, rows)
    table.add_column(header, min_width=min(_longest_word(cells), free), overflow="fold")


def _plain(header: object) -> str:
    return header if isinstance(header, str) else str(header)


def _print_trials(
    console: Console,
    study: Study,
    shown: list[Trial],
    present: list[str],
    steps: dict[int, set[int]],
    title: str,
) -> None:
    """A table of ``shown`` trials: number, the ``present`` metrics, steps, architecture."""
    table = Table(title=title, header_style="bold")
    # Trial numbers are identifiers (``--trial 12``), so they print in full.
    table.add_column("#", justify="right", no_wrap=True)
    units = study.units()
    for column in present:
        table.add_column(header(column, units), justify="right", no_wrap=True)
    if steps:
        table.add_column("steps", justify="right", no_wrap=True)
    rows = [[str(t.number), *(format_number(t.metrics.get(c)) for c in present),
             *([str(len(steps.get(t.number, ())))] if steps else [])] for t in shown]
    archs = [study.parts.space.format(t.arch) for t in shown]
    # An architecture is never split inside a decision: when the widest one does not fit
    # beside the numbers, the architectures are listed under the table instead.
    beside = _longest_word(archs) <= _free_width(table, console, "architecture", rows)
    if beside:
        _text_column(table, console, "architecture", archs, rows)
    for row, arch in zip(rows, archs, strict=True):
        table.add_row(*row, *([escape(arch)] if beside else []))
    console.print(table)
    if not beside:
        for trial, arch in zip(shown, archs, strict=True):
            console.print(f"[bold]#{trial.number}[/]  {escape(arch)}", highlight=False)


def _hypervolume_line(study: Study, trials: list[Trial]) -> str:
    """``hypervolume 123.4 (reference point: val_accuracy=85 from hypervolume_reference, ...)``."""
    from nasforge.run.finish import front_summary

    hv = front_summary(study, trials)["hypervolume"]
    if hv is None:
        return "hypervolume: no feasible trial yet"
    where = ", ".join(
        f"{m}={format_number(v)} from {hv['reference_from'][m]}" for m, v in hv["reference"].items()
    )
    value = hv["note"] if hv["value"] is None else format_number(hv["value"])
    return f"hypervolume {value} (reference point: {where})"


def _print_remeasured(console: Console, study: Study, n_trials: int) -> None:
    """The front's latencies measured again at the end of the study (``summary.json``'s
    ``remeasured_front``), beside the values measured during the search; nothing without."""
    from nasforge.run.remeasure import stored_remeasurement

    stored = stored_remeasurement(study.directory)
    if stored is None:
        return
    rows, at = stored
    threads = sorted({str(row.get("threads")) for row in rows})
    title = (f"front latency measured again after the search (quiet, {'/'.join(threads)} "
             "thread), ms")
    if at != n_trials:
        title += f"; at the last finish, {format_number(at)} trials"
    table = Table(title=title, header_style="bold")
    for name in ("#", "metric", "batch", "search", "again", "IQR"):
        table.add_column(name, justify="left" if name == "metric" else "right", no_wrap=True,
                         min_width=len(name))
    for row in rows:
        again = (format_number(row.get("median_ms")) if row.get("error") is None
                 else "failed")
        table.add_row(
            str(row.get("number")), escape(str(row.get("metric"))), str(row.get("batch_size")),
            format_number(row.get("searched")), again, format_number(row.get("iqr_ms")),
        )
    console.print(table)
    for row in rows:
        if row.get("error"):
            console.print(escape(f"#{row['number']} {row['metric']}: {row['error']}"),
                          highlight=False)


def _importance_rows(study: Study) -> list[dict[str, object]]:
    """Per decision, most important first: its fANOVA importance and best choice's effect."""
    from nasforge.report.importance import importances, marginal_effects

    trials = study.trials()
    found = importances(study, trials, seed=study.spec.seed)
    effects = marginal_effects(study, trials)
    maximise = study.spec.objectives[0].direction == "max"
    rows: list[dict[str, object]] = []
    for item in found:
        mine = [e for e in effects if e.decision == item.decision]
        best = (max if maximise else min)(mine, key=lambda e: e.mean) if mine else None
        rows.append({"decision": item.decision, "importance": item.importance,
                     "best_option": None if best is None else best.option,
                     "mean": None if best is None else best.mean,
                     "low": None if best is None else best.low,
                     "high": None if best is None else best.high,
                     "n": None if best is None else best.n})
    return rows


def _print_importance(console: Console, study: Study) -> None:
    """The ``--importance`` table, or why there is none."""
    metric = study.spec.objectives[0].metric
    rows = _importance_rows(study)
    if not rows:
        console.print("importance: too few feasible trials, or no decision took two values",
                      highlight=False)
        return
    table = Table(title=f"which choices matter for {metric} (fANOVA importance; the best "
                  "choice's mean and 95 % interval)", header_style="bold")
    for name, right in (("decision", False), ("importance", True), ("best choice", False),
                        ("mean", True), ("95 % interval", True), ("trials", True)):
        table.add_column(name, justify="right" if right else "left", no_wrap=True)
    for row in rows:
        interval = (f"{format_number(row['low'])} to {format_number(row['high'])}"  # type: ignore[arg-type]
                    if row["mean"] is not None else "")
        table.add_row(escape(str(row["decision"])), f"{row['importance']:.3f}",
                      escape(str(row["best_option"])), format_number(row["mean"]),  # type: ignore[arg-type]
                      interval, str(row["n"]))
    console.print(table)


@app.command(epilog="Example: nasforge show runs/demo --top 5")
@user_errors
def show(
    study_dir: Path = typer.Argument(..., help="The study folder (holds study.db)."),
    top: int = typer.Option(10, min=1, help="How many of the best trials to list."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON instead."),
    importance: bool = typer.Option(False, "--importance", help="Also rank the decisions by "
                                    "fANOVA importance, with each one's best choice."),
) -> None:
    """Show the top trials of a study as a table, and every failed trial with its reason.

    With several objectives the Pareto front (``Study.best_trials()``) follows as a second
    table, with its hypervolume and the reference point it was measured against. When the
    front's latency was measured again at the end of the study (``remeasured_front`` in
    ``summary.json``, see :mod:`nasforge.run.remeasure`), a table sets those figures beside the
    ones measured during the search. After a retrain (``nasforge retrain`` or ``finalize``) its
    table of mean ± std per architecture and the final pick follow. Infeasible
    trials (INFEASIBLE ones, never trained, and trained ones that broke a constraint) are
    listed with the constraint they broke.

    Architectures print in their space's readable form (decision=value pairs, or NB201
    strings); numbers print as 98.88, 125.0k, 3.2M throughout, with ``%`` in the header only for
    metrics the evaluator declares as percentages. When evaluations reported learning curves, a
    ``steps`` column says how many steps each trial reported, and pruned trials are listed with
    the step and value where they stopped.

    ``--importance`` adds which choices matter (:mod:`nasforge.report.importance`): each
    decision's fANOVA importance for the first objective, with its best choice's mean and 95 %
    interval over the feasible trials (in ``--json``, the ``importance`` key).
    """
    from nasforge.run.finish import summary
    from nasforge.run.study import Study
    from nasforge.trial import TrialState

    study = Study.open(study_dir)
    console = Console()
    if as_json:
        from nasforge.run.remeasure import SUMMARY_KEY, stored_remeasurement

        data = summary(study)
        stored = stored_remeasurement(study.directory)
        data[SUMMARY_KEY] = [] if stored is None else stored[0]
        if importance:
            data["importance"] = _importance_rows(study)
        console.print_json(json.dumps(data))
        return
    objective_metrics = [o.metric for o in study.spec.objectives]
    columns = list(dict.fromkeys([*objective_metrics, *SHOWN]))
    trials = study.trials()
    present = [c for c in columns if any(c in t.metrics for t in trials)]
    best = study.ranked()[:top]
    objectives = ", ".join(map(str, study.spec.objectives))
    constraints = study.spec.constraints
    subject = f"{objectives}; {', '.join(map(str, constraints))}" if constraints else objectives
    steps: dict[int, set[int]] = {}
    for point in study.curves():
        steps.setdefault(point.trial, set()).add(point.step)
    searched = [t for t in trials if t.is_search]
    others = Counter(t.source.value for t in trials if not t.is_search)
    extra = "".join(f" + {n} {source}" for source, n in sorted(others.items()))
    _print_trials(
        console, study, best, present, steps,
        f"{study.name}: top {format_number(len(best))} of {format_number(len(searched))} trials"
        f"{extra} ({subject})",
    )
    if len(study.spec.objectives) > 1:
        front = study.best_trials(trials)
        _print_trials(
            console, study, front[:top], present, steps,
            f"Pareto front: {format_number(len(front))} trial{'' if len(front) == 1 else 's'}"
            + (f" (first {top} shown)" if len(front) > top else ""),
        )
        console.print(escape(_hypervolume_line(study, trials)), highlight=False)
    _print_remeasured(console, study, len(trials))
    from nasforge.run.retrain import final_pick

    pick = final_pick(study)  # the last `nasforge retrain` (or `finalize`), from retrain.json
    if pick is not None:
        from nasforge.cli.retrain import print_pick

        print_pick(console, pick, study.units())
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    if steps:
        console.print(
            f"learning curves: {len(steps)} trials reported up to "
            f"{max(len(s) for s in steps.values())} steps; {len(pruned)} pruned "
            f"(pruner: {escape(study.spec.pruner.name)})",
            highlight=False,
        )
    bad = [t for t in trials if t.state is not TrialState.COMPLETE or t.violation is not None]
    if bad:
        failures = Table(title="not completed, or infeasible", header_style="bold")
        failures.add_column("#", justify="right", no_wrap=True)
        failures.add_column("state", no_wrap=True)
        reasons = [
            (t.violation or t.result.reason or "") if t.result
            else "running, or killed while running"
            for t in bad
        ]
        rows = [[str(t.number), ("INFEASIBLE (trained)" if t.state is TrialState.COMPLETE
                 else t.state.value) + ("" if t.is_search else f" ({t.source.value})")]
                for t in bad]
        _text_column(failures, console, "reason", reasons, rows)
        for row, reason in zip(rows, reasons, strict=True):
            failures.add_row(*row, escape(reason))
        console.print(failures)
    if importance:
        _print_importance(console, study)

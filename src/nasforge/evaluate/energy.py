"""Energy and CO2 of one evaluation, tracked by codecarbon in offline mode.

:class:`EnergyMeter` wraps :class:`codecarbon.OfflineEmissionsTracker` around one evaluation and
gives an :class:`EnergyReading`: the energy in kWh, the CO2-equivalent in kg (the energy times
the grid intensity of the configured country, from codecarbon's bundled table) and how the
energy was obtained. The tracker never reaches the network: it is the offline tracker, given a
country code, with no output method (no CSV, API, Prometheus or logfire), no emissions endpoint
and no Electricity Maps token (one found in a codecarbon config file or environment variable is
dropped), and its logging is quieted to errors.

How codecarbon measures is decided by its CPU hardware object, read back after the tracker
starts (:data:`METHODS`): power counters (Intel RAPL on Linux, the Windows Energy Meter
Interface, Intel Power Gadget, Apple ``powermetrics``, a Raspberry Pi's PMIC) are measurements;
``cpu_load`` and ``constant`` modes are estimates from the CPU's TDP (thermal design power,
looked up by model name in codecarbon's table, else 4 W per thread). RAM energy is always
codecarbon's model of its power from the memory in use, so it is an estimate everywhere; on x86
that model never goes below two DIMMs (10 W), however little memory a process holds, so on
short CPU trials the RAM term is most of the figure.

Tracking is ``tracking_mode="process"``, because a study trains two or more candidates at once
and each trial should be charged for its own work: on a machine without power counters (this
one has no RAPL) a trial's CPU power is the TDP times the share of the machine's CPU time that
the evaluating process and its children used (user + system time over wall time, divided by the
number of logical CPUs), and its RAM power follows the memory the process holds. So the figure
is an *estimate* that scales with the work done, not a measurement of the wall socket: idle
power and the other trials running beside it are not charged to it. With RAPL, codecarbon reads
the package counter, which is machine-wide whatever the tracking mode, so trials running at the
same time each count the whole package (``method`` says which case applies).

Cost: codecarbon probes the hardware the first time a process starts a tracker (py-cpuinfo's
CPU model detection takes about 1.2 s, the TDP table about 0.3 s); it caches the outcome for the
process (``codecarbon.core.hardware_cache``), so later trials in the same worker pay about 10 ms
to start and 3 ms to stop. Workers of the process pool persist, so a study pays the probe once
per worker.

Example:
    >>> with EnergyMeter(country="FRA") as meter:  # doctest: +SKIP
    ...     train()
    >>> meter.reading.energy_kwh, meter.reading.co2_kg, meter.reading.method  # doctest: +SKIP
    (2.1e-06, 1.2e-07, 'cpu_load_tdp_estimate')
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import logging
import math
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from nasforge import metrics as M
from nasforge.imports import require_extra, try_import

if TYPE_CHECKING:
    from nasforge.trial import Result, Trial

DEFAULT_COUNTRY = "USA"
"""The country whose grid intensity turns energy into CO2 when a study names none (the United
States; set ``energy: {country: ...}`` to your own, a 3-letter ISO 3166-1 code)."""

METRICS: tuple[str, ...] = (M.ENERGY_KWH, M.CO2_KG)
"""The metrics energy tracking adds to a trial's result."""

INFO_KEY = "energy"
"""The key of ``Result.info`` holding how the energy was obtained (:meth:`EnergyReading.info`)."""

FEATURE = "Tracking the energy and CO2 of trials"
"""What needs the ``green`` extra, for :class:`~nasforge.imports.MissingDependencyError`."""

METHODS: dict[str, tuple[str, bool]] = {
    "intel_rapl": ("rapl", False),
    "windows_emi": ("windows_emi", False),
    "intel_power_gadget": ("power_gadget", False),
    "apple_powermetrics": ("powermetrics", False),
    "raspberry": ("raspberry_pmic", False),
    "cpu_load": ("cpu_load_tdp_estimate", True),
    "constant": ("constant_tdp_estimate", True),
}
"""codecarbon's CPU mode -> (the ``method`` label, whether the CPU energy is an estimate)."""

_TRACKING_MODE = "process"
_ENERGY_MIX = ("data", "private_infra", "global_energy_mix.json")


@dataclass(frozen=True)
class EnergySettings:
    """Energy tracking as an evaluation receives it (:attr:`EvalContext.energy`).

    Attributes:
        country: the 3-letter ISO code of the country whose grid intensity gives the CO2.
    """

    country: str = DEFAULT_COUNTRY


@dataclass(frozen=True)
class EnergyReading:
    """What :class:`EnergyMeter` found for one tracked block.

    Attributes:
        energy_kwh: the energy used (CPU + RAM + GPU), kWh.
        co2_kg: the CO2-equivalent emissions, kg.
        method: how the CPU energy was obtained (a value of :data:`METHODS`, or ``"unknown"``).
        estimate: whether it is an estimate (no power counter measured it).
        country: the country whose grid intensity gave ``co2_kg``.
        duration_s: the wall-clock seconds tracked.
        cpu_model: the CPU model codecarbon detected.
        cpu_tdp_w: the CPU power (W) its estimate starts from, ``None`` when measured.
    """

    energy_kwh: float
    co2_kg: float
    method: str
    estimate: bool
    country: str
    duration_s: float
    cpu_model: str | None = None
    cpu_tdp_w: float | None = None

    def metrics(self) -> dict[str, float]:
        """``{energy_kwh: ..., co2_kg: ...}``, as a result's metrics hold them."""
        return {M.ENERGY_KWH: self.energy_kwh, M.CO2_KG: self.co2_kg}

    def info(self) -> dict[str, Any]:
        """How the energy was obtained, JSON-able, as ``Result.info["energy"]`` holds it."""
        return {
            "method": self.method,
            "estimate": self.estimate,
            "country": self.country,
            "tracking_mode": _TRACKING_MODE,
            "duration_s": self.duration_s,
            "cpu_model": self.cpu_model,
            "cpu_tdp_w": self.cpu_tdp_w,
        }


def codecarbon_dir() -> Path | None:
    """Where the codecarbon package lies, without importing it; ``None`` if not installed."""
    try:
        found = importlib.util.find_spec("codecarbon")
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


@cache
def known_countries() -> dict[str, str] | None:
    """ISO code -> country name of every country codecarbon has a grid intensity for (read from
    its bundled table without importing codecarbon); ``None`` if codecarbon is not installed."""
    root = codecarbon_dir()
    if root is None:
        return None
    try:
        table = json.loads(root.joinpath(*_ENERGY_MIX).read_text())
    except (OSError, ValueError):
        return None
    return {code: str(row.get("country_name", code)) for code, row in table.items()}


def country_problem(code: str) -> str | None:
    """Why ``code`` cannot be a country of energy tracking, or ``None`` if it can.

    The code must be three letters; when codecarbon is installed it must also be in its table
    (without it, only the form is checked: pre-flight then asks for the extra).
    """
    if len(code) != 3 or not code.isalpha():
        return "expected a 3-letter ISO 3166-1 country code such as FRA, DEU or USA"
    countries = known_countries()
    if countries is not None and code.upper() not in countries:
        return (f"codecarbon has no grid intensity for country code {code.upper()!r} (its table "
                f"lists {len(countries)} countries by 3-letter ISO 3166-1 code)")
    return None


def country_fix(code: str) -> str:
    """The codes to suggest instead of ``code``: the closest ones of codecarbon's table."""
    countries = known_countries() or {}
    by_name = {name.lower(): c for c, name in countries.items()}
    if code.strip().lower() in by_name:  # a country's name given for its code
        return by_name[code.strip().lower()]
    close = difflib.get_close_matches(code.upper(), list(countries), n=3, cutoff=0.3)
    named = ", ".join(f"{c} ({countries[c]})" for c in close)
    return f"{named}, or another 3-letter ISO 3166-1 code" if named else "FRA, DEU or USA"


def require_codecarbon() -> None:
    """Raise :class:`~nasforge.imports.MissingDependencyError` now if codecarbon is missing."""
    require_extra("green", FEATURE, "leave energy tracking off (remove `energy` from the spec)")


def _quiet(logger: logging.Logger) -> None:
    if logger.getEffectiveLevel() < logging.ERROR:
        logger.setLevel(logging.ERROR)


def _label(hardware: Sequence[Any]) -> tuple[str, bool, str | None, float | None]:
    """(method, estimate, CPU model, TDP W) from the hardware objects of a started tracker.

    codecarbon keeps no public record of its CPU mode; its ``CPU`` objects hold it as ``_mode``
    (see ``codecarbon/core/resource_tracker.py``), Apple chips and Raspberry Pis are classes
    of their own.
    """
    for item in hardware:
        kind = type(item).__name__
        if kind == "AppleSiliconChip":
            return METHODS["apple_powermetrics"][0], False, getattr(item, "_model", None), None
        if kind == "Raspberry" and getattr(item, "chip_part", "CPU") == "CPU":
            return METHODS["raspberry"][0], False, getattr(item, "_model", None), None
        if kind == "CPU":
            mode = str(getattr(item, "_mode", ""))
            method, estimate = METHODS.get(mode, (mode or "unknown", True))
            tdp = getattr(item, "_tdp", None) if estimate else None
            return method, estimate, getattr(item, "_model", None), _float_or_none(tdp)
    return "unknown", True, None, None


def _float_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class EnergyMeter:
    """A context manager that tracks the energy and CO2 of its block with codecarbon, offline.

    On exit (also when the block raises) :attr:`reading` holds an :class:`EnergyReading`, or
    stays ``None`` with :attr:`error` saying why codecarbon gave nothing; the meter itself never
    raises there, so a trial is not failed by its bookkeeping. Entering raises
    :class:`~nasforge.imports.MissingDependencyError` when codecarbon is not installed. See the
    module docstring for what the figures mean and cost.

    Args:
        country: the 3-letter ISO code of the country whose grid intensity gives the CO2.
        measure_power_secs: how often codecarbon integrates power into energy while the block
            runs (it samples CPU load every second in between, and once more on exit).
    """

    def __init__(self, country: str = DEFAULT_COUNTRY, *, measure_power_secs: float = 15.0):
        problem = country_problem(country)
        if problem is not None:
            raise ValueError(f"EnergyMeter country: {problem}, got {country!r}; use "
                             f"{country_fix(country)}")
        if not measure_power_secs > 0:
            raise ValueError(
                f"EnergyMeter measure_power_secs must be > 0, got {measure_power_secs}"
            )
        self.country = country.upper()
        self.measure_power_secs = measure_power_secs
        self.reading: EnergyReading | None = None
        self.error: str | None = None
        self._tracker: Any = None
        self._start = 0.0

    def __enter__(self) -> EnergyMeter:
        with try_import("green", FEATURE) as imports:
            import codecarbon.external.logger as cc_logger
            from codecarbon import OfflineEmissionsTracker
        imports.check()
        _quiet(logging.getLogger(cc_logger.__name__.split(".")[0]))
        self.reading, self.error = None, None
        self._tracker = OfflineEmissionsTracker(
            country_iso_code=self.country,
            region=None,
            cloud_provider=None,
            cloud_region=None,
            country_2letter_iso_code=None,
            tracking_mode=_TRACKING_MODE,
            output_methods=[],
            emissions_endpoint=None,
            electricitymaps_api_token=None,
            api_call_interval=-1,
            output_dir=tempfile.gettempdir(),  # must exist; nothing is written there
            measure_power_secs=self.measure_power_secs,
            allow_multiple_runs=True,  # no lock file: workers track side by side
            log_level="error",
        )
        # A token from a config file or CODECARBON_* variable would make codecarbon ask the
        # Electricity Maps API for the intensity; offline means never.
        self._tracker._electricitymaps_api_token = None
        self._tracker.start()  # probes the hardware once per process (cached by codecarbon)
        self._start = time.perf_counter()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        tracker, self._tracker = self._tracker, None
        if tracker is None:
            return
        duration = time.perf_counter() - self._start
        try:
            tracker.stop()
            data = getattr(tracker, "final_emissions_data", None)
            if data is None:  # codecarbon swallows errors in start() and stop()
                self.error = "codecarbon recorded no emissions data (see its log)"
                return
            energy = _float_or_none(data.energy_consumed)
            co2 = _float_or_none(data.emissions)
            if energy is None or co2 is None or energy < 0 or co2 < 0:
                self.error = (f"codecarbon gave energy {data.energy_consumed!r} kWh and "
                              f"emissions {data.emissions!r} kg")
                return
            method, estimate, model, tdp = _label(getattr(tracker, "_hardware", ()))
            self.reading = EnergyReading(
                energy_kwh=energy, co2_kg=co2, method=method, estimate=estimate,
                country=self.country, duration_s=duration, cpu_model=model, cpu_tdp_w=tdp,
            )
        except Exception as err:  # the bookkeeping must never fail the tracked block
            self.error = f"{type(err).__name__}: {err}"


def with_energy(result: Result, meter: EnergyMeter) -> Result:
    """``result`` with the meter's ``energy_kwh`` and ``co2_kg`` among its metrics and how they
    were obtained in ``info["energy"]`` (or the reason there were none), whatever its status: a
    failed or timed-out trial keeps the energy it used until it stopped."""
    import dataclasses

    reading = meter.reading
    if reading is None:
        info = {**result.info, INFO_KEY: {"error": meter.error or "not tracked"}}
        return dataclasses.replace(result, info=info)
    metrics = {**result.metrics, **reading.metrics()}
    info = {**result.info, INFO_KEY: reading.info()}
    return dataclasses.replace(result, metrics=metrics, info=info)


@dataclass(frozen=True)
class EnergyTotal:
    """The energy of a study's trials, summed (``summary.json``'s ``energy``).

    Attributes:
        kwh: the total energy, kWh.
        co2_kg: the total CO2-equivalent, kg.
        method: how it was obtained; several methods are joined with ``+``.
        estimate: whether any part of it is an estimate.
        country: the grid's country (several are joined with ``+``).
        n_trials: how many trials carry an energy figure.
    """

    kwh: float
    co2_kg: float
    method: str
    estimate: bool
    country: str
    n_trials: int

    def to_dict(self) -> dict[str, Any]:
        return {"kwh": self.kwh, "co2_kg": self.co2_kg, "method": self.method,
                "estimate": self.estimate, "country": self.country, "n_trials": self.n_trials}


def total_energy(trials: Sequence[Trial]) -> EnergyTotal | None:
    """The summed energy and CO2 of the trials that carry them (every state: a failed trial
    used energy too); ``None`` when none does."""
    kwh = co2 = 0.0
    methods: set[str] = set()
    countries: set[str] = set()
    estimate = False
    n = 0
    for trial in trials:
        metrics = trial.metrics
        if M.ENERGY_KWH not in metrics:
            continue
        n += 1
        kwh += metrics[M.ENERGY_KWH]
        co2 += metrics.get(M.CO2_KG, 0.0)
        label = trial.result.info.get(INFO_KEY) if trial.result is not None else None
        if isinstance(label, Mapping):
            methods.add(str(label.get("method", "unknown")))
            countries.add(str(label.get("country", "")))
            estimate = estimate or bool(label.get("estimate", True))
        else:
            methods.add("unknown")
            estimate = True
    if n == 0:
        return None
    return EnergyTotal(kwh=kwh, co2_kg=co2, method="+".join(sorted(methods)), estimate=estimate,
                       country="+".join(sorted(c for c in countries if c)), n_trials=n)


__all__ = ["DEFAULT_COUNTRY", "INFO_KEY", "METHODS", "METRICS", "EnergyMeter", "EnergyReading",
           "EnergySettings", "EnergyTotal", "country_fix", "country_problem", "known_countries",
           "require_codecarbon", "total_energy", "with_energy"]

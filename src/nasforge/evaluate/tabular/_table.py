"""`NB201Table`: the compact NAS-Bench-201 results table, loaded once per process and validated.

The table is the gzip CSV documented in ``PROVENANCE.md`` beside it (15,625 rows, one per cell, 33
columns): validation and test accuracies after 12 and 200 epochs on CIFAR-10, CIFAR-100 and
ImageNet16-120, training seconds per epoch, parameters, FLOPs and zero-cost proxy scores.

Where the file is found (first match wins), see :func:`resolve_nb201_path`:

1. an explicit ``path`` (a file, or a folder holding ``nb201_table.csv.gz``);
2. the ``NASFORGE_NB201`` environment variable (CI sets it);
3. ``../shared/data/nasbench201/nb201_table.csv.gz`` relative to the working directory;
4. the same path relative to the source checkout that holds this package (editable installs).

Loading validates eagerly (missing columns, row count, duplicate or malformed architecture
strings, non-numeric or out-of-range values, truncated gzip), so a bad file fails before a study
writes anything. Tables are cached per process by path, modification time and size, so a second
``load`` of the same file costs a ``stat``.

Example:
    >>> table = NB201Table.load()  # doctest: +SKIP
    >>> table.lookup("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    ...              "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")["test_accuracy"]
    ... # doctest: +SKIP
    94.3733
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

import numpy as np

from nasforge import metrics as M
from nasforge.errors import ConfigError, DataNotFoundError, InvalidArchitectureError, Problem
from nasforge.space._nb201 import NB201_OPS, arch_to_nb201

Dataset = Literal["cifar10", "cifar100", "imagenet16-120"]
"""The three NAS-Bench-201 datasets, by the names users write."""
DATASETS: tuple[str, ...] = get_args(Dataset)
FIDELITIES: tuple[int, ...] = (12, 200)
"""The training schedules the table holds (epochs)."""
ProxyMetric = Literal["naswot", "logsynflow", "jacov"]

ENV_VAR = "NASFORGE_NB201"
FILE_NAME = "nb201_table.csv.gz"
SHARED_RELATIVE = Path("..") / "shared" / "data" / "nasbench201" / FILE_NAME
N_ARCHS = 5**6
"""Cells in NAS-Bench-201 (15,625)."""

_PREFIX: dict[str, str] = {"cifar10": "c10", "cifar100": "c100", "imagenet16-120": "in"}
_N_CLASSES: dict[str, int] = {"cifar10": 10, "cifar100": 100, "imagenet16-120": 120}


def dataset_prefix(dataset: str) -> str:
    """The column prefix of ``dataset`` (``c10``, ``c100``, ``in``)."""
    try:
        return _PREFIX[dataset]
    except KeyError:
        raise ConfigError(
            [Problem("dataset", f"unknown NAS-Bench-201 dataset {dataset!r}",
                     f"use one of {list(DATASETS)}")]
        ) from None


def _check_fidelity(fidelity: int) -> int:
    if fidelity not in FIDELITIES:
        raise ConfigError(
            [
                Problem(
                    "fidelity",
                    f"fidelity must be 12 or 200 (epochs) for nb201_table; got {fidelity!r}",
                    "ask for 12 or 200 epochs (the schedules NAS-Bench-201 trained), or leave "
                    "the candidate's fidelity None for the evaluator's own",
                )
            ]
        )
    return int(fidelity)


def column_of(metric: str, dataset: str, fidelity: int = 200) -> str:
    """The table column behind ``metric`` for ``dataset`` at ``fidelity`` epochs.

    ``val_accuracy`` on CIFAR-10 reads the ``cifar10-valid`` setting (``c10v_val_acc_*``: trained
    on 25k images, validated on the other 25k); ``test_accuracy`` on CIFAR-10 reads the model
    trained on all 50k (``c10_test_acc_*``), as NAS papers report. CIFAR-100 and ImageNet16-120
    validate on one half of the test set and test on the other. ``params``, ``flops`` and
    ``train_time_per_epoch`` do not depend on the fidelity.
    """
    p = dataset_prefix(dataset)
    if metric == M.VAL_ACCURACY:
        return f"{'c10v' if p == 'c10' else p}_val_acc_{_check_fidelity(fidelity)}"
    if metric == M.TEST_ACCURACY:
        return f"{p}_test_acc_{_check_fidelity(fidelity)}"
    simple = {M.PARAMS: "params_M", M.FLOPS: "flops_M", "train_time_per_epoch":
              "train_time_per_epoch_s", "naswot": "naswot", "logsynflow": "logsynflow"}
    if metric in simple:
        return f"{p}_{simple[metric]}"
    if metric == "jacov":
        if p != "c10":
            raise ConfigError(
                [Problem("metric", f"the table has jacov scores for cifar10 only; got dataset "
                         f"{dataset!r}", "use metric naswot or logsynflow, or dataset cifar10")]
            )
        return "c10_jacov_naswot_v1"
    known = [M.VAL_ACCURACY, M.TEST_ACCURACY, *simple, "jacov"]
    raise ConfigError(
        [Problem("metric", f"unknown NAS-Bench-201 table metric {metric!r}",
                 f"use one of {known}")]
    )


def _accuracy_columns() -> list[str]:
    cols = []
    for fid in FIDELITIES:
        for ds in DATASETS:
            cols += [column_of(M.VAL_ACCURACY, ds, fid), column_of(M.TEST_ACCURACY, ds, fid)]
    cols += ["c10v_test_acc_200", "c100_oritest_acc_200", "in_oritest_acc_200"]
    return cols


ACCURACY_COLUMNS: tuple[str, ...] = tuple(_accuracy_columns())
"""Accuracy columns, in percent: present, complete, within [0, 100]."""
POSITIVE_COLUMNS: tuple[str, ...] = tuple(
    f"{p}_{k}" for p in _PREFIX.values() for k in ("train_time_per_epoch_s", "params_M", "flops_M")
)
"""Cost columns: present, complete, > 0."""
PROXY_COLUMNS: tuple[str, ...] = (
    "c10_jacov_naswot_v1",
    *(f"{p}_{k}" for p in _PREFIX.values() for k in ("naswot", "logsynflow")),
)
"""Zero-cost proxy columns: present; empty fields (degenerate cells) are allowed and read NaN."""
COLUMNS: tuple[str, ...] = ("index", "arch", *ACCURACY_COLUMNS, *POSITIVE_COLUMNS, *PROXY_COLUMNS)
"""Every column a table must have (the order in the file does not matter)."""


@functools.cache
def all_nb201_strings() -> frozenset[str]:
    """The 15,625 valid NB201 cell strings."""
    out = set()
    for ops in itertools.product(NB201_OPS, repeat=6):
        a, b, c, d, e, f = ops
        out.add(f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|")
    return frozenset(out)


def _source_shared_path() -> Path | None:
    """``<checkout>/../shared/...`` when this package runs from a source checkout (``src/``)."""
    here = Path(__file__).resolve()
    if len(here.parents) > 4 and here.parents[3].name == "src":
        return here.parents[4] / SHARED_RELATIVE
    return None


def _as_file(path: Path) -> Path:
    return path / FILE_NAME if path.is_dir() else path


def resolve_nb201_path(path: str | os.PathLike[str] | None = None, *, field: str = "path") -> Path:
    """Find the NAS-Bench-201 table: ``path``, then ``$NASFORGE_NB201``, then the shared folder.

    Args:
        path: an explicit file (or a folder holding ``nb201_table.csv.gz``); ``~`` is expanded and
            a relative path is taken from the working directory.
        field: how messages name the option (``evaluator.path``).

    Raises:
        DataNotFoundError: naming what was tried and how to point nasforge at the file.
    """
    how = (
        f"set {field}: /path/to/{FILE_NAME}, or export {ENV_VAR}=/path/to/{FILE_NAME} "
        f"(the compact table and its PROVENANCE.md live under shared/data/nasbench201/)"
    )
    if path is not None and str(path) != "":
        given = _as_file(Path(path).expanduser())
        if not given.is_file():
            raise DataNotFoundError(f"{field}: NAS-Bench-201 table {given} does not exist; {how}")
        return given
    env = os.environ.get(ENV_VAR, "")
    if env:
        from_env = _as_file(Path(env).expanduser())
        if not from_env.is_file():
            raise DataNotFoundError(
                f"{ENV_VAR} points at {from_env}, which does not exist; fix or unset {ENV_VAR}, "
                f"or {how}"
            )
        return from_env
    tried = [Path.cwd() / SHARED_RELATIVE]
    source = _source_shared_path()
    if source is not None:
        tried.append(source)
    for candidate in tried:
        if candidate.is_file():
            return candidate.resolve()
    places = ", ".join(str(p) for p in tried)
    raise DataNotFoundError(
        f"NAS-Bench-201 table not found: no {field} given, {ENV_VAR} is not set, and it is not at "
        f"{places}; {how}"
    )


@dataclass(frozen=True)
class NB201Optimum:
    """The best architectures of one dataset at 200 epochs (the limit a search can reach).

    Attributes:
        best_val: the highest validation accuracy, and ``best_val_arch`` the cell that has it.
        test_at_best_val: that cell's test accuracy: the "test of best-by-validation" a search
            ending at the validation optimum reports.
        best_test: the highest test accuracy (an oracle figure; searches never see test).
    """

    dataset: str
    best_val: float
    best_val_arch: str
    test_at_best_val: float
    best_test: float
    best_test_arch: str


def _bad_table(path: Path, problem: str, fix: str, field: str) -> ConfigError:
    return ConfigError(
        [Problem(field, f"{path} is not a valid NAS-Bench-201 table: {problem}", fix)]
    )


_REFETCH = "copy the file again (PROVENANCE.md beside it gives its sha256)"


class NB201Table:
    """The NAS-Bench-201 results table in memory: one row per cell, numeric columns as arrays.

    Build with :meth:`load` (cached per process). Lookups are by NB201 cell string or by an
    :class:`~nasforge.architecture.Architecture` of :class:`~nasforge.space.NB201Space`; the
    arrays (:meth:`values`) are aligned with :attr:`archs`, for vectorised benchmark code.
    """

    def __init__(
        self,
        path: Path,
        archs: Sequence[str],
        columns: Mapping[str, np.ndarray],
        indices: Sequence[int] | None = None,
    ) -> None:
        self.path = path
        self.archs: tuple[str, ...] = tuple(archs)
        self.indices: tuple[int, ...] = (
            tuple(range(len(self.archs))) if indices is None else tuple(int(i) for i in indices)
        )
        """The official NB201 / NATS-tss index of each row (the file's ``index`` column)."""
        self._row = {a: i for i, a in enumerate(self.archs)}
        self._columns = {}
        for name, values in columns.items():
            array = np.asarray(values, dtype=np.float64).copy()
            array.setflags(write=False)
            self._columns[name] = array
        self._optima: dict[str, NB201Optimum] = {}

    # -- loading ----------------------------------------------------------------------------
    _cache: ClassVar[dict[tuple[str, int, int, bool], NB201Table]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        require_complete: bool = True,
        field: str = "path",
    ) -> NB201Table:
        """The table at ``path`` (resolved by :func:`resolve_nb201_path`), cached per process.

        Args:
            require_complete: require all 15,625 cells. Only tiny tables written by tests turn it
                off; lookups of absent cells then fail.
            field: how messages name the path option.

        Raises:
            DataNotFoundError: the file cannot be found.
            ConfigError: the file is unreadable, truncated or malformed (names file and problem).
        """
        resolved = resolve_nb201_path(path, field=field).resolve()
        stat = resolved.stat()
        key = (str(resolved), stat.st_mtime_ns, stat.st_size, require_complete)
        with cls._lock:
            table = cls._cache.get(key)
            if table is None:
                table = cls._read(resolved, require_complete=require_complete, field=field)
                cls._cache = {k: v for k, v in cls._cache.items() if k[0] != key[0]}
                cls._cache[key] = table
        return table

    @classmethod
    def clear_cache(cls) -> None:
        """Forget loaded tables (tests that rewrite a file in place within one mtime tick)."""
        with cls._lock:
            cls._cache.clear()

    @classmethod
    def _read(cls, path: Path, *, require_complete: bool, field: str) -> NB201Table:
        from nasforge.imports import try_import

        with try_import("pandas", "Reading the NAS-Bench-201 table") as imports:
            import pandas as pd
        imports.check()

        try:
            frame = pd.read_csv(path, compression="infer", dtype={"arch": str},
                                keep_default_na=False, na_values=[""])
        except (EOFError, OSError, zlib.error, UnicodeDecodeError) as exc:
            raise _bad_table(
                path, f"cannot read it as gzip CSV ({type(exc).__name__}: {exc}); the file is "
                "probably truncated or not gzip", _REFETCH, field) from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise _bad_table(path, f"cannot parse it as CSV ({exc})", _REFETCH, field) from None
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6
                                              else "")
            raise _bad_table(path, f"missing column(s) {shown}",
                             "use the table documented in PROVENANCE.md (33 columns)", field)
        archs = [str(a) for a in frame["arch"].tolist()]
        cls._check_archs(path, archs, require_complete, field)
        index = pd.to_numeric(frame["index"], errors="coerce").to_numpy(dtype=np.float64)
        bad_index = np.flatnonzero(~np.isfinite(index) | (index < 0) | (index != np.round(index)))
        if bad_index.size:
            row = int(bad_index[0])
            raise _bad_table(path, f"column 'index' row {row + 1} holds "
                             f"{frame['index'].iloc[row]!r}, not an index >= 0", _REFETCH, field)
        columns: dict[str, np.ndarray] = {}
        for name in COLUMNS[2:]:
            numeric = pd.to_numeric(frame[name], errors="coerce")
            bad = numeric.isna() & frame[name].notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise _bad_table(path, f"column {name!r} row {row + 1} holds "
                                 f"{frame[name].iloc[row]!r}, not a number", _REFETCH, field)
            values = numeric.to_numpy(dtype=np.float64)
            cls._check_values(path, name, values, field)
            columns[name] = values
        return cls(path, archs, columns, index.astype(np.int64).tolist())

    @staticmethod
    def _check_archs(path: Path, archs: list[str], require_complete: bool, field: str) -> None:
        valid = all_nb201_strings()
        wrong = [(i, a) for i, a in enumerate(archs) if a not in valid]
        if wrong:
            i, a = wrong[0]
            raise _bad_table(path, f"row {i + 1} has arch {a!r}, not an NB201 cell string "
                             f"({len(wrong)} such rows)", _REFETCH, field)
        if len(set(archs)) != len(archs):
            seen: set[str] = set()
            dup = next(a for a in archs if a in seen or seen.add(a))  # type: ignore[func-returns-value]
            raise _bad_table(path, f"arch {dup!r} appears more than once", _REFETCH, field)
        if require_complete and len(archs) != N_ARCHS:
            raise _bad_table(
                path, f"it has {len(archs)} architectures, expected all {N_ARCHS:,} cells",
                f"{_REFETCH}; a partial table needs require_complete=False", field)

    @staticmethod
    def _check_values(path: Path, name: str, values: np.ndarray, field: str) -> None:
        if name in PROXY_COLUMNS:
            finite = values[~np.isnan(values)]
            if not np.all(np.isfinite(finite)):
                raise _bad_table(path, f"column {name!r} holds infinite values", _REFETCH, field)
            return
        nan = np.flatnonzero(~np.isfinite(values))
        if nan.size:
            raise _bad_table(path, f"column {name!r} row {int(nan[0]) + 1} is empty or not "
                             f"finite ({nan.size} such rows)", _REFETCH, field)
        if name in ACCURACY_COLUMNS:
            out = np.flatnonzero((values < 0) | (values > 100))
            what = "an accuracy in percent within [0, 100]"
        else:
            out = np.flatnonzero(values <= 0)
            what = "a positive number"
        if out.size:
            raise _bad_table(path, f"column {name!r} row {int(out[0]) + 1} is "
                             f"{float(values[out[0]])!r}, expected {what}", _REFETCH, field)

    # -- lookups ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.archs)

    def __contains__(self, arch: object) -> bool:
        return self.find(arch) is not None  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"NB201Table({str(self.path)!r}, rows={len(self)})"

    @property
    def rows(self) -> int:
        """Number of architectures (15,625 for the real table)."""
        return len(self.archs)

    @staticmethod
    def arch_string(arch: str | Mapping[str, Any]) -> str:
        """The NB201 string of an NB201 string or an NB201Space architecture."""
        return arch if isinstance(arch, str) else arch_to_nb201(arch)

    def find(self, arch: str | Mapping[str, Any]) -> int | None:
        """The row of ``arch`` in :attr:`archs`, or ``None`` when the table lacks it."""
        return self._row.get(self.arch_string(arch))

    def row(self, arch: str | Mapping[str, Any]) -> int:
        """The row of ``arch``; :class:`InvalidArchitectureError` when the table lacks it."""
        found = self.find(arch)
        if found is None:
            raise InvalidArchitectureError(
                f"architecture {self.arch_string(arch)!r} is not in the NAS-Bench-201 table "
                f"{self.path} ({len(self)} rows)"
            )
        return found

    def nb201_index(self, row: int) -> int:
        """The official NB201 index of row ``row`` (equal to the row in the real table)."""
        return self.indices[row]

    def column(self, name: str) -> np.ndarray:
        """A raw column (read-only float array aligned with :attr:`archs`)."""
        try:
            return self._columns[name]
        except KeyError:
            raise KeyError(f"no numeric column {name!r}; columns: {', '.join(self._columns)}") \
                from None

    def values(self, metric: str, dataset: str = "cifar10", fidelity: int = 200) -> np.ndarray:
        """``metric`` of every row, in the evaluator's units (absolute params/FLOPs).

        ``metric`` is one of ``val_accuracy``, ``test_accuracy``, ``params``, ``flops``,
        ``train_seconds`` (``fidelity`` × seconds per epoch), ``naswot``, ``logsynflow``,
        ``jacov`` (NaN where the source has no score).
        """
        if metric == M.TRAIN_SECONDS:
            return _check_fidelity(fidelity) * self.column(
                column_of("train_time_per_epoch", dataset))
        values = self.column(column_of(metric, dataset, fidelity))
        if metric in (M.PARAMS, M.FLOPS):
            return values * 1e6
        return values

    def lookup(
        self, arch: str | Mapping[str, Any], dataset: str = "cifar10", fidelity: int = 200
    ) -> dict[str, float]:
        """The metrics the evaluator reports for ``arch`` (see :class:`TabularNB201Evaluator`).

        Raises:
            InvalidArchitectureError: the table lacks ``arch``.
            ConfigError: unknown dataset or a fidelity other than 12 or 200.
        """
        i = self.row(arch)
        fidelity = _check_fidelity(fidelity)
        p = dataset_prefix(dataset)
        c = self._columns
        return {
            M.VAL_ACCURACY: float(c[column_of(M.VAL_ACCURACY, dataset, fidelity)][i]),
            M.TEST_ACCURACY: float(c[column_of(M.TEST_ACCURACY, dataset, fidelity)][i]),
            M.PARAMS: float(c[f"{p}_params_M"][i]) * 1e6,
            M.FLOPS: float(c[f"{p}_flops_M"][i]) * 1e6,
            M.TRAIN_SECONDS: fidelity * float(c[f"{p}_train_time_per_epoch_s"][i]),
            M.EPOCHS: float(fidelity),
        }

    def proxy(self, arch: str | Mapping[str, Any], metric: str, dataset: str = "cifar10") -> float:
        """A zero-cost proxy score of ``arch`` (``naswot``, ``logsynflow``, ``jacov``); NaN when
        the source has none."""
        return float(self.column(column_of(metric, dataset))[self.row(arch)])

    def optimum(self, dataset: str = "cifar10") -> NB201Optimum:
        """The best validation and best test architectures of ``dataset`` at 200 epochs.

        Ties go to the first row in file order.
        """
        if dataset not in self._optima:
            val = self.values(M.VAL_ACCURACY, dataset)
            test = self.values(M.TEST_ACCURACY, dataset)
            i, j = int(np.argmax(val)), int(np.argmax(test))
            self._optima[dataset] = NB201Optimum(
                dataset=dataset,
                best_val=float(val[i]),
                best_val_arch=self.archs[i],
                test_at_best_val=float(test[i]),
                best_test=float(test[j]),
                best_test_arch=self.archs[j],
            )
        return self._optima[dataset]


def n_classes(dataset: str) -> int:
    """Classes of a NAS-Bench-201 dataset."""
    dataset_prefix(dataset)
    return _N_CLASSES[dataset]

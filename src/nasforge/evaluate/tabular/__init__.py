"""Tabular benchmarks: architectures' results looked up in a table instead of trained.

Registers the ``nb201_table`` evaluator (:class:`TabularNB201Evaluator`) and the ``nb201`` task
(:class:`NB201Task`) on import. :class:`NB201Table` is the fast in-process lookup behind them, for
benchmark scripts that run thousands of searches without the study loop;
:func:`write_dummy_nb201_table` writes a synthetic table in the same format for tests.
"""

from nasforge.evaluate.tabular._dummy import write_dummy_nb201_table
from nasforge.evaluate.tabular._nats import NATSTopology
from nasforge.evaluate.tabular._table import (
    COLUMNS,
    DATASETS,
    ENV_VAR,
    FIDELITIES,
    N_ARCHS,
    Dataset,
    NB201Optimum,
    NB201Table,
    all_nb201_strings,
    column_of,
    resolve_nb201_path,
)
from nasforge.evaluate.tabular.nb201 import TabularNB201Evaluator
from nasforge.evaluate.tabular.task import NB201Task

__all__ = [
    "COLUMNS",
    "DATASETS",
    "ENV_VAR",
    "FIDELITIES",
    "N_ARCHS",
    "Dataset",
    "NATSTopology",
    "NB201Optimum",
    "NB201Table",
    "NB201Task",
    "TabularNB201Evaluator",
    "all_nb201_strings",
    "column_of",
    "resolve_nb201_path",
    "write_dummy_nb201_table",
]

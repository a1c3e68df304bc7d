"""Reports: pure tables from stored trials, figures, and the offline HTML report built on them.

``data`` holds the pure table functions; ``importance`` which choices matter; ``figures``
(plotly) and ``png`` (matplotlib) draw; ``archviz`` pictures architectures; ``html`` writes the
report; ``optuna_bridge`` hands a study to Optuna's tools.
"""

from nasforge.report.data import HistoryPoint, history, pareto_trials, state_counts
from nasforge.report.html import write_report

__all__ = ["HistoryPoint", "history", "pareto_trials", "state_counts", "write_report"]

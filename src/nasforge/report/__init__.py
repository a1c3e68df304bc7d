"""Reports: pure tables from stored trials, and an HTML report built on them."""

from nasforge.report.data import HistoryPoint, history, pareto_trials, state_counts
from nasforge.report.html import write_report

__all__ = ["HistoryPoint", "history", "pareto_trials", "state_counts", "write_report"]

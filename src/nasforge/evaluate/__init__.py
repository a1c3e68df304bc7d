"""Evaluators: how good and how costly a candidate is.

Built-ins register on import: ``train`` (:class:`TrainEvaluator`, real training with early
stopping and checkpointed continuation), ``function`` (:class:`FunctionEvaluator`, the user's
own training function), ``supernet`` (:class:`SupernetEvaluator`, inherited weights of a
supernet trained once by :func:`train_single_path`) and ``nb201_table``
(:class:`TabularNB201Evaluator`, NAS-Bench-201 results looked up with simulated cost, with the
``nb201`` task and the ``nb201_table`` proxy). Cost measures (:func:`count_params`,
:func:`count_flops`, :func:`measure_latency`: a :class:`Latency` with the median and spread, in
PyTorch or onnxruntime, with a pinned thread count, per :class:`LatencySettings`;
:func:`measure_latency_ms`, a quick median; :func:`peak_memory_mb`, on the CPU and CUDA) are
pure functions any evaluator can use, as are the robustness metrics (:func:`noise_accuracy`,
:func:`fgsm_accuracy`) and the group metrics (:func:`group_metrics`, with
:func:`fairness_problems` for pre-flight).
"""

from __future__ import annotations

from nasforge.evaluate.base import EVALUATORS, EvalContext, Evaluator, run_evaluation
from nasforge.evaluate.costs import count_flops, count_params, measure_latency_ms, peak_memory_mb
from nasforge.evaluate.fairness import fairness_problems, group_metrics
from nasforge.evaluate.function import FunctionEvaluator, TrialHandle
from nasforge.evaluate.latency import Latency, LatencySettings, measure_latency
from nasforge.evaluate.proxy import PROXIES, Proxy, TableProxy
from nasforge.evaluate.robustness import fgsm_accuracy, noise_accuracy
from nasforge.evaluate.supernet import SupernetEvaluator, train_single_path
from nasforge.evaluate.tabular import NB201Table, NB201Task, TabularNB201Evaluator
from nasforge.evaluate.train import TrainEvaluator

Train = TrainEvaluator  # the short name used in the design (``nf.evaluate.Train(epochs=20)``)

__all__ = [
    "EVALUATORS",
    "PROXIES",
    "EvalContext",
    "Evaluator",
    "FunctionEvaluator",
    "Latency",
    "LatencySettings",
    "NB201Table",
    "NB201Task",
    "Proxy",
    "SupernetEvaluator",
    "TableProxy",
    "TabularNB201Evaluator",
    "Train",
    "TrainEvaluator",
    "TrialHandle",
    "count_flops",
    "count_params",
    "fairness_problems",
    "fgsm_accuracy",
    "group_metrics",
    "measure_latency",
    "measure_latency_ms",
    "noise_accuracy",
    "peak_memory_mb",
    "run_evaluation",
    "train_single_path",
]

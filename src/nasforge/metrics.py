"""The shared metric vocabulary. Evaluators may add keys but never rename these.

Accuracies are in percent (0-100), as in NAS-Bench-201 and the MNIST-1D paper, so figures read
the same in reports, benchmarks and tables. Regression metrics (``val_mse``, ``val_mae``,
``val_r2`` and their test counterparts) are in the units of the task's targets (standardised
targets for the built-in ``diabetes`` task); ``r2`` is the coefficient of determination, averaged
over targets as scikit-learn's ``r2_score`` does.

:data:`DIRECTIONS` says which way each metric is better, and :data:`DEFAULT_OBJECTIVE` which
metric a study of each kind of problem optimises when it names none.
"""

from __future__ import annotations

from typing import Literal

VAL_ACCURACY = "val_accuracy"
"""Validation accuracy in percent (the search signal)."""
TEST_ACCURACY = "test_accuracy"
"""Test accuracy in percent, measured at the best-validation epoch; reported, never searched on."""
TRAIN_LOSS = "train_loss"
VAL_LOSS = "val_loss"
PARAMS = "params"
"""Trainable parameter count."""
FLOPS = "flops"
"""Floating-point operations of one forward pass of one example (torch.utils.flop_counter)."""
LATENCY_MS = "latency_ms"
"""Median forward latency of one example (batch 1) in eager PyTorch on the evaluation device,
milliseconds (:func:`nasforge.evaluate.latency.measure_latency`, pinned thread count)."""
LATENCY_IQR_MS = "latency_iqr_ms"
"""Interquartile range of the timed blocks of :data:`LATENCY_MS`, milliseconds (its spread)."""
LATENCY_BATCH_MS = "latency_batch_ms"
"""Median forward latency of one batch of the configured latency batch size, PyTorch, ms."""
ONNX_LATENCY_MS = "onnx_latency_ms"
"""Median forward latency of one example in onnxruntime on the CPU, milliseconds."""
ONNX_LATENCY_BATCH_MS = "onnx_latency_batch_ms"
"""Median forward latency of one batch of the configured latency batch size, onnxruntime, ms."""
PREDICTED_LATENCY_MS = "predicted_latency_ms"
"""Latency of one example (batch 1, PyTorch) predicted before training by the latency predictor
(:mod:`nasforge.evaluate.latency_predictor`), milliseconds."""
TRAIN_SECONDS = "train_seconds"
"""Wall-clock seconds spent training."""
EPOCHS = "epochs"
"""Epochs actually trained (less than the budget after early stopping)."""
MEMORY_MB = "memory_mb"
"""Peak memory of a forward pass (weights, buffers and activations), MiB."""
ENERGY_KWH = "energy_kwh"
"""Energy of the trial's evaluation (training), kWh, estimated by codecarbon."""
CO2_KG = "co2_kg"
"""CO2-equivalent emissions of the trial's evaluation, kg, estimated by codecarbon from
:data:`ENERGY_KWH` and the configured country's grid intensity."""
TEST_LOSS = "test_loss"
BEST_EPOCH = "best_epoch"
"""The epoch (1-based) whose weights were kept: best validation accuracy, or lowest val_mse."""

VAL_MSE = "val_mse"
"""Validation mean squared error (regression; the search signal, minimised)."""
VAL_MAE = "val_mae"
"""Validation mean absolute error (regression)."""
VAL_R2 = "val_r2"
"""Validation coefficient of determination, 1 - SSE / SST (regression; 1 is perfect)."""
TEST_MSE = "test_mse"
"""Test mean squared error at the best-validation epoch; reported, never searched on."""
TEST_MAE = "test_mae"
TEST_R2 = "test_r2"

VAL_NOISE_ACCURACY = "val_noise_accuracy"
"""Validation accuracy (%) with Gaussian noise added to the inputs (the train evaluator's
``robustness.noise_std``, in standardised input units; seeded)."""
TEST_NOISE_ACCURACY = "test_noise_accuracy"
"""Test accuracy (%) under Gaussian input noise, as :data:`VAL_NOISE_ACCURACY`."""
VAL_FGSM_ACCURACY = "val_fgsm_accuracy"
"""Validation accuracy (%) under an FGSM attack of strength ``robustness.fgsm_eps`` (an
L-infinity step in standardised input units; Goodfellow et al. 2015)."""
TEST_FGSM_ACCURACY = "test_fgsm_accuracy"
"""Test accuracy (%) under an FGSM attack, as :data:`VAL_FGSM_ACCURACY`."""

VAL_DP_DIFF = "val_dp_diff"
"""Demographic parity difference on validation (0 to 1; 0 is parity): the largest gap between
groups in the rate of predicting a class, the largest over classes (fairlearn)."""
TEST_DP_DIFF = "test_dp_diff"
VAL_EO_DIFF = "val_eo_diff"
"""Equalized odds difference on validation (0 to 1; 0 is parity): the larger of the groups'
gaps in true- and false-positive rates, the largest over classes (fairlearn)."""
TEST_EO_DIFF = "test_eo_diff"
VAL_WORST_GROUP_ACCURACY = "val_worst_group_accuracy"
"""Validation accuracy (%) of the group on which the network does worst."""
TEST_WORST_GROUP_ACCURACY = "test_worst_group_accuracy"

SYNFLOW = "synflow"
"""log SynFlow of the untrained network (data-free; :mod:`nasforge.evaluate.proxy.synflow`)."""
NASWOT = "naswot"
"""NASWOT: log-determinant of the untrained network's ReLU-code kernel on a minibatch."""
SNIP = "snip"
"""SNIP: sum of |gradient x weight| of the untrained network's loss on a minibatch."""
GRAD_NORM = "grad_norm"
"""Sum over layers of the norm of the untrained network's loss gradient on a minibatch."""
JACOV = "jacov"
"""NASWOT v1's Jacobian covariance score of the untrained network on a minibatch."""

PROXY_SCORES = (SYNFLOW, NASWOT, SNIP, GRAD_NORM, JACOV)
"""Zero-cost proxy scores (the ``proxy`` evaluator's metrics besides params and FLOPs); larger is
better."""

LATENCIES = (
    LATENCY_MS, LATENCY_BATCH_MS, ONNX_LATENCY_MS, ONNX_LATENCY_BATCH_MS, PREDICTED_LATENCY_MS,
)  # fmt: skip
"""Latency metrics (measured or predicted), all in milliseconds, lower is better."""

ROBUSTNESS = (VAL_NOISE_ACCURACY, TEST_NOISE_ACCURACY, VAL_FGSM_ACCURACY, TEST_FGSM_ACCURACY)
"""Accuracies under perturbed inputs (classification)."""
FAIRNESS = (
    VAL_DP_DIFF, TEST_DP_DIFF, VAL_EO_DIFF, TEST_EO_DIFF,
    VAL_WORST_GROUP_ACCURACY, TEST_WORST_GROUP_ACCURACY,
)  # fmt: skip
"""Group metrics, defined only on classification tasks with groups (``TaskInfo.has_groups``)."""

ALL = (
    VAL_ACCURACY,
    TEST_ACCURACY,
    TRAIN_LOSS,
    VAL_LOSS,
    PARAMS,
    FLOPS,
    LATENCY_MS,
    LATENCY_IQR_MS,
    LATENCY_BATCH_MS,
    ONNX_LATENCY_MS,
    ONNX_LATENCY_BATCH_MS,
    PREDICTED_LATENCY_MS,
    TRAIN_SECONDS,
    EPOCHS,
    MEMORY_MB,
    ENERGY_KWH,
    CO2_KG,
    TEST_LOSS,
    BEST_EPOCH,
    VAL_MSE,
    VAL_MAE,
    VAL_R2,
    TEST_MSE,
    TEST_MAE,
    TEST_R2,
    *ROBUSTNESS,
    *FAIRNESS,
    *PROXY_SCORES,
)

Direction = Literal["max", "min"]

DIRECTIONS: dict[str, Direction] = {
    VAL_ACCURACY: "max",
    TEST_ACCURACY: "max",
    TRAIN_LOSS: "min",
    VAL_LOSS: "min",
    TEST_LOSS: "min",
    PARAMS: "min",
    FLOPS: "min",
    LATENCY_MS: "min",
    LATENCY_IQR_MS: "min",
    LATENCY_BATCH_MS: "min",
    ONNX_LATENCY_MS: "min",
    ONNX_LATENCY_BATCH_MS: "min",
    PREDICTED_LATENCY_MS: "min",
    TRAIN_SECONDS: "min",
    MEMORY_MB: "min",
    ENERGY_KWH: "min",
    CO2_KG: "min",
    VAL_MSE: "min",
    VAL_MAE: "min",
    VAL_R2: "max",
    TEST_MSE: "min",
    TEST_MAE: "min",
    TEST_R2: "max",
    VAL_NOISE_ACCURACY: "max",
    TEST_NOISE_ACCURACY: "max",
    VAL_FGSM_ACCURACY: "max",
    TEST_FGSM_ACCURACY: "max",
    VAL_DP_DIFF: "min",
    TEST_DP_DIFF: "min",
    VAL_EO_DIFF: "min",
    TEST_EO_DIFF: "min",
    VAL_WORST_GROUP_ACCURACY: "max",
    TEST_WORST_GROUP_ACCURACY: "max",
    SYNFLOW: "max",
    NASWOT: "max",
    SNIP: "max",
    GRAD_NORM: "max",
    JACOV: "max",
}
"""The natural direction of each shared metric: ``max`` when larger is better. An objective that
names one of these without a direction gets this one (:class:`~nasforge.objective.Objective`)."""

PERCENT: tuple[str, ...] = (
    VAL_ACCURACY, TEST_ACCURACY, *ROBUSTNESS, VAL_WORST_GROUP_ACCURACY, TEST_WORST_GROUP_ACCURACY,
)  # fmt: skip
"""Metrics in percent (0-100); an evaluator's ``units`` gives them ``"%"``."""

DEFAULT_OBJECTIVE: dict[str, str] = {"classification": VAL_ACCURACY, "regression": VAL_MSE}
"""The metric a study optimises by default, per problem (``TaskInfo.problem``)."""


def direction(metric: str) -> Direction | None:
    """The natural direction of ``metric``, or ``None`` for metrics outside the vocabulary."""
    return DIRECTIONS.get(metric)

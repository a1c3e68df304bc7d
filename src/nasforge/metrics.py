"""The shared metric vocabulary. Evaluators may add keys but never rename these.

Accuracies are in percent (0-100), as in NAS-Bench-201 and the MNIST-1D paper, so figures read
the same in reports, benchmarks and tables.
"""

from __future__ import annotations

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
"""Median forward latency of one example on the evaluation device, milliseconds."""
TRAIN_SECONDS = "train_seconds"
"""Wall-clock seconds spent training."""
EPOCHS = "epochs"
"""Epochs actually trained (less than the budget after early stopping)."""
MEMORY_MB = "memory_mb"
ENERGY_KWH = "energy_kwh"

ALL = (
    VAL_ACCURACY,
    TEST_ACCURACY,
    TRAIN_LOSS,
    VAL_LOSS,
    PARAMS,
    FLOPS,
    LATENCY_MS,
    TRAIN_SECONDS,
    EPOCHS,
    MEMORY_MB,
    ENERGY_KWH,
)

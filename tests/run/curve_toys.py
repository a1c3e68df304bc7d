"""A toy evaluator that reports a learning curve, for the pruning tests (imported by workers)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from nasforge.errors import TrialPruned
from nasforge.evaluate.base import EVALUATORS, EvalContext, Evaluator
from nasforge.testing.toys import ToySpace, toy_score
from nasforge.trial import Candidate, Result


@EVALUATORS.register("curve_toy")
class CurveToyEvaluator(Evaluator):
    """Reports ``val_accuracy = 100 * toy_score * (step + 1) / n_steps`` after each step and stops
    when the pruner says so; ``nan_at`` makes step ``nan_at`` report NaN."""

    curve: ClassVar[tuple[str, ...] | None] = ("val_accuracy", "loss")

    def __init__(
        self,
        *,
        n_steps: Annotated[int, Field(ge=1)] = 6,
        nan_at: int | None = None,
    ) -> None:
        self.n_steps = n_steps
        self.nan_at = nan_at

    def evaluate(self, candidate: Candidate, ctx: EvalContext) -> Result:
        assert isinstance(ctx.space, ToySpace) and ctx.reporter is not None
        score = toy_score(candidate.arch, ctx.space)
        value = 0.0
        for step in range(self.n_steps):
            value = 100.0 * score * (step + 1) / self.n_steps
            shown = float("nan") if step == self.nan_at else value
            ctx.reporter.report(step, {"val_accuracy": shown, "loss": 1.0 - value / 100})
            if ctx.reporter.should_prune():
                raise TrialPruned()
        return Result(metrics={"val_accuracy": value, "test_accuracy": value - 1})

"""``finalize: {top: K, seeds: S, epochs: E}``: a noise-aware final pick at the end of a search.

When the run spec has a ``finalize`` section, the search ends (budget spent, strategy done or a
stop asked) by retraining its ``top`` distinct architectures from scratch, ``seeds`` times each
at ``epochs`` (:func:`nasforge.run.retrain.retrain`), before ``summary.json`` is written; the
summary's ``final_pick`` and the end-of-search output then name the architecture with the best
mean validation score. It runs for any strategy, black-box or one-shot, since both end the same
study. A study that failed, or has no completed feasible trial, is not finalized.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nasforge.run.front import Front

if TYPE_CHECKING:
    from nasforge.run.retrain import RetrainReport
    from nasforge.run.study import Study

log = logging.getLogger(__name__)


def finalize(
    study: Study, callbacks: Sequence[Any] = (), *, front: Front = Front.PYTHON
) -> RetrainReport | None:
    """Retrain as the study's ``finalize`` section says; ``None`` when it has none, or when
    there is nothing to pick from (the study failed, or no trial completed)."""
    settings = study.spec.finalize
    if settings is None:
        return None
    if study.failure is not None or not study.ranked():
        log.warning("finalize skipped: study %r has no completed, feasible trial to retrain",
                    study.name)
        return None
    return study.retrain(top=settings.top, seeds=settings.seeds, epochs=settings.epochs,
                         callbacks=callbacks, front=front)

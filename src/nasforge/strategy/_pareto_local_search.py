"""Pareto local search (PLS): walk along the current front, evaluating neighbours of its members.

Paquete, Chiarandini & Stützle 2004, "Pareto Local Optimum Sets in the Biobjective Traveling
Salesman Problem: An Experimental Study", in *Metaheuristics for Multiobjective Optimisation*,
Springer LNEMS 535, https://doi.org/10.1007/978-3-642-17144-4_7. An *archive* holds every
non-dominated result so far. PLS repeatedly takes an archive member whose neighbourhood
(``space.neighbours``: every architecture one decision away) has not been explored, evaluates its
neighbours, and updates the archive with each result: a result no member dominates joins it and
removes the members it dominates. When every member's neighbourhood is explored, the archive is a
*Pareto local optimum set* and the search stops; here it perturbs instead (below).

Deviations from the paper:

- The first archive comes from ``n_initial`` random architectures, not a single one.
- Asynchronous: each ask proposes one unasked neighbour of a member drawn uniformly from those
  whose neighbourhood still has unasked architectures, so pending asks spread over the front. A
  member's neighbourhood counts as explored once all of it is asked.
- At a Pareto local optimum set, a member drawn at random is mutated ``n_perturb`` times (an
  iterated-local-search kick) and the result asked; its result may reopen the walk. A random
  unasked architecture is the last resort; ``ask`` returns ``None`` only when a finite space is
  exhausted.
- Failed, infeasible and pruned trials are dominated by every feasible result (they never join
  the archive). Architectures are remembered by canonical form, so none is asked twice.
- Constrained domination (Deb et al. 2002): while no told result is feasible, the walk starts
  from the results that break the constraints or objective limits *least*
  (:meth:`~nasforge.strategy.Strategy.violation_amount`), so it climbs out of an infeasible
  region instead of drawing at random; the first feasible result replaces them.
- Constraint-aware: neighbours and kicks that break a constraint known before training (the
  study's check) are not asked.

With one objective the archive holds the best result (and its ties): best-improvement local
search with kicks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from nasforge.pareto import dominates
from nasforge.strategy._dedup import prior_archs
from nasforge.strategy._nsga2 import objective_vector
from nasforge.strategy.base import STRATEGIES, Strategy
from nasforge.trial import Candidate

if TYPE_CHECKING:
    import numpy as np

    from nasforge.architecture import Architecture
    from nasforge.trial import Trial


@STRATEGIES.register("pareto_local_search")
class ParetoLocalSearch(Strategy):
    """Pareto local search over neighbourhoods, with perturbation at a local optimum set.

    Args:
        n_initial: random architectures asked before the walk starts from their front.
        n_perturb: mutations applied to an archive member when every neighbourhood is explored.
        constraint_aware: ask only candidates that pass the study's check of the constraints
            known before training (default); ``False`` leaves them to the study's filter.
    """

    def __init__(
        self,
        *,
        n_initial: Annotated[int, Field(ge=1)] = 10,
        n_perturb: Annotated[int, Field(ge=1)] = 2,
        constraint_aware: bool = True,
    ) -> None:
        self.n_initial = n_initial
        self.n_perturb = n_perturb
        self.constraint_aware = constraint_aware

    def _reset(self) -> None:
        self._asked = self.asked_archs()
        # The archive: non-dominated (architecture, oriented objectives), in the order they joined.
        self._archive: list[tuple[Architecture, tuple[float, ...]]] = []
        # Members whose whole neighbourhood has been asked (by canonical form).
        self._explored: set[Architecture] = set()
        self._n_told = 0
        self._prior: list[Architecture] = []
        # While nothing feasible is told: the least-violating results (violation, archs).
        self._least_violating: tuple[float, list[Architecture]] | None = None

    def warm_start(self, trials: Sequence[Trial]) -> None:
        """The architectures of an earlier study's front are asked first."""
        front: list[tuple[Architecture, tuple[float, ...]]] = []
        for trial in trials:
            vector = objective_vector(trial, self.objectives)
            if vector is not None:
                _insert(front, trial.arch, vector)
        chosen = {a for a, _ in front}
        ordered = [t for t in trials if t.arch in chosen]
        self._prior = prior_archs(self.space, ordered)[: self.n_initial]

    @property
    def archive(self) -> list[tuple[Architecture, tuple[float, ...]]]:
        """The current non-dominated set as ``(architecture, larger-is-better objectives)``."""
        return list(self._archive)

    def _ask(self, number: int) -> Candidate | None:
        rng = self.rng(number)
        arch = next((a for a in self._prior if a not in self._asked), None)
        if arch is None and self._n_told >= self.n_initial and self._members():
            arch = self._walk(rng)
        if arch is None:
            arch = self._asked.sample(rng)
        if arch is None:
            return None
        self._asked.add(arch)
        return Candidate(arch)

    def _walk(self, rng: np.random.Generator) -> Architecture | None:
        """An unasked neighbour of an unexplored member, else a perturbed member."""
        open_members: list[list[Architecture]] = []
        for member in self._members():
            key = self._asked.key(member)
            if key in self._explored:
                continue
            unasked = [a for a in self.feasible_neighbours(member) if a not in self._asked]
            if unasked:
                open_members.append(unasked)
            else:
                self._explored.add(key)
        if open_members:
            unasked = open_members[int(rng.integers(len(open_members)))]
            return unasked[int(rng.integers(len(unasked)))]
        members = self._members()

        def kick(r: np.random.Generator) -> Architecture:
            arch = members[int(r.integers(len(members)))]
            for _ in range(self.n_perturb):
                arch = self.space.mutate(arch, r)
            return arch

        return self._asked.propose(rng, kick)

    def _members(self) -> list[Architecture]:
        """The archive's architectures; while it is empty, the least-violating results."""
        if self._archive:
            return [a for a, _ in self._archive]
        return list(self._least_violating[1]) if self._least_violating is not None else []

    def _tell(self, trial: Trial) -> None:
        self._n_told += 1
        vector = objective_vector(trial, self.objectives)
        if vector is not None:
            _insert(self._archive, trial.arch, vector)
            return
        amount = self.violation_amount(trial)
        if not 0.0 < amount < math.inf:
            return
        least = self._least_violating
        if least is None or amount < least[0]:
            self._least_violating = (amount, [trial.arch])
        elif amount == least[0]:
            least[1].append(trial.arch)


def _insert(
    archive: list[tuple[Architecture, tuple[float, ...]]],
    arch: Architecture,
    vector: tuple[float, ...],
) -> bool:
    """Add ``(arch, vector)`` to a non-dominated ``archive`` (larger-is-better vectors) unless a
    member dominates it, dropping the members it dominates; whether it joined."""
    directions = ["max"] * len(vector)
    if any(dominates(v, vector, directions) for _, v in archive):
        return False
    archive[:] = [(a, v) for a, v in archive if not dominates(vector, v, directions)]
    archive.append((arch, vector))
    return True

"""Pareto machinery: dominance, non-dominated sorting, crowding distance and the hypervolume.

Every function takes points as rows of raw metric values plus one direction per column
(``"max"`` or ``"min"``), so callers never orient values by hand. Internally each point is turned
into *minimisation form* (maximised columns negated), the convention of Deb et al. and of
``moocore``; results are indices into the given points, never reordered copies.

- :func:`dominates` and :func:`pareto_set`: the non-dominated points (duplicates all stay in).
- :func:`non_dominated_sort`: the fronts F1, F2, ... of NSGA-II's fast non-dominated sort
  (Deb et al. 2002, "A fast and elitist multiobjective genetic algorithm: NSGA-II",
  https://doi.org/10.1109/4235.996017), computed here by repeatedly peeling the non-dominated
  set (each peel a lexicographic sweep, as in Kung et al.'s maxima algorithm), which gives the
  same fronts.
- :func:`crowding_distance`: NSGA-II's density estimate within one front (boundary points get
  ``inf``; a column with no spread adds nothing).
- :func:`hypervolume`: the volume dominated by the points and bounded by a *reference point*,
  computed by ``moocore`` (``pip install 'nasforge[mo]'``). The reference point is given in the
  metrics' own units and directions (e.g. accuracy 0.85 maximised, FLOPs 2e8 minimised); points
  that do not strictly beat it in every column contribute nothing.

Example:
    >>> pts = [(0.9, 100.0), (0.8, 50.0), (0.7, 80.0)]   # (accuracy max, flops min)
    >>> pareto_set(pts, ["max", "min"])
    [0, 1]
    >>> non_dominated_sort(pts, ["max", "min"])
    [[0, 1], [2]]
    >>> round(hypervolume(pts, ["max", "min"], reference=(0.5, 200.0)), 6)
    55.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from nasforge.imports import try_import

Direction = Literal["max", "min"]

__all__ = [
    "Direction",
    "crowding_distance",
    "dominates",
    "hypervolume",
    "minimisation_form",
    "non_dominated_sort",
    "pareto_set",
]


def minimisation_form(
    points: Sequence[Sequence[float]] | np.ndarray, directions: Sequence[str]
) -> np.ndarray:
    """The points as a float array of shape (n, m) with maximised columns negated.

    Raises:
        ValueError: when the points are not a 2-D table with one column per direction, a
            direction is neither ``"max"`` nor ``"min"``, or a value is NaN.
    """
    bad = [d for d in directions if d not in ("max", "min")]
    if bad:
        raise ValueError(f"directions must be 'max' or 'min'; got {bad[0]!r}")
    m = len(directions)
    if m == 0:
        raise ValueError("at least one direction (objective) is needed")
    array = np.asarray(points, dtype=float)
    if array.size == 0:
        return np.zeros((0, m))
    if array.ndim != 2 or array.shape[1] != m:
        raise ValueError(
            f"points must be rows of {m} values (one per direction); got shape {array.shape}"
        )
    if np.isnan(array).any():
        row = int(np.argwhere(np.isnan(array))[0][0])
        raise ValueError(f"point {row} has a NaN value; drop it or give it a finite value")
    signs = np.array([-1.0 if d == "max" else 1.0 for d in directions])
    return array * signs


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[str]) -> bool:
    """Whether ``a`` Pareto-dominates ``b``: no worse in every column and better in one."""
    pair = minimisation_form([a, b], directions)
    return bool(np.all(pair[0] <= pair[1]) and np.any(pair[0] < pair[1]))


def _non_dominated_mask(values: np.ndarray) -> np.ndarray:
    """Which rows of a minimisation-form array no other row dominates.

    Rows are visited in lexicographic order: a dominating row is lexicographically smaller, so
    each row need only be compared with the non-dominated rows found before it (and a row
    dominated by a dominated row is dominated by that row's own dominator, found earlier).
    That is O(n log n + n * front) rather than O(n^2), so a study of 50,000 trials is quick.
    """
    n, m = values.shape
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    if m == 1:
        return values[:, 0] == values[:, 0].min()
    order = np.lexsort(values.T[::-1])  # by column 0, then column 1, ...
    if m == 2:
        # In this order, a row is dominated exactly when an earlier row that differs from it
        # has a second column no larger: compare with the running minimum before its run of
        # duplicates.
        ordered = values[order]
        second = ordered[:, 1]
        before = np.concatenate(([np.inf], np.minimum.accumulate(second)[:-1]))
        new_run = np.concatenate(([True], np.any(ordered[1:] != ordered[:-1], axis=1)))
        run_start = np.maximum.accumulate(np.where(new_run, np.arange(n), 0))
        keep[order] = before[run_start] > second
        return keep
    front: list[int] = []
    for i in order:
        row = values[i]
        if front:
            archive = values[front]
            if np.any(np.all(archive <= row, axis=1) & np.any(archive < row, axis=1)):
                continue
        front.append(int(i))
        keep[i] = True
    return keep


def pareto_set(
    points: Sequence[Sequence[float]] | np.ndarray, directions: Sequence[str]
) -> list[int]:
    """Indices (ascending) of the points that no other point dominates.

    Equal points do not dominate each other, so duplicates on the front are all returned.
    """
    values = minimisation_form(points, directions)
    return [int(i) for i in np.flatnonzero(_non_dominated_mask(values))]


def non_dominated_sort(
    points: Sequence[Sequence[float]] | np.ndarray, directions: Sequence[str]
) -> list[list[int]]:
    """The fronts, best first: front 0 is the Pareto set, front k is non-dominated once 0..k-1
    are removed. Each front lists indices in ascending order; together they cover every point."""
    values = minimisation_form(points, directions)
    remaining = np.arange(len(values))
    fronts: list[list[int]] = []
    while remaining.size:
        mask = _non_dominated_mask(values[remaining])
        fronts.append([int(i) for i in remaining[mask]])
        remaining = remaining[~mask]
    return fronts


def crowding_distance(
    points: Sequence[Sequence[float]] | np.ndarray, directions: Sequence[str]
) -> np.ndarray:
    """NSGA-II's crowding distance of each point within the given set (usually one front).

    For each column the points are sorted; the two extremes get ``inf`` and every other point
    adds the gap between its neighbours divided by the column's range. Sets of one or two points
    are all ``inf``. Directions do not change the distances (they are symmetric), but are checked
    so a caller cannot pass the wrong number of columns.
    """
    values = minimisation_form(points, directions)
    n, m = values.shape
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for column in range(m):
        order = np.argsort(values[:, column], kind="stable")
        ordered = values[order, column]
        distance[order[0]] = distance[order[-1]] = np.inf
        spread = ordered[-1] - ordered[0]
        if spread <= 0 or not np.isfinite(spread):
            continue
        distance[order[1:-1]] += (ordered[2:] - ordered[:-2]) / spread
    return distance


def hypervolume(
    points: Sequence[Sequence[float]] | np.ndarray,
    directions: Sequence[str],
    *,
    reference: Sequence[float],
) -> float:
    """The hypervolume the points dominate, bounded by ``reference`` (computed by moocore).

    Args:
        points: rows of raw metric values, one column per direction.
        directions: ``"max"`` or ``"min"`` per column.
        reference: the bounding point in the same units and directions, e.g. ``(0.85, 2e8)`` for
            (accuracy max, FLOPs min). It must be stated and fixed for hypervolumes to be
            comparable; a point counts only where it is strictly better in every column.

    Returns:
        The dominated volume (0.0 when no point beats the reference).

    Raises:
        ValueError: for a reference of the wrong length or with a non-finite value.
        MissingDependencyError: when ``moocore`` is not installed (the ``mo`` extra).
    """
    values = minimisation_form(points, directions)
    ref = np.asarray(reference, dtype=float)
    if ref.shape != (len(directions),):
        raise ValueError(
            f"the hypervolume reference point needs {len(directions)} values (one per "
            f"objective); got {list(np.atleast_1d(ref))}"
        )
    if not np.all(np.isfinite(ref)):
        raise ValueError(f"the hypervolume reference point must be finite; got {ref.tolist()}")
    ref = minimisation_form(ref[np.newaxis, :], directions)[0]
    with try_import("mo", "The hypervolume") as imports:
        import moocore
    imports.check()
    inside = values[np.all(values < ref, axis=1)] if len(values) else values
    if len(inside) == 0:
        return 0.0
    return float(moocore.hypervolume(inside, ref=ref))

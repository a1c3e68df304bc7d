"""The Pareto machinery against brute force on small random sets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasforge.imports import MissingDependencyError
from nasforge.pareto import (
    crowding_distance,
    dominates,
    hypervolume,
    non_dominated_sort,
    pareto_set,
)

# small integer grids make ties and duplicates common, which is where dominance bugs hide
values = st.integers(min_value=0, max_value=4).map(float)


@st.composite
def point_sets(draw: st.DrawFn, max_m: int = 3) -> tuple[list[list[float]], list[str]]:
    m = draw(st.integers(min_value=1, max_value=max_m))
    n = draw(st.integers(min_value=0, max_value=9))
    points = draw(st.lists(st.lists(values, min_size=m, max_size=m), min_size=n, max_size=n))
    directions = draw(st.lists(st.sampled_from(["max", "min"]), min_size=m, max_size=m))
    return points, directions


def _brute_dominates(a: list[float], b: list[float], directions: list[str]) -> bool:
    better = worse = False
    for x, y, d in zip(a, b, directions, strict=True):
        if x == y:
            continue
        if (x > y) == (d == "max"):
            better = True
        else:
            worse = True
    return better and not worse


@given(point_sets())
@settings(max_examples=150, deadline=None)
def test_pareto_set_matches_brute_force(case: tuple[list[list[float]], list[str]]) -> None:
    points, directions = case
    expected = [
        i
        for i, p in enumerate(points)
        if not any(_brute_dominates(q, p, directions) for q in points)
    ]
    assert pareto_set(points, directions) == expected
    for a, b in itertools.product(points, repeat=2):
        assert dominates(a, b, directions) == _brute_dominates(a, b, directions)


@given(point_sets())
@settings(max_examples=150, deadline=None)
def test_fronts_partition_and_are_ordered(case: tuple[list[list[float]], list[str]]) -> None:
    points, directions = case
    fronts = non_dominated_sort(points, directions)
    assert sorted(i for f in fronts for i in f) == list(range(len(points)))
    if points:
        assert fronts[0] == pareto_set(points, directions)
    rank = {i: k for k, f in enumerate(fronts) for i in f}
    for i, j in itertools.product(range(len(points)), repeat=2):
        if _brute_dominates(points[i], points[j], directions):
            assert rank[i] < rank[j]  # a dominating point sits on an earlier front
    for k, front in enumerate(fronts[1:], start=1):
        for j in front:  # every later point is dominated by one on the previous front
            assert any(_brute_dominates(points[i], points[j], directions) for i in fronts[k - 1])


def _brute_hypervolume(points: list[list[float]], directions: list[str], ref: list[float]) -> float:
    """Count unit cells of the integer grid [ref, 4]/[0, ref] that some point dominates."""
    axes = [
        np.arange(r, 5) if d == "max" else np.arange(0, r)  # cells [c, c+1] inside the box
        for r, d in zip(ref, directions, strict=True)
    ]
    total = 0
    for cell in itertools.product(*axes):
        # the cell's worst corner must be weakly dominated by a point that beats ref strictly
        for p in points:
            if all(
                (x > r and x >= c + 1) if d == "max" else (x < r and x <= c)
                for x, r, c, d in zip(p, ref, cell, directions, strict=True)
            ):
                total += 1
                break
    return float(total)


@given(point_sets(), st.data())
@settings(max_examples=100, deadline=None)
def test_hypervolume_matches_grid_count(
    case: tuple[list[list[float]], list[str]], data: st.DataObject
) -> None:
    points, directions = case
    ref = [
        float(data.draw(st.integers(min_value=0, max_value=4))) for _ in directions
    ]
    assert hypervolume(points, directions, reference=ref) == pytest.approx(
        _brute_hypervolume(points, directions, ref)
    )


def test_hypervolume_orients_maximised_objectives() -> None:
    points = [(0.9, 100.0), (0.8, 50.0)]  # accuracy (max) against flops (min)
    # boxes [0.5, 0.9] x [100, 200] and [0.5, 0.8] x [50, 200] overlap in [0.5, 0.8] x [100, 200]
    expected = 0.4 * 100 + 0.3 * 150 - 0.3 * 100
    assert hypervolume(points, ["max", "min"], reference=(0.5, 200.0)) == pytest.approx(expected)
    assert hypervolume(points, ["max", "min"], reference=(0.95, 200.0)) == 0.0
    assert hypervolume([], ["max", "min"], reference=(0.5, 200.0)) == 0.0


def test_crowding_distance_of_a_line() -> None:
    points = [(0.0, 4.0), (1.0, 3.0), (3.0, 1.0), (4.0, 0.0)]
    distance = crowding_distance(points, ["min", "min"])
    assert np.isinf(distance[0]) and np.isinf(distance[3])
    # each column spans 4: point 1's neighbours are 0 and 3 apart by 3 in both columns
    assert distance[1] == pytest.approx(3 / 4 + 3 / 4)
    assert distance[2] == pytest.approx(3 / 4 + 3 / 4)
    assert np.all(np.isinf(crowding_distance([(1.0, 2.0), (2.0, 1.0)], ["min", "max"])))
    flat = crowding_distance([(1.0, 5.0), (2.0, 5.0), (3.0, 5.0)], ["min", "min"])
    assert flat[1] == pytest.approx(1.0)  # a column with no spread adds nothing


@pytest.mark.parametrize(
    ("points", "directions", "reference", "match"),
    [
        ([(1.0, 2.0)], ["max", "up"], (0.0, 0.0), "'max' or 'min'"),
        ([(1.0, 2.0, 3.0)], ["max", "min"], (0.0, 0.0), "rows of 2 values"),
        ([(1.0, float("nan"))], ["max", "min"], (0.0, 0.0), "point 0 has a NaN"),
        ([(1.0, 2.0)], ["max", "min"], (0.0,), "needs 2 values"),
        ([(1.0, 2.0)], ["max", "min"], (0.0, float("inf")), "must be finite"),
    ],
)
def test_bad_input_is_named(
    points: list[tuple[float, ...]], directions: list[str], reference: tuple[float, ...], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        hypervolume(points, directions, reference=reference)


def test_missing_moocore_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "moocore", None)  # makes `import moocore` fail
    with pytest.raises(MissingDependencyError, match=r"nasforge\[mo\]"):
        hypervolume([(1.0, 1.0)], ["max", "max"], reference=(0.0, 0.0))

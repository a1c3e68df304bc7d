"""`SearchSpaceContract`: the checks every search space must pass, as a reusable pytest class.

Subclass it in a test module and provide a ``space`` fixture (and, optionally, a ``task_info``
fixture for :meth:`SearchSpaceContract.test_build`; the default is a tiny 1-D signal task).
Plugin authors run it on their own spaces the same way::

    import pytest
    from nasforge.testing.space_contract import SearchSpaceContract

    class TestMySpace(SearchSpaceContract):
        @pytest.fixture
        def space(self):
            return MySpace(width=8)

A registered space (``space.name`` set) is also checked to rebuild from ``get_params()`` through
the registry.

Optional fixtures: ``equivalent_pairs`` (pairs of architectures the space must treat as
isomorphic: equal :meth:`~nasforge.space.base.SearchSpace.canonical` forms; default none) and
``ruled_space`` (the space with one validity rule and an architecture that breaks it; by default
derived from the space when its constructor takes ``rules``, see :func:`forbid_one_choice`).
"""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Sequence

import numpy as np
import pytest

from nasforge.architecture import Architecture
from nasforge.errors import ConfigError, InvalidArchitectureError
from nasforge.space.base import SPACES, SearchSpace
from nasforge.tasks.base import TaskInfo

N_DRAWS = 20
"""Architectures drawn per check; small, so the suite stays fast."""

ENUMERATE_LIMIT = 20_000
"""Spaces up to this size are enumerated in full."""


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


RuledSpace = tuple[SearchSpace, str, Architecture]
"""A space with one rule, the decision the rule is about, and an architecture that breaks it."""


def forbid_one_choice(space: SearchSpace, seed: int = 0) -> RuledSpace | None:
    """``space`` rebuilt with ``rules=[{forbid: {name: value}}]`` for one choice of a sample.

    The choice is one of a sampled architecture's decisions that a neighbour changes alone, so
    the rule removes part of the space and leaves the rest. ``None`` when the space's
    constructor takes no ``rules``, no such decision exists, or the space is too small for a
    rule to leave two architectures (mutation needs two).
    """
    if "rules" not in type(space).param_names() or space.size < 3:
        return None
    arch = space.sample(_rng(seed))
    for other in space.neighbours(arch):
        changed = [k for k in arch if other.get(k) != arch[k]]
        if set(other) == set(arch) and len(changed) == 1:
            name = changed[0]
            params = {**space.get_params(), "rules": [{"forbid": {name: arch[name]}}]}
            return type(space)(**params), name, arch
    return None


class SearchSpaceContract:
    """The :class:`~nasforge.space.base.SearchSpace` contract; needs a ``space`` fixture."""

    @pytest.fixture
    def task_info(self) -> TaskInfo:
        return TaskInfo(name="tiny", input_shape=(1, 16), n_classes=3, kind="signal")

    @pytest.fixture
    def equivalent_pairs(self) -> Sequence[tuple[Architecture, Architecture]]:
        return ()

    @pytest.fixture
    def ruled_space(self, space: SearchSpace) -> RuledSpace | None:
        return forbid_one_choice(space)

    def _samples(self, space: SearchSpace, seed: int = 0, n: int = N_DRAWS) -> list[Architecture]:
        rng = _rng(seed)
        return [space.sample(rng) for _ in range(n)]

    def test_sample_valid_and_deterministic(self, space: SearchSpace) -> None:
        first = self._samples(space, seed=123)
        assert first == self._samples(space, seed=123)
        for arch in first:
            assert isinstance(arch, Architecture)
            space.validate(arch)
            assert space.contains(arch)

    def test_different_seeds_differ(self, space: SearchSpace) -> None:
        if space.size < 2:
            pytest.skip("the space has a single architecture")
        assert self._samples(space, seed=1) != self._samples(space, seed=2)

    def test_mutate_differs_and_is_valid(self, space: SearchSpace) -> None:
        rng = _rng(7)
        for arch in self._samples(space, seed=3):
            child = space.mutate(arch, rng)
            assert child != arch
            space.validate(child)

    def test_mutate_is_deterministic(self, space: SearchSpace) -> None:
        arch = space.sample(_rng(0))
        assert space.mutate(arch, _rng(5)) == space.mutate(arch, _rng(5))

    def test_neighbours(self, space: SearchSpace) -> None:
        rng = _rng(11)
        for arch in self._samples(space, seed=4, n=5):
            neighbours = space.neighbours(arch)
            assert neighbours, "an architecture of a space with 2+ archs has neighbours"
            assert len(set(neighbours)) == len(neighbours), "neighbours must be distinct"
            assert arch not in neighbours
            assert neighbours == space.neighbours(arch), "neighbours must be deterministic"
            for n in neighbours:
                space.validate(n)
            members = set(neighbours)
            for _ in range(N_DRAWS):
                assert space.mutate(arch, rng) in members, "every mutation is a neighbour"

    def test_encode_fixed_length(self, space: SearchSpace) -> None:
        vectors = [space.encode(a) for a in self._samples(space, seed=5)]
        lengths = {v.shape for v in vectors}
        assert len(lengths) == 1 and len(next(iter(lengths))) == 1, lengths
        for v in vectors:
            assert np.issubdtype(v.dtype, np.floating)
            assert np.all(np.isfinite(v))
        archs = self._samples(space, seed=5)
        for a, b, va, vb in zip(archs, archs[1:], vectors, vectors[1:], strict=False):
            if a != b:
                assert not np.array_equal(va, vb), "different architectures must encode apart"

    def test_string_round_trips(self, space: SearchSpace) -> None:
        for arch in self._samples(space, seed=6):
            assert Architecture.parse(str(arch)) == arch
            assert space.parse(str(arch)) == arch, "parse must accept the canonical JSON form"
            text = space.format(arch)
            assert isinstance(text, str) and text.strip(), "format gives a non-empty string"
            assert "\n" not in text, "format gives one line (it is printed in tables)"
            parsed = space.parse(text)
            # Equality is by canonical JSON, so 1, 1.0, True and "1" all differ: types survive.
            assert parsed == arch, f"parse(format(a)) != a for {text!r}"
            assert space.format(parsed) == text

    def test_parse_rejects_malformed_text(self, space: SearchSpace) -> None:
        # InvalidArchitectureError is a ValueError; a plain ValueError from the JSON reader is
        # accepted too.
        for junk in ("=", "no decision here", '{"unclosed": '):
            with pytest.raises(ValueError):
                space.parse(junk)

    def test_validate_rejects_junk(self, space: SearchSpace) -> None:
        arch = space.sample(_rng(8))
        with pytest.raises(InvalidArchitectureError) as info:
            space.validate(arch.replace(no_such_decision_xyz=1))
        assert info.value.path, "the error must name the bad decision"
        assert "no_such_decision_xyz" in str(info.value)
        key = next(iter(arch))
        with pytest.raises(InvalidArchitectureError) as info:
            space.validate(arch.replace(**{key: "<junk value>"}))
        assert info.value.path
        assert "<junk value>" in str(info.value)
        assert not space.contains(arch.replace(**{key: "<junk value>"}))

    def test_size(self, space: SearchSpace) -> None:
        size = space.size
        assert size >= 1
        if math.isfinite(size) and size <= ENUMERATE_LIMIT:
            try:
                archs = list(space.enumerate())
            except NotImplementedError:
                return
            assert len(archs) == size
            assert len(set(archs)) == size
            for arch in archs[:: max(1, len(archs) // 200)]:
                space.validate(arch)

    def test_params_round_trip(self, space: SearchSpace) -> None:
        params = space.get_params()
        stored = json.loads(json.dumps(params))
        rebuilt = SPACES.create(space.name, stored) if space.name else type(space)(**stored)
        assert rebuilt == space
        assert self._samples(rebuilt) == self._samples(space)

    def test_pickles(self, space: SearchSpace) -> None:
        clone = pickle.loads(pickle.dumps(space))
        assert clone == space
        assert self._samples(clone) == self._samples(space)
        arch = space.sample(_rng(9))
        assert pickle.loads(pickle.dumps(arch)) == arch

    def test_build(self, space: SearchSpace, task_info: TaskInfo) -> None:
        import torch

        for arch in self._samples(space, seed=10, n=3):
            model = space.build(arch, task_info)
            assert isinstance(model, torch.nn.Module)
            x = torch.randn(4, *task_info.input_shape)
            model.train()
            out = model(x)
            assert out.shape == (4, task_info.n_classes)
            out.sum().backward()
            model.eval()
            with torch.no_grad():
                assert model(x[:1]).shape == (1, task_info.n_classes)

    # -- canonical forms ------------------------------------------------------------------------
    def test_canonical_is_an_idempotent_member(self, space: SearchSpace) -> None:
        for arch in self._samples(space, seed=12):
            canonical = space.canonical(arch)
            assert isinstance(canonical, Architecture)
            space.validate(canonical)
            assert space.canonical(canonical) == canonical, "canonical must be idempotent"
            assert space.canonical(arch) == canonical, "canonical must be deterministic"
            assert space.canonical(space.parse(space.format(arch))) == canonical
        # A mutation may change the class or not; either way both are members of their class.
        rng = _rng(13)
        for arch in self._samples(space, seed=14, n=5):
            child = space.mutate(arch, rng)
            assert space.canonical(space.canonical(child)) == space.canonical(child)

    def test_canonical_joins_equivalent_archs(
        self, space: SearchSpace, equivalent_pairs: Sequence[tuple[Architecture, Architecture]]
    ) -> None:
        if not equivalent_pairs:
            pytest.skip("no equivalent_pairs fixture for this space")
        for a, b in equivalent_pairs:
            assert space.canonical(a) == space.canonical(b), f"{a} and {b} are isomorphic"

    # -- validity rules -------------------------------------------------------------------------
    @staticmethod
    def _ruled(ruled_space: RuledSpace | None) -> RuledSpace:
        if ruled_space is None:
            pytest.skip("the space takes no rules (or none can be derived)")
        return ruled_space

    def test_rules_refuse_what_they_forbid(self, ruled_space: RuledSpace | None) -> None:
        space, _, bad = self._ruled(ruled_space)
        with pytest.raises(InvalidArchitectureError, match=r"rules\.0") as info:
            space.validate(bad)
        assert info.value.path, "the error must name the rule"
        assert not space.contains(bad)
        with pytest.raises(ValueError):
            space.parse(str(bad))

    def test_rules_are_kept_by_every_operation(self, ruled_space: RuledSpace | None) -> None:
        space, name, bad = self._ruled(ruled_space)

        def keeps(arch: Architecture) -> bool:
            return arch.get(name) != bad[name] or type(arch[name]) is not type(bad[name])

        rng = _rng(21)
        archs = self._samples(space, seed=20, n=2 * N_DRAWS)
        assert all(keeps(a) for a in archs), "sample broke the rule"
        for arch in archs[:5]:
            space.validate(arch)
            child = space.mutate(arch, rng)
            assert child != arch and keeps(child), "mutate broke the rule"
            neighbours = space.neighbours(arch)
            assert all(keeps(n) for n in neighbours), "neighbours broke the rule"
            assert keeps(space.canonical(arch)), "canonical left the space"

    def test_rules_shrink_size_and_enumeration(
        self, space: SearchSpace, ruled_space: RuledSpace | None
    ) -> None:
        ruled, _, bad = self._ruled(ruled_space)
        assert 1 <= ruled.size < space.size
        if math.isfinite(space.size) and space.size <= ENUMERATE_LIMIT:
            try:
                archs = list(ruled.enumerate())
            except NotImplementedError:
                return
            assert len(archs) == ruled.size, "size must count the architectures that keep rules"
            assert bad not in set(archs)
            assert all(ruled.contains(a) for a in archs[:: max(1, len(archs) // 100)])

    def test_rules_naming_unknown_decisions_are_refused(
        self, ruled_space: RuledSpace | None
    ) -> None:
        space, _, _ = self._ruled(ruled_space)
        params = {**space.get_params(), "rules": [{"forbid": {"no_such_decision_xyz": 1}}]}
        with pytest.raises(ConfigError, match=r"rules\.0\.forbid") as info:
            type(space)(**params)
        assert "no_such_decision_xyz" in str(info.value)

    def test_ruled_space_round_trips(self, ruled_space: RuledSpace | None) -> None:
        space, _, _ = self._ruled(ruled_space)
        stored = json.loads(json.dumps(space.get_params()))
        rebuilt = SPACES.create(space.name, stored) if space.name else type(space)(**stored)
        assert rebuilt == space
        clone = pickle.loads(pickle.dumps(space))
        assert self._samples(clone) == self._samples(rebuilt) == self._samples(space)

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
"""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

from nasforge.architecture import Architecture
from nasforge.errors import InvalidArchitectureError
from nasforge.space.base import SPACES, SearchSpace
from nasforge.tasks.base import TaskInfo

N_DRAWS = 20
"""Architectures drawn per check; small, so the suite stays fast."""

ENUMERATE_LIMIT = 20_000
"""Spaces up to this size are enumerated in full."""


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


class SearchSpaceContract:
    """The :class:`~nasforge.space.base.SearchSpace` contract; needs a ``space`` fixture."""

    @pytest.fixture
    def task_info(self) -> TaskInfo:
        return TaskInfo(name="tiny", input_shape=(1, 16), n_classes=3, kind="signal")

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

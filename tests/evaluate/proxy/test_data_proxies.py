"""NASWOT, snip, grad_norm and jacov on networks whose values can be computed by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from torch import nn

from nasforge.evaluate.proxy import DataProxy, GradNormProxy, JacovProxy, NASWOTProxy, SnipProxy
from nasforge.evaluate.proxy._network import build_network
from nasforge.evaluate.proxy.jacov import K
from tests.evaluate.proxy.nets import ARCH, ArrayTask, FixedNetSpace

X = np.array([[1, -1, 1, -1], [1, 1, -1, -1], [-1, -1, -1, 1]], np.float32)
Y = np.array([0, 1, 1])


def bound(proxy_type: type[DataProxy], x: np.ndarray = X, y: np.ndarray = Y,
          **params: Any) -> DataProxy:
    proxy = proxy_type(**params)
    proxy.bind(ArrayTask(x=x, y=y))
    return proxy


def test_naswot_is_the_logdet_of_the_relu_code_kernel() -> None:
    # one ReLU on the input: the codes are X > 0, so the kernel is computable by hand
    space = FixedNetSpace(make=lambda info: nn.Sequential(nn.ReLU(), nn.Linear(4, 2)))
    codes = (X > 0).astype(float)
    kernel = codes @ codes.T + (1 - codes) @ (1 - codes).T
    expected = np.linalg.slogdet(kernel)[1]
    assert bound(NASWOTProxy).score(ARCH, space) == pytest.approx(expected, rel=1e-12)


def test_naswot_sums_kernels_over_relus_and_identical_codes_score_minus_inf() -> None:
    two = FixedNetSpace(make=lambda info: nn.Sequential(nn.ReLU(), nn.Identity(), nn.ReLU()))
    codes = (X > 0).astype(float)
    kernel = 2 * (codes @ codes.T + (1 - codes) @ (1 - codes).T)
    assert bound(NASWOTProxy).score(ARCH, two) == pytest.approx(np.linalg.slogdet(kernel)[1])
    same = np.repeat(X[:1], 3, axis=0)
    one = FixedNetSpace(make=lambda info: nn.Sequential(nn.ReLU()))
    assert bound(NASWOTProxy, x=same).score(ARCH, one) == -math.inf


def _linear_gradient(space: FixedNetSpace) -> tuple[np.ndarray, np.ndarray]:
    """The weight of the seeded Linear and the cross-entropy gradient, by hand."""
    info = ArrayTask(x=X, y=Y).info()
    w = build_network(space, ARCH, info, seed=0)[0].weight.detach().double().numpy()
    logits = X.astype(float) @ w.T
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    onehot = np.eye(2)[Y]
    return w, (p - onehot).T @ X / len(X)


LINEAR = FixedNetSpace(make=lambda info: nn.Sequential(nn.Linear(4, 2, bias=False)))


def test_snip_is_the_sum_of_gradient_times_weight() -> None:
    w, grad = _linear_gradient(LINEAR)
    assert bound(SnipProxy).score(ARCH, LINEAR) == pytest.approx(np.abs(grad * w).sum(), rel=1e-5)


def test_grad_norm_is_the_norm_of_the_loss_gradient() -> None:
    _, grad = _linear_gradient(LINEAR)
    assert bound(GradNormProxy).score(ARCH, LINEAR) == pytest.approx(np.linalg.norm(grad),
                                                                     rel=1e-5)


def test_jacov_of_a_linear_map_has_fully_correlated_jacobians() -> None:
    # every example's Jacobian is the same weight row: correlations all 1, eigenvalues (n, 0, 0)
    n = len(X)
    expected = -(math.log(n + K) + 1 / (n + K)) - (n - 1) * (math.log(K) + 1 / K)
    line = FixedNetSpace(make=lambda info: nn.Sequential(nn.Linear(4, 1, bias=False)))
    assert bound(JacovProxy).score(ARCH, line) == pytest.approx(expected, rel=1e-6)


def test_jacov_of_a_network_blind_to_some_example_is_minus_inf() -> None:
    # ReLU zeroes the second example's Jacobian (all its inputs are <= 0 after the shift)
    x = np.array([[1, 2, 3, 4], [-1, -2, -3, -4], [2, 1, 4, 3]], np.float32)
    net = FixedNetSpace(make=lambda info: nn.Sequential(nn.ReLU(), nn.Linear(4, 1, bias=False)))
    assert bound(JacovProxy, x=x).score(ARCH, net) == -math.inf


def test_the_minibatch_is_seeded_and_capped_by_the_split() -> None:
    x = np.arange(40, dtype=np.float32).reshape(10, 4)
    y = np.zeros(10)
    a = bound(NASWOTProxy, x=x, y=y, batch_size=4, seed=3).minibatch()[0]
    b = bound(NASWOTProxy, x=x, y=y, batch_size=4, seed=3).minibatch()[0]
    c = bound(NASWOTProxy, x=x, y=y, batch_size=4, seed=4).minibatch()[0]
    assert a.equal(b) and not a.equal(c) and a.shape == (4, 4)
    assert bound(NASWOTProxy, batch_size=64).minibatch()[0].shape == (3, 4)

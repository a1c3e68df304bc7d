"""Has a found cell collapsed? The failure of differentiable search on NAS-Bench-201.

DARTS on NB201 drifts towards cells of ``skip_connect`` and ``none``: the parameter-free
operations win the relaxation early (they need no training to lower the loss), so the argmax
cell has no learnable operation left (Dong & Yang 2020 report 54.30 % on CIFAR-10 for DARTS
there; Zela et al. 2020, "Understanding and Robustifying Differentiable Architecture Search",
https://arxiv.org/abs/1909.09656, analyse why). :func:`collapsed` is the check the one-shot
strategies' guard, the benchmark and the logs use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from nasforge.architecture import Value

ParameterFree = Callable[[str, Value], bool]
"""``parameter_free(decision, option)``: whether that option of that decision has no parameters
(a supernet's :meth:`parameter_free`)."""

SKIP_OR_NONE: frozenset[str] = frozenset(
    {"none", "zero", "skip", "skip_connect", "identity"}
)
"""Option names that count as ``skip`` or ``none`` for the majority test."""

_PARAMETER_FREE_NAMES = re.compile(r"^(none|zero|skip|skip_connect|identity|(avg|max)_pool.*)$")
_EDGE = re.compile(r"(?:^|\.)edge_(\d+)_(\d+)$")


def default_parameter_free(decision: str, option: Value) -> bool:
    """A name rule for spaces without a supernet at hand: none, zero, skip, identity, pooling."""
    return isinstance(option, str) and bool(_PARAMETER_FREE_NAMES.match(option))


def parameter_free_share(
    arch: Mapping[str, Value], parameter_free: ParameterFree | None = None
) -> float:
    """The fraction of ``arch``'s decisions whose choice has no parameters (0 for no decision)."""
    check = parameter_free or default_parameter_free
    if not arch:
        return 0.0
    return sum(check(name, value) for name, value in arch.items()) / len(arch)


def skip_or_none_share(arch: Mapping[str, Value]) -> float:
    """The fraction of ``arch``'s decisions that are ``skip`` or ``none`` (:data:`SKIP_OR_NONE`)."""
    if not arch:
        return 0.0
    return sum(isinstance(v, str) and v in SKIP_OR_NONE for v in arch.values()) / len(arch)


def has_parametric_path(
    arch: Mapping[str, Value], parameter_free: ParameterFree | None = None
) -> bool | None:
    """Whether a cell's input reaches its output through at least one parametric operation.

    The cell is read from decisions named ``<cell>.edge_<j>_<i>`` (the edge into node ``j``
    from node ``i``, NB201's naming); node 0 is the input and the highest node the output, and a
    ``none`` edge is no edge. ``None`` when ``arch`` has no such decisions (not a cell).
    """
    check = parameter_free or default_parameter_free
    edges: list[tuple[int, int, bool]] = []  # (from, to, parametric)
    for name, value in arch.items():
        match = _EDGE.search(name)
        if match is None:
            continue
        if isinstance(value, str) and value in ("none", "zero"):
            continue
        edges.append((int(match.group(2)), int(match.group(1)), not check(name, value)))
    names = [n for n in arch if _EDGE.search(n)]
    if not names:
        return None
    output = max(int(_EDGE.search(n).group(1)) for n in names)  # type: ignore[union-attr]
    # reach[node] = (reachable from the input, reachable through a parametric op)
    reach: dict[int, tuple[bool, bool]] = {0: (True, False)}
    for node in range(1, output + 1):
        live = param = False
        for source, target, parametric in edges:
            if target != node or not reach.get(source, (False, False))[0]:
                continue
            live = True
            param = param or parametric or reach[source][1]
        reach[node] = (live, param)
    return reach[output][1]


def collapsed(
    space: Any, arch: Mapping[str, Value], parameter_free: ParameterFree | None = None
) -> bool:
    """Whether ``arch`` is a collapsed cell: no parametric operation on any input-to-output path
    (a cell read from ``edge_<j>_<i>`` decisions, see :func:`has_parametric_path`), or a
    majority (more than half) of its decisions ``skip`` or ``none``.

    Args:
        space: the search space (its :meth:`validate` runs first, so a foreign arch is an error).
        arch: the architecture to check.
        parameter_free: which options have no parameters (a supernet's ``parameter_free``);
            default :func:`default_parameter_free`, a rule on option names.

    Example:
        >>> from nasforge.space import NB201Space, nb201_to_arch
        >>> space = NB201Space(dims=1)
        >>> collapsed(space, nb201_to_arch(
        ...     "|skip_connect~0|+|none~0|skip_connect~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"))
        True
        >>> collapsed(space, nb201_to_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|"
        ...                                "+|skip_connect~0|none~1|nor_conv_1x1~2|"))
        False
    """
    validate = getattr(space, "validate", None)
    if validate is not None:
        validate(arch)
    if skip_or_none_share(arch) > 0.5:
        return True
    return has_parametric_path(arch, parameter_free) is False

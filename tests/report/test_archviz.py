"""Pictures of architectures: NB201 cells (1-D and 2-D spaces), chains as blocks, the rest."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nasforge.report.archviz import arch_svg
from nasforge.space import SPACES, nb201_to_arch

CELL = "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|"


@pytest.mark.parametrize("dims", [1, 2])
def test_a_cell_is_a_dag_with_the_op_on_each_live_edge(dims: int) -> None:
    space = SPACES.create("nb201", {"dims": dims})
    svg = arch_svg(space.parse(space.format(nb201_to_arch(CELL))))
    assert "aria-label='cell'" in svg
    assert len(re.findall(r"<circle ", svg)) == 4  # the cell's four nodes
    labels = [x for x in re.findall(r">([a-z_0-9]+)</text>", svg) if not x.isdigit()]
    # One arc and one label per edge that carries something; "none" edges are left out.
    assert sorted(labels) == sorted(["skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                                     "avg_pool_3x3"])
    assert svg.count("stroke-width='2' marker-end") == 4


def test_a_chain_is_drawn_as_blocks_up_to_each_depth() -> None:
    space = SPACES.create("chain", {"n_stages": 2})
    arch = space.sample(np.random.default_rng(0))
    svg = arch_svg(arch)
    assert "aria-label='blocks'" in svg
    depth = sum(int(arch[f"stage{s}.depth"]) for s in range(2))
    assert svg.count("<rect ") == depth
    assert f"kernel {arch['stage0.0.kernel']}" in svg


def test_other_architectures_are_a_decision_list_and_text_is_escaped() -> None:
    out = arch_svg({"op": "<script>x</script>", "n": 3})
    assert "<table class='arch'>" in out and "<script>" not in out
    assert "&lt;script&gt;x&lt;/script&gt;" in out

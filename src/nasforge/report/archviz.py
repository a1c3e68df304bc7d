"""Pictures of architectures as inline SVG: the cell DAG, the chain of blocks, or the decisions.

:func:`arch_svg` picks the picture from the decision names alone, so it works for every space
that uses the names, whatever evaluator scored it (``nb201`` in 1-D or 2-D, with a trained or a
tabular ``nb201_table`` evaluator):

- ``cell.edge_<j>_<i>`` decisions (NB201's cell) draw the 4-node DAG with the operation on each
  edge, coloured by operation; ``none`` edges are left out (they carry nothing);
- ``<stage>.depth`` with ``<stage>.<k>.<field>`` decisions (``chain``, ``mlp``, declared repeats)
  draw each stage's ``depth`` blocks left to right, each block listing its fields;
- anything else is a list of ``decision = value``.

The SVG is plain markup with every label escaped, so a hostile decision value stays text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

_EDGE = re.compile(r"^cell\.edge_(\d+)_(\d+)$")
_BLOCK = re.compile(r"^(?P<stage>.+)\.(?P<k>\d+)\.(?P<field>[^.]+)$")

OP_COLOURS = {"skip_connect": "#2ca02c", "nor_conv_1x1": "#1f77b4", "nor_conv_3x3": "#d62728",
              "avg_pool_3x3": "#9467bd"}
"""The colour of each NB201 operation (others get grey)."""

def _text(x: float, y: float, label: object, size: int = 11, **attrs: Any) -> str:
    extra = " ".join(f"{k.replace('_', '-')}='{v}'" for k, v in attrs.items())
    return (f"<text x='{x:.1f}' y='{y:.1f}' font-family='system-ui,sans-serif' "
            f"font-size='{size}' {extra}>{html.escape(str(label))}</text>")


def cell_svg(edges: Mapping[tuple[int, int], str]) -> str:
    """The cell DAG: nodes 0..n left to right, an arc per edge ``(to, from)`` labelled with its
    operation; ``none`` edges are omitted."""
    n_nodes = max((max(j, i) for j, i in edges), default=0) + 1
    gap, top = 105, 90
    width = gap * (n_nodes - 1) + 60
    parts = []
    for (j, i), op in sorted(edges.items(), key=lambda e: (e[0][0] - e[0][1], e[0])):
        if op == "none":
            continue
        x1, x2 = 30 + gap * i, 30 + gap * j
        span = j - i
        # Adjacent nodes: a straight edge. Longer edges arc, alternately below and above, the
        # longest highest, so no two arcs over the same stretch share a side and height.
        lift = 0 if span == 1 else (30 * (span - 1) + 10) * (1 if i % 2 else -1) * (
            -1 if span > 2 else 1)
        mx, my = (x1 + x2) / 2, top - lift
        colour = OP_COLOURS.get(op, "#7f7f7f")
        parts.append(f"<path d='M{x1 + 13},{top} Q{mx},{top - 2 * lift} {x2 - 13},{top}' "
                     f"fill='none' stroke='{colour}' stroke-width='2' marker-end='url(#a)'/>")
        parts.append(_text(mx, my - 6 if lift >= 0 else my + 14, op, 10, text_anchor="middle",
                           fill=colour, paint_order="stroke", stroke="#fff",
                           stroke_width="3"))
    for k in range(n_nodes):
        parts.append(f"<circle cx='{30 + gap * k}' cy='{top}' r='13' fill='#fff' "
                     "stroke='#333' stroke-width='1.5'/>")
        parts.append(_text(30 + gap * k, top + 4, k, text_anchor="middle"))
    defs = ("<defs><marker id='a' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='6' "
            "markerHeight='6' orient='auto'><path d='M0,0L10,5L0,10z' fill='#555'/></marker>"
            "</defs>")
    return (f"<svg class='arch' role='img' aria-label='cell' width='{width}' height='160' "
            f"viewBox='0 0 {width} 160' xmlns='http://www.w3.org/2000/svg'>{defs}"
            f"{''.join(parts)}</svg>")


def blocks_svg(stages: Mapping[str, list[Mapping[str, object]]]) -> str:
    """Each stage's blocks as boxes in a row, left to right, each listing its fields."""
    box_w, box_h, gap = 112, 16 + 14 * max(
        (len(b) for blocks in stages.values() for b in blocks), default=1), 14
    x, parts = 6, []
    for stage, blocks in stages.items():
        start = x
        for block in blocks:
            parts.append(f"<rect x='{x}' y='24' width='{box_w}' height='{box_h}' rx='5' "
                         "fill='#eef3fb' stroke='#4a6fa5'/>")
            for row, (name, value) in enumerate(sorted(block.items())):
                parts.append(_text(x + 6, 40 + 14 * row, f"{name} {value}"))
            x += box_w + gap
        if not blocks:
            parts.append(_text(x, 50, "(no block)", fill="#888"))
            x += 70
        parts.append(_text(start, 16, stage, font_weight="bold"))
        x += 10
    width = max(x, 120)
    return (f"<svg class='arch' role='img' aria-label='blocks' width='{width}' "
            f"height='{box_h + 32}' viewBox='0 0 {width} {box_h + 32}' "
            f"xmlns='http://www.w3.org/2000/svg'>{''.join(parts)}</svg>")


def decisions_html(arch: Mapping[str, object]) -> str:
    """The generic picture: a two-column list of ``decision = value``."""
    rows = "".join(f"<tr><td class=l>{html.escape(str(k))}</td><td class=l><b>"
                   f"{html.escape(str(v))}</b></td></tr>" for k, v in arch.items())
    return f"<table class='arch'>{rows}</table>"


def _stages(arch: Mapping[str, object]) -> dict[str, list[Mapping[str, object]]] | None:
    """``{stage: [block fields, ...]}`` when the decisions are depth + per-block fields."""
    depths = {k[: -len(".depth")]: v for k, v in arch.items() if k.endswith(".depth")}
    if not depths or not all(isinstance(d, int) for d in depths.values()):
        return None
    stages: dict[str, list[dict[str, object]]] = {
        stage: [{} for _ in range(int(depth))] for stage, depth in depths.items()}  # type: ignore[call-overload]
    for name, value in arch.items():
        if name.endswith(".depth"):
            continue
        match = _BLOCK.match(name)
        if match is None or match["stage"] not in stages:
            return None
        blocks = stages[match["stage"]]
        if int(match["k"]) < len(blocks):  # a position beyond the depth is inactive
            blocks[int(match["k"])][match["field"]] = value
    return {stage: list(blocks) for stage, blocks in stages.items()}


def arch_svg(arch: Mapping[str, object]) -> str:
    """The best picture of ``arch`` (see the module docstring) as an HTML fragment."""
    edges = {}
    for name, value in arch.items():
        match = _EDGE.match(name)
        if match:
            edges[(int(match[1]), int(match[2]))] = str(value)
    if edges and len(edges) == len(arch):
        return cell_svg(edges)
    stages = _stages(arch)
    if stages is not None:
        return blocks_svg(stages)
    return decisions_html(arch)

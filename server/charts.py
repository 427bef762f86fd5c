"""Inline SVG charts drawn on the server: the dashboard works with no network and no JavaScript.

Every function returns a `markupsafe.Markup` string of one <svg> element. All text that came from
the data (guide step ids, labels) is escaped here, because the result is inserted unescaped into
an autoescaped template.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

BAR = "#2f6fb0"
BAR_ALT = "#8fb3d9"
INK = "#1d2733"
MUTED = "#6b7785"
GRID = "#e3e8ee"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 5 times a power of ten)."""
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def bar_chart(points: Sequence[tuple[str, float]], *, title: str, width: int = 760, height: int = 220,
              label_every: int = 1, css_class: str = "chart") -> Markup:
    """Vertical bars, one per (label, value), with a y axis of 0 .. a round maximum. Labels too
    long for their bar are slanted."""
    slant = bool(points) and max(len(label) for label, _ in points) * 6 > (width - 54) / len(points)
    left, right, top, bottom = 44, 10, 26, 34
    if slant:
        bottom = 24 + min(110, int(3.6 * max(len(label) for label, _ in points)))
        height += max(0, bottom - 34)
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((v for _, v in points), default=0))
    n = max(len(points), 1)
    slot = plot_w / n
    bar_w = max(slot * 0.8, 1)
    parts = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(css_class)}" role="img" '
         f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" aria-label="{escape(title)}">'),
        f'<title>{escape(title)}</title>',
        f'<text x="{left}" y="16" font-size="13" font-weight="600" fill="{INK}">{escape(title)}</text>',
    ]
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{_num(y)}" y2="{_num(y)}" stroke="{GRID}"/>')
        parts.append(f'<text x="{left - 6}" y="{_num(y + 4)}" font-size="10" text-anchor="end" '
                     f'fill="{MUTED}">{_num(value)}</text>')
    for i, (label, value) in enumerate(points):
        h = plot_h * value / top_value
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h - h
        parts.append(f'<rect class="bar" x="{_num(x)}" y="{_num(y)}" width="{_num(bar_w)}" height="{_num(h)}" '
                     f'fill="{BAR}"><title>{escape(label)}: {_num(value)}</title></rect>')
        if i % label_every == 0 and slant:
            lx, ly = x + bar_w / 2, height - bottom + 12
            parts.append(f'<text x="{_num(lx)}" y="{_num(ly)}" font-size="10" text-anchor="end" fill="{MUTED}" '
                         f'transform="rotate(-35 {_num(lx)} {_num(ly)})">{escape(label)}</text>')
        elif i % label_every == 0:
            parts.append(f'<text x="{_num(x + bar_w / 2)}" y="{height - bottom + 14}" font-size="10" '
                         f'text-anchor="middle" fill="{MUTED}">{escape(label)}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{MUTED}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


# --- decision tree ------------------------------------------------------------------------------

@dataclass
class TreeNode:
    id: str
    title: str  # first words of the step text
    outcome: str | None = None  # resolved | escalate
    external: bool = False  # another guide's start, reached by a jump
    notes: list[str] = field(default_factory=list)  # "walked away 12", shown under the title
    warn: bool = False  # many left here: drawn in a warning colour
    href: str | None = None  # the box is a link (the studio: edit this step)


@dataclass
class TreeEdge:
    source: str
    target: str
    label: str  # choice label
    count: int  # sessions that took this arrow
    index: int = 0  # the choice's position in its step


def layered_layout(nodes: Sequence[TreeNode], edges: Sequence[TreeEdge], start: str) -> dict[str, tuple[int, int]]:
    """(layer, position in layer) per node: layer = shortest number of choices from the start.

    Breadth-first order keeps siblings together; nodes no edge reaches (should not happen in a
    valid guide) go in a last layer so they are still drawn.
    """
    children: dict[str, list[str]] = {}
    for e in edges:
        children.setdefault(e.source, []).append(e.target)
    layer_of = {start: 0}
    queue = [start]
    while queue:
        nxt = []
        for node in queue:
            for child in children.get(node, []):
                if child not in layer_of:
                    layer_of[child] = layer_of[node] + 1
                    nxt.append(child)
        queue = nxt
    last = max(layer_of.values(), default=0) + 1
    placed: dict[str, tuple[int, int]] = {}
    per_layer: dict[int, int] = {}
    order = sorted(nodes, key=lambda n: (layer_of.get(n.id, last), list(layer_of).index(n.id) if n.id in layer_of else 0))
    for node in order:
        layer = layer_of.get(node.id, last)
        placed[node.id] = (layer, per_layer.get(layer, 0))
        per_layer[layer] = per_layer.get(layer, 0) + 1
    return placed


def _wrap(text: str, width: int, lines: int) -> list[str]:
    words, out, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width and line:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        out.append(line)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 1] + "…"
    return out


def tree_chart(nodes: Sequence[TreeNode], edges: Sequence[TreeEdge], start: str, *, title: str,
               counts: bool = True) -> Markup:
    """The guide as boxes (steps) in layers with arrows (choices) labelled by session counts
    (`counts=False`: no counts, as in the studio, where boxes with an href are links)."""
    box_w, box_h, gap_x, gap_y, margin = 190, 86, 40, 90, 20
    pos = layered_layout(nodes, edges, start)
    widths: dict[int, int] = {}
    for layer, index in pos.values():
        widths[layer] = max(widths.get(layer, 0), index + 1)
    most = max(widths.values(), default=1)
    width = margin * 2 + most * box_w + (most - 1) * gap_x
    height = margin * 2 + 24 + (max(widths, default=0) + 1) * (box_h + gap_y) - gap_y

    def box_xy(node_id: str) -> tuple[float, float]:
        layer, index = pos[node_id]
        row_w = widths[layer] * box_w + (widths[layer] - 1) * gap_x
        x = (width - row_w) / 2 + index * (box_w + gap_x)
        return x, margin + 24 + layer * (box_h + gap_y)

    top_count = max((e.count for e in edges), default=0) or 1
    # A picture is role img, whose insides are hidden from assistive technology; a tree whose boxes
    # are links is a group, so the links inside it are reachable (an img may hold nothing focusable).
    role = "group" if any(node.href for node in nodes) else "img"
    parts = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" class="tree" role="{role}" viewBox="0 0 {width} {height}" '
         f'width="{width}" height="{height}" aria-label="{escape(title)}">'),
        f'<title>{escape(title)}</title>',
        ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" '
         f'markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{MUTED}"/>'
         '</marker></defs>'),
        f'<text x="{margin}" y="{margin + 4}" font-size="14" font-weight="600" fill="{INK}">{escape(title)}</text>',
    ]
    labels = []
    for e in edges:
        if e.source not in pos or e.target not in pos:
            continue
        sx, sy = box_xy(e.source)
        tx, ty = box_xy(e.target)
        stroke = 1 + 5 * e.count / top_count
        if pos[e.target][0] > pos[e.source][0]:
            x1, y1, x2, y2 = sx + box_w / 2, sy + box_h, tx + box_w / 2, ty
            path = f"M{_num(x1)},{_num(y1)} C{_num(x1)},{_num(y1 + gap_y / 2)} {_num(x2)},{_num(y2 - gap_y / 2)} {_num(x2)},{_num(y2)}"
            lx, ly = (x1 + x2) / 2, (y1 + y2) / 2
        elif pos[e.target][0] == pos[e.source][0]:
            # Same layer: a straight arrow between the facing sides.
            left_to_right = tx > sx
            x1, x2 = (sx + box_w, tx) if left_to_right else (sx, tx + box_w)
            y1 = y2 = sy + box_h / 2
            path = f"M{_num(x1)},{_num(y1)} L{_num(x2)},{_num(y2)}"
            lx, ly = (x1 + x2) / 2, y1
        else:
            # An arrow to an earlier layer loops round the right-hand side.
            x1, y1, x2, y2 = sx + box_w, sy + box_h / 2, tx + box_w, ty + box_h / 2
            bulge = max(x1, x2) + 40
            path = f"M{_num(x1)},{_num(y1)} C{_num(bulge)},{_num(y1)} {_num(bulge)},{_num(y2)} {_num(x2)},{_num(y2)}"
            lx, ly = bulge - 10, (y1 + y2) / 2
        parts.append(f'<path class="edge" data-choice="{escape(e.source)}/{e.index}" data-count="{e.count}" d="{path}" fill="none" stroke="{BAR_ALT}" stroke-width="{_num(stroke)}" '
                     f'marker-end="url(#arrow)"><title>{escape(e.label)}{f": {e.count} sessions" if counts else ""}</title></path>')
        if counts:
            labels.append(f'<g class="edge-label"><rect x="{_num(lx - 22)}" y="{_num(ly - 10)}" width="44" height="18" rx="9" '
                      f'fill="#fff" stroke="{BAR_ALT}"/><text x="{_num(lx)}" y="{_num(ly + 3)}" font-size="11" '
                          f'text-anchor="middle" fill="{INK}">{e.count}</text></g>')
    for node in nodes:
        x, y = box_xy(node.id)
        fill = "#eef4fb"
        if node.outcome == "resolved":
            fill = "#e3f4e6"
        elif node.outcome == "escalate":
            fill = "#fdf0dc"
        elif node.external:
            fill = "#f1f1f1"
        stroke = "#c0392b" if node.warn else "#9fb4c9"
        if node.href:
            # named by what it shows (its step id and text), as a person reading the box would call it
            parts.append(f'<a href="{escape(node.href)}">')
        parts.append(f'<g class="step" data-step="{escape(node.id)}"><rect x="{_num(x)}" y="{_num(y)}" width="{box_w}" '
                     f'height="{box_h}" rx="6" fill="{fill}" stroke="{stroke}" stroke-width="{2 if node.warn else 1}"/>')
        heading = ("→ " if node.external else "") + node.id + (f" ({node.outcome})" if node.outcome else "")
        parts.append(f'<text x="{_num(x + 8)}" y="{_num(y + 16)}" font-size="11" font-weight="600" fill="{INK}">'
                     f'{escape(heading[:30])}</text>')
        line_y = y + 31
        for line in _wrap(node.title, 32, 2):
            parts.append(f'<text x="{_num(x + 8)}" y="{_num(line_y)}" font-size="10" fill="{MUTED}">{escape(line)}</text>')
            line_y += 13
        for note in node.notes[:3]:
            color = "#c0392b" if node.warn else INK
            parts.append(f'<text x="{_num(x + 8)}" y="{_num(line_y + 2)}" font-size="10" fill="{color}">{escape(note)}</text>')
            line_y += 12
        parts.append("</g></a>" if node.href else "</g>")
    parts.extend(labels)
    parts.append("</svg>")
    return Markup("".join(parts))

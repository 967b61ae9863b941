"""SVG charts of evaluation results, for a web page.

Each chart is one ``<svg>`` element as text, built here without any library or script, so
it can be inlined in HTML as it is: every name is escaped, the viewBox is fixed and the
width is 100% (the height follows), the chart has ``role="img"`` with a title and a
description that lists its figures, and the same result always gives the same text.
"""

from __future__ import annotations

import html
import itertools
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from botkit.evaluation.memory_eval import LEXICAL_BASELINE, MemoryEvalResult, VariantResult
from botkit.evaluation.turns_eval import PolicyScore, TurnsEvalResult
from botkit.evaluation.turns_policies import BASELINES

__all__ = ["MEMORY_BASELINES", "recall_chart", "who_accuracy_chart"]

MEMORY_BASELINES = (LEXICAL_BASELINE,)
"""The rankings of ``eval memory`` that are baselines rather than botkit's own."""

_WIDTH = 720
_FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"
_CHAR_WIDTH = 7.2
"""About how wide a character of the 13px labels is, to fit names in their space."""
_INK = "#1a1a1a"
_MUTED = "#555555"
_GRID = "#d9d9d9"
_POLICY = "#1f5fa8"
_BASELINE = "#8c8c8c"
_PALETTE = ("#1f5fa8", "#c0392b", "#2e7d32", "#7b3fa0", "#b35900", "#00798c", "#8c564b", "#a61c72")
"""Line colours for the rankings, each at least 3:1 against white."""
_BASELINE_PALETTE = ("#6e6e6e", "#3d3d3d")
"""Line colours for the baselines, drawn dashed with hollow markers."""
_DASH = ' stroke-dasharray="6 4"'
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape(text: str) -> str:
    """``text`` safe as XML text or a quoted attribute; characters XML forbids become U+FFFD."""
    return html.escape(_NOT_XML.sub("\ufffd", text), quote=True)


def _number(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _percent(value: float | None) -> str:
    """A ratio as a percentage with one decimal; "n/a" for None."""
    return "n/a" if value is None else f"{value:.1%}"


def _marked(name: str) -> str:
    """A baseline's name with "(baseline)" after it, unless the name says so already."""
    return name if "baseline" in name.casefold() else f"{name} (baseline)"


def _fit(name: str, chars: int) -> str:
    """``name`` cut to ``chars`` characters, an ellipsis marking the cut."""
    return name if len(name) <= chars else name[: max(chars - 1, 1)] + "…"


def _svg(height: float, title: str, description: str, body: list[str]) -> str:
    """The chart's ``<svg>`` element around ``body``."""
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_number(height)}"'
            f' width="100%" role="img" aria-label="{_escape(f"{title}. {description}")}"'
            f' font-family="{_FONT}" font-size="13" fill="{_INK}">',
            f"<title>{_escape(title)}</title>",
            f"<desc>{_escape(description)}</desc>",
            f'<rect width="{_WIDTH}" height="{_number(height)}" fill="#ffffff"/>',
            *body,
            "</svg>",
        ]
    )


def _heading(title: str, subtitle: str) -> list[str]:
    """The chart's title and the line under it."""
    return [
        f'<text x="16" y="26" font-size="16" font-weight="bold">{_escape(title)}</text>',
        f'<text x="16" y="46" font-size="12" fill="{_MUTED}">{_escape(subtitle)}</text>',
    ]


@dataclass(frozen=True, slots=True)
class _Bars:
    """Where a panel of horizontal bars goes."""

    left: float
    right: float
    row: float
    bar: float

    def x(self, value: float) -> float:
        """Where the end of a bar of ``value`` (0..1, clamped) goes."""
        return self.left + max(0.0, min(1.0, value)) * (self.right - self.left)


def _bar_panel(
    heading: str,
    rows: Sequence[tuple[str, float | None, bool]],
    top: float,
    bars: _Bars,
    kind: str,
) -> tuple[list[str], float]:
    """A panel of one bar per (name, value, is baseline) under ``heading``, from ``top``;
    its elements and where it ends."""
    body = [
        f'<g class="panel {kind}">',
        f'<text x="16" y="{_number(top + 14)}" font-weight="bold">{_escape(heading)}</text>',
    ]
    first = top + 24
    last = first + bars.row * len(rows)
    for tick in range(0, 101, 25):
        x = _number(bars.x(tick / 100))
        body += [
            f'<line class="grid" x1="{x}" y1="{_number(first)}" x2="{x}" y2="{_number(last)}"'
            f' stroke="{_GRID}" stroke-width="1"/>',
            f'<text class="tick" x="{x}" y="{_number(last + 15)}" font-size="11"'
            f' fill="{_MUTED}" text-anchor="middle">{tick}%</text>',
        ]
    room = round((bars.left - 26) / _CHAR_WIDTH)
    for index, (name, value, baseline) in enumerate(rows):
        y = first + index * bars.row
        middle = y + bars.row / 2
        tag = " · baseline" if baseline else ""
        shown = _fit(name, room - len(tag))
        said = f"{_marked(name) if baseline else name}: {_percent(value)}"
        body += [
            f'<g class="row{" baseline" if baseline else ""}">',
            f"<title>{_escape(said)}</title>",
            f'<text class="label" x="{_number(bars.left - 8)}" y="{_number(middle + 4.5)}"'
            f' text-anchor="end">{_escape(shown)}'
            + (
                f'<tspan class="tag" fill="{_MUTED}" font-style="italic">{tag}</tspan>'
                if tag
                else ""
            )
            + "</text>",
        ]
        end = bars.left
        if value is not None:
            end = bars.x(value)
            body.append(
                f'<rect class="bar{" baseline" if baseline else ""}" x="{_number(bars.left)}"'
                f' y="{_number(middle - bars.bar / 2)}" width="{_number(end - bars.left)}"'
                f' height="{_number(bars.bar)}" fill="{_BASELINE if baseline else _POLICY}"/>'
            )
        body += [
            f'<text class="value" x="{_number(end + 6)}" y="{_number(middle + 4.5)}"'
            f' font-size="12">{_percent(value)}</text>',
            "</g>",
        ]
    body += [
        f'<line x1="{_number(bars.left)}" y1="{_number(first)}" x2="{_number(bars.left)}"'
        f' y2="{_number(last)}" stroke="{_INK}" stroke-width="1"/>',
        "</g>",
    ]
    return body, last + 22


def _described(rows: Sequence[tuple[str, float | None, bool]]) -> str:
    """A panel's (name, value, is baseline) rows in words, for the description."""
    return "; ".join(
        f"{_marked(name) if baseline else name} {_percent(value)}" for name, value, baseline in rows
    )


def _ordered(scores: Sequence[PolicyScore], baselines: Collection[str]) -> list[PolicyScore]:
    """The policies in the result's order, then the baselines in the result's order."""
    return [s for s in scores if s.name not in baselines] + [
        s for s in scores if s.name in baselines
    ]


def who_accuracy_chart(result: TurnsEvalResult, *, baselines: Collection[str] = BASELINES) -> str:
    """A horizontal bar chart of ``eval turns``: each policy's who-accuracy beside the
    baselines (grey, tagged "baseline"), on a 0–100% axis, as SVG text.

    Where any policy has a NOBODY F1 (the data marks silences), a smaller second panel
    shows it for every policy; a figure with nothing to divide by reads "n/a" and has no bar.
    """
    scores = _ordered(result.scores, baselines)
    longest = max((len(s.name) + 11 * (s.name in baselines) for s in scores), default=0)
    left = min(max(longest * _CHAR_WIDTH + 26, 140.0), 300.0)
    title = "Who speaks next: accuracy by policy"
    subtitle = (
        f"{result.conversations} conversations, {result.decisions} decision points; "
        "the share where the policy's first choice is the character who spoke"
    )
    who = [(s.name, s.who_accuracy, s.name in baselines) for s in scores]
    body, bottom = _bar_panel(
        "Who-accuracy", who, 60, _Bars(left, _WIDTH - 76, row=28, bar=18), "who"
    )
    description = f"{subtitle}. Who-accuracy: {_described(who) or 'no policies'}."
    if any(s.nobody_f1 is not None for s in scores):
        f1 = [(s.name, s.nobody_f1, s.name in baselines) for s in scores]
        panel, bottom = _bar_panel(
            "NOBODY F1 (silence where the data marks one)",
            f1,
            bottom + 8,
            _Bars(left, _WIDTH - 76, row=20, bar=11),
            "nobody-f1",
        )
        body += panel
        description += f" NOBODY F1: {_described(f1)}."
    return _svg(bottom + 8, title, description, _heading(title, subtitle) + body)


@dataclass(frozen=True, slots=True)
class _Plot:
    """Where the plot of recall against k goes, and where each k goes across it."""

    left: float
    right: float
    top: float
    bottom: float
    xs: dict[int, float]

    def y(self, recall: float) -> float:
        """Where ``recall`` (0..1, clamped) goes up the plot."""
        return self.bottom - max(0.0, min(1.0, recall)) * (self.bottom - self.top)


def _k_axis(ks: Sequence[int], left: float, right: float) -> dict[int, float]:
    """Where each k goes on a log scale from ``left`` to ``right``."""
    if not ks:
        return {}
    low, high = math.log(ks[0]), math.log(ks[-1])
    if high == low:
        return {k: (left + right) / 2 for k in ks}
    return {k: left + (math.log(k) - low) / (high - low) * (right - left) for k in ks}


def _axes(plot: _Plot) -> list[str]:
    """Grid lines and ticks of recall up and of k across, the axis lines and their names."""
    body = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = plot.y(tick)
        body += [
            f'<line class="grid" x1="{_number(plot.left)}" y1="{_number(y)}"'
            f' x2="{_number(plot.right)}" y2="{_number(y)}" stroke="{_GRID}" stroke-width="1"/>',
            f'<text class="tick" x="{_number(plot.left - 8)}" y="{_number(y + 4)}"'
            f' font-size="11" fill="{_MUTED}" text-anchor="end">{tick:g}</text>',
        ]
    for k, x in plot.xs.items():
        body.append(
            f'<text class="tick" x="{_number(x)}" y="{_number(plot.bottom + 16)}" font-size="11"'
            f' fill="{_MUTED}" text-anchor="middle">{k}</text>'
        )
    middle = _number((plot.top + plot.bottom) / 2)
    return [
        *body,
        f'<path d="M{_number(plot.left)},{_number(plot.top)}V{_number(plot.bottom)}'
        f'H{_number(plot.right)}" fill="none" stroke="{_INK}" stroke-width="1"/>',
        f'<text x="{_number((plot.left + plot.right) / 2)}" y="{_number(plot.bottom + 34)}"'
        f' font-size="12" fill="{_MUTED}" text-anchor="middle">'
        "k, memories recalled (log scale)</text>",
        f'<text x="18" y="{middle}" font-size="12" fill="{_MUTED}" text-anchor="middle"'
        f' transform="rotate(-90 18 {middle})">recall</text>',
    ]


def _marker(x: float, y: float, colour: str, baseline: bool) -> str:
    """A marker's circle, without its end: hollow for a baseline."""
    return (
        f'<circle cx="{_number(x)}" cy="{_number(y)}" r="3.5"'
        f' fill="{"#ffffff" if baseline else colour}" stroke="{colour}" stroke-width="1.5"'
    )


def _series(variant: VariantResult, colour: str, baseline: bool, plot: _Plot) -> list[str]:
    """One ranking's line and markers, its points in order of k."""
    ks = sorted(variant.recall)
    points = " ".join(f"{_number(plot.xs[k])},{_number(plot.y(variant.recall[k]))}" for k in ks)
    body = [
        f'<g class="series{" baseline" if baseline else ""}">',
        f"<title>{_escape(variant.name)}</title>",
        f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"'
        f' stroke-linejoin="round"{_DASH if baseline else ""}/>',
    ]
    for k in ks:
        said = f"{variant.name}: recall@{k} = {variant.recall[k]:.3f}"
        body.append(
            _marker(plot.xs[k], plot.y(variant.recall[k]), colour, baseline)
            + f"><title>{_escape(said)}</title></circle>"
        )
    body.append("</g>")
    return body


def _legend_entry(name: str, colour: str, baseline: bool, x: float, y: float) -> list[str]:
    """A sample of a line and its marker at (``x``, ``y``), and the name after it."""
    return [
        f'<line x1="{_number(x)}" y1="{_number(y)}" x2="{_number(x + 28)}" y2="{_number(y)}"'
        f' stroke="{colour}" stroke-width="2"{_DASH if baseline else ""}/>',
        _marker(x + 14, y, colour, baseline) + "/>",
        f'<text class="entry" x="{_number(x + 36)}" y="{_number(y + 4.5)}">{_escape(name)}</text>',
    ]


def recall_chart(result: MemoryEvalResult, *, baselines: Collection[str] = MEMORY_BASELINES) -> str:
    """Recall@k curves of ``eval memory`` over all questions, as SVG text: k on a log scale
    across, recall 0–1 up, one line with markers per ranking and a legend; the baselines
    dashed in grey with hollow markers."""
    variants = [v for v in result.variants if v.name not in baselines] + [
        v for v in result.variants if v.name in baselines
    ]
    ks = sorted({k for v in variants for k in v.recall})
    left, right = 64.0, _WIDTH - 24.0
    plot = _Plot(left, right, 70.0, 330.0, _k_axis(ks, left + 20, right - 20))
    title = "Memory recall@k by ranking"
    subtitle = (
        f"{result.questions} questions over {result.conversations} conversations; "
        "the share of each question's evidence turns among the first k recalled"
    )
    legend_top = plot.bottom + 54
    column = (_WIDTH - 32) / 2
    room = int((column - 40) / _CHAR_WIDTH)
    legend = ['<g class="legend">']
    series: list[list[str]] = []
    colours, greys = itertools.cycle(_PALETTE), itertools.cycle(_BASELINE_PALETTE)
    for index, variant in enumerate(variants):
        baseline = variant.name in baselines
        colour = next(greys) if baseline else next(colours)
        series.append(_series(variant, colour, baseline, plot))
        name = _fit(_marked(variant.name) if baseline else variant.name, room)
        x, y = 16 + (index % 2) * column, legend_top + (index // 2) * 22
        legend += _legend_entry(name, colour, baseline, x, y)
    legend.append("</g>")
    # The first ranking is drawn last, so that it lies on top where lines meet.
    lines = [element for drawn in reversed(series) for element in drawn]
    described = "; ".join(
        f"{_marked(v.name) if v.name in baselines else v.name} "
        + ", ".join(f"@{k} {v.recall[k]:.2f}" for k in sorted(v.recall))
        for v in variants
    )
    description = f"{subtitle}. Recall by ranking: {described or 'no rankings'}."
    height = legend_top + math.ceil(len(variants) / 2) * 22 + 4
    body = [*_heading(title, subtitle), *_axes(plot), *lines, *legend]
    return _svg(height, title, description, body)

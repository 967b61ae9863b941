"""SVG charts of real eval results: well-formed, escaped, bars and lines true to the figures."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import math
import re
import xml.etree.ElementTree as ET
from itertools import pairwise
from pathlib import Path

import pytest

from botkit.backends.base import ChatBackend
from botkit.config import parse_config
from botkit.evaluation.charts import MEMORY_BASELINES, recall_chart, who_accuracy_chart
from botkit.evaluation.locomo import read_locomo
from botkit.evaluation.memory_eval import MemoryEvalResult, VariantResult, evaluate_memory
from botkit.evaluation.turns_data import load_turns
from botkit.evaluation.turns_eval import TurnsEvalResult, evaluate_turns
from botkit.evaluation.turns_policies import BASELINES, build_policy

ROOT = Path(__file__).resolve().parents[2]
TURNS_DEV = ROOT / "bench" / "data" / "turns-dev.jsonl"
LOCOMO_SMALL = Path(__file__).resolve().parent / "data" / "locomo_small.json"
SVG = "{http://www.w3.org/2000/svg}"
POLICIES = ["scoring", "round-robin"]
KS = [1, 2, 3, 5]
HOSTILE = "<b>&\"x\"</b> 'y'"
"""A name that would be markup, an entity and the end of an attribute if not escaped."""


def no_backend() -> ChatBackend:
    """The policies charted here call no model."""
    raise AssertionError("no backend in these tests")


@pytest.fixture(scope="module")
def turns() -> TurnsEvalResult:
    """``eval turns`` on the shipped dev set: two policies beside the baselines."""
    policies = [
        (name, build_policy(name, seed=0, backend=no_backend, timeout=1.0))
        for name in [*POLICIES, *BASELINES]
    ]
    return asyncio.run(evaluate_turns(load_turns(TURNS_DEV), policies))


@pytest.fixture(scope="module")
def memory() -> MemoryEvalResult:
    """``eval memory`` on the small LoCoMo file, at several cut-offs."""
    settings = parse_config({}).memory
    return asyncio.run(evaluate_memory(read_locomo(LOCOMO_SMALL), ks=KS, settings=settings))


def parse(svg: str) -> ET.Element:
    """The chart's root, checked to be an ``<svg>`` for a page: role, label, title, viewBox."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img" and root.get("width") == "100%"
    assert re.fullmatch(r"0 0 720 \d+(\.\d+)?", root.get("viewBox", ""))
    title = root.find(f"{SVG}title")
    assert title is not None and title.text
    assert root.get("aria-label", "").startswith(title.text)
    assert root.find(f".//{SVG}script") is None and root.find(f".//{SVG}foreignObject") is None
    return root


def classes(element: ET.Element) -> set[str]:
    """The element's class names."""
    return set(element.get("class", "").split())


def with_class(root: ET.Element, tag: str, name: str) -> list[ET.Element]:
    """The ``tag`` elements under ``root`` that have the class ``name``, in document order."""
    return [e for e in root.iter(f"{SVG}{tag}") if name in classes(e)]


def panel(root: ET.Element, kind: str) -> ET.Element:
    """The bar chart's panel of ``kind`` (who, nobody-f1)."""
    (found,) = [g for g in with_class(root, "g", "panel") if kind in classes(g)]
    return found


def rows(panel: ET.Element) -> dict[str, ET.Element]:
    """A panel's rows by the name on their label (the text before the baseline tag)."""
    found = {}
    for row in with_class(panel, "g", "row"):
        (label,) = with_class(row, "text", "label")
        found[label.text or ""] = row
    return found


def bar(row: ET.Element) -> ET.Element:
    """A row's one bar."""
    (found,) = row.findall(f"{SVG}rect")
    return found


def polyline(series: ET.Element) -> ET.Element:
    """A series' one line."""
    (found,) = series.findall(f"{SVG}polyline")
    return found


def scale(panel: ET.Element) -> tuple[float, float]:
    """The x of a panel's 0% and 100% ticks."""
    ticks = {t.text: float(t.get("x", "nan")) for t in with_class(panel, "text", "tick")}
    assert list(ticks) == ["0%", "25%", "50%", "75%", "100%"]
    return ticks["0%"], ticks["100%"]


def check_bars(panel: ET.Element, values: dict[str, float | None]) -> None:
    """One row per name in order, a bar for each value from the 0% tick, as long as the
    value is of the 0–100% span, labelled with it; "n/a" and no bar for None."""
    found = rows(panel)
    assert list(found) == list(values)
    zero, full = scale(panel)
    assert full - zero > 300
    for name, value in values.items():
        row = found[name]
        bars = row.findall(f"{SVG}rect")
        (label,) = with_class(row, "text", "value")
        if value is None:
            assert bars == [] and label.text == "n/a"
            continue
        (drawn,) = bars
        assert float(drawn.get("x", "nan")) == pytest.approx(zero)
        assert float(drawn.get("width", "nan")) == pytest.approx(value * (full - zero), abs=0.01)
        assert label.text == f"{value:.1%}"
        baseline = name in BASELINES
        assert baseline == ("baseline" in classes(drawn)) == ("baseline" in classes(row))


def test_the_bar_chart_has_one_bar_per_policy_and_baseline_true_to_its_who_accuracy(
    turns: TurnsEvalResult,
) -> None:
    root = parse(who_accuracy_chart(turns))
    who = {s.name: s.who_accuracy for s in turns.scores}
    assert list(who) == [*POLICIES, *BASELINES]
    assert all(value is not None and 0 < value < 1 for value in who.values())
    assert len({value for value in who.values()}) > 2, "the widths must tell them apart"
    who_panel = panel(root, "who")
    check_bars(who_panel, who)
    assert len(who_panel.findall(f".//{SVG}rect")) == len(POLICIES) + len(BASELINES)


def test_baselines_are_grey_and_tagged_and_listed_after_the_policies(
    turns: TurnsEvalResult,
) -> None:
    # A baseline first in the result still comes after the policies.
    reordered = dataclasses.replace(turns, scores=[turns.scores[-1], *turns.scores[:-1]])
    found = rows(panel(parse(who_accuracy_chart(reordered)), "who"))
    assert list(found) == [*POLICIES, BASELINES[-1], *BASELINES[:-1]]
    fills = {name: bar(row).get("fill") for name, row in found.items()}
    assert {fills[name] for name in BASELINES} == {"#8c8c8c"}
    assert not {fills[name] for name in POLICIES} & {"#8c8c8c"}
    for name, row in found.items():
        tags = ["".join(t.itertext()) for t in with_class(row, "tspan", "tag")]
        assert tags == ([" · baseline"] if name in BASELINES else [])


def test_nobody_f1_is_a_second_panel_only_where_the_result_has_it(turns: TurnsEvalResult) -> None:
    f1 = {s.name: s.nobody_f1 for s in turns.scores}
    # The dev set marks silences; A-B-A never says NOBODY, so its F1 divides by nothing.
    assert f1["scoring"] is not None and f1["A-B-A"] is None
    check_bars(panel(parse(who_accuracy_chart(turns)), "nobody-f1"), f1)
    without = dataclasses.replace(
        turns, scores=[dataclasses.replace(s, nobody_f1=None) for s in turns.scores]
    )
    root = parse(who_accuracy_chart(without))
    assert not [g for g in with_class(root, "g", "panel") if "nobody-f1" in classes(g)]
    assert "NOBODY" not in (root.findtext(f"{SVG}desc") or "")


def test_a_zero_is_drawn_and_labelled_unlike_a_figure_with_nothing_to_divide(
    turns: TurnsEvalResult,
) -> None:
    zero = dataclasses.replace(turns.scores[0], who_accuracy=0.0)
    none = dataclasses.replace(turns.scores[1], who_accuracy=None)
    result = dataclasses.replace(turns, scores=[zero, none, *turns.scores[2:]])
    who = {s.name: s.who_accuracy for s in result.scores}
    who_panel = panel(parse(who_accuracy_chart(result)), "who")
    check_bars(who_panel, who)
    found = rows(who_panel)
    assert [bar(found[zero.name]).get("width")] == ["0"]
    assert found[none.name].findall(f"{SVG}rect") == []


def test_the_description_reads_every_figure(turns: TurnsEvalResult) -> None:
    desc = parse(who_accuracy_chart(turns)).findtext(f"{SVG}desc") or ""
    scoring = turns.scores[0]
    assert f"scoring {scoring.who_accuracy:.1%}" in desc
    assert "A-B-A (baseline) n/a" in desc
    assert f"{turns.decisions} decision points" in desc


def test_names_stay_text_in_labels_titles_and_the_description(turns: TurnsEvalResult) -> None:
    named = dataclasses.replace(
        turns, scores=[dataclasses.replace(turns.scores[0], name=HOSTILE), *turns.scores[1:]]
    )
    svg = who_accuracy_chart(named)
    assert HOSTILE not in svg and "<b>" not in svg
    root = parse(svg)
    assert root.find(f".//{SVG}b") is None
    row = rows(panel(root, "who"))[HOSTILE]
    assert row.findtext(f"{SVG}title", "").startswith(HOSTILE)
    assert HOSTILE in (root.findtext(f"{SVG}desc") or "") and HOSTILE in root.get("aria-label", "")


def test_characters_xml_forbids_are_replaced_and_long_names_cut(turns: TurnsEvalResult) -> None:
    long = "a policy with a name far longer than any label column could hold"
    named = dataclasses.replace(
        turns,
        scores=[
            dataclasses.replace(turns.scores[0], name="bell\x07\x00"),
            dataclasses.replace(turns.scores[1], name=long),
            *turns.scores[2:],
        ],
    )
    found = rows(panel(parse(who_accuracy_chart(named)), "who"))
    assert "bell\ufffd\ufffd" in found
    (cut,) = [name for name in found if name.endswith("…")]
    assert long.startswith(cut[:-1]) and len(cut) < len(long)
    assert found[cut].findtext(f"{SVG}title", "").startswith(long)


def test_the_recall_chart_has_a_line_per_ranking_through_its_figures(
    memory: MemoryEvalResult,
) -> None:
    assert set(MEMORY_BASELINES) <= {v.name for v in memory.variants}
    root = parse(recall_chart(memory))
    series = {s.findtext(f"{SVG}title"): s for s in with_class(root, "g", "series")}
    assert set(series) == {v.name for v in memory.variants}
    # The first ranking (botkit's configured one) is drawn last, on top of the others.
    assert list(series)[-1] == memory.variants[0].name
    ticks = with_class(root, "text", "tick")
    grid = [float(g.get("y1", "nan")) for g in with_class(root, "line", "grid")]
    up = dict(zip([t.text for t in ticks if t.get("text-anchor") == "end"], grid, strict=True))
    assert list(up) == ["0", "0.25", "0.5", "0.75", "1"]
    across = {
        int(t.text or "0"): float(t.get("x", "nan"))
        for t in ticks
        if t.get("text-anchor") == "middle"
    }
    assert list(across) == KS
    # k goes across on a log scale: equal ratios of k, equal steps.
    span = across[KS[-1]] - across[KS[0]]
    for k in KS:
        assert across[k] - across[KS[0]] == pytest.approx(
            span * math.log(k / KS[0]) / math.log(KS[-1] / KS[0]), abs=0.01
        )
    bottom, top = up["0"], up["1"]
    assert bottom - top > 200
    for variant in memory.variants:
        line = polyline(series[variant.name])
        points = [tuple(map(float, p.split(","))) for p in line.get("points", "").split()]
        assert [x for x, _ in points] == pytest.approx([across[k] for k in KS])
        drawn = [(bottom - y) / (bottom - top) for _, y in points]
        assert drawn == pytest.approx([variant.recall[k] for k in KS], abs=1e-4)
        markers = series[variant.name].findall(f"{SVG}circle")
        assert [(float(m.get("cx", "nan")), float(m.get("cy", "nan"))) for m in markers] == points
        dashed = line.get("stroke-dasharray") is not None
        baseline = variant.name in MEMORY_BASELINES
        assert dashed == baseline == ("baseline" in classes(series[variant.name]))


def test_a_recall_line_rises_where_the_figures_do_and_falls_where_they_fall(
    memory: MemoryEvalResult,
) -> None:
    rising = [v for v in memory.variants if v.recall[KS[0]] < v.recall[KS[-1]]]
    assert rising, "the data must have a line that rises"
    for variant in memory.variants:
        values = [variant.recall[k] for k in KS]
        assert values == sorted(values), "recall@k does not fall as k grows"
    # Made-up figures that fall between k=2 and k=3 must be drawn falling there.
    wavy = VariantResult("wavy", {1: 0.2, 2: 0.6, 3: 0.4, 5: 0.4}, 1.0, 2.0)
    made_up = dataclasses.replace(memory, variants=[*memory.variants, wavy])
    series = {
        s.findtext(f"{SVG}title"): polyline(s)
        for s in with_class(parse(recall_chart(made_up)), "g", "series")
    }
    for variant in made_up.variants:
        points = series[variant.name].get("points", "").split()
        heights = [-float(point.split(",")[1]) for point in points]
        values = [variant.recall[k] for k in KS]
        for (h1, h2), (v1, v2) in zip(pairwise(heights), pairwise(values), strict=True):
            assert (h2 > h1, h2 == h1) == (v2 > v1, v2 == v1), variant.name


def test_the_legend_names_every_ranking_with_the_baseline_last(memory: MemoryEvalResult) -> None:
    root = parse(recall_chart(memory))
    entries = [e.text for e in with_class(root, "text", "entry")]
    names = [v.name for v in memory.variants]
    assert entries == [n for n in names if n not in MEMORY_BASELINES] + list(MEMORY_BASELINES)
    colours = [polyline(s).get("stroke") for s in with_class(root, "g", "series")]
    assert len(set(colours)) == len(colours), "each line its own colour"
    first = dataclasses.replace(memory.variants[0], name=HOSTILE)
    renamed = dataclasses.replace(memory, variants=[first, *memory.variants[1:]])
    svg = recall_chart(renamed)
    assert "<b>" not in svg
    assert HOSTILE in [e.text for e in with_class(parse(svg), "text", "entry")]


def contrast(colour: str) -> float:
    """The WCAG contrast ratio of ``#rrggbb`` against white."""

    def channel(part: str) -> float:
        c = int(part, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def test_bars_lines_and_text_are_readable_on_white(
    turns: TurnsEvalResult, memory: MemoryEvalResult
) -> None:
    for svg in (who_accuracy_chart(turns), recall_chart(memory)):
        root = parse(svg)
        assert root.get("fill") and contrast(root.get("fill", "")) >= 4.5
        for text in [*root.iter(f"{SVG}text"), *root.iter(f"{SVG}tspan")]:
            if text.get("fill"):
                assert contrast(text.get("fill", "")) >= 4.5, text.get("fill")
        marks = [*root.iter(f"{SVG}rect"), *root.iter(f"{SVG}polyline")]
        for mark in marks[1:]:  # the first rect is the white ground
            colour = mark.get("stroke") if mark.tag.endswith("polyline") else mark.get("fill")
            assert colour and contrast(colour) >= 3, colour


def test_the_same_result_gives_the_same_text(
    turns: TurnsEvalResult, memory: MemoryEvalResult
) -> None:
    assert who_accuracy_chart(turns) == who_accuracy_chart(copy.deepcopy(turns))
    assert recall_chart(memory) == recall_chart(copy.deepcopy(memory))
    changed = dataclasses.replace(
        turns, scores=[dataclasses.replace(turns.scores[0], who_accuracy=0.5), *turns.scores[1:]]
    )
    assert who_accuracy_chart(changed) != who_accuracy_chart(turns)


def test_empty_results_still_make_well_formed_charts(
    turns: TurnsEvalResult, memory: MemoryEvalResult
) -> None:
    parse(who_accuracy_chart(dataclasses.replace(turns, scores=[])))
    parse(recall_chart(dataclasses.replace(memory, variants=[])))
    one_k = VariantResult("only k=5", {5: 0.5}, 1.0, 2.0)
    root = parse(recall_chart(dataclasses.replace(memory, variants=[one_k])))
    (line,) = root.iter(f"{SVG}polyline")
    assert len(line.get("points", "").split()) == 1

"""Server-rendered SVG charts: well-formed XML with the expected bars, labels and markers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction

import pytest
from django.test import Client

from voting import charts

SVG = "{http://www.w3.org/2000/svg}"
LABELS = {"park": "Park", "bikes": "Bikes & lanes", "library": "<Library>"}


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title").text and root.find(f"{SVG}desc").text
    return root


def bar_rows(root: ET.Element) -> dict[str, tuple[float, str, str]]:
    """key -> (bar width, label text, value text)."""
    rows = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") != "bar-row":
            continue
        rect = group.find(f"{SVG}rect")
        label, value = (text.text for text in group.findall(f"{SVG}text"))
        rows[group.get("data-key")] = (float(rect.get("width")), label, value, rect.get("class"))
    return rows


def test_bar_chart_scales_bars_and_escapes_labels():
    svg = charts.result_chart(
        {"status": "winner", "winners": ["park"], "tallies": {"park": 6, "bikes": 3, "library": "3/2"}, "rounds": []},
        LABELS,
        kind="single",
    )
    rows = bar_rows(parse(svg))
    assert list(rows) == ["park", "bikes", "library"]
    park, bikes, library = rows["park"], rows["bikes"], rows["library"]
    assert park[0] == pytest.approx(2 * bikes[0]) and bikes[0] == pytest.approx(2 * library[0])
    assert (park[1], bikes[1], library[1]) == ("Park", "Bikes & lanes", "<Library>")
    assert (park[2], bikes[2], library[2]) == ("6 ★", "3", "1.5")
    assert "bar-winner" in park[3] and "bar-winner" not in bikes[3]
    assert "<Library>" not in svg  # escaped in the markup


def test_rounds_chart_has_one_block_per_round():
    payload = {
        "status": "winner",
        "winners": ["bikes"],
        "rounds": [
            {"name": "Round 1", "tallies": {"park": 4, "bikes": 3, "library": 2}, "winners": []},
            {"name": "Round 2", "tallies": {"park": 4, "bikes": 5}, "winners": ["bikes"]},
        ],
    }
    root = parse(charts.result_chart(payload, LABELS, kind="ranking"))
    blocks = [group for group in root.iter(f"{SVG}g") if group.get("class") == "round"]
    assert [block.get("data-round") for block in blocks] == ["Round 1", "Round 2"]
    second = bar_rows(blocks[1])
    assert list(second) == ["park", "bikes"] and "bar-winner" in second["bikes"][3]
    assert len(bar_rows(blocks[0])) == 3


def test_number_line_marks_reports_outcome_median_and_mean():
    payload = {"status": "winner", "winners": [], "outcome": 40.0, "outcome_exact": 40}
    comparison = {"median": {"outcome_exact": 50}, "mean": {"outcome_exact": "130/3"}}
    reports = [(Fraction(10), Fraction(1)), (Fraction(50), Fraction(3)), (Fraction(70), Fraction(1))]
    root = parse(
        charts.result_chart(
            payload, {}, kind="number", params={"lo": 0, "hi": 100}, reports=reports, comparison=comparison
        )
    )
    bars = [rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == "report"]
    centres = sorted(float(bar.get("x")) + float(bar.get("width")) / 2 for bar in bars)
    expected = [30 + value / 100 * (charts.WIDTH - 60) for value in (10, 50, 70)]
    assert centres == pytest.approx(expected, abs=charts.COLUMN_PIXELS / 2)
    heights = {bar.get("data-weight"): float(bar.get("height")) for bar in bars}
    assert heights["3"] == pytest.approx(charts.REPORT_BAR_HEIGHT) and heights["1"] == pytest.approx(30)
    markers = {group.get("class"): group for group in root.iter(f"{SVG}g") if "marker" in (group.get("class") or "")}
    assert markers["marker marker-outcome"].get("data-value") == "40"
    assert markers["marker marker-median"].get("data-value") == "50"
    assert markers["marker marker-mean"].get("data-value") == "130/3"
    texts = [text.text for text in root.iter(f"{SVG}text")]
    assert "Outcome 40" in texts and "Median 50" in texts and "Mean 43.33" in texts
    assert {"0", "25", "50", "75", "100"} <= set(texts)


def test_number_line_stays_small_with_many_reports():
    reports = [(Fraction(value, 7), Fraction(1)) for value in range(20_000)]
    payload = {"status": "winner", "winners": [], "outcome": 40.0, "outcome_exact": 40}
    svg = charts.result_chart(payload, {}, kind="number", params={"lo": 0, "hi": 100}, reports=reports)
    bars = [rect for rect in parse(svg).iter(f"{SVG}rect") if rect.get("class") == "report"]
    assert len(bars) <= (charts.WIDTH - 60) // charts.COLUMN_PIXELS + 2 and len(svg) < 30_000
    assert sum(Fraction(bar.get("data-weight")) for bar in bars) == 20_000


def test_allocation_chart_splits_the_total():
    payload = {"status": "winner", "winners": [], "allocation_exact": {"park": 50, "bikes": "75/2", "library": "25/2"}}
    root = parse(charts.result_chart(payload, LABELS, kind="budget", params={"total": 100}))
    segments = [rect for rect in root.iter(f"{SVG}rect") if "segment" in (rect.get("class") or "")]
    widths = [float(rect.get("width")) for rect in segments]
    assert widths == pytest.approx([charts.WIDTH * 0.5, charts.WIDTH * 0.375, charts.WIDTH * 0.125], abs=0.1)
    rows = bar_rows(root)
    assert [rows[key][2] for key in ("park", "bikes", "library")] == ["50", "37.5", "12.5"]


def test_numbers_are_shown_plainly_and_exactly():
    assert charts.format_number("7/2") == "3.5" and charts.format_number(4) == "4"
    assert charts.format_number("1/3") == "0.33" and charts.exact_text("2/6") == "1/3"


def test_chart_endpoint_serves_svg_with_the_tally(session, make_question, citizen, django_capture_on_commit_callbacks):
    client, participant = citizen
    question = make_question("single")
    park = question.options.first().key
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/questions/{question.pk}/ballot/", {"choice": park})
    response = client.get(f"/questions/{question.pk}/chart.svg")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    rows = bar_rows(parse(response.content.decode()))
    assert rows[park][1:3] == ("Park", "1 ★")
    assert all(rows[key][2] == "0" for key in rows if key != park)
    assert Client().get(f"/questions/{question.pk}/chart.svg").status_code == 403

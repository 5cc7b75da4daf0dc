"""Server-rendered SVG charts of results: tallies, rounds, number lines and budget allocations.

Pure functions from numbers to SVG markup (no Django, no JavaScript), so a result page
reads the same with scripts off and in a screen reader (each chart has a title and a
description; every bar carries its label and value as text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from html import escape
from typing import Any

WIDTH = 400
LABEL_WIDTH = 130
VALUE_WIDTH = 60
BAR_HEIGHT = 24
BAR_GAP = 10
TOP = 34
MAX_LABEL_CHARS = 15
# Presentation attributes so a standalone SVG looks right; the page's stylesheet refines them.
BAR_FILL = "#8fb1d3"
COLUMN_PIXELS = 6  # width of one histogram column of the number line
REPORT_BAR_HEIGHT = 90  # height of the tallest column
WINNER_FILL = "#23527c"
AXIS_STROKE = "#8a94a6"
MARKER_STROKES = {"marker-outcome": "#23527c", "marker-median": "#1f7a4d", "marker-mean": "#9a5b00"}
SEGMENT_FILLS = ("#23527c", "#4f8fc0", "#8fb1d3", "#1f7a4d", "#6cb28c", "#9a5b00", "#d39a4a", "#6b5b95")


def exact(value: Any) -> Fraction:
    """Read an engine number (int, "p/q" string, float or Fraction) exactly."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    return Fraction(str(value))


def format_number(value: Any, digits: int = 2) -> str:
    """Show a number as people read it: integers plain, others as a short decimal."""
    number = exact(value)
    if number.denominator == 1:
        return str(number.numerator)
    text = f"{float(number):.{digits}f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def exact_text(value: Any) -> str:
    """The exact form of a number ("7/3"), for titles and tooltips."""
    number = exact(value)
    return str(number.numerator) if number.denominator == 1 else f"{number.numerator}/{number.denominator}"


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"


@dataclass(frozen=True)
class Bar:
    """One bar: an option's label, its value and whether it is highlighted (a winner)."""

    key: str
    label: str
    value: Fraction
    highlight: bool = False
    muted: bool = False


def _open_svg(height: int, title: str, description: str, css_class: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css_class}" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(description)}</desc>",
    ]


def _bar_rows(bars: Sequence[Bar], top: int, scale_max: Fraction) -> list[str]:
    area = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    parts: list[str] = []
    for index, bar in enumerate(bars):
        y = top + index * (BAR_HEIGHT + BAR_GAP)
        length = 0.0 if scale_max <= 0 else float(max(bar.value, Fraction(0)) / scale_max) * area
        classes = "bar" + (" bar-winner" if bar.highlight else "") + (" bar-muted" if bar.muted else "")
        shown = format_number(bar.value)
        parts.append(f'<g class="bar-row" data-key="{escape(bar.key)}">')
        parts.append(f"<title>{escape(bar.label)}: {escape(exact_text(bar.value))}</title>")
        parts.append(
            f'<text class="bar-label" x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT * 0.7:.1f}" '
            f'text-anchor="end">{escape(_short(bar.label))}</text>'
        )
        parts.append(
            f'<rect class="{classes}" x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" rx="3" '
            f'fill="{WINNER_FILL if bar.highlight else BAR_FILL}"/>'
        )
        parts.append(
            f'<text class="bar-value" x="{LABEL_WIDTH + length + 6:.1f}" y="{y + BAR_HEIGHT * 0.7:.1f}">'
            f"{escape(shown)}{' ★' if bar.highlight else ''}</text>"
        )
        parts.append("</g>")
    return parts


def bar_chart(bars: Sequence[Bar], *, title: str) -> str:
    """Horizontal bars, one per option, scaled to the largest value; winners highlighted."""
    height = TOP + len(bars) * (BAR_HEIGHT + BAR_GAP) + 6
    scale_max = max((bar.value for bar in bars), default=Fraction(0))
    description = "; ".join(f"{bar.label}: {format_number(bar.value)}" for bar in bars) or "no data"
    parts = _open_svg(height, title, description, "chart-bars")
    parts.append(f'<text class="chart-heading" x="0" y="18">{escape(title)}</text>')
    parts.extend(_bar_rows(bars, TOP, scale_max))
    parts.append("</svg>")
    return "\n".join(parts)


@dataclass(frozen=True)
class RoundBars:
    """The bars of one round (candidates still in the count), with the round's name."""

    name: str
    bars: tuple[Bar, ...]


def rounds_chart(rounds: Sequence[RoundBars], *, title: str) -> str:
    """One block of bars per round, on a common scale, so eliminations and transfers show."""
    scale_max = max((bar.value for block in rounds for bar in block.bars), default=Fraction(0))
    parts: list[str] = []
    y = TOP
    descriptions = []
    for block in rounds:
        parts.append(f'<g class="round" data-round="{escape(block.name)}">')
        parts.append(f'<text class="round-heading" x="0" y="{y + 14}">{escape(block.name)}</text>')
        parts.extend(_bar_rows(block.bars, y + 22, scale_max))
        parts.append("</g>")
        y += 22 + len(block.bars) * (BAR_HEIGHT + BAR_GAP) + 12
        descriptions.append(
            f"{block.name}: " + ", ".join(f"{bar.label} {format_number(bar.value)}" for bar in block.bars)
        )
    head = _open_svg(y, title, "; ".join(descriptions) or "no rounds", "chart-rounds")
    head.append(f'<text class="chart-heading" x="0" y="18">{escape(title)}</text>')
    return "\n".join([*head, *parts, "</svg>"])


def number_line_chart(
    *,
    lo: Fraction,
    hi: Fraction,
    reports: Sequence[tuple[Fraction, Fraction]],
    outcome: Fraction | None,
    median: Fraction | None,
    mean: Fraction | None,
    title: str,
) -> str:
    """A number line from lo to hi with the reports as a histogram (weight per column), and the outcome,
    median and mean marked."""
    left, right = 30, WIDTH - 30
    axis_y = 150
    span = hi - lo

    def x_of(value: Fraction) -> float:
        if span <= 0:
            return (left + right) / 2
        clamped = min(max(value, lo), hi)
        return left + float((clamped - lo) / span) * (right - left)

    # One bar per pixel column of reports, so the chart's size stays bounded however many report.
    columns: dict[int, list[Fraction]] = {}  # column -> [total weight, lowest value, highest value]
    for value, weight in reports:
        column = round((x_of(value) - left) / COLUMN_PIXELS)
        low_high = columns.setdefault(column, [Fraction(0), value, value])
        low_high[0] += weight
        low_high[1], low_high[2] = min(low_high[1], value), max(low_high[2], value)
    tallest = max((total for total, _, _ in columns.values()), default=Fraction(1))
    total_weight = sum((total for total, _, _ in columns.values()), Fraction(0))
    dots: list[str] = []
    for column, (weight, lowest, highest) in sorted(columns.items()):
        x = left + column * COLUMN_PIXELS
        height = max(3.0, float(weight / tallest) * REPORT_BAR_HEIGHT)
        where = exact_text(lowest) if lowest == highest else f"{exact_text(lowest)} to {exact_text(highest)}"
        dots.append(
            f'<rect class="report" data-weight="{escape(exact_text(weight))}" x="{x - COLUMN_PIXELS / 2 + 1:.1f}" '
            f'y="{axis_y - height:.1f}" width="{COLUMN_PIXELS - 2}" height="{height:.1f}" fill="{BAR_FILL}">'
            f"<title>{escape(format_number(weight))} at {escape(where)}</title></rect>"
        )
    markers: list[str] = []
    described = [f"reports of weight {format_number(total_weight)} between {format_number(lo)} and {format_number(hi)}"]
    for name, value, css, dy in (
        ("Outcome", outcome, "marker-outcome", 0),
        ("Median", median, "marker-median", 18),
        ("Mean", mean, "marker-mean", 36),
    ):
        if value is None:
            continue
        x = x_of(value)
        described.append(f"{name.lower()} {format_number(value)}")
        markers.append(
            f'<g class="marker {css}" data-value="{escape(exact_text(value))}">'
            f'<line x1="{x:.1f}" y1="{axis_y - 104}" x2="{x:.1f}" y2="{axis_y + 6}" stroke="{MARKER_STROKES[css]}"/>'
            f'<text x="{min(max(x, 60), WIDTH - 60):.1f}" y="{axis_y + 40 + dy}" text-anchor="middle">'
            f"{name} {escape(format_number(value))}</text></g>"
        )
    parts = _open_svg(axis_y + 84, title, "; ".join(described), "chart-number-line")
    parts.append(f'<text class="chart-heading" x="0" y="18">{escape(title)}</text>')
    parts.append(f'<line class="axis" x1="{left}" y1="{axis_y}" x2="{right}" y2="{axis_y}" stroke="{AXIS_STROKE}"/>')
    for step in range(5):
        tick = lo + span * Fraction(step, 4)
        x = x_of(tick)
        parts.append(
            f'<line class="tick" x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 5}" stroke="{AXIS_STROKE}"/>'
        )
        parts.append(
            f'<text class="tick-label" x="{x:.1f}" y="{axis_y + 19}" text-anchor="middle">'
            f"{escape(format_number(tick))}</text>"
        )
    parts.extend(dots)
    parts.extend(markers)
    parts.append("</svg>")
    return "\n".join(parts)


def allocation_chart(bars: Sequence[Bar], *, total: Fraction, title: str) -> str:
    """A stacked bar of the whole budget split between options, then one bar per option scaled to the total."""
    height = TOP + 40 + len(bars) * (BAR_HEIGHT + BAR_GAP) + 6
    description = "; ".join(f"{bar.label}: {format_number(bar.value)} of {format_number(total)}" for bar in bars)
    parts = _open_svg(height, title, description or "no allocation", "chart-allocation")
    parts.append(f'<text class="chart-heading" x="0" y="18">{escape(title)}</text>')
    x = 0.0
    for index, bar in enumerate(bars):
        share = float(bar.value / total) if total > 0 else 0.0
        width = share * WIDTH
        parts.append(
            f'<rect class="segment segment-{index % 8}" data-key="{escape(bar.key)}" x="{x:.1f}" y="{TOP - 8}" '
            f'width="{width:.1f}" height="26" fill="{SEGMENT_FILLS[index % 8]}"><title>{escape(bar.label)}: {escape(format_number(bar.value))} '
            f"({share:.0%})</title></rect>"
        )
        if width > 9 * len(_short(bar.label)) + 12:
            parts.append(
                f'<text class="segment-label" x="{x + 6:.1f}" y="{TOP + 10}" fill="#ffffff">{escape(_short(bar.label))}</text>'
            )
        x += width
    parts.extend(_bar_rows(bars, TOP + 34, total))
    parts.append("</svg>")
    return "\n".join(parts)


def _bars(tallies: Mapping[str, Any], labels: Mapping[str, str], winners: Sequence[str]) -> tuple[Bar, ...]:
    """Bars in option order for the options present in ``tallies``."""
    return tuple(
        Bar(key=key, label=label, value=exact(tallies[key]), highlight=key in winners)
        for key, label in labels.items()
        if key in tallies
    )


def _summary(entry: Mapping[str, Any] | None) -> Any:
    """The value of a median/mean comparison entry, if any."""
    if not entry:
        return None
    return entry.get("outcome_exact", entry.get("outcome"))


def result_chart(
    payload: Mapping[str, Any],
    labels: Mapping[str, str],
    *,
    kind: str,
    params: Mapping[str, Any] | None = None,
    reports: Sequence[tuple[Fraction, Fraction]] = (),
    comparison: Mapping[str, Any] | None = None,
) -> str:
    """The chart that suits a result: a number line, an allocation, per-round bars or plain tallies.

    ``labels`` maps option keys to labels in option order; ``reports`` are the (value,
    weight) pairs of a number question; ``comparison`` the result's other rules (a number
    question's median and mean are marked on its line).
    """
    params = params or {}
    comparison = comparison or {}
    winners = list(payload.get("winners") or [])
    details = payload.get("details") or {}
    if kind == "number":
        lo = exact(params.get("lo", details.get("lo", 0)))
        hi = exact(params.get("hi", details.get("hi", 1)))
        outcome = payload.get("outcome_exact", payload.get("outcome"))
        median = _summary(comparison.get("median"))
        mean = _summary(comparison.get("mean"))
        return number_line_chart(
            lo=lo,
            hi=hi,
            reports=reports,
            outcome=None if outcome is None else exact(outcome),
            median=None if median is None else exact(median),
            mean=None if mean is None else exact(mean),
            title="Reports on the number line",
        )
    if kind == "budget":
        allocation = payload.get("allocation_exact") or payload.get("allocation") or {}
        total = exact(params.get("total", details.get("total", sum((exact(v) for v in allocation.values()), 0))))
        return allocation_chart(_bars(allocation, labels, []), total=total, title="Budget allocation")
    rounds = payload.get("rounds") or []
    if len(rounds) > 1:
        blocks = [
            RoundBars(
                name=str(round_.get("name", f"Round {index + 1}")),
                bars=_bars(round_.get("tallies") or {}, labels, round_.get("winners") or []),
            )
            for index, round_ in enumerate(rounds)
        ]
        return rounds_chart(blocks, title="Count in each round")
    tallies = payload.get("tallies") or {}
    return bar_chart(_bars(tallies, labels, winners), title="Tally")

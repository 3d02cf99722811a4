"""The evaluations chart on a flag's page: stacked daily bars per variation, laid out here and drawn as
inline SVG by the template (no script). Colours only tell series apart; the legend names each with its
total, and the template gives the same numbers as a table for screen readers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flagward.domain.describe import describe_variation
from flagward.domain.flag_statuses import DAY_MS, DEFAULT_VARIATION
from flagward.domain.flags import Flag
from flagward.services.flag_overview import Evaluations

WIDTH, HEIGHT = 300, 150
LEFT, BOTTOM, TOP = 40, 22, 10
# Distinguishable for the common colour-vision deficiencies (Okabe-Ito), darkened for contrast on white.
PALETTE = ("#0b6fb0", "#d55e00", "#009e73", "#b8860b", "#cc79a7", "#56b4e9", "#6b4c9a", "#8c564b")
DEFAULT_COLOUR = "#8a94a3"


@dataclass(frozen=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    total: int
    counts: list[int]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    segments: list[Segment]
    series: list[Series]
    days: list[str]  # labels, oldest first
    y_max: int
    plot_bottom: float
    plot_left: float
    ticks: list[tuple[float, str]]  # (x, label) under the axis
    total: int


def _label(flag: Flag, variation: int) -> str:
    if variation == DEFAULT_VARIATION:
        return "Application default (flag not served)"
    return describe_variation(flag, variation)


def _nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (at least 1)."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def _day(day: int) -> str:
    return datetime.fromtimestamp(day * DAY_MS / 1000, tz=UTC).strftime("%b %-d")


def evaluations_chart(flag: Flag, evaluations: Evaluations) -> Chart:
    variations = sorted(evaluations.by_variation, key=lambda v: (v == DEFAULT_VARIATION, v))
    series = [
        Series(
            _label(flag, v),
            DEFAULT_COLOUR if v == DEFAULT_VARIATION else PALETTE[v % len(PALETTE)],
            sum(evaluations.by_variation[v]),
            evaluations.by_variation[v],
        )
        for v in variations
    ]
    days = evaluations.days
    totals = [sum(s.counts[i] for s in series) for i in range(len(days))]
    y_max = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(1, len(days))
    bar = slot * 0.72
    segments = []
    for i, day in enumerate(days):
        y = float(TOP + plot_h)
        for s in series:
            count = s.counts[i]
            if not count:
                continue
            height = plot_h * count / y_max
            y -= height
            title = f"{_day(day)}: {count:,} served {s.label}"
            segments.append(Segment(LEFT + i * slot + (slot - bar) / 2, y, bar, height, s.colour, title))
    labels = [_day(d) for d in days]
    ticks = [(LEFT + i * slot + slot / 2, labels[i]) for i in range(len(days) - 1, -1, -max(1, len(days) // 3))]
    return Chart(WIDTH, HEIGHT, segments, series, labels, y_max, TOP + plot_h, LEFT, ticks, sum(totals))

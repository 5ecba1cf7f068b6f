"""Geometry of a measure's trend chart: plain numbers for a server-rendered SVG (the page
shows the same data as a table, its text alternative)."""
from __future__ import annotations

from dataclasses import dataclass

from ..domain.measures import Measure

#: the right margin holds the band lines' labels, so no label sits over a point; the bottom one
#: the dates and the axis title (the last date, centred on the axis's end, stays inside the margin)
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 640, 252, 44, 132, 14, 46


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    total: int
    label: str


@dataclass(frozen=True)
class BandLine:
    y: float
    label: str


@dataclass(frozen=True)
class Tick:
    """A labelled value on the y axis."""
    y: float
    value: int


def tick_values(low: int, high: int) -> list[int]:
    """Round values from low to high, a few of them (at most 7): every 1, 2, 5, 10, 20... points."""
    step = next((s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500) if (high - low) / s <= 6), 1000)
    first = -(-low // step) * step
    return list(range(first, high + 1, step))


def trend_chart(measure: Measure, rows) -> dict | None:
    """Points for each live response (date order) on the measure's total range, with the severity
    band boundaries."""
    if not rows:
        return None
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    first, last = rows[0][0].administered_on, rows[-1][0].administered_on
    days = max((last - first).days, 1)

    low, span = measure.min_total, measure.max_total - measure.min_total

    def y(total: float) -> float:
        return round(TOP + plot_h * (1 - (total - low) / span), 1)

    points = []
    for response, _change in rows:
        offset = (response.administered_on - first).days
        x = LEFT + (plot_w * offset / days if len(rows) > 1 else plot_w / 2)
        points.append(Point(round(x, 1), y(response.total), response.total, f"{response.administered_on:%b %d}"))
    bands = [BandLine(y(b.low - 0.5), b.label) for b in measure.bands[1:]]
    ticks = [Tick(y(v), v) for v in tick_values(low, measure.max_total)]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "top": TOP, "bottom": HEIGHT - BOTTOM,
            "right": WIDTH - RIGHT, "points": points, "bands": bands, "ticks": ticks, "min": low,
            "max": measure.max_total, "middle": round((TOP + HEIGHT - BOTTOM) / 2, 1),
            "centre": round((LEFT + WIDTH - RIGHT) / 2, 1),
            "polyline": " ".join(f"{p.x},{p.y}" for p in points)}

"""Geometry of the course timeline drawing: plain numbers for a server-rendered SVG."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .windows import WindowRow

WIDTH, LABEL_WIDTH, ROW_HEIGHT, TOP = 880, 150, 34, 28


@dataclass(frozen=True)
class Band:
    y: float
    label: str
    dosing_x: float
    window_x: float
    window_w: float
    optimal_w: float
    session_xs: tuple[float, ...]
    status: str
    #: domain.coverage.Coverage's value: covered, unconfirmed, provisional or uncovered
    coverage: str
    #: the window of a dose only planned, drawn dashed
    provisional: bool = False
    #: the coverage in words, written under the band's label: the band's outline colour is not alone in saying it
    coverage_label: str = ""


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


def geometry(rows: list[WindowRow], now: datetime, zone) -> dict | None:
    """Where to draw each window band, its optimal span, the dosing and integration sessions (rows:
    the real windows, then the provisional ones of planned doses)."""
    if not rows:
        return None
    start = min(r.anchor for r in rows) - timedelta(days=1)
    end = max(max(r.window.closes for r in rows), now) + timedelta(days=1)
    span = (end - start).total_seconds()
    scale = (WIDTH - LABEL_WIDTH - 10) / span

    def x(instant: datetime) -> float:
        return round(LABEL_WIDTH + (instant - start).total_seconds() * scale, 1)

    bands = []
    for i, row in enumerate(rows):
        w = row.window
        local_end = row.anchor.astimezone(zone)
        bands.append(Band(
            y=TOP + i * ROW_HEIGHT,
            label=f"Dose {row.session.sequence} · {'planned ' if w.provisional else ''}{local_end:%b %d}",
            dosing_x=x(row.anchor), window_x=x(w.opens), window_w=round(x(w.closes) - x(w.opens), 1),
            optimal_w=round(x(w.optimal_until) - x(w.opens), 1), session_xs=tuple(x(s) for s in row.sessions),
            status=row.status.label, coverage=row.coverage.state.value, provisional=w.provisional,
            coverage_label=_coverage_words(row)))
    ticks, day = [], start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    step = max(1, round(span / 86400 / 8))
    while day.astimezone(start.tzinfo) < end:
        ticks.append(Tick(x=x(day), label=f"{day:%b %d}"))
        day = (day.replace(tzinfo=None) + timedelta(days=step)).replace(tzinfo=zone)
    return {"width": WIDTH, "height": TOP + len(rows) * ROW_HEIGHT + 10, "bands": bands, "ticks": ticks,
            "now_x": x(now), "label_width": LABEL_WIDTH, "row_height": ROW_HEIGHT, "top": TOP}


def _coverage_words(row) -> str:
    """What the band says of its window's integration: a window an ended course closed early asks
    for nothing, so it is not "Nothing booked" (the windows table says the same)."""
    if getattr(row, "closed_early", False) and row.coverage.needs_booking:
        return "None held (course ended)"
    return row.coverage.state.label

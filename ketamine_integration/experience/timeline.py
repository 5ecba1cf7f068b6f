"""Geometry of the course timeline drawing: plain numbers for a server-rendered SVG."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .windows import WindowRow


@dataclass(frozen=True)
class Layout:
    """The drawing's size in its own units: pixels when it is drawn at its natural size."""
    width: int
    #: where the time axis begins: the rows' names are left of it (wide) or above each band (narrow)
    plot_left: int
    #: room right of the axis's end (a date centred near it stays inside the drawing)
    plot_right: int
    row_height: int
    top: int
    #: the band's top below its row's: beside the row's name and coverage (wide) or under them
    bar_offset: int
    #: about this many dates along the top
    dates: int


#: a wide screen's: names in a column left of the bands
WIDE = Layout(width=880, plot_left=150, plot_right=10, row_height=34, top=28, bar_offset=4, dates=8)
#: a phone's: drawn at its natural size inside a 375 px screen (11 and 12 px text), each band under its
#: name and coverage; the wide one, shrunk to fit, had 7 px text, or scrolled sideways out of sight
NARROW = Layout(width=328, plot_left=22, plot_right=22, row_height=62, top=28, bar_offset=32, dates=4)


@dataclass(frozen=True)
class Band:
    y: float
    label: str
    #: the top of the window's bar (its dose and sessions drawn on it)
    bar_y: float
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


def drawings(rows: list[WindowRow], now: datetime, zone) -> dict | None:
    """The wide screen's drawing and the phone's (the page shows the one that fits), or None."""
    if not rows:
        return None
    return {"wide": geometry(rows, now, zone, WIDE), "narrow": geometry(rows, now, zone, NARROW)}


def geometry(rows: list[WindowRow], now: datetime, zone, layout: Layout = WIDE) -> dict | None:
    """Where to draw each window band, its optimal span, the dosing and integration sessions (rows:
    the real windows, then the provisional ones of planned doses)."""
    if not rows:
        return None
    start = min(r.anchor for r in rows) - timedelta(days=1)
    end = max(max(r.window.closes for r in rows), now) + timedelta(days=1)
    span = (end - start).total_seconds()
    scale = (layout.width - layout.plot_left - layout.plot_right) / span

    def x(instant: datetime) -> float:
        return round(layout.plot_left + (instant - start).total_seconds() * scale, 1)

    bands = []
    for i, row in enumerate(rows):
        w = row.window
        local_end = row.anchor.astimezone(zone)
        top = layout.top + i * layout.row_height
        bands.append(Band(
            y=top, bar_y=top + layout.bar_offset,
            label=f"Dose {row.session.sequence} · {'planned ' if w.provisional else ''}{local_end:%b %d}",
            dosing_x=x(row.anchor), window_x=x(w.opens), window_w=round(x(w.closes) - x(w.opens), 1),
            optimal_w=round(x(w.optimal_until) - x(w.opens), 1), session_xs=tuple(x(s) for s in row.sessions),
            status=row.status.label, coverage=row.coverage.state.value, provisional=w.provisional,
            coverage_label=_coverage_words(row)))
    ticks, day = [], start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    step = max(1, round(span / 86400 / layout.dates))
    while day.astimezone(start.tzinfo) < end:
        ticks.append(Tick(x=x(day), label=f"{day:%b %d}"))
        day = (day.replace(tzinfo=None) + timedelta(days=step)).replace(tzinfo=zone)
    return {"width": layout.width, "height": layout.top + len(rows) * layout.row_height + 10, "bands": bands,
            "ticks": ticks, "now_x": x(now), "label_width": layout.plot_left, "row_height": layout.row_height,
            "top": layout.top}


def _coverage_words(row) -> str:
    """What the band says of its window's integration: a window an ended course closed early asks
    for nothing, so it is not "Nothing booked" (the windows table says the same)."""
    if getattr(row, "closed_early", False) and row.coverage.needs_booking:
        return "None held (course ended)"
    return row.coverage.state.label

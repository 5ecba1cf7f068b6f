"""Geometry of a measure's trend chart: plain numbers for a server-rendered SVG (the page
shows the same data as a table, its text alternative)."""
from __future__ import annotations

from dataclasses import dataclass

from ..domain.measures import Measure


@dataclass(frozen=True)
class Layout:
    """A chart's size and margins, in its own units: pixels when it is drawn at its natural size."""
    width: int
    height: int
    left: int
    #: holds the band lines' names, so no name sits over a point
    right: int
    top: int
    #: the dates and the axis title (the last date, centred on the axis's end, stays inside it)
    bottom: int
    #: the least room between the centres of two written dates; a date nearer the next written one
    #: is left unwritten (the newest is always written; the table lists every date)
    date_gap: int = 44
    #: a band's name longer than this many letters is written over lines, whole words to a line
    band_line_letters: int = 0
    #: write a band's short name where the registry gives one (a phone's narrow margin)
    short_band_names: bool = False


#: a wide screen's and the PDF's: a band name over 18 letters (about 7 px each) is wrapped to fit the margin
WIDE = Layout(640, 252, 44, 132, 14, 46, band_line_letters=18)
#: a phone's: drawn at its natural size inside a 375 px screen, so 12-unit text is 12 px there (the
#: wide one, shrunk to fit, would be 6 px)
NARROW = Layout(340, 240, 34, 80, 14, 46, band_line_letters=10, short_band_names=True)
#: a line of a band's name below the one before it
BAND_LINE_HEIGHT = 13


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    total: int
    label: str
    #: its date is written under the axis (not when the next written date is too near)
    labelled: bool = True


@dataclass(frozen=True)
class BandLine:
    y: float
    label: str
    #: the label as written, a line each, each line BAND_LINE_HEIGHT below the one before
    lines: tuple[str, ...] = ()
    #: where the label's first line is written: just under its line, or higher where the band below
    #: begins so near that its name would run into this one (PCL-5: bands from 31 and from 34)
    text_y: float = 0.0


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


def trend_chart(measure: Measure, rows, lay: Layout = WIDE) -> dict | None:
    """Points for each live response (date order) on the measure's total range, with the severity
    band boundaries (none for a measure without bands) and which way is better (an alliance total
    rises as it improves), laid out for a wide screen (and the PDF) or, with NARROW, a phone."""
    if not rows:
        return None
    plot_w, plot_h = lay.width - lay.left - lay.right, lay.height - lay.top - lay.bottom
    first, last = rows[0][0].administered_on, rows[-1][0].administered_on
    days = max((last - first).days, 1)

    low, span = measure.min_total, measure.max_total - measure.min_total

    def y(total: float) -> float:
        return round(lay.top + plot_h * (1 - (total - low) / span), 1)

    xs = [round(lay.left + (plot_w * (r.administered_on - first).days / days if len(rows) > 1 else plot_w / 2), 1)
          for r, _change in rows]
    written = _written_dates(xs, lay.date_gap)
    points = [Point(x, y(response.total), response.total, f"{response.administered_on:%b %d}", labelled)
              for (response, _change), x, labelled in zip(rows, xs, written)]
    bands = _band_lines(measure, y, lay)
    ticks = [Tick(y(v), v) for v in tick_values(low, measure.max_total)]
    right, bottom = lay.width - lay.right, lay.height - lay.bottom
    return {"width": lay.width, "height": lay.height, "left": lay.left, "top": lay.top, "bottom": bottom,
            "right": right, "points": points, "bands": bands, "ticks": ticks, "min": low, "max": measure.max_total,
            "middle": round((lay.top + bottom) / 2, 1), "centre": round((lay.left + right) / 2, 1),
            "line_height": BAND_LINE_HEIGHT, "better": measure.direction, "polyline": " ".join(f"{p.x},{p.y}" for p in points)}


def _band_lines(measure: Measure, y, lay: Layout) -> list[BandLine]:
    """A line where each band after the first begins, from the bottom up, its name written just under
    it or, where the name below would reach it, a line's height clear above that name."""
    lines: list[BandLine] = []
    for b in measure.bands[1:]:
        written = b.short if lay.short_band_names and b.short else b.label
        at, wrapped = y(b.low - 0.5), band_lines(written, lay.band_line_letters)
        text_y = at + 4
        if lines:
            text_y = min(text_y, lines[-1].text_y - len(wrapped) * BAND_LINE_HEIGHT)
        lines.append(BandLine(at, b.label, wrapped, round(text_y, 1)))
    return lines


def trend_charts(measure: Measure, rows) -> dict | None:
    """The wide screen's chart and the phone's (the page shows the one that fits), or None."""
    if not rows:
        return None
    return {"wide": trend_chart(measure, rows, WIDE), "narrow": trend_chart(measure, rows, NARROW)}


def _written_dates(xs: list[float], gap: int) -> list[bool]:
    """Which points' dates are written: the newest, then going back each at least `gap` before the
    last one written."""
    written, after = [False] * len(xs), None
    for i in reversed(range(len(xs))):
        if after is None or after - xs[i] >= gap:
            written[i], after = True, xs[i]
    return written


def band_lines(label: str, letters: int) -> tuple[str, ...]:
    """A band's name over lines of at most `letters` letters, whole words to a line (0: one line)."""
    if not letters or len(label) <= letters:
        return (label,)
    lines: list[str] = []
    for word in label.split():
        if lines and len(lines[-1]) + 1 + len(word) <= letters:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return tuple(lines)

"""The outcomes page's charts as plain data: bar lengths in percent, drawn as SVG by the template, each
chart followed by the table it is drawn from (the table is the text alternative)."""
from __future__ import annotations

from dataclasses import dataclass

from .queries import Outcomes


@dataclass(frozen=True)
class RateBar:
    label: str
    #: percent of the group's measured courses, 0-100
    response: float
    remission: float


@dataclass(frozen=True)
class WindowBar:
    label: str
    #: percent of the group's closed windows, 0-100, adding up to 100
    optimal: float
    late: float
    missed: float


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def bar_rows(outcomes: Outcomes) -> dict[str, list]:
    """Bars of the groups shown (never a suppressed one): PHQ-9 response and remission by protocol, and
    how the closed windows went by protocol."""
    if outcomes.suppressed:
        return {"rates": [], "windows": []}
    rates = [RateBar(r.label, round(100 * (r.response_rate or 0), 1), round(100 * (r.remission_rate or 0), 1))
             for r in (outcomes.overall_phq, *outcomes.phq_by_protocol) if not r.suppressed and r.measured]
    windows = [WindowBar(r.label, _percent(r.optimal, r.windows_closed), _percent(r.late, r.windows_closed),
                         _percent(r.missed, r.windows_closed))
               for r in (outcomes.overall, *outcomes.by_protocol) if not r.suppressed and r.windows_closed]
    return {"rates": rates, "windows": windows}

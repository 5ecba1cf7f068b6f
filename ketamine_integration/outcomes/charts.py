"""The outcomes page's charts as plain data: bar lengths as rates (0-1), drawn as SVG by the template, each
chart followed by the table it is drawn from (the table is the text alternative)."""
from __future__ import annotations

from dataclasses import dataclass

from .figures import share
from .queries import Outcomes


@dataclass(frozen=True)
class RateBar:
    label: str
    #: of the group's measured courses, 0-1
    response: float
    remission: float


@dataclass(frozen=True)
class WindowBar:
    label: str
    #: of the group's closed windows, 0-1, adding up to 1
    optimal: float
    late: float
    missed: float


def bar_rows(outcomes: Outcomes) -> dict[str, list]:
    """Bars of the groups shown (never a hidden one): PHQ-9 response and remission by protocol, and
    how the closed windows went by protocol."""
    if outcomes.suppressed:
        return {"rates": [], "windows": []}
    rates = [RateBar(r.label, r.response_rate or 0.0, r.remission_rate or 0.0)
             for r in (outcomes.overall_phq, *outcomes.phq_by_protocol) if not r.hidden and r.measured]
    windows = [WindowBar(r.label, share(r.optimal, r.windows_closed), share(r.late, r.windows_closed),
                         share(r.missed, r.windows_closed))
               for r in (outcomes.overall, *outcomes.by_protocol) if not r.hidden and r.windows_closed]
    return {"rates": rates, "windows": windows}

"""The outcomes page as CSV: one row per figure shown, hidden groups marked so with why (never their numbers,
not even their number of courses)."""
from __future__ import annotations

import csv
from dataclasses import replace
from io import StringIO

from ..audit.export import csv_safe
from ..domain.disclosure import SMALL
from .figures import hidden_text, percent
from .queries import Outcomes, PhqRow, ProtocolRow

COLUMNS = ("Section", "Group", "Courses", "Figure", "Value")
HIDDEN = "hidden"
#: therapists are shown within their protocol only (domain.disclosure's tree), as on the page
THERAPISTS = "PHQ-9 by therapist within protocol"


def therapist_label(protocol: PhqRow, therapist: PhqRow) -> str:
    """A therapist's row named with its protocol, as the page reads it: "IV ketamine, therapist Dr Rowe"."""
    return f"{protocol.label}, therapist {therapist.label}"


def _phq_lines(section: str, row: PhqRow, min_group: int) -> list[tuple]:
    if row.hidden:
        return [(section, row.label, HIDDEN, "PHQ-9", hidden_text(row.hidden, min_group, of="patients measured"))]
    return [(section, row.label, row.courses, name, value) for name, value in (
        ("Courses with a baseline and a PHQ-9 after the first dose", row.measured),
        ("Responders (of courses with a baseline above 0)", f"{row.responders} of {row.response_measured}"),
        ("Response rate", percent(row.response_rate, missing="")),
        ("In remission", f"{row.remitters} of {row.measured}"),
        ("Remission rate", percent(row.remission_rate, missing="")),
        ("Median change from baseline (points)", _number(row.median_change)))]


def _protocol_lines(row: ProtocolRow, min_group: int) -> list[tuple]:
    section = "Sessions and windows"
    if row.hidden:
        return [(section, row.label, HIDDEN, "Sessions and windows", hidden_text(row.hidden, min_group))]
    return [(section, row.label, row.courses, name, value) for name, value in (
        ("Signed doses", row.doses),
        ("Doses followed by an integration session", row.followed),
        ("Median hours from dose to first integration session", _number(row.median_hours)),
        ("Windows closed, covered in the optimal span", row.optimal),
        ("Windows closed, covered late", row.late),
        ("Windows closed, missed", row.missed),
        ("Windows still open", row.still_open),
        ("Windows not yet worked out", row.not_worked_out),
        ("Sessions the patient was expected at", row.expected),
        ("No-shows", row.no_shows),
        ("No-show rate", percent(row.no_show_rate, missing="")),
        ("REMS forms not filed", row.rems_outstanding),
        ("REMS forms overdue", row.rems_overdue))]


def _number(value: float | None) -> float | int | str:
    """A median as a number (a whole one without ".0"), so the CSV cell is one a spreadsheet sums."""
    if value is None:
        return ""
    shown = float(f"{value:g}")
    return int(shown) if shown.is_integer() else shown


def _cell(value):
    # Only text can smuggle a formula; a number the app computed is written as it is, so a median
    # change of -11.5 stays the number -11.5, not the text "'-11.5" that csv_safe makes of it.
    return csv_safe(value) if isinstance(value, str) else value


def outcomes_csv(outcomes: Outcomes) -> str:
    out = StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    n = outcomes.min_group
    if outcomes.suppressed:
        writer.writerow(("All", "Every protocol", HIDDEN, "Everything", hidden_text(SMALL, n)))
        return out.getvalue()
    lines = [*_phq_lines("PHQ-9 by protocol", outcomes.overall_phq, n)]
    for row in outcomes.phq_by_protocol:
        lines += _phq_lines("PHQ-9 by protocol", row, n)
        for therapist in outcomes.phq_therapists[row.key]:
            lines += _phq_lines(THERAPISTS, replace(therapist, label=therapist_label(row, therapist)), n)
    for row in (outcomes.overall, *outcomes.by_protocol):
        lines += _protocol_lines(row, n)
    writer.writerows([_cell(v) for v in line] for line in lines)
    return out.getvalue()

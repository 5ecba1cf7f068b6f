"""The outcomes page as CSV: one row per figure shown, suppressed groups marked so (never their numbers)."""
from __future__ import annotations

import csv
from io import StringIO

from ..audit.export import csv_safe
from .queries import Outcomes, PhqRow, ProtocolRow

COLUMNS = ("Section", "Group", "Courses", "Figure", "Value")
SUPPRESSED = "not shown (fewer courses than the minimum group size)"


def _phq_lines(section: str, row: PhqRow) -> list[tuple]:
    if row.suppressed:
        return [(section, row.label, row.courses, "PHQ-9", SUPPRESSED)]
    return [(section, row.label, row.courses, name, value) for name, value in (
        ("Courses with a baseline and a PHQ-9 after the first dose", row.measured),
        ("Responders (of courses with a baseline above 0)", f"{row.responders} of {row.response_measured}"),
        ("Response rate", _percent(row.response_rate)),
        ("In remission", f"{row.remitters} of {row.measured}"),
        ("Remission rate", _percent(row.remission_rate)),
        ("Median change from baseline (points)", _number(row.median_change)))]


def _protocol_lines(row: ProtocolRow) -> list[tuple]:
    section = "Sessions and windows"
    if row.suppressed:
        return [(section, row.label, row.courses, "Sessions and windows", SUPPRESSED)]
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
        ("No-show rate", _percent(row.no_show_rate)),
        ("REMS forms not filed", row.rems_outstanding),
        ("REMS forms overdue", row.rems_overdue))]


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.0f}%"


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
    if outcomes.suppressed:
        writer.writerow(("All", "Every protocol", outcomes.courses, "Everything", SUPPRESSED))
        return out.getvalue()
    lines = [*_phq_lines("PHQ-9 by protocol", outcomes.overall_phq)]
    for row in outcomes.phq_by_protocol:
        lines += _phq_lines("PHQ-9 by protocol", row)
    for row in outcomes.phq_by_therapist:
        lines += _phq_lines("PHQ-9 by therapist", row)
    for row in (outcomes.overall, *outcomes.by_protocol):
        lines += _protocol_lines(row)
    writer.writerows([_cell(v) for v in line] for line in lines)
    return out.getvalue()

"""The prescriber worklist's REMS forms, one line per patient (experience/rems.py, by_patient): how
many are outstanding, the oldest due date and how many are overdue, the patients in due order."""
from datetime import date
from types import SimpleNamespace

from ketamine_integration.experience.rems import DUE_AFTER, RemsRow, by_patient

TODAY = date(2026, 12, 10)


def _patient(patient_id, name):
    return SimpleNamespace(id=patient_id, display_name=name)


def _row(patient, sequence, session_day):
    due = session_day + DUE_AFTER
    return RemsRow(session=SimpleNamespace(sequence=sequence), patient=patient, session_date=session_day, due=due,
                   overdue=TODAY > due)


ASH, BEE, TWIN = _patient(1, "Ash Fictional"), _patient(2, "Bee Fictional"), _patient(3, "Ash Fictional")


def test_one_group_per_patient_with_count_oldest_due_and_overdue():
    rows = [_row(ASH, 5, date(2026, 12, 8)), _row(BEE, 2, date(2026, 11, 30)), _row(ASH, 4, date(2026, 12, 1)),
            _row(ASH, 6, date(2026, 12, 9))]
    groups = by_patient(rows)
    # Bee's only form is due first (Dec 7, overdue): Bee comes first; Ash's oldest (Dec 8) is overdue too
    assert [(g.patient.id, g.count, g.oldest_due, g.overdue) for g in groups] == [
        (2, 1, date(2026, 12, 7), 1), (1, 3, date(2026, 12, 8), 1)]
    # each group lists its forms in session order, whatever order they came in
    assert [r.session.sequence for r in groups[1].rows] == [4, 5, 6]


def test_two_patients_with_one_name_stay_apart():
    rows = [_row(ASH, 1, date(2026, 12, 1)), _row(TWIN, 1, date(2026, 12, 1))]
    assert [g.patient.id for g in by_patient(rows)] == [1, 3]


def test_no_forms_no_lines():
    assert by_patient([]) == []


def test_a_form_due_today_is_not_overdue():
    [group] = by_patient([_row(ASH, 1, TODAY - DUE_AFTER)])
    assert group.oldest_due == TODAY and group.overdue == 0

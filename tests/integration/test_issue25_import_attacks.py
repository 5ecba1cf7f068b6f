"""Attack review of issue 25 points 1-4: the hostile import files that got past the checks, each refused
on its row and field now, nothing written (both engines: the refusals are the database's business too)."""
from __future__ import annotations

import json
import re
import threading
import time
from datetime import date, timedelta

import pytest

from ketamine_integration.accounts.models import User
from ketamine_integration.db.errors import DomainError
from ketamine_integration.extensions import db
from ketamine_integration.imports import services
from ketamine_integration.notes.models import MeasureResponse, SafetyAlert
from ketamine_integration.patients.models import Patient
from tests.conftest import page_text
from tests.integration.test_imports import PHQ9_ITEMS, _check, _count, _questionnaire, clinic  # noqa: F401


def _refusals(response) -> set[tuple[str, str]]:
    return set(re.findall(r"<tr><td data-label=\"In the file\">([^<]+)</td><td data-label=\"Field\">([^<]+)</td>",
                          response.get_data(as_text=True)))


@pytest.mark.parametrize("authored", [
    "0001-01-01T00:30:00+14:00",   # a moment before 1 January of year 1 in New York
    "9999-12-31T23:30:00-12:00",   # a moment after 31 December 9999 in New York
])
def test_a_moment_outside_the_calendar_in_the_clinic_zone_is_refused_on_its_field(clinic, make, auth, authored):
    make.course(clinic["patient"], clinic["therapist"], clinic["prescriber"])
    auth.sign_in("desk")
    response = _check(auth, "measures", json.dumps(_questionnaire("KI-900001", [0] * 9, authored)), "h.json")
    assert response.status_code == 422, page_text(response)[:300]
    assert _refusals(response) == {("resource 1", "authored")}
    assert "outside the calendar" in page_text(response)
    assert _count(make, MeasureResponse) == 0


@pytest.mark.parametrize("name", [
    "Wr\x00en",      # NUL: PostgreSQL refuses it in text (the import answered 500 there)
    "Wr\x07en",      # another control character: a PDF's XMP metadata cannot hold it
    "Wr\u202een",    # a bidirectional override: the name reads otherwise than it is stored
])
def test_a_control_character_in_an_imported_name_is_refused_on_its_column(clinic, make, auth, name):
    before = _count(make, Patient)
    auth.sign_in("desk")
    csv = f"given_name,family_name,date_of_birth\n{name},Quillfeather,1984-03-07\n"
    response = _check(auth, "patients", csv, "p.csv")
    assert response.status_code == 422, page_text(response)[:300]
    assert _refusals(response) == {("row 2", "given_name")}
    assert "no control characters" in page_text(response)
    assert _count(make, Patient) == before


@pytest.mark.parametrize("name", ["Quill\x07feather", "Quill\u202efeather"])
def test_the_registration_form_refuses_a_control_character_in_a_name_on_its_field(clinic, make, auth, name):
    """(A NUL in a form is refused by the request guard, 400, before any form: only a file carried one in.)"""
    from tests.integration.test_patients import VALID
    before = _count(make, Patient)
    auth.sign_in("desk")
    response = auth.post("/patients/new", dict(VALID, family_name=name))
    assert response.status_code == 422
    assert "no control characters" in page_text(response)
    assert _count(make, Patient) == before


@pytest.mark.parametrize("again", [
    PHQ9_ITEMS[8],   # item 9 by its LOINC code twice: the second answer was kept, the first dropped unsaid
    "9",             # item 9 by LOINC and by its number (as the export writes it)
])
def test_an_item_answered_twice_is_refused_not_one_answer_kept(clinic, make, auth, again):
    make.course(clinic["patient"], clinic["therapist"], clinic["prescriber"])
    response_json = _questionnaire("KI-900001", [0] * 9, (date.today() - timedelta(days=2)).isoformat())
    response_json["item"].append({"linkId": again, "answer": [{"valueInteger": 3}]})
    auth.sign_in("desk")
    response = _check(auth, "measures", json.dumps(response_json), "h.json")
    assert response.status_code == 422, page_text(response)[:300]
    assert _refusals(response) == {("resource 1", "item[9]")}
    assert "answers PHQ-9 item 9 again (also item[8])" in page_text(response)
    assert _count(make, MeasureResponse) == 0


def _imported_at_once(app, kind: str, data: bytes, by: int) -> dict:
    """Two imports of one file at once: A checks it, then B starts while A waits half a second before
    importing and committing. What each import gave: a count, or "nothing to import"."""
    a_checked, outcomes, errors = threading.Event(), {}, []

    def run(name: str) -> None:
        try:
            with app.test_request_context():
                if name == "b":
                    a_checked.wait(30)
                report = services.read_upload(kind, "h.csv" if kind == services.PATIENTS else "h.json", data)
                services.check(report)
                if name == "a":
                    a_checked.set()
                    time.sleep(0.5)  # B is under way meanwhile: its check must wait for A's commit
                try:
                    outcomes[name] = services.import_file(report, by=db.session.get(User, by), today=date.today())
                    db.session.commit()
                except DomainError:
                    db.session.rollback()
                    outcomes[name] = "nothing to import"
                db.session.remove()
        except Exception as err:  # reported below; a thread's exception is otherwise lost
            errors.append(repr(err))
    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return outcomes


@pytest.mark.both_engines  # parallel imports
def test_two_imports_of_one_measure_file_at_once_record_it_once(clinic, make, app):
    """Before, on PostgreSQL both read "nothing recorded" and both wrote it (two responses, two safety
    alerts); now the second waits for the first's commit and finds the questionnaire recorded."""
    make.course(clinic["patient"], clinic["therapist"], clinic["prescriber"])
    data = json.dumps(_questionnaire("KI-900001", [1] * 9, (date.today() - timedelta(days=2)).isoformat())).encode()
    assert _imported_at_once(app, services.MEASURES, data, clinic["staff"]) == {"a": 1, "b": "nothing to import"}
    assert _count(make, MeasureResponse) == 1
    assert _count(make, SafetyAlert) == 1


@pytest.mark.both_engines  # parallel imports
def test_two_imports_of_one_patients_file_at_once_register_each_person_once(clinic, make, app):
    """Rows without an MRN: before, on PostgreSQL both read "nobody of these names" and both registered the
    person (two MRNs drawn); now the second waits and refuses the row as registered already."""
    before = _count(make, Patient)
    data = b"given_name,family_name,date_of_birth\nWren,Quillfeather,1984-03-07\n"
    assert _imported_at_once(app, services.PATIENTS, data, clinic["staff"]) == {"a": 1, "b": "nothing to import"}
    assert _count(make, Patient) == before + 1


@pytest.mark.parametrize("filename, layout", [
    ("h.json", "one"),       # a single resource
    ("h.ndjson", "lines"),   # NDJSON: the line is named
])
def test_a_key_given_twice_in_an_object_refuses_the_file(clinic, make, auth, filename, layout):
    """{"status": "entered-in-error", "status": "completed"}: Python kept the last and imported a questionnaire
    another reader takes as voided."""
    make.course(clinic["patient"], clinic["therapist"], clinic["prescriber"])
    text = json.dumps(_questionnaire("KI-900001", [0] * 9, (date.today() - timedelta(days=2)).isoformat())).replace(
        '"status": "completed"', '"status": "entered-in-error", "status": "completed"')
    if layout == "lines":
        text = json.dumps({"resourceType": "Patient"}) + "\n" + text
    auth.sign_in("desk")
    response = _check(auth, "measures", text, filename)
    assert response.status_code == 422
    named = "line 2 gives" if layout == "lines" else "gives"
    assert f"{filename}: {named} the key \"status\" twice in one object" in page_text(response)
    assert _count(make, MeasureResponse) == 0

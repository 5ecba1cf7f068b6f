"""The right-of-access copy's care planning (issue 25 review): the PDF carries the signed treatment plan with its
objectives and the progress its notes recorded, the case formulation, the signed safety plan and the journal
entries the patient shares with the clinic; it never carries a process note, a private journal entry (never
shared, or its share withdrawn) or anything of another patient. The portal download carries the same."""
from __future__ import annotations

from datetime import timedelta

import pytest

from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from ketamine_integration.journal.models import JournalEntry
from ketamine_integration.record_access import archive
from tests.conftest import Auth, page_text, todays_world
from tests.integration.test_discharge import PROCESS_CANARY
from tests.integration.test_notes import SIGNING, _version, make_team
from tests.integration.test_note_plan import _note_with_plan
from tests.integration.test_record_access import REQUEST, _open, _statements, _text_of
from tests.integration.test_safety_plans import PLAN, _edit
from tests.integration.test_treatment_plans import _plan_form, _start

SHARED = "Canary-shared-2207: the lake at dawn felt like mine again"
PRIVATE = "Canary-private-4410: a line I keep to myself"
WITHDRAWN = "Canary-withdrawn-9183: I shared this and took it back"
OTHERS_PLAN = "Canary-other-6620: another patient's objective"
FORMULATION = "Canary-formulation-3309: withdrawal after conflict keeps the low mood going"
SAFETY_SIGN = "Canary-safety-5120: staying in bed past noon"


def _journal(make, ids, text: str, *, shared: bool, withdrawn: bool = False) -> None:
    """An entry as the portal leaves it: private, shared, or shared and then withdrawn (private again)."""
    def add():
        now = utcnow()
        db.session.add(JournalEntry(patient_id=ids["patient"], course_id=ids["course"], prompt="free", text=text,
                                    written_at=now - timedelta(hours=2),
                                    shared_at=now - timedelta(hours=1) if shared and not withdrawn else None,
                                    first_shared_at=now - timedelta(hours=1) if shared else None))
        db.session.commit()
    make.run(add)


@pytest.fixture
def record(make, auth):
    """A course in integration with a signed plan, a signed note recording progress on its objective (with a
    process note), a formulation, a signed safety plan and three journal entries; another patient of the same
    therapist with a plan of their own. Built in a client of its own once per day, worker and engine
    (reused_world) and loaded from its snapshot after; the test's client is signed in as the therapist."""
    ids = todays_world(make.app, "record_copy_contents",
                       lambda: _record(make, Auth(make.app, make.app.test_client())))
    auth.sign_in("ther")
    return ids


def _record(make, auth) -> dict:
    ids = make_team(make)
    note, _, _, data = _note_with_plan(make, auth, ids, **{"objective_progress-0-comment": "Two walks this week"})
    assert auth.post(f"/notes/{note}/process", {"body": PROCESS_CANARY}).status_code == 302
    signed = auth.post(f"/notes/{note}", {**data, "version": str(_version(make, note)), **SIGNING})
    assert signed.status_code == 302, page_text(signed)[-400:]
    assert auth.post(f"/courses/{ids['course']}/formulation",
                     {"maintaining_factors": FORMULATION, "revision": "0"}).status_code == 302
    assert _edit(auth, ids["patient"], {**PLAN, "warning_signs": SAFETY_SIGN, "action": "sign",
                                        "confirm_lock": "y"}).status_code == 302
    _journal(make, ids, SHARED, shared=True)
    _journal(make, ids, PRIVATE, shared=False)
    _journal(make, ids, WITHDRAWN, shared=True, withdrawn=True)
    other = make.patient(given_name="Quill", family_name="Other")
    other_course = make.course(other, ids["therapist"], ids["prescriber"], phase="integration")
    plan = _start(auth, other_course)
    form = {**_plan_form(1, sign=True), "objectives-0-target": OTHERS_PLAN}
    assert auth.post(f"/plans/{plan}", form).status_code == 302
    ids["account"] = make.portal_account(ids["patient"])
    auth.logout()
    return ids


def _summary(files: dict[str, bytes]) -> str:
    return " ".join(_text_of(archive.SUMMARY_PATH, files[archive.SUMMARY_PATH]).split())


def test_the_copy_carries_the_plan_formulation_safety_plan_and_shared_journal_and_nothing_else(app, make, auth,
                                                                                              record):
    staff_copy = _open(auth.post(f"/patients/{record['patient']}/record-access", REQUEST))
    client = app.test_client()
    Auth(app, client).portal_sign_in(record["account"])
    portal_copy = _open(Auth(app, client).post("/portal/record/", {}))
    for files in (staff_copy, portal_copy):
        # every file read once, then searched for each phrase and each canary
        texts = {path: " ".join(_text_of(path, content).split()) for path, content in files.items()}
        text = texts[archive.SUMMARY_PATH]
        for expected in ("Treatment plan, revision 1", "Re-engage with daily life",  # the plan and its goal
                         "Patient walks 20 minutes, 3 times a week",  # its SMART objective
                         "Activity log shows 3 walks a week",  # the objective's success criterion
                         "Some progress — Two walks this week (Hazel Quint)",  # the progress the signed note recorded
                         "Behavioural activation",  # a planned technique
                         "Case formulation, revision 1", FORMULATION,
                         "Safety plan, revision 1", SAFETY_SIGN, "Partner keeps the medication", "Sam (sister)",
                         SHARED):
            assert expected in text, expected
        for path, content in files.items():  # every file: the PDFs' text and the raw bytes (the FHIR bundle too)
            for canary in (PROCESS_CANARY, PRIVATE, WITHDRAWN, OTHERS_PLAN):
                assert canary not in texts[path], (path, canary)
                assert canary.encode() not in content, (path, canary)


def test_without_a_plan_the_copy_says_so(app, make, auth):
    ids = make_team(make)
    auth.sign_in("ther")
    text = _summary(_open(auth.post(f"/patients/{ids['patient']}/record-access", REQUEST)))
    for empty in ("No signed treatment plan.", "Case formulation None written.", "No signed safety plan.",
                  "None shared."):
        assert empty in text, empty


@pytest.mark.both_engines
def test_the_care_planning_parts_read_the_record_in_statements_that_do_not_grow_with_it(app, make, auth, record):
    """A second plan revision, formulation revision, safety plan revision and more journal entries: the copy's
    content runs the same number of statements (a count, not a time)."""
    before = _statements(app, record["patient"])
    revision = _start(auth, record["course"])
    assert auth.post(f"/plans/{revision}", _plan_form(1, sign=True)).status_code == 302
    assert auth.post(f"/courses/{record['course']}/formulation",
                     {"strengths": "Curious, loyal", "revision": "1"}).status_code == 302
    assert _edit(auth, record["patient"], {**PLAN, "action": "sign", "confirm_lock": "y"}).status_code == 302
    for n in range(3):
        _journal(make, record, f"Another shared entry {n}", shared=True)
    assert _statements(app, record["patient"]) == before

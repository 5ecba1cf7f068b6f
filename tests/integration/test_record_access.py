"""The patient's right of access (issue 25, point 2; 45 CFR 164.524): a clinician on the care team records a
request (the patient or a named personal representative, the day it arrived, the delivery) and gets the copy
as a zip at once; the patient downloads the same in the portal, a few times a day. The zip holds a readable
PDF of the designated record set, the coordination reports as sent and a manifest of SHA-256s; no file in it
ever carries a process note. Every copy is recorded (append-only) and audited; bad input changes nothing."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date, datetime, timedelta, timezone

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.extensions import db
from ketamine_integration.record_access import archive
from ketamine_integration.record_access.models import RecordExport
from tests.clinic_day import at_run_all, follows_the_day
from tests.conftest import Auth, page_text, todays_world
from tests.integration.test_coordination import _generate, _release
from tests.integration.test_discharge import PROCESS_CANARY, ended_course
from tests.integration.test_notes import _start, _version

TODAY = follows_the_day(globals(), "TODAY", date.today)
#: typed in a draft note never signed: not part of the record yet, so never in a copy
DRAFT_CANARY = "Canary-draft-5519: a sentence never signed"
INSIGHT = "Rest is something I am allowed"
REQUEST = follows_the_day(globals(), "REQUEST", lambda: {
    "requested_by": "patient", "representative_name": "", "representative_authority": "",
    "received_on": date.today().isoformat(), "delivery": "in_person", "delivery_note": "At the front desk"})


@pytest.fixture
def record(make, auth):
    """test_discharge's ended course (a signed dose, a signed integration note with its process note, PHQ-9s),
    with a release and a coordination report sent while it ran, a draft note, and the patient's portal account;
    the client is left signed in as the course's therapist.

    Built through the app's forms once per day, worker and engine (a second a test, for 18 tests), then loaded
    from its snapshot (tests.conftest.reused_world); every test signs in afresh, the first one too."""
    ids = todays_world(make.app, "record_access", lambda: _ended_with_a_copy_to_make(make, auth))
    auth.sign_in("ther")
    return ids


def _ended_with_a_copy_to_make(make, auth) -> dict:
    def while_live(ids):
        assert _release(auth, ids, ["measures", "dosing", "attendance"]).status_code == 302
        assert _generate(auth, ids).status_code == 302
        draft = _start(auth, ids["course"], kind="preparation")
        saved = auth.post(f"/notes/{draft}", {"session_date": TODAY.isoformat(), "intentions": DRAFT_CANARY,
                                              "version": str(_version(make, draft))})
        assert saved.status_code == 302, page_text(saved)[-400:]
    ids = ended_course(make, auth, before_the_end=while_live)
    ids["account"] = make.portal_account(ids["patient"])
    return ids


def _open(response) -> dict[str, bytes]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as zipped:
        return {name: zipped.read(name) for name in zipped.namelist()}


def _text_of(path: str, content: bytes) -> str:
    """What a reader sees in a file of the zip: a PDF's extracted text, any other file as text."""
    if path.endswith(".pdf"):
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return content.decode()


def _exports(make) -> list[RecordExport]:
    return make.query(lambda: db.session.scalars(select(RecordExport).order_by(RecordExport.id)).all())


def _audit(make, action: str) -> list[AuditEvent]:
    return make.query(lambda: db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                                 .order_by(AuditEvent.id)).all())


def test_a_clinician_records_the_request_and_gets_the_zip_with_its_manifest(make, auth, record):
    page = auth.client.get(f"/patients/{record['patient']}/record-access")
    assert page.status_code == 200 and "No copy of this record has been made" in page_text(page)
    files = _open(auth.post(f"/patients/{record['patient']}/record-access", REQUEST))
    assert archive.SUMMARY_PATH in files and archive.MANIFEST_PATH in files
    [report] = [path for path in files if path.startswith("reports/")]
    manifest = json.loads(files[archive.MANIFEST_PATH])
    # every other file is listed with its size and digest, and they are the files' own
    assert sorted(f["path"] for f in manifest["files"]) == sorted(set(files) - {archive.MANIFEST_PATH})
    for listed in manifest["files"]:
        content = files[listed["path"]]
        assert (listed["bytes"], listed["sha256"]) == (len(content), hashlib.sha256(content).hexdigest())
    assert any("Psychotherapy notes" in line for line in manifest["excluded"])
    # the FHIR member: the FHIR export's own Bundle of this patient (fhir/export.py), listed like every file
    assert manifest["fhir"] == archive.FHIR_PATH
    bundle = json.loads(files[archive.FHIR_PATH])
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")
    [fhir_patient] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert fhir_patient["name"][0]["family"] == "Discharged"
    summary = _text_of(archive.SUMMARY_PATH, files[archive.SUMMARY_PATH])
    for expected in ("Wren Discharged", "Requested by the patient", "PHQ-9", INSIGHT, "Safety in the body",
                     "Coordination of ketamine treatment", "Orrin Vale", "Discontinued"):
        assert expected in " ".join(summary.split()), expected
    [row] = _exports(make)
    assert (row.patient_id, row.requested_by, row.received_on, row.delivery, row.delivery_note) == (
        record["patient"], "patient", TODAY, "in_person", "At the front desk")
    assert row.made_by_id == record["therapist"] and row.portal_account_id is None and row.fhir_included
    assert row.manifest == manifest["files"]
    [audited] = _audit(make, "record_export.create")
    assert (audited.patient_id, audited.user_id, audited.outcome, audited.object_id) == (
        record["patient"], record["therapist"], "success", str(row.id))
    # the page lists the copy: when, who asked, the delivery, who made it and the zip's digest
    listed = page_text(auth.client.get(f"/patients/{record['patient']}/record-access"))
    assert "The patient" in listed and "Hazel Quint" in listed and row.file_name in listed


def test_no_file_of_either_copy_carries_a_process_note_or_a_draft(app, make, auth, record):
    """The canary: the process note and the unsigned draft are in the database, and in no file of the zip,
    as extracted text or as the raw bytes, whether a clinician made the copy or the patient downloaded it."""
    staff_copy = _open(auth.post(f"/patients/{record['patient']}/record-access", REQUEST))
    client = app.test_client()
    Auth(app, client).portal_sign_in(record["account"])
    portal_copy = _open(Auth(app, client).post("/portal/record/", {}))
    assert set(staff_copy) == set(portal_copy)
    for files in (staff_copy, portal_copy):
        for path, content in files.items():
            text = _text_of(path, content)  # read once, searched for each canary
            for canary in (PROCESS_CANARY, DRAFT_CANARY):
                assert canary not in text and canary.encode() not in content, (path, canary)
    from ketamine_integration.notes.models import ProcessNote
    assert make.query(lambda: db.session.scalar(select(func.count()).select_from(ProcessNote)
                                                .where(ProcessNote.body == PROCESS_CANARY))) == 1


def test_a_personal_representative_is_named_with_their_authority(make, auth, record):
    files = _open(auth.post(f"/patients/{record['patient']}/record-access", {
        **REQUEST, "requested_by": "representative", "representative_name": "Rowan Fictional",
        "representative_authority": "Health care power of attorney", "delivery": "mail",
        "delivery_note": "1 Example Lane, Springfield"}))
    summary = " ".join(_text_of(archive.SUMMARY_PATH, files[archive.SUMMARY_PATH]).split())
    assert "Requested by Rowan Fictional, personal representative of the patient (Health care power of attorney)" \
        in summary
    [row] = _exports(make)
    assert (row.requested_by, row.representative_name, row.representative_authority, row.delivery) == (
        "representative", "Rowan Fictional", "Health care power of attorney", "mail")
    assert "Rowan Fictional, personal representative" in page_text(
        auth.client.get(f"/patients/{record['patient']}/record-access"))


@pytest.mark.parametrize("changes, field, message", [
    # a representative asked, unnamed
    ({"requested_by": "representative", "representative_authority": "Parent of a minor"}, "representative_name",
     "Write the personal representative's name"),
    # a representative named without what makes them one
    ({"requested_by": "representative", "representative_name": "Rowan Fictional"}, "representative_authority",
     "what makes them the patient's personal representative"),
    # a request that arrives tomorrow
    ({"received_on": lambda: (date.today() + timedelta(days=1)).isoformat()}, "received_on", "after today"),
    # not a date at all
    ({"received_on": "yesterday-ish"}, "received_on", "Enter a real date"),
    # posted without an address
    ({"delivery": "mail", "delivery_note": ""}, "delivery_note", "the postal address"),
    # emailed without an address
    ({"delivery": "email", "delivery_note": " "}, "delivery_note", "the email address"),
    # the portal's delivery is the patient's own download, never a clinician's choice
    ({"delivery": "portal"}, "delivery", "Not a valid choice"),
    # who asked, left out
    ({"requested_by": ""}, "requested_by", "Choose who asked"),
])
def test_a_refused_request_says_why_on_its_field_and_makes_nothing(make, auth, record, changes, field, message):
    response = auth.post(f"/patients/{record['patient']}/record-access", {**REQUEST, **at_run_all(changes)})
    assert response.status_code == 422 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html or f'id="{field}-0-error"' in html or field == "requested_by", html[:200]
    assert message in page_text(response)
    assert _exports(make) == []
    assert [a.outcome for a in _audit(make, "record_export.create")] == ["failure"]


def test_a_copy_larger_than_the_ceiling_is_refused_before_anything_is_written(make, auth, record, monkeypatch):
    monkeypatch.setattr(archive, "MAX_ZIP_BYTES", 1000)
    response = auth.post(f"/patients/{record['patient']}/record-access", REQUEST)
    assert response.status_code == 422 and "larger than" in page_text(response)
    assert _exports(make) == []


@pytest.mark.parametrize("who, status", [
    ("ther", 200),     # the care team's therapist reads every part of the record
    ("pres", 403),     # the care team's prescriber reads only the reports a release lets them receive
    ("desk", 403),     # staff see every patient but never clinical content
    ("boss", 403),     # nor does the admin
    ("other", 403),    # a therapist off the care team: audited denial
    ("nurse", 403),    # a nurse holds no records.export
])
def test_who_may_export(make, auth, record, who, status):
    make.user("therapist", username="other")
    make.user("nurse", username="nurse")
    auth.logout()
    auth.sign_in(who)
    assert auth.client.get(f"/patients/{record['patient']}/record-access").status_code == status
    assert auth.post(f"/patients/{record['patient']}/record-access", REQUEST).status_code == status
    assert len(_exports(make)) == (1 if status == 200 else 0)
    if status == 403:
        denials = _audit(make, "access.denied")
        assert denials and all(d.patient_id == record["patient"] for d in denials[-2:])


def test_the_patient_downloads_their_own_record_a_few_times_a_day(app, make, auth, record):
    client = app.test_client()
    patient = Auth(app, client)
    patient.portal_sign_in(record["account"])
    page = client.get("/portal/record/")
    assert page.status_code == 200 and "psychotherapy notes are not part of it" in page_text(page)
    from ketamine_integration.record_access.services import PORTAL_DAILY_LIMIT
    for _ in range(PORTAL_DAILY_LIMIT):
        files = _open(patient.post("/portal/record/", {}))
        assert INSIGHT in " ".join(_text_of(archive.SUMMARY_PATH, files[archive.SUMMARY_PATH]).split())
    refused = patient.post("/portal/record/", {})
    assert refused.status_code == 429 and "Please try again tomorrow" in page_text(refused)
    rows = _exports(make)
    assert len(rows) == PORTAL_DAILY_LIMIT
    assert all((r.portal_account_id, r.made_by_id, r.requested_by, r.delivery) ==
               (record["account"], None, "patient", "portal") for r in rows)
    outcomes = [(a.outcome, a.patient_id, a.portal_account_id) for a in _audit(make, "record_export.portal_download")]
    assert outcomes == [("success", record["patient"], record["account"])] * PORTAL_DAILY_LIMIT + [
        ("failure", record["patient"], record["account"])]
    assert [a.patient_id for a in _audit(make, "record_export.portal_view")] == [record["patient"]]
    # the clinic sees the patient's downloads among the copies made
    assert "The patient, in the portal" in page_text(auth.client.get(f"/patients/{record['patient']}/record-access"))


def test_the_portal_copy_is_the_signed_in_patients_only(app, make, auth, record):
    """Another patient with an account downloads theirs: nothing of the first patient is in it."""
    other = make.patient(given_name="Quill", family_name="Other")
    account = make.portal_account(other)
    client = app.test_client()
    patient = Auth(app, client)
    patient.portal_sign_in(account)
    files = _open(patient.post("/portal/record/", {}))
    text = " ".join(" ".join(_text_of(p, c) for p, c in files.items()).split())
    assert "Quill Other" in text and "Wren" not in text and INSIGHT not in text
    assert [path for path in files if path.startswith("reports/")] == []


@pytest.mark.parametrize("now, zone", [
    (datetime(2026, 7, 1, 16, 0, tzinfo=timezone.utc), "12:00 EDT"),   # summer: UTC-4
    (datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc), "12:00 EST"),  # winter: UTC-5
    (datetime(2026, 3, 8, 7, 30, tzinfo=timezone.utc), "03:30 EDT"),   # just after the spring-forward gap
])
def test_the_copy_says_when_it_was_made_in_clinic_time(app, make, now, zone):
    from ketamine_integration.patients.models import Patient
    from ketamine_integration.record_access.content import designated_record_set
    patient_id = make.patient(given_name="Tess", family_name="Zone")
    with app.test_request_context():
        made = designated_record_set(db.session.get(Patient, patient_id), requested="Requested by the patient", now=now)
        assert made.summary.generated.endswith(zone), made.summary.generated
        db.session.remove()


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_the_demo_clinic_shows_a_copy_made_for_a_request(app, make):
    """The demo's copy (demo/record_access.py): made by the patient's therapist for the patient's emailed
    request, its manifest naming the summary and the bundle."""
    from ketamine_integration.accounts.models import User
    from ketamine_integration.patients.access import can_read_clinical
    from ketamine_integration.patients.models import Patient
    [row] = _exports(make)
    assert (row.requested_by, row.delivery, row.fhir_included) == ("patient", "email", True)
    assert {f["path"] for f in row.manifest} >= {archive.SUMMARY_PATH, archive.FHIR_PATH}
    # made by a clinician who may: the patient's therapist, on the care team
    assert make.query(lambda: can_read_clinical(db.session.get(User, row.made_by_id),
                                                db.session.get(Patient, row.patient_id), "records.export"))


def _statements(app, patient_id: int) -> int:
    """The SQL statements building the copy's content runs (the PDF's data and the reports' files)."""
    from sqlalchemy import event

    from ketamine_integration.db.types import utcnow
    from ketamine_integration.patients.models import Patient
    from ketamine_integration.record_access.content import designated_record_set
    count = []
    with app.test_request_context():
        patient = db.session.get(Patient, patient_id)
        listener = lambda *args, **kwargs: count.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            designated_record_set(patient, requested="Requested by the patient", now=utcnow())
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        db.session.remove()
    return len(count)


@pytest.mark.both_engines
def test_the_copy_reads_the_record_in_statements_that_do_not_grow_with_it(app, make, auth):
    """One signed note and one measure, then three more notes (each with themes, a step and an addendum), more
    measures and a second course: the same number of statements (a count, not a time)."""
    from tests.integration.test_notes import _phq9, _write_and_sign, make_team
    ids = make_team(make)
    auth.sign_in("ther")
    _write_and_sign(make, auth, ids, insights="One")
    assert _phq9(auth, ids["course"]).status_code == 302
    before = _statements(app, ids["patient"])
    for n in range(3):
        note = _write_and_sign(make, auth, ids, insights=f"More {n}", session_date=(TODAY - timedelta(days=n + 1))
                               .isoformat())
        assert auth.post(f"/notes/{note}/addenda", {"body": f"Later: slept well {n}"}).status_code == 302
        assert _phq9(auth, ids["course"], when=TODAY - timedelta(days=n + 1)).status_code == 302
    make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="preparation", protocol="im-ketamine-kap")
    assert _statements(app, ids["patient"]) == before


def test_a_bundle_that_does_not_validate_refuses_the_copy_with_a_message(make, auth, record, monkeypatch):
    """A mapping's bug in the FHIR export: the copy is refused on the page (422, nothing recorded), never a copy
    without its bundle and never an error page."""
    from ketamine_integration.fhir import export
    from ketamine_integration.fhir.export import InvalidResource

    def broken(patient_id):
        raise InvalidResource("Patient/patient-1: a field the model refuses")
    monkeypatch.setattr(export, "patient_bundle", broken)
    response = auth.post(f"/patients/{record['patient']}/record-access", REQUEST)
    assert response.status_code == 422 and "FHIR file could not be made" in page_text(response)
    assert _exports(make) == []

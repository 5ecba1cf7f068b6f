"""Who may do what at a dose (issue 19, point 3): a prescriber records and signs it, a prescriber
or nurse administers and monitors it, front-desk staff never, and a therapist only as monitor,
present where the protocol allows it; each person shown with their credential."""
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from ketamine_integration.accounts.models import User
from ketamine_integration.db.errors import DomainError
from ketamine_integration.experience.models import DosingSession
from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.experience.dose_roles import DOSE_FIELDS, NOT_A_RECORDER, NOT_NAMEABLE
from ketamine_integration.experience.services import save_record
from ketamine_integration.extensions import db
from tests.conftest import page_text
from tests.integration.test_dosing import _record_data, _session, form_time, local

SHIPPED = Path(__file__).resolve().parents[2] / "protocols"
#: a KAP protocol whose therapist may be present as monitor only
MONITORED_BY_THERAPIST = "iv-therapist-present"


@pytest.fixture
def team(make, app, tmp_path):
    directory = tmp_path / "protocols"
    shutil.copytree(SHIPPED, directory, ignore=shutil.ignore_patterns("*.md"))
    text = (directory / "iv-ketamine-induction.yaml").read_text(encoding="utf-8")
    text = text.replace("id: iv-ketamine-induction", f"id: {MONITORED_BY_THERAPIST}", 1)
    text = text.replace("  rems_monitoring_form: false",
                        "  rems_monitoring_form: false\n  therapist_may_monitor: true", 1)
    assert "therapist_may_monitor: true" in text
    (directory / f"{MONITORED_BY_THERAPIST}.yaml").write_text(text, encoding="utf-8")
    app.config["PROTOCOLS_DIR"] = str(directory)
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint", licence_type="LCSW"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale", licence_type="MD"),
           "nurse": make.user("nurse", username="nurse", full_name="Rue Nightingale", licence_type="RN"),
           "staff": make.user("staff", username="desk", full_name="Sam Desk")}
    ids["patient"] = make.patient(nurses=[ids["nurse"]])
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="experience")
    ids["allowing"] = make.course(make.patient(nurses=[ids["nurse"]]), ids["therapist"], ids["prescriber"],
                                  phase="experience", protocol=MONITORED_BY_THERAPIST)
    return ids


def _planned(make, course_id):
    return make.dosing_plan(course_id, first_start=local(3, 9), days_between=2, count=1)[0]


def test_front_desk_staff_are_never_named_as_monitoring(team, make, auth, client):
    session_id = _planned(make, team["course"])
    auth.sign_in("pres")
    assert "Sam Desk" not in page_text(client.get(f"/dosing/{session_id}"))       # not offered
    refused = auth.post(f"/dosing/{session_id}", _record_data(_session(make, session_id), team["prescriber"],
                                                              monitored_by=str(team["staff"])))
    assert refused.status_code == 422 and "Not a valid choice" in page_text(refused)
    assert _session(make, session_id).status == "planned"                          # nothing saved
    # the service refuses it too, whatever path calls it (not only the form's choices)
    assert _service_refusal(make, session_id, team["prescriber"], monitored_by_id=team["staff"]) == {
        "monitored_by": NOT_NAMEABLE["monitored_by"]}


def _service_refusal(make, session_id, by_id, **people) -> dict:
    def attempt():
        session = db.session.get(DosingSession, session_id)
        with pytest.raises(DomainError) as refused:
            save_record(session, values=dict(people), vitals={}, adverse_events=[], expected_version=session.version,
                        by=db.session.get(User, by_id))
        return refused.value.reasons
    return make.query(attempt)


def test_a_therapist_neither_records_administers_monitors_nor_signs_a_medication_dose(team, make, auth, client):
    session_id = _planned(make, team["course"])
    auth.sign_in("ther")                            # recording the session at all: a prescriber's or nurse's
    refused = auth.post(f"/dosing/{session_id}", _record_data(_session(make, session_id), team["therapist"]))
    assert refused.status_code == 403
    assert _session(make, session_id).status == "planned"
    assert _service_refusal(make, session_id, team["therapist"]) == {"": NOT_A_RECORDER}
    auth.logout()
    auth.sign_in("pres")
    for field in ("administered_by", "monitored_by"):
        named = auth.post(f"/dosing/{session_id}", _record_data(_session(make, session_id), team["prescriber"],
                                                                **{field: str(team["therapist"])}))
        assert named.status_code == 422 and "Not a valid choice" in page_text(named), field
        assert _service_refusal(make, session_id, team["prescriber"], **{f"{field}_id": team["therapist"]}) == {
            field: NOT_NAMEABLE[field]}
    assert _session(make, session_id).status == "planned"
    saved = auth.post(f"/dosing/{session_id}", _record_data(_session(make, session_id), team["prescriber"],
                                                            monitored_by=str(team["nurse"])))
    assert saved.status_code == 302
    auth.logout()
    auth.sign_in("ther")
    assert auth.post(f"/dosing/{session_id}/sign",
                     {"version": str(_session(make, session_id).version)}).status_code == 403
    assert _session(make, session_id).status == "draft"


def test_a_therapist_may_monitor_only_where_the_protocol_allows_it(team, make, auth, client):
    session_id = _planned(make, team["allowing"])
    auth.sign_in("pres")
    assert "Hazel Quint, LCSW" in page_text(client.get(f"/dosing/{session_id}"))   # offered as monitor
    assert _service_refusal(make, session_id, team["prescriber"], administered_by_id=team["therapist"],
                            monitored_by_id=team["therapist"]) == {"administered_by": NOT_NAMEABLE["administered_by"]}
    saved = auth.post(f"/dosing/{session_id}", _record_data(_session(make, session_id), team["prescriber"],
                                                            monitored_by=str(team["therapist"])))
    assert saved.status_code == 302
    assert auth.post(f"/dosing/{session_id}/sign",
                     {"version": str(_session(make, session_id).version)}).status_code == 302
    signed = _session(make, session_id)
    assert (signed.status, signed.monitored_by_id, signed.signed_by_id) == (
        "signed", team["therapist"], team["prescriber"])
    record = page_text(client.get(f"/dosing/{session_id}"))
    assert "Administered by Orrin Vale, MD" in record and "Monitored by Hazel Quint, LCSW" in record
    assert "Signed by Orrin Vale, MD" in record


def _as_sent_without_dose_fields(data: dict) -> dict:
    """The record form as a browser submits it to whoever may not record the dose: disabled fields absent."""
    return {k: v for k, v in data.items() if k not in DOSE_FIELDS}


def _audit(make, action: str, session_id: int) -> list[tuple[str, str | None]]:
    return make.query(lambda: [(row.outcome, row.detail) for row in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == action, AuditEvent.object_id == str(session_id))
        .order_by(AuditEvent.id))])


def test_a_therapist_reads_a_prescribers_draft_but_cannot_change_its_clinical_content(team, make, auth, client):
    """The attack review's finding: as a therapist on a prescriber's draft, times (monitoring 120 ->
    240 minutes), sedation, readings, discharge answers and a response "decided by" the prescriber
    were saved. The therapist reads the record, saves nothing on it."""
    session_id = _planned(make, team["course"])
    auth.sign_in("pres")
    assert auth.post(f"/dosing/{session_id}", _record_data(_session(make, session_id), team["prescriber"],
                                                           monitored_by=str(team["nurse"]))).status_code == 302
    auth.logout()
    before = _session(make, session_id)
    auth.sign_in("ther")
    course = client.get(f"/courses/{team['course']}").get_data(as_text=True)
    assert f'href="/dosing/{session_id}">Open record' in course          # the course page's link still works
    page = client.get(f"/dosing/{session_id}")
    text = page_text(page)
    assert page.status_code == 200 and "You can read this record" in text
    assert "Dose 35.00 mg" in text and "Monitored by Rue Nightingale, RN" in text and "Sedation mild" in text
    assert 'name="started_at"' not in page.get_data(as_text=True) and "Save draft" not in text
    assert _audit(make, "dosing.view", session_id)[-1] == ("success", None)
    start = local(3, 9)
    tampered = _as_sent_without_dose_fields(_record_data(
        before, team["prescriber"], discharged_at=form_time(start + timedelta(minutes=240)), sedation="none",
        **{"post_40-systolic": "120", "response_post_40-action": "Prescriber reviewed and approved dosing",
           "response_post_40-decided_by": str(team["prescriber"])}))
    assert auth.post(f"/dosing/{session_id}", tampered).status_code == 403
    after = _session(make, session_id)
    assert (after.version, after.monitoring_minutes, after.sedation) == (before.version, 130, "mild")
    assert _audit(make, "access.denied", session_id) == [("denied", "experience.dosing_record needs "
        "dosing.record_vitals, or dosing.monitor_if_protocol_allows where the protocol allows")]


def test_where_the_protocol_allows_a_therapist_records_the_monitoring_as_a_nurse_does(team, make, auth, client):
    session_id = _planned(make, team["allowing"])
    auth.sign_in("pres")
    assert auth.post(f"/dosing/{session_id}", _record_data(_session(make, session_id), team["prescriber"],
                                                           monitored_by=str(team["nurse"]))).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    course = client.get(f"/courses/{team['allowing']}").get_data(as_text=True)
    assert f'href="/dosing/{session_id}">Record' in course
    assert 'name="sedation"' in client.get(f"/dosing/{session_id}").get_data(as_text=True)
    saved = auth.post(f"/dosing/{session_id}", _as_sent_without_dose_fields(_record_data(
        _session(make, session_id), team["prescriber"], monitored_by=str(team["therapist"]), sedation="none")))
    assert saved.status_code == 302
    row = _session(make, session_id)
    assert (row.monitored_by_id, row.administered_by_id, row.sedation, row.dose_mg) == (
        team["therapist"], team["prescriber"], "none", 35)
    for refused_change in ({"dose_mg": "70"},                               # the dose: the prescriber's
                           {"administered_by": str(team["therapist"])},      # never as giving a dose
                           {"monitored_by": str(team["nurse"])}):            # naming others: the signer's
        refused = auth.post(f"/dosing/{session_id}", _record_data(
            _session(make, session_id), team["prescriber"], **{"monitored_by": str(team["therapist"]), **refused_change}))
        assert refused.status_code == 422, refused_change
    assert _session(make, session_id).version == row.version
    assert auth.post(f"/dosing/{session_id}/sign", {"version": str(row.version)}).status_code == 403


def test_the_admin_sets_a_licence_type_and_number_and_a_bad_one_is_refused(team, make, auth, client):
    make.user("admin", username="boss")
    auth.sign_in("boss")
    form = {"username": "nurse", "full_name": "Rue Nightingale", "licence_type": "LPN",
            "licence_number": " LPN-0042 ", "credentials": "", "email": "", "roles": ["nurse"], "active": "y"}
    assert auth.post(f"/users/{team['nurse']}/edit", form).status_code == 302
    nurse = make.query(lambda: db.session.get(User, team["nurse"]))
    assert (nurse.licence_type, nurse.licence_number, nurse.display_name) == ("LPN", "LPN-0042",
                                                                              "Rue Nightingale, LPN")
    refused = auth.post(f"/users/{team['nurse']}/edit", dict(form, licence_type="Shaman"))
    assert refused.status_code == 422 and "Not a valid choice" in page_text(refused)
    assert make.query(lambda: db.session.get(User, team["nurse"]).licence_type) == "LPN"

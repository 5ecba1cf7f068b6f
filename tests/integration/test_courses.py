"""Treatment courses: enrolment, phase changes under protocol gates, overrides, the checklist."""
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from tests.conftest import page_text
from tests.unit.test_protocols import _DELETE as DELETE
from tests.unit.test_protocols import _set as set_field

SHIPPED = Path(__file__).resolve().parents[2] / "protocols"
IV = "iv-ketamine-induction@3"
REASON = "Clearance letter is on paper; prescriber confirmed by phone."


@pytest.fixture
def protocol_dir(app, tmp_path):
    """A private copy of the shipped protocols, so tests can edit files."""
    directory = tmp_path / "protocols"
    shutil.copytree(SHIPPED, directory, ignore=shutil.ignore_patterns("*.md"))
    app.config["PROTOCOLS_DIR"] = str(directory)
    return directory


@pytest.fixture
def team(make, protocol_dir):
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "staff": make.user("staff", username="desk"),
           "outsider": make.user("therapist", username="other")}
    ids["patient"] = make.patient(family_name="Enrolled")
    return ids


def _enrol(auth, team, protocol=IV, **overrides):
    data = {"protocol": protocol, "start_date": date.today().isoformat(),
            "indication": "Treatment-resistant depression", "therapist": team["therapist"],
            "prescriber": team["prescriber"]}
    data.update(overrides)
    return auth.post(f"/patients/{team['patient']}/courses/new", data)


def _enrolled(auth, team, as_user="ther", **kwargs) -> int:
    """Staff enrol the patient (so the clinicians join the care team); then `as_user` signs in."""
    auth.sign_in("desk")
    response = _enrol(auth, team, **kwargs)
    assert response.status_code == 302, page_text(response)
    auth.logout()
    auth.sign_in(as_user)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _course(make, course_id=None) -> TreatmentCourse:
    def fetch():
        stmt = select(TreatmentCourse).order_by(TreatmentCourse.id)
        course = db.session.get(TreatmentCourse, course_id) if course_id else db.session.scalars(stmt).first()
        course.transitions, course.preparation_records, course.protocol_version  # load before detaching
        return course
    return make.query(fetch)


def test_staff_enrols_a_patient_and_the_clinicians_join_the_care_team(team, make, auth, client):
    auth.sign_in("desk")
    response = _enrol(auth, team)
    assert response.status_code == 302
    course = _course(make)
    assert (course.phase, course.protocol_version.protocol_id, course.protocol_version.version) == \
        ("preparation", "iv-ketamine-induction", 3)
    assert [t.to_phase for t in course.transitions] == ["preparation"]
    team_ids = make.query(lambda: {(m.user_id, m.role) for m in db.session.get(Patient, team["patient"]).care_team})
    assert team_ids == {(team["therapist"], "therapist"), (team["prescriber"], "prescriber")}
    page = page_text(client.get(response.headers["Location"]))
    assert "IV ketamine induction series" in page and "Phase: Preparation" in page
    assert "blocked — Preparation not complete" in page
    assert "0 recorded and signed; the series has 6" in page


@pytest.mark.parametrize("field, value, message", [
    ("protocol", "no-such-protocol@1", "Not a valid choice"),
    ("therapist", "999999", "Not a valid choice"),
    ("start_date", "soon", "Enter a real date, for example 3 December 2026."),
    ("indication", "", "This field is required."),
])
def test_invalid_enrolment_names_the_field_and_creates_nothing(team, make, auth, field, value, message):
    auth.sign_in("desk")
    response = _enrol(auth, team, **{field: value})
    assert response.status_code == 422 and message in page_text(response)
    assert make.query(lambda: db.session.scalars(select(TreatmentCourse)).all()) == []


def test_outsider_therapist_cannot_enrol_or_view(team, make, auth, client):
    auth.sign_in("desk")
    course_id = int(_enrol(auth, team).headers["Location"].rsplit("/", 1)[1])
    auth.logout()
    auth.sign_in("other")
    assert _enrol(auth, team).status_code == 403
    assert client.get(f"/courses/{course_id}").status_code == 403


def _record(auth, course_id, item, when=None):
    return auth.post(f"/courses/{course_id}/preparation",
                     {"item": item, "completed_on": (when or date.today()).isoformat(), "note": ""})


def sign_preparation_note(auth, course_id, **content) -> int:
    """The course's therapist (signed in) writes a preparation session's note and signs it in one
    request: a signed preparation session, documenting the patient's intentions (issue 20, point 10)."""
    started = auth.post(f"/courses/{course_id}/notes", {"note-kind": "preparation",
                                                        "note-session_date": date.today().isoformat()})
    assert started.status_code == 302, page_text(started)
    note_id = int(started.headers["Location"].rsplit("/", 1)[1])
    data = {"session_date": date.today().isoformat(), "version": "1", "readiness": "ready",
            "intentions": "To sleep through the night", "then_sign": "1", "confirm_lock": "y", **content}
    signed = auth.post(f"/notes/{note_id}", data)
    assert signed.status_code == 302, page_text(signed)
    return note_id


def _complete_preparation(auth, course_id, make):
    # the consent and intake are met by the packet's signed forms, never ticked (issue 26)
    for item in ("intake_assessment", "informed_consent"):
        assert "is not ticked" in page_text(_record(auth, course_id, item)), item
    make.sign_packet(course_id)
    # the preparation session and the intentions it sets are read from its signed note, never ticked
    sign_preparation_note(auth, course_id)
    # the baselines are measurements: a PHQ-9 and a GAD-7 recorded before any dose (issue 19, point 7)
    for key, items in (("phq9", 9), ("gad7", 7)):
        answers = {f"{key}-item{n}": "1" if n != 9 else "0" for n in range(1, items + 1)}
        assert auth.post(f"/courses/{course_id}/measures/{key}", {
            f"{key}-administered_on": date.today().isoformat(), **answers}).status_code == 302, key


def test_gate_opens_when_preparation_is_recorded(team, make, auth, client):
    course_id = _enrolled(auth, team)
    _complete_preparation(auth, course_id, make)
    refused = auth.post(f"/courses/{course_id}/phase", {"target": "experience", "version": "1"})
    assert refused.status_code == 422
    assert "Medical clearance (by a prescriber) still to record" in page_text(refused)
    # Medical clearance is the prescriber's to record.
    assert "must be recorded by a prescriber" in page_text(_record(auth, course_id, "medical_clearance"))
    auth.logout()
    auth.sign_in("pres")
    assert _record(auth, course_id, "medical_clearance").status_code == 302
    version = _course(make, course_id).version
    moved = auth.post(f"/courses/{course_id}/phase", {"target": "experience", "version": str(version)})
    assert moved.status_code == 302
    course = _course(make, course_id)
    assert course.phase == "experience"
    assert course.transitions[-1].overridden is None and course.transitions[-1].by_user_id == team["prescriber"]


def test_override_with_reason_is_recorded_and_audited(team, make, auth, client):
    course_id = _enrolled(auth, team)
    no_reason = auth.post(f"/courses/{course_id}/phase", {"target": "experience", "override": "y", "version": "1"})
    assert no_reason.status_code == 422 and "needs a written reason" in page_text(no_reason)
    assert _course(make, course_id).phase == "preparation"
    moved = auth.post(f"/courses/{course_id}/phase",
                      {"target": "experience", "override": "y", "reason": REASON, "version": "1"})
    assert moved.status_code == 302
    last = _course(make, course_id).transitions[-1]
    assert last.reason == REASON and "Preparation not complete" in last.overridden
    page = page_text(client.get(f"/courses/{course_id}"))
    assert "Protocol gate overridden" in page and REASON in page
    [row] = make.audit_rows(action="course.phase_change", outcome="success")
    assert row.detail == "to experience; gate overridden" and REASON not in row.detail


def test_discontinuation_needs_a_reason(team, make, auth):
    course_id = _enrolled(auth, team)
    refused = auth.end_course(course_id, {"target": "discontinued", "version": "1"})
    assert refused.status_code == 422 and "Say why the course is discontinued" in page_text(refused)
    assert auth.end_course(course_id,
                     {"target": "discontinued", "reason": "Patient chose another treatment.",
                      "version": "1"}).status_code == 302
    assert _course(make, course_id).phase == "discontinued"


def test_stale_phase_change_is_refused(team, make, auth):
    course_id = _enrolled(auth, team)
    auth.end_course(course_id, {"target": "discontinued", "reason": REASON, "version": "1"})
    stale = auth.post(f"/courses/{course_id}/phase",
                      {"target": "experience", "override": "y", "reason": REASON, "version": "1"})
    assert stale.status_code == 422 and "changed this course's phase meanwhile" in page_text(stale)


def test_staff_see_the_course_but_cannot_change_it(team, make, auth, client):
    auth.sign_in("desk")
    course_id = int(_enrol(auth, team).headers["Location"].rsplit("/", 1)[1])
    assert client.get(f"/courses/{course_id}").status_code == 200
    assert auth.post(f"/courses/{course_id}/phase", {"target": "discontinued", "reason": REASON,
                                                     "version": "1"}).status_code == 403
    assert _record(auth, course_id, "medical_clearance").status_code == 403


def test_the_course_names_its_protocol_and_keeps_the_snapshot_id_for_the_audit_reader(team, make, auth, client):
    """New-user review of issue 21: clinicians read the protocol's name and version, not its file
    id and content hash (those stay for the admin, who reads the audit trail)."""
    auth.sign_in("desk")
    course_id = int(_enrol(auth, team).headers["Location"].rsplit("/", 1)[1])
    version = _course(make, course_id).protocol_version
    name, protocol_id, digest = version.name, version.protocol_id, version.content_hash[:12]
    auth.logout()
    auth.sign_in("ther")
    shown = page_text(client.get(f"/courses/{course_id}"))
    assert f"{name}, version {version.version}" in shown and digest not in shown
    auth.logout()
    boss = make.user("admin", username="boss")
    auth.sign_in("boss")
    assert boss and f"({protocol_id}, snapshot {digest})" in page_text(client.get(f"/courses/{course_id}"))


def test_checklist_entry_is_voided_not_deleted(team, make, auth, client):
    course_id = _enrolled(auth, team, as_user="pres")
    _record(auth, course_id, "medical_clearance")
    duplicate = _record(auth, course_id, "medical_clearance")
    assert "already recorded" in page_text(duplicate)
    record_id = _course(make, course_id).preparation_records[0].id
    auth.post(f"/courses/{course_id}/preparation/{record_id}/void", {"reason": "Wrong date entered"})
    assert _record(auth, course_id, "medical_clearance", date.today() - timedelta(days=1)).status_code == 302
    records = _course(make, course_id).preparation_records
    assert [(r.item, r.live) for r in records] == [("medical_clearance", False), ("medical_clearance", True)]
    assert "Wrong date entered" in page_text(client.get(f"/courses/{course_id}"))


def test_future_dates_are_refused_on_the_checklist(team, auth, make):
    course_id = _enrolled(auth, team, as_user="pres")
    response = _record(auth, course_id, "medical_clearance", date.today() + timedelta(days=2))
    assert response.status_code == 422 and "cannot be in the future" in page_text(response)


def _bump(directory: Path, *, version: int, closes_after: str):
    path = directory / "iv-ketamine-induction.yaml"
    data = yaml.safe_load(path.read_text())
    data["version"] = version
    data["integration"]["window"]["closes_after"] = closes_after
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_running_course_is_unaffected_by_a_later_protocol_version(team, make, auth, client, protocol_dir):
    first = _enrolled(auth, team)
    _bump(protocol_dir, version=4, closes_after="10d")
    second_response = _enrol(auth, team, protocol="iv-ketamine-induction@4")
    second = int(second_response.headers["Location"].rsplit("/", 1)[1])
    assert _course(make, first).protocol_version.version == 3
    assert "closes at 14 days" in page_text(client.get(f"/courses/{first}"))
    assert "closes at 10 days" in page_text(client.get(f"/courses/{second}"))
    listing = page_text(client.get("/protocols/"))
    assert "v3" in listing and "v4" in listing and "File removed; running courses continue" in listing


def test_a_changed_file_with_the_same_version_is_refused(team, make, auth, client, protocol_dir, app):
    _enrolled(auth, team)
    _bump(protocol_dir, version=3, closes_after="10d")
    assert "Refused" in page_text(client.get("/protocols/"))
    response = _enrol(auth, team)
    assert response.status_code == 422
    assert len(make.query(lambda: db.session.scalars(select(TreatmentCourse)).all())) == 1
    result = app.test_cli_runner().invoke(args=["protocols", "check"])
    assert result.exit_code == 1 and "already in use with different content" in result.output


def test_an_invalid_file_is_listed_and_cannot_be_chosen(team, auth, client, protocol_dir):
    (protocol_dir / "broken.yaml").write_text("id: broken\nversion: 1\n")
    auth.sign_in("desk")
    listing = page_text(client.get("/protocols/"))
    assert "Files that cannot be used" in listing and "broken.yaml: name: required key is missing" in listing
    form = client.get(f"/patients/{team['patient']}/courses/new")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert "iv-ketamine-induction@3" in html and "broken" not in html


def test_protocols_check_command(app, protocol_dir, tmp_path):
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["protocols", "check"])
    assert ok.exit_code == 0 and ok.output.count("ok ") == 4
    bad = tmp_path / "bad.yaml"
    data = yaml.safe_load((protocol_dir / "im-ketamine-kap.yaml").read_text())
    data["experience"]["stages"][0]["days_between"]["max"] = 1
    bad.write_text(yaml.safe_dump(data))
    failed = runner.invoke(args=["protocols", "check", str(bad)])
    assert failed.exit_code == 1
    assert "bad.yaml: experience.stages[0].days_between: max (1) is below min (4)" in failed.output


def test_course_page_and_enrolment_are_audited(team, make, auth, client):
    course_id = _enrolled(auth, team)
    client.get(f"/courses/{course_id}")
    rows = [(r.action, r.patient_id, r.user_id) for r in make.audit_rows() if r.action.startswith("course.")]
    assert rows == [("course.create", team["patient"], team["staff"]),
                    ("course.view", team["patient"], team["therapist"])]


@pytest.mark.parametrize("field, value, expected", [
    # (dotted field, new value or None to delete, the line the command must print)
    ("experience.dosing_sesions", 6, "experience.dosing_sesions: unknown key"),
    ("coordination", None, "coordination: required key is missing"),
    ("experience.stages.0.sessions.max", "six", "experience.stages[0].sessions.max: must be a valid integer"),
    ("experience.stages.0.sessions.min", -1,
     "experience.stages[0].sessions.min: must be greater than or equal to 0"),
    ("integration.window.closes_after", "12h", "integration.window: the window closes before (or when) it opens"),
    # a broken stage: file, stage and field named
    ("experience.stages.0.days_between.max", 1, "experience.stages[0].days_between: max (1) is below min (2)"),
    ("experience.stages.0.days_between.min", 0,
     "experience.stages[0]: days_between.min must be at least 1: two doses on one day are never planned"),
    ("experience.stages.1.sessions", {"min": 0, "max": 0}, "experience.stages[1]: sessions.max must be at least 1"),
    # a broken dose rule
    ("experience.dose.usual", {"min": 1.5, "max": 0.5}, "experience.dose.usual: max (0.5) is below min (1.5)"),
])
def test_protocols_check_names_file_and_field_for_each_broken_variant(app, tmp_path, field, value, expected):
    data = set_field(yaml.safe_load((SHIPPED / "iv-ketamine-induction.yaml").read_text()), field,
                     DELETE if value is None else value)
    broken = tmp_path / "broken-variant.yaml"
    broken.write_text(yaml.safe_dump(data))
    result = app.test_cli_runner().invoke(args=["protocols", "check", str(broken)])
    assert result.exit_code == 1
    assert f"ERROR broken-variant.yaml: {expected}" in result.output


@pytest.mark.parametrize("base, changes, expected", [
    # (shipped file, dotted fields and their new values, the line the command must print)
    ("esketamine-trd-rems", {"experience.stages.0.first_dose": {"choices": [500]}},    # a first dose over the limit
     "experience: stages[0].first_dose: 500 mg is above dose.limit (84 mg)"),
    ("esketamine-trd-rems", {"experience.stages.1.doses": {"min": 10, "max": 9000}},   # a stage's doses over it
     "experience: stages[1].doses: 9000 mg is above dose.limit (84 mg)"),
    ("esketamine-trd-rems", {"experience.min_monitoring_minutes": 0},                  # REMS without two hours
     "experience: min_monitoring_minutes: REMS monitoring lasts at least 120 minutes"),
    ("esketamine-trd-rems", {f"vital_signs.{t}.required": [] for t in ("baseline", "post_40", "discharge")},
     "(top level): vital_signs.baseline.required: REMS needs blood pressure before dosing"),  # REMS, no readings
    ("iv-ketamine-induction", {"vital_signs.sources.0.source": " "},                   # a citation of nothing
     "vital_signs.sources[0].source: must not be blank"),
    ("im-ketamine-kap", {"integration.min_sessions_per_dosing": 0},                   # alternating with nothing
     "integration: alternates_with_dosing: dosing and integration alternate only when each dose has an "
     "integration session (min_sessions_per_dosing is 0)"),
    ("im-ketamine-kap", {"integration.alternates_with_dosing": "sometimes"},          # not a yes or no
     "integration.alternates_with_dosing: must be a valid boolean"),
])
def test_protocols_check_refuses_inconsistent_files_naming_file_and_field(app, tmp_path, base, changes, expected):
    data = yaml.safe_load((SHIPPED / f"{base}.yaml").read_text())
    for field, value in changes.items():
        set_field(data, field, value)
    broken = tmp_path / "inconsistent.yaml"
    broken.write_text(yaml.safe_dump(data))
    result = app.test_cli_runner().invoke(args=["protocols", "check", str(broken)])
    assert result.exit_code == 1
    assert f"ERROR inconsistent.yaml: {expected}" in result.output

"""Review of issue 19: a dose supervised at home by telehealth is recorded and signed in the words of
what happened there (remote supervision and monitoring, the patient's own or device readings, the
end of supervision), never a clinic's discharge; the clinic's record keeps its own words."""
import pytest

from tests.conftest import page_text
from tests.integration.test_dosing import _plan, _record_data, _sessions, local, team  # noqa: F401
from tests.integration.test_vital_thresholds import _try_to_sign

#: what the clinic's record says and an at-home one must not
CLINIC_WORDS = ("Administered by", "Monitored by", "Discharged at", "Discharge criteria",
                "Leaves with a responsible adult", "Before discharge", "Observation and discharge")
#: what the at-home form says instead
HOME_FORM_WORDS = ("Dose supervised by (telehealth)", "Monitored remotely by (telehealth)",
                   "Telehealth supervision ended at", "Criteria for ending supervision",
                   "A responsible adult stays with the patient, who will not drive today",
                   "Before the end of supervision", "Observation by telehealth and end of supervision",
                   "the patient takes the dose at home while a clinician supervises and monitors remotely")
#: ...and the signed record
HOME_RECORD_WORDS = ("Setting Supervised at home (telehealth)", "Dose supervised by (telehealth) Orrin Vale",
                     "Monitored remotely by (telehealth) Orrin Vale", "Telehealth supervision ended",
                     "from the start of dosing to the end of telehealth supervision",
                     "Vital signs (the patient's own or device readings)", "Before the end of supervision",
                     "Read from the patient's device")


def _session_in(make, auth, team, setting: str):
    course = make.course(team["patient"], team["therapist"], team["prescriber"], phase="experience",
                         protocol="sublingual-ketamine-kap")
    auth.sign_in("pres")
    assert _plan(auth, course, local(3), count=1, setting=setting).status_code == 302
    [session] = _sessions(make, course)
    sources = {f"{tp}-source": "device" for tp in ("baseline", "post_40", "discharge")} \
        if setting == "supervised_at_home" else {}
    return session, dict(_record_data(session, team["prescriber"]), route="sublingual", dose_mg="150", weight_kg="",
                         **sources)


@pytest.mark.parametrize("setting, says, never", [
    # at home: what happened there
    ("supervised_at_home", HOME_FORM_WORDS, CLINIC_WORDS),
    # in the clinic, the same protocol keeps the clinic's words
    ("in_clinic", CLINIC_WORDS, HOME_FORM_WORDS),
])
def test_the_record_form_says_what_happened_in_its_setting(team, make, auth, client, setting, says, never):
    session, _ = _session_in(make, auth, team, setting)
    form = page_text(client.get(f"/dosing/{session.id}"))
    assert [words for words in says if words not in form] == []
    assert [words for words in never if words in form] == []
    if setting == "supervised_at_home":   # only the patient or their device takes the readings there
        assert "Read from the patient's device" in form and "Measured by the clinician" not in form


def test_a_signed_dose_at_home_says_it_was_supervised_by_telehealth(team, make, auth, client):
    session, record = _session_in(make, auth, team, "supervised_at_home")
    assert auth.post(f"/dosing/{session.id}", record).status_code == 302
    assert "signed and locked" in page_text(_try_to_sign(make, auth, session.id))
    signed = page_text(client.get(f"/dosing/{session.id}"))
    assert [words for words in HOME_RECORD_WORDS if words not in signed] == []
    assert [words for words in ("Discharged", "Before discharge", "Administered by") if words in signed] == []


def test_a_flag_at_home_names_the_end_of_supervision(team, make, auth, client):
    session, record = _session_in(make, auth, team, "supervised_at_home")
    high = {"discharge-systolic": "170", "discharge-diastolic": "105"}
    assert auth.post(f"/dosing/{session.id}", dict(record, **high)).status_code == 302
    form = page_text(client.get(f"/dosing/{session.id}"))
    assert "Flagged: Before the end of supervision: systolic pressure 170 mmHg" in form
    assert "Clinical response to the flagged reading before the end of supervision" in form
    assert "Before discharge" not in form


def test_a_refused_signature_at_home_asks_for_what_happened_there(team, make, auth, client):
    """What signing still needs is said in the setting's words: the criteria for ending supervision,
    not the clinic's discharge criteria."""
    session, record = _session_in(make, auth, team, "supervised_at_home")
    unanswered = {name: "" for name in record if name.startswith("discharge_criteria")}
    assert auth.post(f"/dosing/{session.id}", dict(record, **unanswered)).status_code == 302
    refused = page_text(_try_to_sign(make, auth, session.id))
    assert "criteria for ending supervision answered yes or no" in refused
    assert "a responsible adult stays with the patient" in refused
    assert "discharge criteria" not in refused.lower() and "leaves with a responsible adult" not in refused.lower()


def test_the_coordination_report_says_the_dose_was_supervised_by_telehealth(team, make, auth, client):
    from tests.integration.test_coordination import _release  # noqa: PLC0415 (the coordination suite's helper)
    session, record = _session_in(make, auth, team, "supervised_at_home")
    assert auth.post(f"/dosing/{session.id}", record).status_code == 302
    assert "signed and locked" in page_text(_try_to_sign(make, auth, session.id))
    auth.logout()
    auth.sign_in("desk")
    _release(auth, {"patient": team["patient"], "prescriber": team["prescriber"]}, ["dosing"])
    auth.logout()
    auth.sign_in("ther")
    preview = page_text(auth.post(f"/courses/{session.course_id}/report-preview",
                                  {"recipient": str(team["prescriber"])}))
    assert "Dose supervised by (telehealth) Orrin Vale; monitored remotely by (telehealth) Orrin Vale" in preview
    assert "Before the end of supervision" in preview and "Administered by" not in preview

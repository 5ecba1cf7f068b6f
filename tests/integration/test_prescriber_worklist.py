"""The prescriber's worklist matches the day (issue 20, point 11): planned doses whose time has passed
without a record, REMS forms one line per patient (ended courses' forms gone once submitted), and on
protocols where dosing and integration alternate, a warning on the dosing form (never a refusal)."""
import re
from datetime import datetime, timedelta

import pytest

from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.extensions import db
from tests.conftest import page_text
from tests.icons import after_icon
from tests.integration.test_dosing import NY, _record_data, _session, _sign, form_time, local


@pytest.fixture
def team(make):
    return {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
            "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
            "other": make.user("prescriber", username="pres2", full_name="Ida Elsewhere"),
            "staff": make.user("staff", username="desk")}


def esketamine_course(make, auth, team, family, *, signed_days=(9, 5)) -> tuple[int, list[int]]:
    """An esketamine course with a dose signed on each of `signed_days` (days ago): a REMS form each."""
    course = make.course(make.patient(family_name=family), team["therapist"], team["prescriber"],
                         protocol="esketamine-trd-rems", phase="experience")
    ids = make.dosing_plan(course, first_start=local(signed_days[0]), days_between=signed_days[0] - signed_days[-1]
                           if len(signed_days) > 1 else 3, count=len(signed_days), room=f"Suite {family}")
    auth.sign_in("pres")
    for session_id, ago in zip(ids, signed_days):
        start = local(ago, 9)
        assert _sign(make, auth, session_id, team["prescriber"], started_at=form_time(start), route="intranasal",
                     medication="esketamine", dose_mg="56", weight_kg="",
                     ended_at=form_time(start + timedelta(minutes=15)),
                     discharged_at=form_time(start + timedelta(minutes=140)),
                     ready_to_leave_at=form_time(start + timedelta(minutes=90)),
                     vitals_acceptable_before_dosing="yes", vitals_acceptable_before_discharge="yes",
                     concomitant_sedating_medications="none").status_code == 302
    auth.logout()
    return course, ids


def _rems_section(text: str) -> str:
    return text.split("REMS forms due", 1)[1]


def test_rems_forms_are_one_line_per_patient_with_count_and_oldest_due(team, make, auth, client):
    esketamine_course(make, auth, team, "Twoforms", signed_days=(9, 5))
    esketamine_course(make, auth, team, "Oneform", signed_days=(3,))
    auth.sign_in("pres")
    html = client.get("/prescriber/").get_data(as_text=True)
    rems = _rems_section(page_text(client.get("/prescriber/")))
    oldest = (local(9).date() + timedelta(days=7)).isoformat()
    assert f"Testa Twoforms: 2 forms, oldest due {oldest}, 1 overdue" in rems
    assert f"Testa Oneform: 1 form, oldest due {(local(3).date() + timedelta(days=7)).isoformat()} Session" in rems
    assert rems.index("Twoforms") < rems.index("Oneform")               # the oldest due first
    # one summary line per patient, each expandable to its forms
    assert html.count('<details class="rems-group">') == 2
    assert "Session 1 (" in rems and "Session 2 (" in rems
    # each form's record and PDF: an icon beside the words, not three identical bare links
    assert after_icon(html, "Open<span") == 3 and after_icon(html, "Form (PDF)<span") == 3


@pytest.mark.parametrize("ending", ["discontinued", "completed"])
def test_an_ended_courses_forms_leave_once_submitted_and_stay_while_due(team, make, auth, client, ending):
    course, (first, second) = esketamine_course(make, auth, team, "Ended", signed_days=(9, 5))
    auth.sign_in("pres")
    version = str(make.query(lambda: db.session.get(TreatmentCourse, course).version))
    if ending == "completed":  # a course is completed from integration: the series cut short first
        assert auth.post(f"/courses/{course}/phase", {"target": "integration", "version": version, "override": "y",
                                                     "reason": "Series shortened on purpose."}).status_code == 302
        version = str(make.query(lambda: db.session.get(TreatmentCourse, course).version))
    assert auth.end_course(course, {"target": ending, "reason": "The patient chose to stop treatment.",
                                    "version": version}).status_code == 302
    # forms still due on an ended course stay: the REMS programme still needs them
    assert "Ended: 2 forms" in _rems_section(page_text(client.get("/prescriber/")))
    assert auth.post(f"/dosing/{first}/rems-submitted",
                     {"submitted_on": datetime.now(NY).date().isoformat()}).status_code == 302
    rems = _rems_section(page_text(client.get("/prescriber/")))
    assert "Ended: 1 form," in rems and "Session 2 (" in rems and "Session 1 (" not in rems
    assert auth.post(f"/dosing/{second}/rems-submitted",
                     {"submitted_on": datetime.now(NY).date().isoformat()}).status_code == 302
    assert "Ended" not in _rems_section(page_text(client.get("/prescriber/")))
    assert "No forms outstanding" in page_text(client.get("/rems/"))


@pytest.mark.both_engines  # the overdue query: an outer join to the booking, COALESCE of two times
def test_a_planned_dose_whose_time_has_passed_without_a_record_is_overdue(team, make, auth, client):
    late = make.course(make.patient(family_name="Late"), team["therapist"], team["prescriber"], phase="experience")
    [missed, ahead] = make.dosing_plan(late, first_start=local(1, 9), days_between=3, count=2, room="Suite A")
    under_way = make.course(make.patient(family_name="Underway"), team["therapist"], team["prescriber"],
                            phase="experience")
    started = (datetime.now(NY) - timedelta(minutes=30)).replace(second=0, microsecond=0)
    make.dosing_plan(under_way, first_start=started, days_between=3, count=1, room="Suite B")
    auth.sign_in("pres")
    text = page_text(client.get("/prescriber/"))
    planned = local(1, 9).strftime("%Y-%m-%d %H:%M %Z")          # the clinic's time, its zone said (EST/EDT)
    assert planned[-3:] in ("EST", "EDT")
    assert f"Late, dosing session 1: overdue: planned {planned}, not recorded" in text
    assert "dosing session 2" not in text.split("Planned doses not recorded", 1)[1].split("Flagged vital signs")[0]
    # its booked time (two hours) is not over yet
    assert "Underway" not in text.split("Planned doses not recorded", 1)[1].split("Flagged vital signs")[0]
    [row] = [r for r in make.audit_rows(action="patient.list") if "prescriber worklist" in r.detail]
    assert "doses not recorded 1," in row.detail
    # a prescriber off the care team sees none of it
    auth.logout()
    auth.sign_in("pres2")
    assert "Late" not in page_text(client.get("/prescriber/"))
    auth.logout()
    # once its record is begun (a draft), it is no longer "not recorded"
    auth.sign_in("pres")
    data = _record_data(_session(make, missed), team["prescriber"], started_at=form_time(local(1, 9)),
                        ended_at=form_time(local(1, 9) + timedelta(minutes=40)),
                        discharged_at=form_time(local(1, 9) + timedelta(minutes=130)))
    assert auth.post(f"/dosing/{missed}", data).status_code == 302
    assert "Late, dosing session 1" not in page_text(client.get("/prescriber/"))


def _im_kap_with_first_dose_signed(make, auth, team, protocol="im-ketamine-kap"):
    course = make.course(make.patient(family_name="Alternating"), team["therapist"], team["prescriber"],
                         protocol=protocol, phase="experience")
    first, second = make.dosing_plan(course, first_start=local(8, 9), count=2,
                                     days_between=7 if protocol == "im-ketamine-kap" else 4)
    auth.sign_in("pres")
    start = local(8, 9)
    route = "im" if protocol == "im-ketamine-kap" else "iv"
    assert _sign(make, auth, first, team["prescriber"], route=route, started_at=form_time(start),
                 ended_at=form_time(start + timedelta(minutes=40)),
                 discharged_at=form_time(start + timedelta(minutes=130))).status_code == 302
    return course, second


WARNING = re.compile(r"Dosing and integration alternate in this protocol: the window after dosing session 1 "
                     r"\(\w+ \d+ to \w+ \d+\) has no integration session held or booked \(nothing booked\)")


def test_the_dosing_form_warns_when_the_previous_window_has_no_integration(team, make, auth, client):
    course, second = _im_kap_with_first_dose_signed(make, auth, team)
    page = client.get(f"/dosing/{second}")
    assert page.status_code == 200 and WARNING.search(page_text(page))
    # a warning, never a refusal: the dose is recorded as it would be otherwise
    data = _record_data(_session(make, second), team["prescriber"], route="im", started_at=form_time(local(1, 9)),
                        ended_at=form_time(local(1, 9) + timedelta(minutes=40)),
                        discharged_at=form_time(local(1, 9) + timedelta(minutes=130)))
    assert auth.post(f"/dosing/{second}", data).status_code == 302
    assert _session(make, second).status == "draft"
    assert WARNING.search(page_text(client.get(f"/dosing/{second}")))     # still said while it is a draft
    # an integration session booked in the window (tomorrow, before it closes) ends the warning
    auth.logout()
    auth.sign_in("desk")
    tomorrow = (datetime.now(NY) + timedelta(days=1)).replace(hour=11, minute=0, second=0, microsecond=0)
    assert auth.post(f"/courses/{course}/sessions", {"starts_at": form_time(tomorrow), "minutes": "50",
                                                     "clinician": team["therapist"],
                                                     "modality": "telehealth"}).status_code == 302
    auth.logout()
    auth.sign_in("pres")
    text = page_text(client.get(f"/dosing/{second}"))
    assert "Dosing and integration alternate" not in text and "Dosing session 2" in text


def test_no_warning_where_the_protocol_does_not_alternate(team, make, auth, client):
    _course, second = _im_kap_with_first_dose_signed(make, auth, team, protocol="iv-ketamine-induction")
    text = page_text(client.get(f"/dosing/{second}"))
    assert "Dosing session 2" in text and "Dosing and integration alternate" not in text

"""What signed forms leave waiting on a prescriber (issue 26, points 2 and 4): forms with flagged answers
no prescriber reviewed and consents withdrawn, on the home page (counted in the menu's badge) and the
worklist, for the prescriber's own patients' live courses only; and the course page's one line on its
packet. On both engines: the lists are SQL (the newest signature of each form, a flag read from the
stored document)."""
import re
import warnings
from datetime import date, timedelta
from html import unescape

import pytest
from sqlalchemy.exc import SAWarning

from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.courses.services import change_phase
from ketamine_integration.domain.phases import Phase
from ketamine_integration.extensions import db
from ketamine_integration.signed_forms import services as signed_forms, waiting
from ketamine_integration.signed_forms.models import SignedForm
from tests.integration.test_home_pages import _badge, _counts
from tests.statements import page_statements
from tests.integration.test_prescriber_worklist import team  # noqa: F401 (the fixture: a team and its staff)


FLAGS, WITHDRAWN = "form with flagged answers to review", "consent withdrawn"
INTAKE, IV_CONSENT = "intake-questionnaire", "consent-iv-ketamine"


def _course(make, team, family: str, *, prescriber: str = "prescriber") -> int:
    patient = make.patient(given_name="Testa", family_name=family)
    return make.course(patient, team["therapist"], team[prescriber], start=date.today() - timedelta(days=3))


def _sign(make, course_id: int, form_id: str, witness_id: int, *flagged: str) -> int:
    """The form signed on a clinic tablet, `witness_id` handing it over; the questions named flagged."""
    [signed] = make.sign_packet(course_id, witness_id=witness_id, only=(form_id,), flagged=flagged)
    return signed


def _home(auth, client, username: str) -> tuple[str, str]:
    auth.sign_in(username)
    html = client.get("/").get_data(as_text=True)
    return html, page_text_of(html)


def page_text_of(html: str) -> str:
    """Visible text, tags removed (a name in bold keeps its colon: "Testa Flagged: …")."""
    return re.sub(r"\s+([:,.])", r"\1", re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))).strip()


def _section(text: str, heading: str, until: str) -> str:
    return text.split(heading, 1)[1].split(until, 1)[0] if heading in text else ""


def test_flagged_answers_and_withdrawals_wait_on_the_prescriber_until_reviewed_or_signed_again(team, make, auth, client):
    flagged = _course(make, team, "Flagged")
    intake = _sign(make, flagged, INTAKE, team["therapist"], "interacting_medications", "high_blood_pressure")
    _sign(make, flagged, IV_CONSENT, team["therapist"])   # no flag on it: not listed
    withdrawn = _course(make, team, "Withdrawn")
    consent = _sign(make, withdrawn, IV_CONSENT, team["therapist"])
    make.run(lambda: signed_forms.withdraw(db.session.get(SignedForm, consent), reason="Wants to think it over.",
                                           recorded_by=_user(team["staff"])))
    elsewhere = _course(make, team, "Elsewhere", prescriber="other")   # another prescriber's patient
    _sign(make, elsewhere, INTAKE, team["therapist"], "history_of_mania")

    html, text = _home(auth, client, "pres")
    counts = _counts(html)
    assert counts[FLAGS][0] == 1 and counts[WITHDRAWN][0] == 1
    assert counts[FLAGS][1] == "/#form-flags" and counts[WITHDRAWN][1] == "/#withdrawals"
    assert _badge(html) == f"{sum(n for n, _ in counts.values())} items waiting"
    flags = _section(text, "Flagged form answers to review", "Consents withdrawn")
    assert "Testa Flagged: Intake questionnaire and health screen, signed" in flags
    assert "Uncontrolled hypertension" in flags and "may interact with ketamine" in flags
    assert "Elsewhere" not in text and "Review the answers" in flags
    withdrawals = _section(text, "Consents withdrawn", "Forms to countersign")
    assert "Testa Withdrawn: Consent to intravenous (IV) ketamine treatment withdrawn" in withdrawals
    assert "(Wants to think it over.)" in withdrawals and "Dosing is blocked until the patient signs it again" in withdrawals
    assert f'href="/courses/{flagged}/forms"' in html and f'href="/courses/{withdrawn}/forms"' in html
    worklist = page_text_of(client.get("/prescriber/").get_data(as_text=True))
    assert "Testa Flagged: Intake questionnaire" in _section(worklist, "Flagged form answers to review", "Consents withdrawn")
    assert "Testa Withdrawn: Consent to intravenous" in _section(worklist, "Consents withdrawn", "Forms to countersign")
    # the other prescriber sees their own patient's flag, and nothing of these two
    _, other = _home(auth, client, "pres2")
    assert "Testa Elsewhere" in other and "Testa Flagged" not in other and "Testa Withdrawn" not in other

    # reviewed: the flag waits no more; signed again: the consent stands again
    make.run(lambda: signed_forms.review_flags(db.session.get(SignedForm, intake), by=_user(team["prescriber"]),
                                               note="Lorazepam at night: stopped two days before each dose; BP checked today, 128/80."))
    _sign(make, withdrawn, IV_CONSENT, team["therapist"])
    html, text = _home(auth, client, "pres")
    assert FLAGS not in _counts(html) or _counts(html)[FLAGS][0] == 0
    assert "forms with flagged answers to review" in text and "consents withdrawn" in text   # "Nothing waiting: …"
    assert "Testa Flagged" not in _section(page_text_of(client.get("/prescriber/").get_data(as_text=True)),
                                           "Flagged form answers", "Consents withdrawn")


COUNTERSIGN = "form to countersign"
PSYCHOTHERAPY = "consent-psychotherapy-integration"


def test_countersignatures_owed_wait_on_the_role_the_form_asks_until_given(team, make, auth, client):
    """A new-user review of issue 26 (finding 3): the countersignatures owed were listed nowhere. The form file
    names the role (the route consent and the intake: the prescriber; the psychotherapy consent: the
    therapist); each waits on that role's care-team member, on the home page (count, list, badge) and the
    prescriber's worklist, until given; a withdrawn consent owes nothing."""
    owed = _course(make, team, "Owed")
    intake = _sign(make, owed, INTAKE, team["therapist"], "high_blood_pressure")
    consent = _sign(make, owed, IV_CONSENT, team["therapist"])
    therapy = _sign(make, owed, PSYCHOTHERAPY, team["therapist"])
    withdrawn = _course(make, team, "Withdrew")
    gone = _sign(make, withdrawn, IV_CONSENT, team["therapist"])
    make.run(lambda: signed_forms.withdraw(db.session.get(SignedForm, gone), reason="Not this month.",
                                           recorded_by=_user(team["staff"])))
    _sign(make, _course(make, team, "Elsewhere", prescriber="other"), IV_CONSENT, team["therapist"])

    html, text = _home(auth, client, "pres")
    counts = _counts(html)
    assert counts["forms to countersign"] == (2, "/#countersign")   # the intake and the route consent
    assert _badge(html) == f"{sum(n for n, _ in counts.values())} items waiting"
    listed = _section(text, "Forms to countersign", "My patients")
    assert "Testa Owed: Intake questionnaire and health screen, signed" in listed
    assert "Its flagged answers are reviewed first: Uncontrolled hypertension" in listed
    assert "Review and countersign" in listed and "Testa Owed: Consent to intravenous (IV) ketamine treatment" in listed
    assert "psychotherapy" not in listed and "Withdrew" not in listed and "Elsewhere" not in listed
    assert f'href="/courses/{owed}/forms"' in html
    worklist = page_text_of(client.get("/prescriber/").get_data(as_text=True))
    on_worklist = _section(worklist, "Forms to countersign", "Planned doses")
    assert "Testa Owed: Intake questionnaire" in on_worklist and "Testa Owed: Consent to intravenous" in on_worklist
    assert "Withdrew" not in on_worklist
    auth.logout()
    html, text = _home(auth, client, "ther")
    assert _counts(html)["form to countersign"] == (1, "/#countersign")
    assert "Testa Owed: Consent to preparation and integration psychotherapy" in _section(text, "Forms to countersign",
                                                                                       "My patients")
    auth.logout()

    # countersigned (the intake after its review): waiting no more
    make.run(lambda: signed_forms.countersign(db.session.get(SignedForm, consent), by=_user(team["prescriber"])))
    make.run(lambda: signed_forms.review_flags(db.session.get(SignedForm, intake), by=_user(team["prescriber"]),
                                               note="BP 128/80 today on amlodipine; cleared to proceed."))
    make.run(lambda: signed_forms.countersign(db.session.get(SignedForm, intake), by=_user(team["prescriber"])))
    make.run(lambda: signed_forms.countersign(db.session.get(SignedForm, therapy), by=_user(team["therapist"])))
    for username in ("pres", "ther"):
        html, text = _home(auth, client, username)
        assert _counts(html).get("forms to countersign", (0,))[0] == 0 and "Forms to countersign" not in text
        auth.logout()


def test_an_ended_course_leaves_nothing_waiting(team, make, auth, client):
    course = _course(make, team, "Ended")
    _sign(make, course, INTAKE, team["therapist"], "pregnancy")
    auth.sign_in("pres")
    assert _counts(client.get("/").get_data(as_text=True))[FLAGS][0] == 1

    def discontinue():
        c = db.session.get(TreatmentCourse, course)
        change_phase(c, Phase.DISCONTINUED, by=_user(team["prescriber"]), expected_version=c.version,
                     reason="The patient chose not to start.", override=False)
    make.run(discontinue)
    assert FLAGS not in _counts(client.get("/").get_data(as_text=True)) or \
        _counts(client.get("/").get_data(as_text=True))[FLAGS][0] == 0


def test_the_course_page_says_the_packet_in_one_line(team, make, auth, client):
    course = _course(make, team, "Packet")
    auth.sign_in("pres")
    line = _packet_line(client, course)
    assert line.startswith("Intake and consent forms: Sent (0 of 4 signed).")
    # the forms dosing needs, in the words of the refusal itself; the psychotherapy consent waits on the gate only
    assert line.endswith("Dosing refused. No dose can be planned, moved or started: Consent to intravenous (IV) ketamine "
                         "treatment: not signed yet. Transport and no-driving agreement: not signed yet. Intake "
                         "questionnaire and health screen: not signed yet.")
    _sign(make, course, INTAKE, team["therapist"], "liver_or_bladder")
    line = _packet_line(client, course)
    assert line.startswith("Intake and consent forms: Partly signed (1 of 4 signed, 1 countersignature owed).")
    assert "Intake questionnaire and health screen: 1 flagged answer to be reviewed" in line
    assert "Intake questionnaire and health screen: not signed yet" not in line
    for form_id in ("consent-iv-ketamine", "consent-psychotherapy-integration", "agreement-transport-no-driving"):
        last = _sign(make, course, form_id, team["therapist"])
    make.run(lambda: signed_forms.withdraw(db.session.get(SignedForm, last), reason="No one to drive me home.",
                                           recorded_by=_user(team["staff"])))
    line = _packet_line(client, course)
    assert line.startswith("Intake and consent forms: Partly signed (3 of 4 signed")
    assert "Transport and no-driving agreement: the patient withdrew this consent on" in line


def _packet_line(client, course_id: int) -> str:
    html = client.get(f"/courses/{course_id}").get_data(as_text=True)
    found = re.search(r'<p class="packet-status" id="packet">(.*?)</p>', html, re.S)
    return page_text_of(found.group(1)) if found else ""


def _user(user_id: int):
    from ketamine_integration.accounts.models import User
    return db.session.get(User, user_id)


@pytest.mark.both_engines  # SQL statement counts
def test_the_lists_do_not_grow_in_statements_with_what_waits(team, make, auth, client, app):
    """Each patient: an intake with a flagged answer and a withdrawn consent; one patient, then four, the
    home page and the worklist run the same statements (the lists load their patients with them)."""
    def add_patient(n):
        course = _course(make, team, f"Waits{n}")
        _sign(make, course, INTAKE, team["therapist"], "interacting_medications")
        consent = _sign(make, course, IV_CONSENT, team["therapist"])
        make.run(lambda: signed_forms.withdraw(db.session.get(SignedForm, consent), reason="Not now.",
                                               recorded_by=_user(team["staff"])))
    add_patient(0)
    auth.sign_in("pres")
    one = {path: page_statements(app, client, path) for path in ("/", "/prescriber/")}
    for n in range(1, 4):
        add_patient(n)
    counts = _counts(client.get("/").get_data(as_text=True))
    assert counts["forms with flagged answers to review"][0] == 4 and counts["consents withdrawn"][0] == 4
    assert counts["forms to countersign"][0] == 4   # each intake (its withdrawn consent owes nothing)
    assert {path: page_statements(app, client, path) for path in one} == one


def test_a_user_who_countersigns_nothing_is_owed_nothing_without_a_cartesian_query(team, make):
    """The front desk holds neither countersigning role: the list is empty, and asked without building a
    SELECT that joins nothing to its patients (SQLAlchemy warned of a cartesian product)."""
    _sign(make, _course(make, team, "Owed"), IV_CONSENT, team["therapist"])

    def owed_to_the_desk():
        with warnings.catch_warnings():
            warnings.simplefilter("error", SAWarning)
            return waiting.countersignatures_owed(_user(team["staff"]))
    assert make.query(owed_to_the_desk) == []

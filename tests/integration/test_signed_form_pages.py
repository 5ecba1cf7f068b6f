"""The signed forms' pages (issue 26, points 3 and 4): a patient signs a consent in the portal (the
signature is the signed-in account's; a wrong typed name changes nothing), reads and downloads it
(audited), withdraws it after a confirmation step; staff start an in-clinic signing that signs them
out of the device and locks it to the tablet's pages until it is done or expires; the care team's
packet page, countersigning, the prescriber's flag review and a withdrawal recorded by staff; and
another patient's forms and courses unreachable from the portal and from outside the care team."""
from __future__ import annotations

import re
import shutil

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ketamine_integration.accounts.models import LoginSession
from ketamine_integration.db.clinic_time import to_clinic
from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from ketamine_integration.signed_forms import services as signed_forms_services
from ketamine_integration.signed_forms.models import (ConsentWithdrawal, FormCountersignature, FormFlagReview,
                                                      SignedForm, TabletSigning)
from tests.conftest import page_text, todays_world

# SQLite in `make test` (PostgreSQL in `make test-all-engines`): pages; the signed rows' triggers are
# probed with raw SQL in test_signed_forms.py, on both engines.

CONSENT = "consent-iv-ketamine"
TRANSPORT = "agreement-transport-no-driving"


def consent_answers(typed_name: str, **changes) -> dict:
    """The IV consent as a patient completes it (fields named by question id; the typed name, the agreement)."""
    return {"read_and_understood": "yes", "fasting_told": "yes", "typed_name": typed_name, "agreed": "y", **changes}


def transport_answers(typed_name: str) -> dict:
    return {"escort_name": "Rowan Fictional", "escort_phone": "555-0100", "escort_relationship": "partner",
            "typed_name": typed_name, "agreed": "y"}


@pytest.fixture
def team(make):
    """A patient on an IV course (its packet made at enrolment) with a portal account, their care team, a
    nurse on it, and a therapist and a patient outside it. Built once per day, worker and engine
    (reused_world)."""
    return todays_world(make.app, "signed_form_pages_team", lambda: _team(make))


def _team(make) -> dict:
    therapist, prescriber, nurse = make.user("therapist"), make.user("prescriber"), make.user("nurse")
    patient = make.patient(given_name="Wren", family_name="Fictional", nurses=[nurse])
    course = make.course(patient, therapist, prescriber)
    outsider_therapist, outsider_prescriber = make.user("therapist"), make.user("prescriber")
    other = make.patient(given_name="Otto", family_name="Fictional")
    other_course = make.course(other, outsider_therapist, outsider_prescriber)
    return {"therapist": therapist, "prescriber": prescriber, "nurse": nurse, "patient": patient, "course": course,
            "account": make.portal_account(patient), "outsider": outsider_therapist, "other": other,
            "other_course": other_course, "other_account": make.portal_account(other), "staff": make.user("staff")}


def username(make, user_id: int) -> str:
    from ketamine_integration.accounts.models import User
    return make.query(lambda: db.session.get(User, user_id).username)


def signed_rows(make, **where) -> list[SignedForm]:
    return make.query(lambda: db.session.scalars(select(SignedForm).filter_by(**where).order_by(SignedForm.id)).all())


def count(make, model) -> int:
    return make.query(lambda: db.session.scalar(select(func.count()).select_from(model)))


def portal_sign(auth, course_id: int, form_id: str, data: dict):
    return auth.post(f"/portal/forms/{course_id}/{form_id}", data)


# -- the portal ---------------------------------------------------------------------------------------

def test_a_patient_signs_a_consent_in_the_portal_and_reads_and_downloads_it(team, make, auth, client):
    auth.portal_sign_in(team["account"])
    home = page_text(client.get("/portal/"))
    assert "Forms to sign" in home and "Consent to intravenous" in home
    listing = client.get("/portal/forms/")
    assert listing.status_code == 200 and f"/portal/forms/{team['course']}/{CONSENT}" in listing.get_data(as_text=True)
    form_page = client.get(f"/portal/forms/{team['course']}/{CONSENT}")
    assert form_page.status_code == 200 and "Type your full name" in page_text(form_page)

    response = portal_sign(auth, team["course"], CONSENT, consent_answers("wren  FICTIONAL"))
    [signed] = signed_rows(make, form_id=CONSENT)
    assert response.status_code == 302 and response.headers["Location"] == f"/portal/forms/signed/{signed.id}"
    assert (signed.method, signed.portal_account_id, signed.witness_id) == ("portal", team["account"], None)
    assert signed.patient_id == team["patient"] and signed.course_id == team["course"]
    page = client.get(f"/portal/forms/signed/{signed.id}")
    assert page.status_code == 200 and "Withdraw this consent" in page_text(page)
    pdf = client.get(f"/portal/forms/signed/{signed.id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    actions = [row.action for row in make.audit_rows(patient_id=team["patient"])]
    assert {"forms.sign", "forms.portal_view", "forms.portal_download"} <= set(actions)
    # signed: no longer offered, and its page says so
    again = client.get(f"/portal/forms/{team['course']}/{CONSENT}")
    assert again.status_code == 302 and again.headers["Location"] == "/portal/forms/"


@pytest.mark.parametrize("changes, field_message", [
    ({"typed_name": "Someone Else"}, "typed_name"),      # not the patient's name
    ({"agreed": None}, "agreed"),                        # the agreement left unticked
    ({"read_and_understood": None}, "read_and_understood"),  # a required question left unanswered
])
def test_a_refused_signature_says_why_and_signs_nothing(team, make, auth, client, changes, field_message):
    auth.portal_sign_in(team["account"])
    data = {k: v for k, v in {**consent_answers("Wren Fictional"), **changes}.items() if v is not None}
    response = portal_sign(auth, team["course"], CONSENT, data)
    assert response.status_code == 422
    assert f'id="{field_message}' in response.get_data(as_text=True)  # the field's error is tied to it
    assert 'aria-invalid="true"' in response.get_data(as_text=True) or "form-errors" in response.get_data(as_text=True)
    assert signed_rows(make) == []


def test_the_error_summary_lists_problems_in_the_pages_order_as_sentences(team, make, auth, client):
    """Issue 26 review, point 11: the questions, then the agreement, then the typed name, as the page shows
    them; a label's own full stop is not followed by a colon."""
    auth.portal_sign_in(team["account"])
    data = {k: v for k, v in consent_answers("").items() if k not in ("read_and_understood", "agreed")}
    response = portal_sign(auth, team["course"], CONSENT, data)
    assert response.status_code == 422
    summary = page_text(response).split("nothing was signed.")[1]
    question = summary.index("I have read this consent")
    agreement = summary.index("Tick the box to agree")
    typed = summary.index("Type your full name: Type your full name to sign.")
    assert question < agreement < typed
    assert ".:" not in summary and "?:" not in summary
    assert signed_rows(make) == []


def test_names_and_phone_numbers_are_asked_on_one_line_with_the_phones_keypad(team, make, auth, client):
    """Issue 26 review, point 8: the transport agreement's escort (short text and phone questions)."""
    auth.portal_sign_in(team["account"])
    html = client.get(f"/portal/forms/{team['course']}/{TRANSPORT}").get_data(as_text=True)
    name = html.split('id="escort_name"')[0].rsplit("<", 1)[1] + html.split('id="escort_name"')[1].split(">")[0]
    phone = html.split('id="escort_phone"')[0].rsplit("<", 1)[1] + html.split('id="escort_phone"')[1].split(">")[0]
    assert name.startswith("input") and 'maxlength="200"' in name
    assert phone.startswith("input") and 'type="tel"' in phone and 'autocomplete="tel"' in phone
    refused = portal_sign(auth, team["course"], TRANSPORT, {**transport_answers("Wren Fictional"),
                                                             "escort_phone": "ask my partner"})
    assert refused.status_code == 422 and "Give a phone number of at least 7 digits" in page_text(refused)
    assert signed_rows(make) == []
    assert portal_sign(auth, team["course"], TRANSPORT, transport_answers("Wren Fictional")).status_code == 302
    [row] = signed_rows(make, form_id=TRANSPORT)
    assert row.form_version == 2


def test_a_future_date_the_form_bounds_by_today_is_refused_on_its_field(team, make, auth, client):
    """The intake's last blood pressure check (not_after: today in its file): tomorrow is refused on that field
    and nothing is signed; today, in the clinic's time zone, is taken."""
    from ketamine_integration.db.clinic_time import clinic_today
    from ketamine_integration.protocols.forms import current_forms
    from tests.security.clinic import answer_data
    intake = make.query(lambda: next(f for f in current_forms().newest() if f.id == "intake-questionnaire"))
    today = make.query(clinic_today)
    data = answer_data(intake, "Wren Fictional")
    auth.portal_sign_in(team["account"])
    refused = portal_sign(auth, team["course"], "intake-questionnaire",
                          {**data, "last_blood_pressure_check": (today + timedelta(days=1)).isoformat()})
    assert refused.status_code == 422
    assert 'id="last_blood_pressure_check' in refused.get_data(as_text=True)
    assert f"Give a date no later than today ({today.day} {today:%B %Y})." in page_text(refused)
    assert signed_rows(make) == []
    signed = portal_sign(auth, team["course"], "intake-questionnaire",
                         {**data, "last_blood_pressure_check": today.isoformat()})
    assert signed.status_code == 302
    [row] = signed_rows(make, form_id="intake-questionnaire")
    assert row.form_version == intake.version == 2


def test_a_patient_withdraws_a_consent_after_the_confirmation_step(team, make, auth, client):
    auth.portal_sign_in(team["account"])
    portal_sign(auth, team["course"], CONSENT, consent_answers("Wren Fictional"))
    [signed] = signed_rows(make, form_id=CONSENT)
    step = client.get(f"/portal/forms/signed/{signed.id}/withdraw")
    assert step.status_code == 200 and "dosing sessions stop until you sign this consent again" in page_text(step)
    # what is true: the care team sees it on their lists; nothing is sent for the patient (issue 26 review, 7)
    assert "sees the withdrawal on their lists as soon as you confirm it" in page_text(step)
    assert "will contact you" not in page_text(step)
    # the reason is required and its label says so, as the signing forms' questions do (issue 26 round 2, 2)
    assert re.search(r'<label for="reason">[^<]*<span class="required-words">\(required\)</span></label>',
                     step.get_data(as_text=True))
    refused = auth.post(f"/portal/forms/signed/{signed.id}/withdraw", {"reason": ""})
    assert refused.status_code == 422 and count(make, ConsentWithdrawal) == 0
    done = auth.post(f"/portal/forms/signed/{signed.id}/withdraw", {"reason": "I want to think it over."})
    assert done.status_code == 302
    row = make.query(lambda: db.session.scalars(select(ConsentWithdrawal)).one())
    assert (row.signed_form_id, row.portal_account_id, row.recorded_by_id) == (signed.id, team["account"], None)
    listing = page_text(client.get("/portal/forms/"))
    assert "withdrawn" in listing.lower()
    # the confirmation says what is true: nothing is sent, the care team sees it on their lists (round 2, 1)
    assert "has been told" not in listing and "Your care team sees it on their lists" in listing
    # withdrawn: the consent is to sign again, and cannot be withdrawn twice
    assert client.get(f"/portal/forms/signed/{signed.id}/withdraw").status_code == 302


def test_a_signed_consent_whose_form_file_is_gone_still_opens_in_the_portal(team, make, auth, client, tmp_path,
                                                                          monkeypatch):
    """Review of issue 26: the portal read the packet item's form (None when its file is missing or unusable):
    the signed document and the withdrawal step answered 500. The signature is the document, not the file."""
    auth.portal_sign_in(team["account"])
    portal_sign(auth, team["course"], CONSENT, consent_answers("Wren Fictional"))
    [signed] = signed_rows(make, form_id=CONSENT)
    forms = tmp_path / "forms"
    shutil.copytree(make.app.config["FORMS_DIR"], forms)
    # every version of the consent's file gone (the one signed and any newer)
    for consent_file in [f for f in forms.glob("*.yaml") if f"form: {CONSENT}\n" in f.read_text()]:
        consent_file.unlink()
    monkeypatch.setitem(make.app.config, "FORMS_DIR", str(forms))
    assert client.get(f"/portal/forms/signed/{signed.id}").status_code == 200
    assert client.get(f"/portal/forms/signed/{signed.id}/withdraw").status_code == 200


def test_answers_sent_after_the_session_timed_out_are_offered_back_without_the_agreement(team, make, auth, client):
    from ketamine_integration.portal.models import PortalSession
    auth.portal_sign_in(team["account"])
    make.run(lambda: [setattr(s, "last_seen_at", s.last_seen_at - timedelta(hours=1))
                      for s in db.session.scalars(select(PortalSession))])
    url = f"/portal/forms/{team['course']}/{TRANSPORT}"
    sent = auth.post(url, transport_answers("Wren Fictional"))
    assert sent.status_code == 302 and "/portal/sign-in" in sent.headers["Location"] and signed_rows(make) == []
    auth.portal_sign_in(team["account"])
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert "Your answers were kept" in page_text(page) and 'value="Rowan Fictional"' in html
    assert 'name="agreed" type="checkbox" value="y" checked' not in html and ' checked id="agreed"' not in html
    assert auth.post(url, transport_answers("Wren Fictional")).status_code == 302
    [signed] = signed_rows(make, form_id=TRANSPORT)
    assert "Your answers were kept" not in page_text(client.get(f"/portal/forms/signed/{signed.id}"))


def test_another_patients_forms_are_not_found_from_the_portal(team, make, auth, client):
    other_client = make.app.test_client()
    from tests.conftest import Auth
    other = Auth(make.app, other_client)
    other.portal_sign_in(team["other_account"])
    other.post(f"/portal/forms/{team['other_course']}/{CONSENT}", consent_answers("Otto Fictional"))
    [theirs] = signed_rows(make, patient_id=team["other"])
    auth.portal_sign_in(team["account"])
    for url in (f"/portal/forms/signed/{theirs.id}", f"/portal/forms/signed/{theirs.id}.pdf",
                f"/portal/forms/signed/{theirs.id}/withdraw", f"/portal/forms/{team['other_course']}/{CONSENT}"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Otto" not in response.get_data(as_text=True)
    assert portal_sign(auth, team["other_course"], TRANSPORT, transport_answers("Wren Fictional")).status_code == 404
    assert auth.post(f"/portal/forms/signed/{theirs.id}/withdraw", {"reason": "x" * 10}).status_code == 404
    assert len(signed_rows(make)) == 1 and count(make, ConsentWithdrawal) == 0


# -- the clinic tablet -----------------------------------------------------------------------------------

def start_tablet(make, auth, team) -> None:
    """The therapist opens the confirmation step from the packet page, then hands the device over."""
    auth.sign_in(username(make, team["therapist"]))
    step = f"/courses/{team['course']}/forms/tablet"
    assert f'href="{step}"' in auth.client.get(f"/courses/{team['course']}/forms").get_data(as_text=True)
    assert "Sign me out and hand over this device" in page_text(auth.client.get(step))
    response = auth.post(f"/courses/{team['course']}/forms/tablet", {})
    assert response.status_code == 302 and response.headers["Location"] == "/tablet/"


def live_logins(make) -> int:
    return make.query(lambda: db.session.scalar(select(func.count()).select_from(LoginSession)
                                                .where(LoginSession.ended_at.is_(None))))


def test_starting_an_in_clinic_signing_asks_first_and_the_step_changes_nothing(team, make, auth, client):
    """The confirmation step names the forms, says the user is signed out here, how it ends and how staff get
    the device back; opening it starts nothing and signs nobody out, and it is audited."""
    auth.sign_in(username(make, team["staff"]))
    response = client.get(f"/courses/{team['course']}/forms/tablet")
    page = page_text(response)
    assert response.status_code == 200 and "Start in-clinic signing?" in page
    assert "Consent to intravenous (IV) ketamine treatment" in page and "Transport and no-driving agreement" in page
    assert "You are signed out on this device." in page and "30 minutes after it starts" in page
    assert "To use this device again, sign in as usual" in page and "Sign me out and hand over this device" in page
    assert count(make, TabletSigning) == 0 and live_logins(make) == 1
    [row] = make.audit_rows(action="forms.tablet_start_view")
    assert (row.patient_id, row.outcome, row.detail) == (team["patient"], "success", "4 to sign")
    assert client.get("/patients/").status_code == 200  # still signed in

    # a second device already open for the patient: the step says starting here ends it
    from tests.conftest import Auth
    start_tablet(make, Auth(make.app, make.app.test_client()), team)
    assert "already open on another device" in page_text(client.get(f"/courses/{team['course']}/forms/tablet"))


def test_the_step_of_a_packet_with_nothing_to_sign_offers_no_hand_over_and_a_refusal_says_why(team, make, auth,
                                                                                              client):
    make.sign_packet(team["course"])
    auth.sign_in(username(make, team["staff"]))
    page = page_text(client.get(f"/courses/{team['course']}/forms/tablet"))
    assert "No form waits for" in page and "Sign me out" not in page
    refused = auth.post(f"/courses/{team['course']}/forms/tablet", {})
    assert refused.status_code == 422 and "This course has no form waiting to be signed." in page_text(refused)
    assert count(make, TabletSigning) == 0 and live_logins(make) == 1
    assert [r.outcome for r in make.audit_rows(action="forms.tablet_start")] == ["failure"]


def test_no_tablet_is_handed_over_for_a_course_that_has_ended(team, make, auth, client):
    """Its forms are closed (every signature would be refused): the step says so, a forged start is refused."""
    from ketamine_integration.accounts.models import User
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.courses.services import change_phase
    from ketamine_integration.domain.phases import Phase

    def discontinue():
        course = db.session.get(TreatmentCourse, team["course"])
        change_phase(course, Phase.DISCONTINUED, by=db.session.get(User, team["prescriber"]),
                     expected_version=course.version, reason="The patient chose not to start.", override=False)
    make.run(discontinue)
    auth.sign_in(username(make, team["staff"]))
    assert "Start in-clinic signing" not in page_text(client.get(f"/courses/{team['course']}/forms"))
    page = page_text(client.get(f"/courses/{team['course']}/forms/tablet"))
    assert "this course has ended" in page and "Sign me out" not in page
    refused = auth.post(f"/courses/{team['course']}/forms/tablet", {})
    assert refused.status_code == 422 and "its forms are closed" in page_text(refused)
    assert count(make, TabletSigning) == 0 and live_logins(make) == 1


def test_an_in_clinic_signing_signs_staff_out_and_opens_only_the_tablet(team, make, auth, client):
    start_tablet(make, auth, team)
    assert live_logins(make) == 0
    listing = client.get("/tablet/")
    assert listing.status_code == 200 and "Consent to intravenous" in page_text(listing)
    # the clinic's name leads back to the list of forms (issue 26 review, point 9)
    assert '<p class="brand"><a href="/tablet/">' in listing.get_data(as_text=True)
    # every other page: a GET goes back to the tablet, anything else is refused; nothing else is shown
    for url in ("/", "/patients/", f"/patients/{team['patient']}", f"/courses/{team['course']}/forms", "/login",
                "/portal/", "/audit/"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"] == "/tablet/", url
    assert auth.post(f"/courses/{team['course']}/forms/tablet", {}).status_code == 403
    assert auth.post("/logout", {}).status_code == 403

    signed = auth.post(f"/tablet/forms/{CONSENT}", consent_answers("Wren Fictional"))
    assert signed.status_code == 302 and signed.headers["Location"] == "/tablet/"
    [row] = signed_rows(make, form_id=CONSENT)
    assert (row.method, row.witness_id, row.portal_account_id) == ("in_clinic", team["therapist"], None)

    closed = auth.post("/tablet/done", {})
    assert closed.status_code == 200 and "return the tablet" in page_text(closed)
    # the way back in: staff sign in again from the done page (issue 26 review, point 9)
    # ... and go back to this course's forms page (issue 26 round 2, 9)
    back = f"/login?next=/courses/{team['course']}/forms"
    assert f'<a class="button" href="{back}">Staff sign-in</a>' in closed.get_data(as_text=True)
    assert '<p class="brand"><a' not in closed.get_data(as_text=True)
    ended = make.query(lambda: db.session.scalars(select(TabletSigning)).one())
    assert ended.ended_at is not None and ended.ended_reason == "completed"
    refused = client.get("/tablet/")
    assert refused.status_code == 403 and 'href="/login">Staff sign-in</a>' in refused.get_data(as_text=True)
    assert client.get("/login").status_code == 200
    assert client.get("/patients/").headers["Location"].startswith("/login")


def test_a_signing_ended_by_staff_says_so_on_the_tablet_and_sign_in_leads_back_to_the_forms(team, make, auth,
                                                                                          client):
    """Issue 26 round 2, 9: the tablet said "it was finished, or it ended after 30 minutes" after staff ended it
    from another device, and its "Staff sign-in" led to the home page."""
    from tests.conftest import Auth
    start_tablet(make, auth, team)
    desk = Auth(make.app, make.app.test_client())
    desk.sign_in(username(make, team["therapist"]))
    assert desk.post(f"/courses/{team['course']}/forms/tablet/end", {}).status_code == 302
    response = client.get("/tablet/")
    html = response.get_data(as_text=True)
    assert response.status_code == 403 and "the clinic ended it" in page_text(response) and "Wren" not in html
    back = f"/courses/{team['course']}/forms"
    link = re.search(r'<a class="button" href="([^"]*)">Staff sign-in</a>', html).group(1)
    assert link == f"/login?next=/courses/{team['course']}/forms"
    # the sign-in page carries it on, as a local path (web.forms.safe_next keeps no other)
    login = client.get(link).get_data(as_text=True)
    assert re.search(rf'name="next"[^>]*value="{re.escape(back)}"|value="{re.escape(back)}"[^>]*name="next"', login)


def test_an_in_clinic_signing_expires_after_30_minutes(team, make, auth, client, monkeypatch):
    start_tablet(make, auth, team)
    # 31 minutes later, as the tablet's sessions see the clock (their rows never change but to end: 0058)
    later = utcnow() + timedelta(minutes=31)
    monkeypatch.setattr(signed_forms_services, "utcnow", lambda: later)
    response = client.get("/tablet/")
    assert response.status_code == 403 and "Wren" not in response.get_data(as_text=True)
    assert "it ended after 30 minutes" in page_text(response) and "the clinic ended it" not in page_text(response)
    ended = make.query(lambda: db.session.scalars(select(TabletSigning)).one())
    assert ended.ended_reason == "expired" and ended.ended_at is not None  # recorded by the request that found it
    assert [r.detail for r in make.audit_rows(action="forms.tablet_end")] == ["expired"]
    assert auth.post(f"/tablet/forms/{CONSENT}", consent_answers("Wren Fictional")).status_code == 403
    assert signed_rows(make) == []
    assert client.get("/patients/").headers["Location"].startswith("/login")


def test_a_tablet_page_without_a_signing_is_refused(team, make, auth, client):
    auth.portal_sign_in(team["account"])
    assert client.get("/tablet/").status_code == 403
    assert auth.post(f"/tablet/forms/{CONSENT}", consent_answers("Wren Fictional")).status_code == 403
    assert signed_rows(make) == []


# -- the care team's packet page ---------------------------------------------------------------------------

def sign_in_portal_and_sign(make, team, form_id: str, data: dict) -> SignedForm:
    from tests.conftest import Auth
    patient = Auth(make.app, make.app.test_client())
    patient.portal_sign_in(team["account"])
    assert patient.post(f"/portal/forms/{team['course']}/{form_id}", data).status_code == 302
    return signed_rows(make, form_id=form_id)[-1]


def test_the_answers_are_the_care_teams_and_every_read_is_audited(team, make, auth, client):
    """The packet page's states for whoever sees the course (the front desk hands tablets over); the signed
    form, its PDF and the flagged answers for the care team's therapists and prescribers only."""
    signed = sign_in_portal_and_sign(make, team, CONSENT, consent_answers("Wren Fictional", read_and_understood="no"))
    document, pdf = f"/signed-forms/{signed.id}", f"/signed-forms/{signed.id}.pdf"
    for role in ("therapist", "prescriber"):
        auth.sign_in(username(make, team[role]))
        page = page_text(client.get(f"/courses/{team['course']}/forms"))
        assert "Dosing refused" in page and "Flagged answers" in page and "Read the signed form" in page
        assert "I have read this form" in page_text(client.get(document))
        assert client.get(pdf).data.startswith(b"%PDF")
        auth.logout()
    for role in ("nurse", "staff"):  # the states and the actions they hold, never an answer
        auth.sign_in(username(make, team[role]))
        response = client.get(f"/courses/{team['course']}/forms")
        assert response.status_code == 200 and "Dosing refused" in page_text(response), role
        assert "I have read this form" not in page_text(response), role  # the flagged question's words
        assert f'href="{document}' not in response.get_data(as_text=True), role
        assert client.get(document).status_code == 403 and client.get(pdf).status_code == 403
        auth.logout()
    auth.sign_in(username(make, team["outsider"]))  # a therapist of another care team: nothing at all
    for url in (f"/courses/{team['course']}/forms", document, pdf):
        assert client.get(url).status_code == 403, url
    actions = [r.action for r in make.audit_rows(patient_id=team["patient"], outcome="success")]
    assert actions.count("forms.packet_view") == 4 and actions.count("forms.view") == 2
    assert actions.count("forms.download") == 2


def test_the_patients_copy_never_shows_the_staff_worded_flag_reasons(team, make, auth, client):
    """Issue 26 round 2, 3: a patient answering "No" to having read the form saw, on their own copy, a red
    warning written for staff ("The patient has questions about the treatment..."). The reasons are the
    care team's: the portal page and its PDF show the answer only; the care team's copy keeps them."""
    from io import BytesIO

    from pypdf import PdfReader
    signed = sign_in_portal_and_sign(make, team, CONSENT, consent_answers("Wren Fictional", read_and_understood="no"))
    staff_words = "The patient has questions about the treatment"
    auth.portal_sign_in(team["account"])
    page = client.get(f"/portal/forms/signed/{signed.id}")
    assert page.status_code == 200 and "I have read this form" in page_text(page)
    assert staff_words not in page_text(page) and "Flagged for a prescriber" not in page_text(page)
    assert "flagged for a prescriber's review" not in page_text(page)
    pdf = "".join(p.extract_text() for p in
                  PdfReader(BytesIO(client.get(f"/portal/forms/signed/{signed.id}.pdf").data)).pages)
    assert "I have read this form" in pdf and "has questions about" not in " ".join(pdf.split())
    from tests.conftest import Auth
    staff = Auth(make.app, make.app.test_client())
    staff.sign_in(username(make, team["prescriber"]))
    assert staff_words in page_text(staff.client.get(f"/signed-forms/{signed.id}"))


def test_the_front_desk_reads_where_a_hidden_withdrawal_reason_is_shown_not_a_reason(team, make, auth, client):
    """Issue 26 round 2, 8: "Reason given: for the care team's therapists and prescribers" read as the reason."""
    from tests.conftest import Auth
    signed = sign_in_portal_and_sign(make, team, CONSENT, consent_answers("Wren Fictional"))
    patient = Auth(make.app, make.app.test_client())
    patient.portal_sign_in(team["account"])
    assert patient.post(f"/portal/forms/signed/{signed.id}/withdraw", {"reason": "Private words."}).status_code == 302
    auth.sign_in(username(make, team["staff"]))
    page = page_text(client.get(f"/courses/{team['course']}/forms"))
    assert "Private words." not in page
    assert "Reason given shown to the care team's therapists and prescribers only" in " ".join(page.split())


def test_the_course_page_sends_the_therapist_to_the_countersignature_they_owe(team, make, auth, client):
    """Issue 26 round 2, 5: the home page listed the psychotherapy consent for the therapist to countersign while
    the course page said "Nothing on this course waits on you now"."""
    make.sign_packet(team["course"])
    auth.sign_in(username(make, team["therapist"]))
    html = client.get(f"/courses/{team['course']}").get_data(as_text=True)
    card = html.split('id="todo-h"', 1)[1].split("</section>", 1)[0]
    owed = re.search(r'<a class="button[^"]*" href="([^"]*)">Countersign the signed form</a>', card)
    assert owed and "Nothing on this course waits on you now" not in page_text(client.get(f"/courses/{team['course']}"))
    assert owed.group(1).startswith(f"/courses/{team['course']}/forms#form-")
    target = owed.group(1).split("#", 1)[1]
    forms = client.get(owed.group(1).split("#", 1)[0]).get_data(as_text=True)
    assert 'aria-label="Countersign' in forms.split(f'id="{target}"', 1)[1].split("</li>", 1)[0]
    auth.logout()
    auth.sign_in(username(make, team["nurse"]))   # owes no countersignature: not sent to countersign
    assert "Countersign the signed form" not in client.get(f"/courses/{team['course']}").get_data(as_text=True)


def test_countersigning_reviewing_flags_and_recording_a_withdrawal(team, make, auth, client):
    signed = sign_in_portal_and_sign(make, team, CONSENT, consent_answers("Wren Fictional", read_and_understood="no"))
    # the therapist may not countersign a consent that asks for the prescriber, nor review flags
    auth.sign_in(username(make, team["therapist"]))
    assert 'aria-label="Countersign' not in client.get(f"/courses/{team['course']}/forms").get_data(as_text=True)
    assert auth.post(f"/signed-forms/{signed.id}/countersign", {}).status_code == 422
    assert auth.post(f"/signed-forms/{signed.id}/review", {f"review-{signed.id}-note": "x"}).status_code == 403
    auth.logout()

    auth.sign_in(username(make, team["prescriber"]))
    response = client.get(f"/courses/{team['course']}/forms")
    html, page = response.get_data(as_text=True), page_text(response)
    assert "Flagged answers" in page
    # the question, the patient's answer and the form's reason together
    flagged = page.split("Flagged answers", 1)[1]
    assert flagged.index("I have read this form") < flagged.index("Answer: No") < flagged.index("Why it is flagged:")
    # no countersignature before the review: no button, the page says why, and the service refuses it
    assert f'action="/signed-forms/{signed.id}/countersign"' not in html and 'aria-label="Countersign' not in html
    assert ("Countersigning waits for the review of 1 flagged answer above: a prescriber of the care team reviews it "
            "with a note first.") in page
    refused = auth.post(f"/signed-forms/{signed.id}/countersign", {})
    assert refused.status_code == 422 and "Review the flagged answers first." in page_text(refused)
    assert count(make, FormCountersignature) == 0
    refused = auth.post(f"/signed-forms/{signed.id}/review", {f"review-{signed.id}-note": ""})
    assert refused.status_code == 422 and count(make, FormFlagReview) == 0
    note = "Answered the patient's questions about the infusion by phone."
    assert auth.post(f"/signed-forms/{signed.id}/review", {f"review-{signed.id}-note": note}).status_code == 302
    review = make.query(lambda: db.session.scalars(select(FormFlagReview)).one())
    assert (review.prescriber_id, review.note) == (team["prescriber"], note)
    html = client.get(f"/courses/{team['course']}/forms").get_data(as_text=True)
    assert 'aria-label="Countersign Consent' in html and "Countersigning waits" not in html
    assert auth.post(f"/signed-forms/{signed.id}/countersign", {}).status_code == 302
    row = make.query(lambda: db.session.scalars(select(FormCountersignature)).one())
    assert (row.signed_form_id, row.user_id, row.role) == (signed.id, team["prescriber"], "prescriber")
    auth.logout()

    auth.sign_in(username(make, team["therapist"]))
    said = "Called to say she no longer wants infusions."
    assert auth.post(f"/signed-forms/{signed.id}/withdraw", {f"withdraw-{signed.id}-reason": said}).status_code == 302
    withdrawal = make.query(lambda: db.session.scalars(select(ConsentWithdrawal)).one())
    assert (withdrawal.recorded_by_id, withdrawal.portal_account_id, withdrawal.reason) == \
        (team["therapist"], None, said)
    page = page_text(client.get(f"/courses/{team['course']}/forms"))
    assert "Withdrawn" in page and "Dosing refused" in page
    # when, how the clinic heard and from whom, and the reason given
    assert "as the patient told the clinic, recorded by" in page and f"Reason given {said}" in page


def test_the_portal_calls_an_agreement_an_agreement_and_shows_the_name_as_typed(team, make, auth, client):
    auth.portal_sign_in(team["account"])
    assert portal_sign(auth, team["course"], TRANSPORT, transport_answers("wren fictional")).status_code == 302
    [signed] = signed_rows(make, form_id=TRANSPORT)
    page = page_text(client.get(f"/portal/forms/signed/{signed.id}"))
    assert "Signed by Wren Fictional (typed signature: wren fictional) on" in page
    assert "Withdraw this agreement" in page and "consent" not in page.split("Signed by", 1)[0].lower()
    step = page_text(client.get(f"/portal/forms/signed/{signed.id}/withdraw"))
    assert "Withdraw your agreement" in step and "Why you are withdrawing this agreement" in step
    assert "Withdraw my agreement" in step and "Keep my agreement" in step and "consent" not in step.lower()
    auth.post(f"/portal/forms/signed/{signed.id}/withdraw", {"reason": "No one can drive me."})
    assert "You withdrew this agreement: sign it again to restore it" in page_text(client.get("/portal/forms/"))


def test_the_checklist_and_the_patient_page_say_what_is_signed_and_link_the_forms(team, make, auth, client):
    signed = sign_in_portal_and_sign(make, team, CONSENT, consent_answers("Wren Fictional"))
    items = make.query(lambda: services_status(team["course"]).items)
    auth.sign_in(username(make, team["therapist"]))
    html = client.get(f"/courses/{team['course']}").get_data(as_text=True)
    checklist = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split('id="preparation"', 1)[1].split("</table>", 1)[0]))
    day = make.query(lambda: to_clinic(db.session.get(SignedForm, signed.id).signed_at).date().isoformat())
    # the IV packet's consents hold the transport agreement: the item is named for both
    assert f"Consents and agreements Signed: Consent to intravenous (IV) ketamine treatment v2 on {day}" in checklist
    consents_left = [i.title for i in items if i.kind == "consent" and i.form_id != CONSENT]
    assert f"Still to sign: {', '.join(consents_left)}" in checklist
    intake = next(i.title for i in items if i.kind == "intake")
    assert f"Intake assessment Still to sign: {intake}" in checklist
    assert "consent Not yet recorded" not in checklist and "assessment Not yet recorded" not in checklist
    assert f'href="/courses/{team["course"]}/forms"' in html
    assert "consent form v3" not in html  # no hint to record by hand what the signatures meet
    patient_page = client.get(f"/patients/{team['patient']}").get_data(as_text=True)
    assert f'href="/courses/{team["course"]}/forms">Forms: 1 of {len(items)} signed' in patient_page


def test_the_signed_record_and_its_pdf_carry_the_review_and_are_named_by_the_signing_day(team, make, auth, client):
    """A new-user review of issue 26 (findings 4 and 10): who reviewed the flagged answers, when and the note,
    on the care team's document view and PDF (not the patient's portal copy: the note is the clinicians'); the
    PDF's file name carries the day it was signed, not the day it was downloaded."""
    from io import BytesIO

    from pypdf import PdfReader

    from ketamine_integration.accounts.models import User
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.db.types import utcnow
    from ketamine_integration.domain.form_answers import sample_answers
    from ketamine_integration.signed_forms import services
    signed_at = utcnow() - timedelta(days=9)
    note = "Blood pressure 128/80 today on amlodipine; discussed with the patient and cleared."

    def sign_and_review():
        course = db.session.get(TreatmentCourse, team["course"])
        item = services.packet_status(course).item("intake-questionnaire")
        signed = services.sign_form(course, item.form.id, raw_answers=sample_answers(item.form, flagged={
            item.form.flagged_questions[0].id}), typed_name="Wren Fictional", agreed=True, method="in_clinic",
            witness=db.session.get(User, team["staff"]), now=signed_at)
        review = services.review_flags(signed, by=db.session.get(User, team["prescriber"]), note=note)
        return signed.id, to_clinic(signed.signed_at).date(), to_clinic(review.reviewed_at).strftime("%-d %B %Y")
    signed_id, signed_day, reviewed_day = make.run(sign_and_review)
    prescriber = make.query(lambda: db.session.get(User, team["prescriber"]).display_name)
    auth.sign_in(username(make, team["therapist"]))
    page = page_text(client.get(f"/signed-forms/{signed_id}"))
    assert f"Flagged answers reviewed by {prescriber} on {reviewed_day}," in page and f"Review note: {note}" in page
    pdf = client.get(f"/signed-forms/{signed_id}.pdf")
    assert f'-{signed_day.isoformat()}.pdf"' in pdf.headers["Content-Disposition"] and signed_day != utcnow().date()
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(BytesIO(pdf.data)).pages).split())
    assert f"Flagged answers reviewed by {prescriber} on {reviewed_day}," in text and f"Review note: {note}" in text
    assert "Otto" not in text   # the other patient's
    auth.logout()
    auth.portal_sign_in(team["account"])
    assert "Review note" not in page_text(client.get(f"/portal/forms/signed/{signed_id}"))
    portal_pdf = client.get(f"/portal/forms/signed/{signed_id}.pdf")
    assert f'-{signed_day.isoformat()}.pdf"' in portal_pdf.headers["Content-Disposition"]


def _checklist(client, course_id: int) -> str:
    html = client.get(f"/courses/{course_id}").get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split('id="preparation"', 1)[1].split("</table>", 1)[0]))


def test_the_checklist_says_a_withdrawal_and_names_the_agreement_and_a_withdrawn_consent_owes_nothing(
        team, make, auth, client):
    """A new-user review of issue 26 (finding 6): a withdrawn consent was "Still to sign" without the word
    withdrawn, the transport agreement sat under "Informed consent", and a withdrawn consent still owed
    its countersignature (on the checklist's packet line and the packet page)."""
    from ketamine_integration.accounts.models import User
    from ketamine_integration.signed_forms import services
    make.sign_packet(team["course"])
    consent = signed_rows(make, form_id=CONSENT)[-1]
    make.run(lambda: services.withdraw(db.session.get(SignedForm, consent.id), reason="Wants to wait a month.",
                                       recorded_by=db.session.get(User, team["staff"])))
    day = make.query(lambda: to_clinic(db.session.scalars(select(ConsentWithdrawal)).one().withdrawn_at).date())
    auth.sign_in(username(make, team["prescriber"]))
    checklist = _checklist(client, team["course"])
    consents = checklist.split("Consents and agreements", 1)[1].split("Intake assessment", 1)[0]
    assert "Informed consent" not in checklist   # it lists an agreement too: named for what it holds
    assert "Signed: Transport and no-driving agreement v" in consents
    assert f"Withdrawn on {day.isoformat()}: Consent to intravenous (IV) ketamine treatment" in consents
    assert "Still to sign" not in consents
    # the withdrawn consent owes no countersignature; the psychotherapy consent's (the therapist's) still counts
    course_page = page_text(client.get(f"/courses/{team['course']}"))
    # the gate names the item as the checklist does, and a packet's item is signed, not recorded (round 2, 6)
    assert "Consents and agreements still to sign" in course_page and "Informed consent" not in course_page
    line = course_page.split("Intake and consent forms:", 1)[1]
    assert line.startswith(" Partly signed (3 of 4 signed, 2 countersignatures owed)")
    html = client.get(f"/courses/{team['course']}/forms").get_data(as_text=True)
    withdrawn = html.split(f'id="form-{CONSENT}"', 1)[1].split("</li>", 1)[0]
    assert "Withdrawn" in withdrawn and "Countersign" not in withdrawn


def services_status(course_id: int):
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.signed_forms.status import packet_status
    return packet_status(db.session.get(TreatmentCourse, course_id))


def test_nobody_outside_the_care_team_acts_on_its_forms(team, make, auth, client):
    signed = sign_in_portal_and_sign(make, team, CONSENT, consent_answers("Wren Fictional", read_and_understood="no"))
    auth.sign_in(username(make, team["outsider"]))
    for url, data in ((f"/signed-forms/{signed.id}/countersign", {}),
                      (f"/signed-forms/{signed.id}/withdraw", {f"withdraw-{signed.id}-reason": "Told us so."}),
                      (f"/courses/{team['course']}/forms/tablet", {})):
        assert auth.post(url, data).status_code == 403, url
    assert client.get(f"/courses/{team['course']}/forms/tablet").status_code == 403  # nor its confirmation step
    assert (count(make, FormCountersignature), count(make, ConsentWithdrawal), count(make, TabletSigning)) == (0, 0, 0)


def test_staff_end_an_in_clinic_signing_from_their_own_device(team, make, auth, client):
    """The patient left the tablet without pressing "Done": the front desk ends it from the packet page."""
    from tests.conftest import Auth
    tablet = Auth(make.app, make.app.test_client())
    start_tablet(make, tablet, team)
    assert tablet.client.get("/tablet/").status_code == 200
    auth.sign_in(username(make, team["staff"]))
    page = page_text(client.get(f"/courses/{team['course']}/forms"))
    assert "In-clinic signing open" in page and "End the in-clinic signing" in page
    assert auth.post(f"/courses/{team['course']}/forms/tablet/end", {}).status_code == 302
    ended = make.query(lambda: db.session.scalars(select(TabletSigning)).one())
    assert ended.ended_reason == "ended by staff"
    response = tablet.client.get("/tablet/")
    assert response.status_code == 403 and "Wren" not in response.get_data(as_text=True)
    # nothing open now: refused, with why, and nothing written
    refused = auth.post(f"/courses/{team['course']}/forms/tablet/end", {})
    assert refused.status_code == 422 and "No in-clinic signing is open" in page_text(refused)

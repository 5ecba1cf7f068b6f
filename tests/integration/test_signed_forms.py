"""Signed intake and consent forms (issue 26): the packet made at enrolment from each shipped protocol,
signing in the portal and on the clinic tablet, countersigning, flagged answers and their review,
withdrawal and re-signing, new form versions, digests rechecked by `flask signatures verify`, and the
database refusing to change a signed form. Through the services (the pages come with the forms UI)."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import DBAPIError

from ketamine_integration.accounts.models import User
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.courses.services import course_facts, course_protocol, evidence, record_preparation
from ketamine_integration.domain.phases import Phase, gate_blockers
from ketamine_integration.experience import services as dosing_services
from ketamine_integration.experience.models import DosingSession, VitalSigns
from ketamine_integration.db.errors import DomainError
from ketamine_integration.db.types import UTCDateTime, utcnow
from ketamine_integration.extensions import db
from ketamine_integration.portal.models import PortalAccount
from ketamine_integration.signed_forms import services
from ketamine_integration.signed_forms.models import FormPacket, SignedForm, TabletSigning
from ketamine_integration.signed_forms.presented import pdf_response
from ketamine_integration.domain.form_answers import sample_answers
from tests.conftest import page_text, todays_world
from tests.integration.test_forms_waiting import page_text_of
from tests.integration.test_home_pages import _badge, _counts
from tests.factories import newest_version
from tests.integration.test_dosing import _plan, _record_data, local
from tests.integration.test_signed_form_render import pdf_text


SHIPPED_FORMS = Path(__file__).resolve().parents[2] / "forms"
PROTOCOLS = ("iv-ketamine-induction", "im-ketamine-kap", "sublingual-ketamine-kap", "esketamine-trd-rems")


@pytest.fixture
def team(make):
    """A patient on an IV course (its packet made at enrolment) and their care team; the desk. Built once per day
    and worker on each engine (reused_world): a file copy on SQLite, the rows written back by COPY on PostgreSQL."""
    return todays_world(make.app, "signed_forms_team", lambda: _team(make))


def _team(make) -> dict:
    therapist = make.user("therapist", full_name="Wren Calder")
    prescriber = make.user("prescriber", full_name="Idris Mallow")
    desk = make.user("staff", username="desk")
    patient = make.patient(given_name="Juniper", family_name="Ashgrove", therapists=[therapist],
                           prescribers=[prescriber])
    return {"therapist": therapist, "prescriber": prescriber, "desk": desk, "patient": patient,
            "course": make.course(patient, therapist, prescriber)}


def _status(make, course_id):
    return make.query(lambda: services.packet_status(db.session.get(TreatmentCourse, course_id)))


def _blocks(make, course_id) -> list[str]:
    """What stops dosing (its days are written in the clinic's time zone: read in the app)."""
    return make.query(lambda: services.packet_status(db.session.get(TreatmentCourse, course_id)).stops_dosing)


def _sign(make, course_id, form_id, *, by=None, account=None, typed="Juniper Ashgrove", flagged=(), **answers):
    """One form signed: in the portal with `account`, else in the clinic with `by` witnessing."""
    def sign():
        course = db.session.get(TreatmentCourse, course_id)
        form = services.packet_status(course).item(form_id).form
        portal = db.session.get(PortalAccount, account) if account else None
        return services.sign_form(course, form_id, raw_answers={**sample_answers(form, flagged=flagged), **answers},
                                  typed_name=typed, agreed=True, method="portal" if portal else "in_clinic",
                                  portal_account=portal, witness=None if portal else db.session.get(User, by)).id
    return make.run(sign)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_enrolment_asks_for_the_protocol_s_forms(make, protocol):
    therapist, prescriber = make.user("therapist"), make.user("prescriber")
    patient = make.patient(therapists=[therapist], prescribers=[prescriber])
    course = make.course(patient, therapist, prescriber, protocol=protocol)

    def read():
        course_row = db.session.get(TreatmentCourse, course)
        packet = db.session.scalar(select(FormPacket).where(FormPacket.course_id == course))
        named = services.course_protocol(course_row).preparation.forms
        return [f.form_id for f in packet.forms], named
    asked, named = make.query(read)
    assert asked == list(named) and len(asked) >= 4
    route_consent = {"iv-ketamine-induction": "consent-iv-ketamine", "im-ketamine-kap": "consent-im-ketamine",
                     "sublingual-ketamine-kap": "consent-sublingual-ketamine",
                     "esketamine-trd-rems": "consent-intranasal-esketamine"}[protocol]
    assert route_consent in asked and "intake-questionnaire" in asked
    status = _status(make, course)
    assert status.state == "sent" and {i.state for i in status.items} == {"to_sign"}
    # dosing waits for the route consent, the transport agreement and the intake; the psychotherapy (and
    # telehealth) consent only for the preparation gate
    needed = [i.title for i in status.items if i.form_id in (route_consent, "agreement-transport-no-driving",
                                                             "intake-questionnaire")]
    assert _blocks(make, course) == [f"{title}: not signed yet." for title in needed] and len(needed) == 3
    [row] = make.audit_rows(action="forms.packet_create")
    assert row.patient_id == patient and row.object_id is not None


def test_signing_in_the_clinic_and_countersigning(team, make):
    signed = _sign(make, team["course"], "consent-iv-ketamine", by=team["desk"])
    status = _status(make, team["course"])
    item = status.item("consent-iv-ketamine")
    assert (status.state, item.state, item.countersign_role) == ("partly signed", "signed", "prescriber")
    document = make.query(lambda: services.signed_form_document(db.session.get(SignedForm, signed)))
    assert document["signature"]["method"] == "in_clinic" and document["signature"]["portal_account"] is None
    assert document["signature"]["witness"]["id"] == team["desk"]
    assert document["patient"]["name"] == "Juniper Ashgrove" and document["consent"]["agreement"]
    # the form's exact text is in the document, with its version and content hash
    form = item.form
    assert document["consent"]["paragraphs"] == form.consent.paragraphs
    assert (document["form"]["version"], document["form"]["content_sha256"]) == (form.version, form.content_hash)

    def countersign(user_id):
        return services.countersign(db.session.get(SignedForm, signed), by=db.session.get(User, user_id))
    # the wrong role is refused: the therapist and the front desk do not countersign a treatment consent
    for wrong in (team["therapist"], team["desk"]):
        with pytest.raises(DomainError, match="countersigned by a prescriber"):
            make.run(lambda: countersign(wrong))
    make.run(lambda: countersign(team["prescriber"]))
    assert _status(make, team["course"]).item("consent-iv-ketamine").countersign_role is None
    with pytest.raises(DomainError, match="already countersigned"):
        make.run(lambda: countersign(team["prescriber"]))
    assert [r.patient_id for r in make.audit_rows(action="forms.countersign")] == [team["patient"]]


def test_signing_in_the_portal_with_the_patient_s_account(team, make):
    account = make.portal_account(team["patient"])
    signed = _sign(make, team["course"], "consent-psychotherapy-integration", account=account)
    document = make.query(lambda: services.signed_form_document(db.session.get(SignedForm, signed)))
    email = make.query(lambda: db.session.get(PortalAccount, account).email)
    assert document["signature"]["portal_account"] == email and document["signature"]["witness"] is None
    [row] = make.audit_rows(action="forms.sign")
    assert row.patient_id == team["patient"]
    # another patient's account signs nothing of this course
    other = make.portal_account(make.patient())
    with pytest.raises(DomainError, match="your own portal account"):
        _sign(make, team["course"], "intake-questionnaire", account=other)


def test_a_name_typed_in_fullwidth_letters_is_signed_and_stored_as_ascii(team, make, app):
    """Attacker review of issue 26, finding 6: stored as typed, the PDF showed empty boxes for the name."""
    account = make.portal_account(team["patient"])
    signed = _sign(make, team["course"], "consent-psychotherapy-integration", account=account,
                   typed="Ｊｕｎｉｐｅｒ　Ａｓｈｇｒｏｖｅ")
    row = make.query(lambda: db.session.get(SignedForm, signed))
    assert row.typed_name == "Juniper Ashgrove"
    assert json.loads(row.document)["signature"]["typed_name"] == "Juniper Ashgrove"
    with app.test_request_context():
        pdf = pdf_response(db.session.get(SignedForm, signed)).get_data()
    assert "Signed by Juniper Ashgrove" in pdf_text(pdf)


@pytest.mark.parametrize("change, field, message", [
    ({"typed": "Juniper Ash"}, "typed_name", "Type your name as the clinic has it: Juniper Ashgrove."),
    ({"read_and_understood": "perhaps"}, "read_and_understood", "Answer yes or no."),
])
def test_a_refused_signature_names_the_field_and_stores_nothing(team, make, change, field, message):
    form_id = "consent-iv-ketamine"
    item = _status(make, team["course"]).item(form_id)
    question = next((q.id for q in item.form.questions if q.type == "yes_no"), None)
    extra = {question: change[field]} if field != "typed_name" and question else {}
    with pytest.raises(DomainError) as refused:
        _sign(make, team["course"], form_id, by=team["desk"], typed=change.get("typed", "Juniper Ashgrove"), **extra)
    key = field if field == "typed_name" else question
    assert refused.value.reasons[key].startswith(message.split(":")[0])
    assert make.query(lambda: db.session.scalars(select(SignedForm)).all()) == []


def test_flagged_answers_are_shown_and_reviewed_by_a_prescriber(team, make):
    intake = _status(make, team["course"]).item("intake-questionnaire").form
    flagged = intake.flagged_questions[0].id
    signed = _sign(make, team["course"], "intake-questionnaire", by=team["therapist"], flagged={flagged})
    item = _status(make, team["course"]).item("intake-questionnaire")
    assert [flag.question.id for flag in item.flags] == [flagged] and item.flags_reviewed is None
    assert any("flagged answer to be reviewed" in r for r in _blocks(make, team["course"]))

    def review(user_id, note="Discussed with the patient; cleared to proceed."):
        return services.review_flags(db.session.get(SignedForm, signed), by=db.session.get(User, user_id), note=note)
    with pytest.raises(DomainError, match="reviewed by a prescriber"):
        make.run(lambda: review(team["therapist"]))
    with pytest.raises(DomainError) as short:
        make.run(lambda: review(team["prescriber"], note="ok"))
    assert "note" in short.value.reasons

    def countersign():
        return services.countersign(db.session.get(SignedForm, signed), by=db.session.get(User, team["prescriber"]))
    # the countersignature vouches for the answers: not before the flagged ones are reviewed
    with pytest.raises(DomainError, match="^Review the flagged answers first.$"):
        make.run(countersign)
    assert make.query(lambda: db.session.get(SignedForm, signed).countersignature) is None
    make.run(lambda: review(team["prescriber"]))
    assert _status(make, team["course"]).item("intake-questionnaire").flags_reviewed is not None
    assert not any("flagged" in r for r in _blocks(make, team["course"]))
    make.run(countersign)
    assert _status(make, team["course"]).item("intake-questionnaire").countersign_role is None


def test_withdrawal_blocks_dosing_and_signing_again_restores(team, make):
    make.sign_packet(team["course"])
    status = _status(make, team["course"])
    assert status.state == "signed" and _blocks(make, team["course"]) == []
    signed = status.item("consent-iv-ketamine").signed.id

    def withdraw():
        return services.withdraw(db.session.get(SignedForm, signed), reason="Patient phoned: wants to stop.",
                                 recorded_by=db.session.get(User, team["desk"]))
    make.run(withdraw)
    status = _status(make, team["course"])
    assert status.item("consent-iv-ketamine").state == "withdrawn" and status.state == "partly signed"
    assert any("withdrew this consent" in r for r in _blocks(make, team["course"]))
    with pytest.raises(DomainError, match="already withdrawn"):
        make.run(withdraw)
    _sign(make, team["course"], "consent-iv-ketamine", by=team["desk"])
    status = _status(make, team["course"])
    assert status.state == "signed" and _blocks(make, team["course"]) == []
    # a consent whose withdrawal does not stop dosing (telehealth) is not in an IV packet; the intake is never
    # withdrawn
    intake = status.item("intake-questionnaire").signed.id
    with pytest.raises(DomainError, match="Only a consent"):
        make.run(lambda: services.withdraw(db.session.get(SignedForm, intake), reason="x",
                                           recorded_by=db.session.get(User, team["desk"])))


def test_tablet_signing_session(team, make):
    def start():
        session, token = services.start_tablet_signing(db.session.get(TreatmentCourse, team["course"]),
                                                       by=db.session.get(User, team["desk"]))
        return session.id, token
    first, first_token = make.run(start)
    second, token = make.run(start)  # a second tablet for the course ends the first
    assert make.query(lambda: services.tablet_signing_for(first_token)) is None
    assert make.query(lambda: services.tablet_signing_for(token)).id == second
    assert make.query(lambda: services.tablet_signing_for(token, now=utcnow() + timedelta(minutes=31))) is None
    stored = make.query(lambda: db.session.get(TabletSigning, second))
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in stored.token_hash
    make.sign_packet(team["course"], witness_id=team["desk"])
    make.run(lambda: services.end_tablet_signing(db.session.get(TabletSigning, second), reason="completed"))
    assert make.query(lambda: db.session.get(TabletSigning, second)).ended_reason == "completed"
    assert make.query(lambda: db.session.get(TabletSigning, first)).ended_reason == "ended by staff"
    assert len(make.audit_rows(action="forms.tablet_end")) == 2


@pytest.mark.both_engines  # raw SQL behind the triggers
def test_digests_are_verified_and_a_tampered_row_is_named(team, make, app):
    from tests.security.append_only_world import as_database_owner
    ids = make.sign_packet(team["course"])
    make.run(lambda: services.countersign(db.session.get(SignedForm, ids[0]),
                                          by=db.session.get(User, team["prescriber"])))
    clean = app.test_cli_runner().invoke(args=["signatures", "verify"])
    assert clean.exit_code == 0, clean.output
    assert f"{len(ids)} of {len(ids)} signed forms verified." in clean.output
    assert "1 of 1 signed form countersignatures verified." in clean.output
    with as_database_owner(app) as conn:
        conn.execute(text("UPDATE signed_forms SET document = replace(document, 'Juniper', 'Janet') WHERE id = :id"),
                     {"id": ids[1]})
        conn.execute(text("UPDATE form_countersignatures SET role = 'staff'"))
    broken = app.test_cli_runner().invoke(args=["signatures", "verify"])
    assert broken.exit_code == 1
    assert f"MISMATCH signed form {ids[1]} (signed_forms): content differs from what was signed" in broken.output
    assert "MISMATCH form countersignature" in broken.output


def _other_course(make, team) -> tuple[int, int]:
    """(another patient, their course) with the same clinicians: somewhere to move a signed row to."""
    other = make.patient(given_name="Odile", family_name="Brask", therapists=[team["therapist"]],
                         prescribers=[team["prescriber"]])
    return other, make.course(other, team["therapist"], team["prescriber"])


# each column a signed row repeats from its document, changed by hand: (SET clause, the column named)
TAMPERED_COLUMNS = [
    ("patient_id = :other_patient", "patient_id"),          # the signature moved to another patient
    ("course_id = :other_course", "course_id"),             # ... or to another patient's course
    ("form_id = 'consent-rewritten'", "form_id"),
    ("form_version = form_version + 1", "form_version"),    # passed off as a later version
    ("form_content_hash = :hash", "form_content_hash"),
    ("kind = 'consent'", "kind"),                           # the intake read as a consent
    ("title = 'Something else'", "title"),
    ("signed_at = :moment", "signed_at"),                   # dated a day earlier
    ("typed_name = 'Someone Else'", "typed_name"),
    ("witness_id = :witness", "witness_id"),                # witnessed by someone who was not there
    ("flagged_count = 0", "flagged_count"),                 # its flag hidden from the waiting list
]


@pytest.mark.both_engines  # raw SQL behind the triggers
@pytest.mark.parametrize("assignment, column", TAMPERED_COLUMNS, ids=[c for _a, c in TAMPERED_COLUMNS])
def test_verify_names_a_column_changed_against_the_signed_document(team, make, app, assignment, column):
    from tests.security.append_only_world import as_database_owner
    other_patient, other_course = _other_course(make, team)
    intake = make.query(lambda: services.packet_status(db.session.get(TreatmentCourse, team["course"]))
                        .item("intake-questionnaire").form)
    [signed] = make.sign_packet(team["course"], only={"intake-questionnaire"},
                                flagged={intake.flagged_questions[0].id})
    assert make.query(lambda: db.session.get(SignedForm, signed)).flagged_count == 1
    clean = app.test_cli_runner().invoke(args=["signatures", "verify"])
    assert clean.exit_code == 0, clean.output
    params = {"id": signed, "other_patient": other_patient, "other_course": other_course, "hash": "0" * 64,
              "witness": team["desk"],
              "moment": make.query(lambda: db.session.get(SignedForm, signed)).signed_at - timedelta(days=1)}
    statement = text(f"UPDATE signed_forms SET {assignment} WHERE id = :id")
    if ":moment" in assignment:  # an instant bound through the app's column type (both engines)
        statement = statement.bindparams(bindparam("moment", type_=UTCDateTime()))
    with as_database_owner(app) as conn:
        assert conn.execute(statement, params).rowcount == 1
    broken = app.test_cli_runner().invoke(args=["signatures", "verify"])
    assert broken.exit_code == 1
    assert "0 of 1 signed forms verified." in broken.output
    named = [line for line in broken.output.splitlines()
             if line.startswith(f"MISMATCH signed form {signed} (signed_forms):")]
    assert named and all(column in line for line in named), broken.output
    # the document itself is untouched: only the column is named, not the digest
    assert "content differs from what was signed" not in broken.output


def test_the_waiting_list_finds_flags_by_the_column_written_at_signing(team, make):
    from ketamine_integration.signed_forms import waiting
    intake = make.query(lambda: services.packet_status(db.session.get(TreatmentCourse, team["course"]))
                        .item("intake-questionnaire").form)
    flagged = {q.id for q in intake.flagged_questions}
    ids = make.sign_packet(team["course"], flagged=flagged)
    counts = make.query(lambda: {s.form_id: s.flagged_count for s in db.session.scalars(select(SignedForm))})
    assert counts["intake-questionnaire"] == len(flagged) > 0
    assert all(count == 0 for form_id, count in counts.items() if form_id != "intake-questionnaire")
    prescriber = lambda: db.session.get(User, team["prescriber"])  # noqa: E731
    assert make.query(lambda: db.session.scalar(waiting.count_flags_to_review(prescriber()))) == 1
    [listed] = make.query(lambda: waiting.flags_to_review(prescriber()))
    assert listed.title == intake.title and len(ids) >= 1


@pytest.mark.both_engines  # database triggers refuse raw SQL
def test_a_signed_form_refuses_update_and_delete_in_the_database(team, make):
    [signed] = make.sign_packet(team["course"], only={"intake-questionnaire"})
    for statement in ("UPDATE signed_forms SET typed_name = 'Someone Else' WHERE id = :id",
                      "UPDATE signed_forms SET flagged_count = 0 WHERE id = :id",
                      "DELETE FROM signed_forms WHERE id = :id"):
        with pytest.raises(DBAPIError):
            make.run(lambda: db.session.execute(text(statement), {"id": signed}))
    assert make.query(lambda: db.session.get(SignedForm, signed)).typed_name == "Juniper Ashgrove"


def _front_desk_count() -> tuple[int, set[int]]:
    """The front desk's count (SQL) and the courses its list names."""
    from ketamine_integration.signed_forms.waiting import count_courses_with_forms_to_sign, courses_with_forms_to_sign
    return (db.session.scalar(count_courses_with_forms_to_sign()),
            {c.course_id for c in courses_with_forms_to_sign(limit=50)})


@pytest.mark.parametrize("resign", [False, True])
def test_the_front_desks_count_of_forms_to_sign_is_what_each_packet_says(team, make, app, tmp_path, resign):
    """The home page's count of courses with forms to sign (one SQL statement) against packet_status: a
    packet signed in full, then a newer version asking again or not; one signed but for a withdrawn
    consent; one never signed; one whose course has ended."""
    make.sign_packet(team["course"])
    withdrawn_course = make.course(team["patient"], team["therapist"], team["prescriber"])
    make.sign_packet(withdrawn_course)
    consent = make.query(lambda: db.session.scalar(select(SignedForm.id).where(
        SignedForm.course_id == withdrawn_course, SignedForm.form_id == "consent-iv-ketamine")))
    make.run(lambda: services.withdraw(db.session.get(SignedForm, consent), reason="Changed my mind.",
                                       recorded_by=db.session.get(User, team["desk"]), now=utcnow()))
    other = make.patient(given_name="Rowan", family_name="Untouched", therapists=[team["therapist"]],
                         prescribers=[team["prescriber"]])
    unsigned = make.course(other, team["therapist"], team["prescriber"])
    ended = make.course(make.patient(given_name="Ended", family_name="Course", therapists=[team["therapist"]],
                                     prescribers=[team["prescriber"]]), team["therapist"], team["prescriber"])
    make.run(lambda: setattr(db.session.get(TreatmentCourse, ended), "phase", Phase.DISCONTINUED.value))
    assert make.query(_front_desk_count) == (2, {withdrawn_course, unsigned})
    forms = tmp_path / "forms"
    shutil.copytree(SHIPPED_FORMS, forms)
    _next_version(forms, "consent-iv-ketamine", resign=resign)
    app.config["FORMS_DIR"] = str(forms)
    expected = {withdrawn_course, unsigned} | ({team["course"]} if resign else set())
    assert make.query(_front_desk_count) == (len(expected), expected)
    assert {c for c in (team["course"], withdrawn_course, unsigned)
            if _status(make, c).to_sign} == expected  # what each packet says


def test_a_form_file_changed_since_the_desks_counts_were_built_counts_on_its_next_page(team, make, auth, client,
                                                                                       app, tmp_path, monkeypatch):
    """home.waiting builds a user's counts once, with the forms library's (form, version) pairs in them: a newer
    version of the IV consent asking those who signed to sign again, added since, counts on the next page."""
    make.sign_packet(team["course"])
    make.course(make.patient(given_name="Rowan", family_name="Unsigned"), team["therapist"], team["prescriber"])
    auth.sign_in("desk")
    assert _counts(client.get("/").get_data(as_text=True))["course with forms still to sign"][0] == 1
    forms = tmp_path / "forms"
    shutil.copytree(SHIPPED_FORMS, forms)
    _next_version(forms, "consent-iv-ketamine", resign=True)
    monkeypatch.setitem(app.config, "FORMS_DIR", str(forms))
    html = client.get("/").get_data(as_text=True)
    assert _counts(html)["courses with forms still to sign"][0] == 2 and _badge(html) == "2 items waiting"


@pytest.mark.parametrize("resign, state", [(False, "signed"), (True, "sign_again")])
def test_a_new_form_version_asks_again_only_when_the_file_says_so(team, make, app, tmp_path, resign, state):
    make.sign_packet(team["course"])
    forms = tmp_path / "forms"
    shutil.copytree(SHIPPED_FORMS, forms)
    version = _next_version(forms, "consent-iv-ketamine", resign=resign)
    app.config["FORMS_DIR"] = str(forms)
    item = _status(make, team["course"]).item("consent-iv-ketamine")
    assert (item.form.version, item.state) == (version, state)
    assert (_status(make, team["course"]).state == "signed") is (not resign)
    if resign:
        signed = _sign(make, team["course"], "consent-iv-ketamine", by=team["desk"])
        document = make.query(lambda: json.loads(db.session.get(SignedForm, signed).document))
        assert document["form"]["version"] == version and _status(make, team["course"]).state == "signed"
    else:
        with pytest.raises(DomainError, match="already signed"):
            _sign(make, team["course"], "consent-iv-ketamine", by=team["desk"])


def test_a_course_on_a_version_without_forms_has_no_packet(team, make, app, tmp_path):
    protocols = tmp_path / "protocols"
    protocols.mkdir()
    source = (Path(app.config["PROTOCOLS_DIR"]) / "iv-ketamine-induction.yaml").read_text()
    start, end = source.index("  # signed before the first dose"), source.index("experience:")
    version = make.query(lambda: newest_version("iv-ketamine-induction"))
    (protocols / "iv.yaml").write_text(source[:start].replace(f"version: {version}", f"version: {version + 1}")
                                       + source[end:])
    app.config["PROTOCOLS_DIR"] = str(protocols)
    course = make.course(team["patient"], team["therapist"], team["prescriber"])
    assert _status(make, course) is None
    assert make.query(lambda: db.session.scalar(select(FormPacket).where(FormPacket.course_id == course))) is None


@pytest.fixture
def dosing(make):
    """A course moved to experience by overriding its preparation gate, with nothing signed. Built once per day
    and worker on each engine (reused_world)."""
    return todays_world(make.app, "signed_forms_dosing", lambda: _dosing(make))


def _dosing(make) -> dict:
    ids = {"therapist": make.user("therapist", username="ther", full_name="Hazel Quint"),
           "prescriber": make.user("prescriber", username="pres", full_name="Orrin Vale"),
           "desk": make.user("staff", username="desk")}
    ids["patient"] = make.patient(given_name="Juniper", family_name="Ashgrove")
    ids["course"] = make.course(ids["patient"], ids["therapist"], ids["prescriber"], phase="experience", signed=False)
    return ids


def _plan_one(make, course_id, days_ahead: float) -> list[int]:
    return make.dosing_plan(course_id, first_start=local(-days_ahead, 9), days_between=2, count=1)


CONSENTS = {"consent-iv-ketamine", "agreement-transport-no-driving"}
INTAKE = "intake-questionnaire"
REFUSED = "No dose can be planned, moved or started: "


def test_an_overridden_gate_plans_no_dose_before_the_consents_and_intake_are_signed(dosing, make, auth, client):
    overridden = make.query(lambda: db.session.get(TreatmentCourse, dosing["course"]).transitions[-1].overridden)
    assert "Forms still to sign" in overridden
    titles = {i.form_id: i.title for i in _status(make, dosing["course"]).items}
    with pytest.raises(DomainError) as refused:
        _plan_one(make, dosing["course"], 3)
    [message] = refused.value.reasons.values()
    assert message == REFUSED + " ".join(f"{titles[f]}: not signed yet." for f in (
        "consent-iv-ketamine", "agreement-transport-no-driving", INTAKE))
    # through the plan form: refused with the same words, nothing planned; the course page and the packet page say them
    auth.sign_in("pres")
    response = _plan(auth, dosing["course"], local(-3, 9), count=1)
    assert response.status_code == 422 and message in page_text(response)
    assert make.query(lambda: db.session.scalars(select(DosingSession)).all()) == []
    assert f"Dosing refused. {message}" in page_text(client.get(f"/courses/{dosing['course']}"))
    assert message in page_text(client.get(f"/courses/{dosing['course']}/forms"))
    # the consents signed, the intake (the contraindication screen) still not: refused, naming it alone
    make.sign_packet(dosing["course"], only=CONSENTS)
    with pytest.raises(DomainError, match=f"^{REFUSED}{titles[INTAKE]}: not signed yet.$"):
        _plan_one(make, dosing["course"], 3)
    # the intake signed too: planned, the psychotherapy consent still unsigned (the gate's, overridden)
    make.sign_packet(dosing["course"], only={INTAKE})
    assert len(_plan_one(make, dosing["course"], 3)) == 1
    assert _status(make, dosing["course"]).item("consent-psychotherapy-integration").state == "to_sign"
    assert "Dosing refused" not in page_text(client.get(f"/courses/{dosing['course']}"))


def test_a_flagged_answer_stops_planning_until_a_prescriber_reviews_it(dosing, make):
    make.sign_packet(dosing["course"], only=CONSENTS)
    intake = _status(make, dosing["course"]).item(INTAKE).form
    [signed] = make.sign_packet(dosing["course"], only={INTAKE}, flagged={intake.flagged_questions[0].id})
    with pytest.raises(DomainError, match="flagged answer to be reviewed by a prescriber"):
        _plan_one(make, dosing["course"], 6)
    make.run(lambda: services.review_flags(db.session.get(SignedForm, signed), by=db.session.get(User, dosing[
        "prescriber"]), note="Reviewed with the patient: no psychosis history of concern."))
    assert len(_plan_one(make, dosing["course"], 6)) == 1


def _next_version(forms: Path, form_id: str, *, resign: bool) -> int:
    """A copy of the newest shipped version of `form_id` in `forms`, one version higher, asking those who
    signed an earlier one to sign again or not; returns its version."""
    files = [f for f in forms.glob("*.yaml") if f"form: {form_id}\n" in f.read_text()]
    newest = max(files, key=lambda f: yaml.safe_load(f.read_text())["version"])
    source = newest.read_text()
    version = yaml.safe_load(source)["version"]
    newer = re.sub(r"^version: \d+$", f"version: {version + 1}", source, count=1, flags=re.M)
    newer = re.sub(r"^resign_on_change: (true|false)$", f"resign_on_change: {'true' if resign else 'false'}", newer,
                   count=1, flags=re.M)
    (forms / f"{form_id}-v{version + 1}.yaml").write_text(newer)
    return version + 1


def _new_versions(app, tmp_path, *form_ids: str) -> None:
    """A new version of each shipped form named, asking those who signed an earlier one to sign again."""
    forms = tmp_path / "forms"
    shutil.copytree(SHIPPED_FORMS, forms)
    for form_id in form_ids:
        _next_version(forms, form_id, resign=True)
    app.config["FORMS_DIR"] = str(forms)


def test_a_form_to_sign_again_still_doses_until_its_new_signature_raises_a_flag(dosing, make, auth, client, app,
                                                                              tmp_path):
    make.sign_packet(dosing["course"])
    [planned] = _plan_one(make, dosing["course"], -3)  # three days ago, when _record_data starts it
    _new_versions(app, tmp_path, INTAKE, "consent-iv-ketamine")
    status = _status(make, dosing["course"])
    assert {status.item(f).state for f in (INTAKE, "consent-iv-ketamine")} == {"sign_again"}
    # the gate asks for the new versions; what the patient signed still lets a dose be planned and moved
    assert set(status.to_sign) == {status.item(INTAKE).title, status.item("consent-iv-ketamine").title}
    assert _blocks(make, dosing["course"]) == []
    assert len(_plan_one(make, dosing["course"], 1)) == 1
    # the new intake signed with a flagged answer: no dose planned, moved or started until it is reviewed
    intake = status.item(INTAKE).form
    [signed] = make.sign_packet(dosing["course"], only={INTAKE}, flagged={intake.flagged_questions[0].id})
    with pytest.raises(DomainError, match="flagged answer to be reviewed by a prescriber"):
        _plan_one(make, dosing["course"], 9)
    with pytest.raises(DomainError, match=REFUSED):
        make.run(lambda: dosing_services.reschedule(db.session.get(DosingSession, planned), planned_start=local(-4, 9),
                                                    reason=None, by=db.session.get(User, dosing["prescriber"])))
    auth.sign_in("pres")
    # said before anything is typed (a new-user review, finding 2): on the planned dose's record, above the
    # course page's plan form, in the refusal's own words, with an icon; the forms stay usable
    refusal = make.query(lambda: services.dosing_refusal(db.session.get(TreatmentCourse, dosing["course"])))
    assert refusal.startswith(REFUSED) and "flagged answer to be reviewed by a prescriber" in refusal
    record = client.get(f"/dosing/{planned}").get_data(as_text=True)
    warning = re.search(r'<p class="flag" role="status" id="dosing-refused">(.*?)</p>', record, re.S).group(1)
    assert 'class="icon' in warning and f"Dosing refused. {refusal}" in page_text_of(warning)
    form = record.split('id="dosing-refused"', 1)[1]
    assert record.index("<h1") < record.index('id="dosing-refused"') and 'id="record-session"' in form
    assert "disabled" not in form
    course_page = client.get(f"/courses/{dosing['course']}").get_data(as_text=True)
    plan = course_page.split('id="plan-refused"', 1)[1]
    assert f"Dosing refused. {refusal}" in page_text_of(plan.split("</p>", 1)[0])
    assert plan.index("Plan dosing sessions") > 0 and "disabled" not in plan.split("</details>", 1)[0]
    # a Plan sent anyway: refused, and said at the top of the page it reloads, linked to the form far below
    # (a new-user review of issue 26, round 2, 4), not only inside the form
    refused = _plan(auth, dosing["course"], local(2, 9), count=1)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    top = re.search(r'<div class="form-errors" role="alert" id="plan-refused-top">(.*?)</div>', html, re.S).group(1)
    assert html.index('id="plan-refused-top"') < html.index('id="todo-h"')
    assert "Dosing sessions not planned; nothing was saved." in page_text_of(top) and REFUSED in page_text_of(top)
    assert 'href="#plan-dosing"' in top and '<details class="card plan" id="plan-dosing" open>' in html
    session = make.query(lambda: db.session.get(DosingSession, planned))
    started = auth.post(f"/dosing/{planned}", _record_data(session, dosing["prescriber"]))
    assert started.status_code == 422 and REFUSED in page_text(started)
    assert make.query(lambda: db.session.get(DosingSession, planned).status) == "planned"
    make.run(lambda: services.review_flags(db.session.get(SignedForm, signed), by=db.session.get(User, dosing[
        "prescriber"]), note="Reviewed with the patient: no psychosis history of concern."))
    assert 'id="dosing-refused"' not in client.get(f"/dosing/{planned}").get_data(as_text=True)
    assert 'id="plan-refused"' not in client.get(f"/courses/{dosing['course']}").get_data(as_text=True)
    session = make.query(lambda: db.session.get(DosingSession, planned))
    started = auth.post(f"/dosing/{planned}", _record_data(session, dosing["prescriber"]))
    assert started.status_code == 302, page_text(started)


def test_a_withdrawn_consent_stops_new_doses_never_a_record_under_way(dosing, make, auth):
    make.sign_packet(dosing["course"])
    [planned] = make.dosing_plan(dosing["course"], first_start=local(3, 9), days_between=2, count=1)
    auth.sign_in("pres")
    session = make.query(lambda: db.session.get(DosingSession, planned))
    assert auth.post(f"/dosing/{planned}", _record_data(session, dosing["prescriber"])).status_code == 302
    consent = _status(make, dosing["course"]).item("consent-iv-ketamine").signed.id
    make.run(lambda: services.withdraw(db.session.get(SignedForm, consent), reason="Changed my mind about IV.",
                                       recorded_by=db.session.get(User, dosing["desk"])))
    with pytest.raises(DomainError, match="withdrew this consent"):
        _plan_one(make, dosing["course"], 1)
    # the dose under way keeps its safety record: its vitals are still saved
    session = make.query(lambda: db.session.get(DosingSession, planned))
    again = auth.post(f"/dosing/{planned}", _record_data(session, dosing["prescriber"], **{
        "post_40-heart_rate": "84", "vitals_correction_reason": "Transcription error; monitor showed 84."}))
    assert again.status_code == 302, page_text(again)
    assert make.query(lambda: db.session.scalar(select(VitalSigns.heart_rate).where(
        VitalSigns.dosing_session_id == planned, VitalSigns.timepoint == "post_40"))) == 84
    _sign(make, dosing["course"], "consent-iv-ketamine", by=dosing["desk"])
    assert len(_plan_one(make, dosing["course"], 1)) == 1


@pytest.mark.parametrize("damage", [
    "broken",   # an edit left a stray key: the file no longer loads
    "missing",  # the file removed from forms/
])
def test_a_withdrawn_consent_whose_form_file_cannot_be_read_still_stops_dosing(dosing, make, app, tmp_path, damage):
    """Attacker review of issue 26, finding 1: the withdrawal counted only when the signed form's definition was
    found, so breaking or removing the consent's file let doses be planned again. It fails closed."""
    make.sign_packet(dosing["course"])
    consent = _status(make, dosing["course"]).item("consent-iv-ketamine").signed.id
    make.run(lambda: services.withdraw(db.session.get(SignedForm, consent), reason="I withdraw my consent.",
                                       recorded_by=db.session.get(User, dosing["desk"])))
    forms = tmp_path / "forms"
    shutil.copytree(SHIPPED_FORMS, forms)
    for path in [f for f in forms.glob("*.yaml") if "form: consent-iv-ketamine\n" in f.read_text()]:  # each version
        if damage == "broken":
            path.write_text(path.read_text() + "\nstray_key: oops\n")
        else:
            path.unlink()
    app.config["FORMS_DIR"] = str(forms)
    assert _status(make, dosing["course"]).item("consent-iv-ketamine").signed_definition is None
    [reason] = _blocks(make, dosing["course"])
    assert "the patient withdrew this form on" in reason and "its form file is missing or cannot be used" in reason
    with pytest.raises(DomainError, match=REFUSED + ".*form file is missing or cannot be used"):
        _plan_one(make, dosing["course"], 3)
    assert make.query(lambda: db.session.scalars(select(DosingSession)).all()) == []


def _calls_in_order(monkeypatch) -> list[str]:
    """The dosing services' course locks and forms checks, in the order they happen."""
    calls = []
    real_lock, real_refusal = dosing_services.lock_course, dosing_services.dosing_refusal
    monkeypatch.setattr(dosing_services, "lock_course", lambda course: (calls.append("lock"), real_lock(course))[1])
    monkeypatch.setattr(dosing_services, "dosing_refusal",
                        lambda course: (calls.append("forms"), real_refusal(course))[1])
    return calls


def test_every_path_that_plans_moves_or_starts_a_dose_reads_the_forms_under_the_course_lock(dosing, make, auth,
                                                                                             monkeypatch):
    """Attacker review of issue 26, finding 3: plan_series read the forms before it took the course lock, so a
    withdrawal committed in between (it takes the lock too) left a planned dose. Planning, moving and starting
    the record (save_record) each take the lock first."""
    make.sign_packet(dosing["course"])
    [planned] = _plan_one(make, dosing["course"], 3)
    calls = _calls_in_order(monkeypatch)
    _plan_one(make, dosing["course"], 1)
    assert calls[:2] == ["lock", "forms"], calls
    calls.clear()
    make.run(lambda: dosing_services.reschedule(db.session.get(DosingSession, planned), planned_start=local(-4, 9),
                                                reason=None, by=db.session.get(User, dosing["prescriber"])))
    assert calls[:2] == ["lock", "forms"], calls
    calls.clear()
    auth.sign_in("pres")
    session = make.query(lambda: db.session.get(DosingSession, planned))
    started = auth.post(f"/dosing/{planned}", _record_data(session, dosing["prescriber"]))
    assert started.status_code == 302, page_text(started)
    assert calls[:2] == ["lock", "forms"], calls


@pytest.mark.both_engines  # row locks: PostgreSQL's
def test_a_withdrawal_committed_while_a_plan_waits_for_the_course_lock_refuses_the_plan(dosing, make, app,
                                                                                        databases):
    """Finding 3 with two real transactions: the withdrawal holds the course's lock, the plan waits for it, the
    withdrawal commits; the plan must then see it and plan nothing."""
    if databases.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite serialises whole transactions)")
    make.sign_packet(dosing["course"])
    consent = _status(make, dosing["course"]).item("consent-iv-ketamine").signed.id
    withdrawn, release, outcome = threading.Event(), threading.Event(), {}

    def withdraw():
        with app.app_context():
            services.withdraw(db.session.get(SignedForm, consent), reason="Please stop the treatment.",
                              recorded_by=db.session.get(User, dosing["desk"]))
            db.session.flush()
            withdrawn.set()
            release.wait(60)
            db.session.commit()

    def plan():
        try:
            outcome["planned"] = _plan_one(make, dosing["course"], 3)
        except DomainError as refusal:
            outcome["refused"] = str(refusal.reasons)

    withdrawer = threading.Thread(target=withdraw)
    withdrawer.start()
    assert withdrawn.wait(60)
    planner = threading.Thread(target=plan)
    planner.start()
    try:
        assert _a_session_waits_on_a_lock(app), "the plan never waited for the course lock"
    finally:
        release.set()
        withdrawer.join(60)
        planner.join(60)
    assert "withdrew this consent" in outcome.get("refused", ""), outcome
    assert make.query(lambda: db.session.scalars(select(DosingSession)).all()) == []


def _a_session_waits_on_a_lock(app) -> bool:
    """True once another connection waits for a course's row lock (lock_course; polled, False after about 30 s)."""
    with app.app_context():
        for _ in range(600):
            waiting = db.session.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid() "
                "AND query ILIKE '%treatment_courses%FOR NO KEY UPDATE%'"))
            db.session.rollback()
            if waiting:
                return True
            time.sleep(0.05)
    return False


def test_the_preparation_gate_and_checklist_follow_the_signed_forms(team, make, auth, client):
    def gate():
        course = db.session.get(TreatmentCourse, team["course"])
        facts = course_facts(course)
        return facts.forms_to_sign, facts.preparation_items_done, gate_blockers(
            course_protocol(course), facts, Phase.EXPERIENCE)
    waiting, done, blockers = make.query(gate)
    assert set(waiting) >= {"Intake questionnaire and health screen"} and "informed_consent" not in done
    assert any(b.startswith("Forms still to sign: ") for b in blockers)
    # consent and intake are not ticked by hand on a protocol naming forms
    with pytest.raises(DomainError, match="met when the patient has signed the course's consent forms"):
        make.run(lambda: record_preparation(db.session.get(TreatmentCourse, team["course"]), item="informed_consent",
                                            completed_on=utcnow().date(), note=None,
                                            by=db.session.get(User, team["therapist"]), today=utcnow().date()))
    make.sign_packet(team["course"], only={"intake-questionnaire"})
    waiting, done, _ = make.query(gate)
    assert "intake_assessment" in done and "informed_consent" not in done
    assert "Intake questionnaire and health screen" not in waiting
    make.sign_packet(team["course"])
    waiting, done, blockers = make.query(gate)
    assert waiting == () and {"informed_consent", "intake_assessment"} <= done
    assert not any("Forms" in b or "Informed consent" in b for b in blockers)
    found = make.query(lambda: evidence(db.session.get(TreatmentCourse, team["course"])).items["informed_consent"])
    assert found.summary.startswith("Signed: ") and " v2 on " in found.summary

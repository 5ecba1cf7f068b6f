"""Figure: raw-SQL tampering with the signed forms' records, and what `flask signatures verify` names
(issue 26, attack finding 2: 10 of 11 went unnamed, among them a forged review in a therapist's name and a
deleted withdrawal, each of which let dosing go ahead). Each record is anchored to the HMAC-chained audit
row of its creation, which names it and carries a digest of what it said: verify names a record the trail
names that is gone, one that no longer matches its digest, one the trail never named (a forged INSERT, which
the triggers let through), and a review or countersignature by someone who could not have written it.
"""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from ketamine_integration.accounts.models import User, UserRole
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.append_only import AUDITED_DIGEST_PREFIX, audited_digest
from ketamine_integration.db.types import utcnow
from ketamine_integration.domain.form_answers import document_digest, document_json, sample_answers
from ketamine_integration.extensions import db
from ketamine_integration.portal.models import PortalAccount
from ketamine_integration.signed_forms import services
from ketamine_integration.signed_forms.models import SignedForm
from ketamine_integration.signed_forms.services import countersignature_digest
from tests.conftest import todays_world
from tests.security.append_only_world import as_database_owner

# On SQLite and PostgreSQL: the triggers and the way the owner lifts them differ.
pytestmark = pytest.mark.both_engines

TREATMENT_CONSENT, INTAKE, TRANSPORT = "consent-iv-ketamine", "intake-questionnaire", "agreement-transport-no-driving"
#: the intake's questions that flag an answer (sample_answers flags those named)
FLAGGED = {"history_of_psychosis", "psychosis_history", "psychosis"}


@pytest.fixture
def forms(make):
    """A course whose intake flags an answer (reviewed by its prescriber), whose transport agreement was
    signed on the tablet, and whose treatment consent, signed in the portal, was countersigned by the
    prescriber and then withdrawn (recorded by the front desk): each through the services, as the pages do.
    Another patient's course whose packet is signed, its intake flagging an answer nobody has reviewed yet.

    Every test here starts from these same records: built once per engine, worker and clinic day, then
    loaded from its snapshot (tests.conftest.reused_world), so each test still meets them untouched."""
    return todays_world(make.app, "signed_forms_tampering", lambda: _forms(make))


def _forms(make) -> dict[str, int]:
    ther, pres = make.user("therapist", username="ther"), make.user("prescriber", username="pres")
    desk = make.user("staff", username="desk")
    patient = make.patient(given_name="Juniper", family_name="Ashgrove")
    course = make.course(patient, ther, pres)
    account = make.portal_account(patient)
    other = make.patient(given_name="Otto", family_name="Other")
    other_account, other_course = make.portal_account(other), make.course(other, ther, pres)
    make.sign_packet(course, only={TRANSPORT, INTAKE}, flagged=FLAGGED)
    make.sign_packet(other_course, flagged=FLAGGED)

    def follow_up():
        c = db.session.get(TreatmentCourse, course)
        status = services.packet_status(c)
        prescriber = db.session.get(User, pres)
        consent = services.sign_form(c, TREATMENT_CONSENT, raw_answers=sample_answers(status.item(TREATMENT_CONSENT).form),
                                     typed_name="Juniper Ashgrove", agreed=True, method="portal",
                                     portal_account=db.session.get(PortalAccount, account))
        countersignature = services.countersign(consent, by=prescriber)
        intake = status.item(INTAKE).signed
        review = services.review_flags(intake, by=prescriber, note="Reviewed with the patient in person.")
        withdrawal = services.withdraw(consent, reason="Changed my mind", recorded_by=db.session.get(User, desk))
        other_intake = services.packet_status(db.session.get(TreatmentCourse, other_course)).item(INTAKE).signed
        return dict(consent=consent.id, intake=intake.id, transport=status.item(TRANSPORT).signed.id,
                    countersignature=countersignature.id, review=review.id, withdrawal=withdrawal.id,
                    other_intake=other_intake.id)
    return dict(ther=ther, pres=pres, desk=desk, course=course, other_course=other_course,
                other_account=other_account, **make.run(follow_up))


def _verify(app) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["signatures", "verify"])
    return result.exit_code, result.output


def _row(conn, table: str, row_id: int) -> dict:
    return dict(conn.execute(select(db.metadata.tables[table]).where(db.metadata.tables[table].c.id == row_id))
                .one()._mapping)


def _insert(conn, table: str, values: dict) -> int:
    rows = db.metadata.tables[table]
    conn.execute(rows.insert().values(**values))
    return conn.execute(select(rows.c.id).order_by(rows.c.id.desc()).limit(1)).scalar()


# -- what the owner does (with the triggers lifted) or anyone with INSERT does (with them in place) --

def forge_review(app, ids) -> dict:
    """A review of the other patient's flagged intake in the therapist's name, inserted with the triggers in
    place (they let INSERT through): the flag no longer stops that course's dosing."""
    with app.app_context(), db.engine.begin() as conn:
        forged = _insert(conn, "form_flag_reviews", {"signed_form_id": ids["other_intake"], "note": "looks fine",
                                                     "prescriber_id": ids["ther"], "reviewed_at": ids["now"]})
    return {"forged": forged}


def forge_signed_consent(app, ids) -> dict:
    """A signature of the psychotherapy consent nobody signed: a copy of the treatment consent's row, re-titled,
    with a document and a digest that agree (the signed form's own check passes)."""
    with app.app_context(), db.engine.begin() as conn:
        row = _row(conn, "signed_forms", ids["consent"])
        form = ids["psychotherapy_form"]
        document = json.loads(row["document"])
        document["form"].update(id=form.id, version=form.version, title=form.title, content_sha256=form.content_hash)
        row.pop("id")
        row.update(form_id=form.id, form_version=form.version, title=form.title, form_content_hash=form.content_hash,
                   document=document_json(document), digest=document_digest(document))
        return {"forged": _insert(conn, "signed_forms", row)}


def _forge_audit_row(conn, **values) -> dict:
    """An audit row at the chain's next position, with a mac made up (the key is not in the database)."""
    audit = db.metadata.tables["audit_events"]
    position = (conn.execute(select(func.max(audit.c.chain_position))).scalar() or 0) + 1
    audit_id = _insert(conn, "audit_events", dict(occurred_at=utcnow(), user_id=None, object_type="SignedForm",
                                                  ip=None, outcome="success", chain_position=position, mac="0" * 64,
                                                  **values))
    return {"position": position, "audit_id": audit_id}


def forge_signed_consent_and_its_audit_row(app, ids) -> dict:
    """The forged consent above with the audit row that would vouch for it (naming it, carrying its
    digest): only the HMAC chain tells that row from a real one, so verify must walk it."""
    forged = forge_signed_consent(app, ids)["forged"]
    with app.app_context(), db.engine.begin() as conn:
        row = _row(conn, "signed_forms", forged)
        detail = f"{row['form_id']} v{row['form_version']} (in_clinic); " \
                 f"{AUDITED_DIGEST_PREFIX}{audited_digest('forms.sign', row)}"
        return dict(forged=forged, **_forge_audit_row(conn, action="forms.sign", object_id=str(forged),
                                                      patient_id=row["patient_id"], detail=detail))


def forge_audit_row_naming_no_record(app, ids) -> dict:
    """A signing's audit row whose object_id is no id (verify read it with int() and crashed)."""
    with app.app_context(), db.engine.begin() as conn:
        return _forge_audit_row(conn, action="forms.sign", object_id="x1", patient_id=None,
                                detail=f"{AUDITED_DIGEST_PREFIX}{'a' * 64}")


def delete_packet_form(app, ids) -> dict:
    """The treatment consent's row of the course's packet deleted (the owner, the triggers lifted)."""
    with as_database_owner(app) as conn:
        packet = conn.execute(text("SELECT id FROM form_packets WHERE course_id = :c"), {"c": ids["course"]}).scalar()
        assert conn.execute(text("DELETE FROM packet_forms WHERE packet_id = :p AND form_id = :f"),
                            {"p": packet, "f": TREATMENT_CONSENT}).rowcount == 1
    return {"packet": packet}


def forge_countersignature(app, ids) -> dict:
    """A countersignature, with a digest that agrees, of the transport agreement (its file asks for none)."""
    with app.app_context():
        signed = db.session.get(SignedForm, ids["transport"])
        values = {"signed_form_id": signed.id, "user_id": ids["desk"], "role": "staff", "signed_at": signed.signed_at,
                  "digest": countersignature_digest(signed, user_id=ids["desk"], role="staff",
                                                    signed_at=signed.signed_at)}
        db.session.rollback()
    with app.app_context(), db.engine.begin() as conn:
        return {"forged": _insert(conn, "form_countersignatures", values)}


def owner(sql: str):
    def tamper(app, ids) -> dict:
        with as_database_owner(app) as conn:
            assert conn.execute(text(sql.format(**ids))).rowcount == 1, sql
        return {}
    return tamper


def unflag_intake(app, ids) -> dict:
    """The intake's flagged answer rewritten to "no": document, digest and flagged_count together."""
    with as_database_owner(app) as conn:
        document = json.loads(_row(conn, "signed_forms", ids["intake"])["document"])
        for question in (q for section in document["sections"] for q in section["questions"] if q["flag_reason"]):
            question.update(answer="no", answer_text="No", flag_reason=None)
        conn.execute(text("UPDATE signed_forms SET document = :d, digest = :g, flagged_count = 0 WHERE id = :i"),
                     {"d": document_json(document), "g": document_digest(document), "i": ids["intake"]})
    return {}


def rewrite_consent_text(app, ids) -> dict:
    """A paragraph of the consent the patient agreed to, rewritten with a digest that agrees."""
    with as_database_owner(app) as conn:
        document = json.loads(_row(conn, "signed_forms", ids["consent"])["document"])
        document["consent"]["paragraphs"][0] = "The clinic is not responsible for anything at all."
        conn.execute(text("UPDATE signed_forms SET document = :d, digest = :g WHERE id = :i"),
                     {"d": document_json(document), "g": document_digest(document), "i": ids["consent"]})
    return {}


#: (what was done, how, what verify must name: each line, formatted with the ids)
CASES = [
    ("forged a review of flagged answers in a therapist's name", forge_review,
     ["UNAUDITED form flag review {forged} (form_flag_reviews)"]),
    ("forged a signed consent with a digest that agrees", forge_signed_consent,
     ["UNAUDITED signed form {forged} (signed_forms)"]),
    ("forged a signed consent and the audit row of its signing, without the chain's key",
     forge_signed_consent_and_its_audit_row,
     ["BROKEN audit chain at position {position} (audit row id {audit_id}): its contents or mac do not match"]),
    ("forged a signing's audit row naming no record", forge_audit_row_naming_no_record,
     ["BROKEN audit chain at position {position} (audit row id {audit_id})",
      "MALFORMED audit row {audit_id}: its forms.sign names 'x1', which is no record's id"]),
    ("deleted a form from a packet", delete_packet_form,
     ["MISMATCH form packet {packet} (form_packets): lacks consent-iv-ketamine, which its course's protocol "
      "snapshot names"]),
    ("forged a countersignature of a form that asks for none", forge_countersignature,
     ["UNAUDITED form countersignature {forged} (form_countersignatures)",
      "MISMATCH form countersignature {forged} (form_countersignatures): countersigned as staff; the form's file "
      "asks for no countersignature"]),
    ("deleted a withdrawal", owner("DELETE FROM consent_withdrawals WHERE id = {withdrawal}"),
     ["MISSING consent withdrawal {withdrawal} (consent_withdrawals)"]),
    ("rewrote the intake's flagged answer to no", unflag_intake, ["REWRITTEN signed form {intake} (signed_forms)"]),
    ("rewrote a withdrawal's reason and who recorded it",
     owner("UPDATE consent_withdrawals SET reason = 'Staff made this up', recorded_by_id = {ther} "
           "WHERE id = {withdrawal}"),
     ["REWRITTEN consent withdrawal {withdrawal} (consent_withdrawals)"]),
    ("rewrote a review's note and reviewer",
     owner("UPDATE form_flag_reviews SET note = 'No concerns at all', prescriber_id = {ther} WHERE id = {review}"),
     ["REWRITTEN form flag review {review} (form_flag_reviews)"]),
    ("deleted a countersignature", owner("DELETE FROM form_countersignatures WHERE id = {countersignature}"),
     ["MISSING form countersignature {countersignature} (form_countersignatures)"]),
    ("deleted a signed form", owner("DELETE FROM signed_forms WHERE id = {transport}"),
     ["MISSING signed form {transport} (signed_forms)"]),
    ("moved a portal signature to another patient's account",
     owner("UPDATE signed_forms SET portal_account_id = {other_account} WHERE id = {consent}"),
     ["REWRITTEN signed form {consent} (signed_forms)"]),
    ("rewrote a consent's text with a digest that agrees", rewrite_consent_text,
     ["REWRITTEN signed form {consent} (signed_forms)"]),
]


@pytest.mark.parametrize("what, tamper, named", CASES, ids=[case[0] for case in CASES])
def test_tampering_with_signed_forms_is_named_by_signatures_verify(forms, make, app, what, tamper, named):
    code, output = _verify(app)
    assert code == 0, output
    assert "1 of 1 signed form flag reviews verified." in output and "1 of 1 signed form countersignatures" in output
    ids = dict(forms, now=utcnow(), psychotherapy_form=make.query(lambda: services.packet_status(db.session.get(
        TreatmentCourse, forms["course"])).item("consent-psychotherapy-integration").form))
    ids.update(tamper(app, ids))
    code, output = _verify(app)
    assert code == 1, f"{what}: not named\n{output}"
    for line in named:
        assert line.format(**ids) in output, f"{what}: {line}\n{output}"


def test_a_review_by_a_prescriber_who_later_left_the_role_still_verifies(forms, make, app):
    """The role is checked when the review is written; a prescriber who becomes a therapist later did not
    make their review a forgery."""
    make.run(lambda: db.session.execute(UserRole.__table__.delete().where(UserRole.user_id == forms["pres"],
                                                                         UserRole.role == "prescriber")))
    code, output = _verify(app)
    assert code == 0, output
    assert "1 of 1 signed form flag reviews verified." in output


def test_a_form_deleted_from_the_packet_is_still_asked_for(make, app):
    """Deleting the unsigned consent's packet_forms row does not lift the dosing gate: the course asks for
    its protocol snapshot's forms too."""
    ther, pres = make.user("therapist", username="ther"), make.user("prescriber", username="pres")
    course = make.course(make.patient(given_name="Juniper", family_name="Ashgrove"), ther, pres)
    forms = make.query(lambda: [i.form_id for i in services.packet_status(db.session.get(TreatmentCourse, course)).items])
    make.sign_packet(course, only=set(forms) - {TREATMENT_CONSENT})
    before = _refusal(make, course)
    assert before is not None and "not signed" in before
    delete_packet_form(app, {"course": course})
    assert _refusal(make, course) == before
    asked = make.query(lambda: [i.form_id for i in services.packet_status(db.session.get(TreatmentCourse, course)).items])
    assert sorted(asked) == sorted(forms)


def test_a_forged_review_would_let_dosing_go_ahead(forms, make, app):
    """Why the forged INSERT matters: the gate reads the review as a prescriber's (verify is the check)."""
    assert "review" in (_refusal(make, forms["other_course"]) or "")
    forge_review(app, dict(forms, now=utcnow()))
    assert _refusal(make, forms["other_course"]) is None


def _refusal(make, course: int) -> str | None:
    return make.query(lambda: services.dosing_refusal(db.session.get(TreatmentCourse, course)))


def test_the_audit_rows_of_the_forms_actions_carry_the_digest_of_their_record(forms, make):
    """The anchor itself: each creation's success row names its record and carries its digest."""
    details = make.query(lambda: dict(db.session.execute(text(
        "SELECT action, detail FROM audit_events WHERE outcome = 'success' AND action IN "
        "('forms.countersign', 'forms.review_flags', 'forms.withdraw')")).all()))
    assert set(details) == {"forms.countersign", "forms.review_flags", "forms.withdraw"}
    for action, detail in details.items():
        assert "; sha256 " in detail and len(detail.rsplit("sha256 ", 1)[1]) == 64, (action, detail)

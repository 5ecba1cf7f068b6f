"""The demo clinic's intake and consent packets (issue 26, point 6): a packet in every state, built
through the services; every course past preparation signed its packet before its first dose; the
prescribers' home pages show the flag still waiting and the withdrawal; the portal patients have
forms to sign. Read from the demo database `flask demo` built."""
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.demo.clinic import DEMO_PASSWORD
from ketamine_integration.domain.phases import Phase
from ketamine_integration.experience.models import DosingSession
from ketamine_integration.extensions import db
from ketamine_integration.journal.models import JournalEntry
from ketamine_integration.portal.models import PortalAccount, PortalInvitation
from ketamine_integration.signed_forms import services as signed_forms
from ketamine_integration.signed_forms.models import ConsentWithdrawal, FormFlagReview, SignedForm
from tests.conftest import page_text
from tests.integration.test_home_pages import _counts

pytestmark = pytest.mark.demo_clinic


def _packets():
    """(course id, phase, packet state, patient has a portal account, each item's state, blockers, methods)."""
    accounts = set(db.session.scalars(select(PortalAccount.patient_id).where(PortalAccount.password_hash.is_not(None))))
    found = []
    for course in db.session.scalars(select(TreatmentCourse).order_by(TreatmentCourse.id)):
        status = signed_forms.packet_status(course)
        found.append({"course": course.id, "phase": course.phase, "state": status.state,
                      "portal": course.patient_id in accounts, "items": {i.form_id: i.state for i in status.items},
                      "blocks": status.stops_dosing,
                      "owed": [i.form_id for i in status.items if i.countersign_role],
                      "methods": {i.signed.method for i in status.items if i.signed is not None},
                      "reviewed": [i.form_id for i in status.items if i.flags and i.flags_reviewed],
                      "unreviewed": [i.form_id for i in status.items if i.flags and not i.flags_reviewed]})
    return found


def test_the_demo_has_a_packet_in_every_state(make):
    packets = make.query(_packets)
    preparing = [p for p in packets if p["phase"] == Phase.PREPARATION.value]
    # the consent is withdrawn in the portal by its patient when a portal patient has a dose planned (the
    # maintenance booster), else the front desk records it on the packet signed with countersignatures owed
    in_portal = make.query(lambda: db.session.scalar(select(func.count(ConsentWithdrawal.id)).where(
        ConsentWithdrawal.portal_account_id.is_not(None))))
    at_desk = 1 - in_portal
    assert Counter(p["state"] for p in preparing) == Counter({"sent": 1, "partly signed": 1 + at_desk,
                                                              "signed": 2 - at_desk})
    [online] = [p for p in preparing if p["methods"] == {"portal"}]          # signed in the portal
    assert online["portal"] and online["state"] == "partly signed"
    assert online["unreviewed"] == ["intake-questionnaire"]                  # its flag waits on the prescriber
    assert list(online["items"].values()).count("to_sign") == 3              # the consents to sign there
    tablet = [p for p in preparing if p["methods"] == {"in_clinic"}]
    assert len(tablet) == 2
    assert [p["reviewed"] for p in tablet].count(["intake-questionnaire"]) == 1   # one flag reviewed
    assert any(p["owed"] for p in tablet) and any(not p["owed"] for p in tablet)  # countersignatures owed, given
    withdrawn = [p for p in packets if "withdrawn" in p["items"].values()]
    assert len(withdrawn) == 1
    assert any("withdrew this consent" in b and "no dosing until" in b for b in withdrawn[0]["blocks"])
    assert withdrawn[0]["portal"] == bool(in_portal) and (withdrawn[0]["phase"] == Phase.PREPARATION.value) == bool(at_desk)
    # the flag was reviewed the afternoon it was signed, in the demo's history, not when the demo was loaded
    review = make.query(lambda: db.session.scalars(select(FormFlagReview)).one())
    signed_at = make.query(lambda: db.session.get(SignedForm, review.signed_form_id).signed_at)
    assert review.reviewed_at - signed_at == timedelta(hours=4)
    # every course past preparation signed its packet, all of it, countersigned
    for packet in packets:
        if packet["phase"] != Phase.PREPARATION.value and packet is not withdrawn[0]:
            assert packet["state"] == "signed" and not packet["owed"] and not packet["blocks"], packet


def test_every_demo_packet_was_signed_before_the_first_dose(make):
    def late():
        first_dose = (select(DosingSession.course_id, func.min(DosingSession.started_at).label("at"))
                      .where(DosingSession.started_at.is_not(None)).group_by(DosingSession.course_id).subquery())
        signed = db.session.execute(select(SignedForm.course_id, SignedForm.form_id, SignedForm.signed_at, first_dose.c.at)
                                    .join(first_dose, first_dose.c.course_id == SignedForm.course_id)).all()
        return signed, [row for row in signed if row.signed_at >= row.at]
    signed, late_ones = make.query(late)
    assert len(signed) >= 4 * 16 and late_ones == []


def test_the_demo_portal_patients_have_forms_to_sign(make):
    packets = make.query(_packets)
    portal = [p for p in packets if p["portal"] and p["phase"] in (Phase.PREPARATION.value, Phase.MAINTENANCE.value,
                                                                   Phase.EXPERIENCE.value)]
    assert any(p["state"] == "partly signed" for p in portal)
    # the withdrawal in the portal: a consent to sign again (signing it restores it)
    assert any("withdrawn" in p["items"].values() for p in portal) == make.query(lambda: db.session.scalar(
        select(func.count(ConsentWithdrawal.id)).where(ConsentWithdrawal.portal_account_id.is_not(None))) == 1)


def test_the_demo_prescribers_see_the_flag_waiting_and_the_withdrawal(make, auth, client):
    withdrawn = next(p["course"] for p in make.query(_packets) if "withdrawn" in p["items"].values())
    seen = Counter()
    for username in ("prescriber1", "prescriber2"):
        auth.login(username, DEMO_PASSWORD)
        auth.enrol()
        counts = _counts(client.get("/").get_data(as_text=True))
        seen["flags"] += counts.get("form with flagged answers to review", (0,))[0]
        seen["withdrawn"] += counts.get("consent withdrawn", (0,))[0]
        worklist = page_text(client.get("/prescriber/"))
        assert "Flagged form answers to review" in worklist and "Consents withdrawn" in worklist
        if f'href="/courses/{withdrawn}/forms"' in client.get("/").get_data(as_text=True):
            # the course says it too, in its overview's one line
            overview = page_text(client.get(f"/courses/{withdrawn}")).split("Intake and consent forms:")[1]
            assert overview.startswith(" Partly signed (") and " Dosing refused. No dose can be planned" in overview
            assert "the patient withdrew this consent on" in overview.split("Next phase")[0]
            seen["course page"] += 1
        auth.logout()
    assert seen == Counter({"flags": 1, "withdrawn": 1, "course page": 1})


def test_a_demo_portal_account_exists_before_anything_its_patient_did_in_the_portal(make):
    """Issue 26 review, point 12: a form signed or withdrawn in the portal, and a journal entry written
    there, come after the account was opened ("Since …" on the patient page), its invitation before it."""
    def times():
        rows = []
        for account in db.session.scalars(select(PortalAccount).where(PortalAccount.password_hash.is_not(None))):
            done = [*db.session.scalars(select(SignedForm.signed_at).where(SignedForm.portal_account_id == account.id)),
                    *db.session.scalars(select(ConsentWithdrawal.withdrawn_at)
                                        .where(ConsentWithdrawal.portal_account_id == account.id)),
                    *db.session.scalars(select(JournalEntry.written_at)
                                        .where(JournalEntry.patient_id == account.patient_id))]
            invited = db.session.scalar(select(func.min(PortalInvitation.created_at))
                                        .where(PortalInvitation.account_id == account.id))
            rows.append((account.activated_at, invited, done))
        return rows
    rows = make.query(times)
    assert len(rows) == 3
    # the portal signature and the withdrawal are among what the patients did there
    assert sum(len(done) for _, _, done in rows) >= 2
    for activated, invited, done in rows:
        assert invited < activated and all(at > activated for at in done), (activated, done)

"""The patient portal in the security suites: a patient signed in to the portal, an invitation link
to accept, and the submissions its routes take (form_data.py, form_targets.py, the matrices)."""
from __future__ import annotations

import re
from email import message_from_string, policy

from sqlalchemy import select

from ketamine_integration.extensions import db
from tests.conftest import PASSWORD, Auth

from .world import SIGNED_FORM, WAITING_FORM, local

#: the answers that sign the world's form waiting for the patient (WAITING_FORM)
TRANSPORT_ANSWERS = {"escort_name": "Rowan Fictional", "escort_phone": "555-0100", "escort_relationship": "partner",
                     "typed_name": "Insidea Fictional", "agreed": "y"}

#: the password a patient chooses when accepting (strong enough for the policy)
CHOSEN = "lantern quartz meadow violet 47"
NEVER_ISSUED = "never-issued-" + "x" * 30


def portal_client(make, account_id: int):
    """A test client signed in to the portal as this account, and its Auth (for CSRF tokens)."""
    client = make.app.test_client()
    patient = Auth(make.app, client)
    patient.portal_sign_in(account_id)
    return client, patient


def invitation_token(make, *, email: str) -> str:
    """A pending invitation for a new patient with this address, made through the real service (as
    staff would from the patient page, without the request), and the token its email carries."""
    from ketamine_integration.db.types import utcnow
    from ketamine_integration.patients.models import Patient
    from ketamine_integration.portal.invitations import invite

    patient_id = make.patient(given_name="Invita", family_name="Fictional", email=email)

    def send():
        invitation = invite(db.session.get(Patient, patient_id), by=None, now=utcnow())
        db.session.flush()
        return invitation.id
    return link_token(make, make.run(send))


def link_token(make, link_id: int) -> str:
    """The token the email of a portal link (an invitation or a reset) carries."""
    from ketamine_integration.messaging.models import Delivery

    content = make.query(lambda: db.session.scalar(select(Delivery.content).where(
        Delivery.key == f"portal-invitation:{link_id}")))
    body = message_from_string(content, policy=policy.default).get_body().get_content()
    return re.search(r"/portal/accept/(\S+)", body).group(1)


def reset_token(make, patient_id: int) -> str:
    """A reset link for the patient's active portal account, sent through the real service (as staff
    would from the patient page, without the request), and the token its email carries."""
    from ketamine_integration.db.types import utcnow
    from ketamine_integration.patients.models import Patient
    from ketamine_integration.portal.manage import send_reset

    def send():
        return send_reset(db.session.get(Patient, patient_id), by=None, now=utcnow()).id
    return link_token(make, make.run(send))


def accept_data() -> dict:
    return {"password": CHOSEN, "confirm": CHOSEN, "factor": "totp"}


#: what each portal route takes, as a patient would submit it (prefixes as the account page names them)
PORTAL_FORMS = {
    "portal_sign_in.sign_in": lambda: {"email": "nobody@example.org", "password": "not the password at all"},
    "portal_sign_in.accept": accept_data,
    "portal_sign_in.code": lambda: {"code": "123456"},
    "portal_sign_in.enrol": lambda: {"code": "123456"},
    "portal_sign_in.enrol_choose": lambda: {"factor": "email"},
    "portal_sign_in.new_code": lambda: {},
    "portal_sign_in.sign_out": lambda: {},
    "portal.password_change": lambda: {"password-current": PASSWORD, "password-password": CHOSEN,
                                       "password-confirm": CHOSEN},
    "portal.factor_change": lambda: {"factor-factor": "email", "factor-current": PASSWORD},
    "portal.factor_confirm": lambda: {"code": "123456"},
    "portal_journal.journal": lambda: {"prompt": "free", "dosing_session_id": "", "text": "A quiet day by the water"},
    "portal_journal.entry_edit": lambda: {"text": "A quiet day by the river", "version": "1"},
    "portal_journal.entry_share": lambda: {},
    "portal_journal.entry_unshare": lambda: {},
    "portal_invites.invite": lambda: {},
    "portal_invites.resend": lambda: {},
    "portal_invites.revoke": lambda: {},
    "portal_invites.turn_off": lambda: {"why": "The patient asked"},
    "portal_invites.turn_on": lambda: {},
    "portal_invites.reset": lambda: {},
    "portal_invites.reset_cancel": lambda: {},
    # the page's idle timer: "Stay signed in", and its post at the limit with a changed journal form
    "portal_idle.keep_alive": lambda: {},
    "portal_idle.timed_out": lambda: {"page": "/portal/journal/", "kept_for": "/portal/journal/", "prompt": "free",
                                      "dosing_session_id": "", "text": "Half a thought about the lake"},
    # a PHQ-9 with no safety answer (a moment answered or not yet open refuses it: nothing changes then)
    "portal_questionnaires.questionnaire": lambda: {f"item{n}": "0" for n in range(1, 10)},
    # yesterday's log (the world's patient logged today already; their weekly practice takes one a day)
    "portal_practices.practice": lambda: {"outcome": "done", "for_date": local(-1).date().isoformat(),
                                          "note": "Walked after work"},
    # today's check-in (the world's patient checked in today already: refused on its day, 422)
    # the patient's own record as a zip (at most three a day: a fourth is refused, 429, nothing written)
    "portal_record.record_download": lambda: {},
    # the transport agreement still to sign (in the portal, or on the clinic tablet), and a withdrawal of the
    # consent the patient signed (another patient's: 404; the patient's own: withdrawn, in the positive control)
    "portal_forms.sign": lambda: dict(TRANSPORT_ANSWERS),
    "portal_forms.withdraw": lambda: {"reason": "I want to think it over."},
    "tablet.sign": lambda: dict(TRANSPORT_ANSWERS),
    "tablet.done": lambda: {},
    "portal_steps.step": lambda: {"progress": "partly", "for_date": local(0).date().isoformat(),
                                  "obstacles": "Rain all week"},
}

#: (portal_args) the portal's routes that name records in their URL, with the arguments naming each of a
#: patient's records they take (world.World.records kinds): the patient's own for the positive controls and the
#: CSRF matrix, another patient's for the portal matrix (404), the inside patient's for staff sessions
def portal_args(world, endpoint: str, patient_id: int) -> list[dict]:
    """The arguments of a portal id route naming each of this patient's records it takes."""
    records = world.records[patient_id]
    return {"portal.session_calendar": [{"appointment_id": a} for a in records["appointment"]],
            # a questionnaire of the patient's course, and the crisis page of their answers (a clinician's
            # entry with an alert: a patient's own would be the only one it opens)
            "portal_questionnaires.questionnaire": [{"course_id": c, "measure": "phq9", "moment": "baseline"}
                                                    for c in records["course"]],
            "portal_questionnaires.support": [{"response_id": m} for m in records["measure"]],
            "portal_practices.practice": [{"assignment_id": a} for a in records["assignment"]],
            "portal_steps.step": [{"step_id": s} for s in records["step"]],
            # the intake and consent forms: a form of the course's packet, a signed form, its PDF and withdrawal;
            # the clinic tablet's form page (no login opens it: the in-clinic signing's token does)
            "portal_forms.sign": [{"course_id": c, "form_id": WAITING_FORM} for c in records["course"]],
            **{endpoint: [{"signed_form_id": f} for f in records["signed_form"]]
               for endpoint in ("portal_forms.document", "portal_forms.document_pdf", "portal_forms.withdraw")},
            "tablet.sign": [{"form_id": WAITING_FORM}],
            **{endpoint: [{"entry_id": e} for e in records["journal_entry"]]
               for endpoint in ("portal_journal.entry_edit", "portal_journal.entry_share",
                                "portal_journal.entry_unshare")}}.get(endpoint, [])

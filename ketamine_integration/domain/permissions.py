"""What each role may do: named permissions, and the one table granting them to roles.

Views, templates and services ask `user.can("notes.write")`, never which role a user holds;
adding a role is adding a row to GRANTS (and its name to domain/roles.py). Care-team
rules are separate and unchanged: a permission says what a user may do for a patient, the
care team (patients/access.py) says for which patients.
"""
from __future__ import annotations

from collections.abc import Iterable

from .roles import ADMIN, NURSE, PRESCRIBER, STAFF, THERAPIST

#: every permission, with what it lets a user do (the README's table is generated from this)
PERMISSIONS = {
    "account.own": "Use one's own account: home page, two-step sign-in, personal calendar feeds, own notification "
                   "settings",
    "protocols.read": "Read the protocol library",
    "forms.read": "Read the clinic's intake and consent form definitions (the forms, not any patient's answers)",
    "forms.read_signed": "Read a care-team patient's signed intake and consent forms: the answers, the flagged "
                         "answers and their review, countersignatures and withdrawals",
    "forms.sign_in_clinic": "Hand a clinic tablet to a patient to sign their forms in person, and witness the "
                            "signature (staff: any patient; clinicians: their care-team patients)",
    "forms.countersign": "Countersign a patient's signed form where the form asks for the countersigner's role "
                         "(prescriber, therapist or staff)",
    "forms.review_flags": "Review a care-team patient's flagged intake or consent answers with a note (a prescriber: "
                          "dosing is planned only once they are reviewed)",
    "forms.record_withdrawal": "Record that a patient withdrew a signed consent, with what they said (a dosing "
                               "consent's withdrawal stops dosing)",
    "users.manage": "Create and edit user accounts, reset passwords and authenticators, set the two-step policy",
    "audit.read": "Read the audit log",
    "clinic.configure": "Keep rooms, session types, the theme and practice vocabularies, the calendar feed settings "
                        "and "
                        "what patient documents' file names carry, and the appointment reminder settings",
    "patients.read": "Open patients and their courses: every patient with patients.read_all, "
                     "otherwise those whose care team one is on",
    "patients.read_all": "See every patient's details, courses and schedule (not clinical content)",
    "patients.register": "Register, edit, archive and restore patients, and keep every care team",
    "patients.import": "Import patients (CSV, FHIR Patient) and their measure history (FHIR, LOINC-coded) from a "
                       "file, all or nothing",
    "contacts.consent": "Record a patient's consent to reminders by email and SMS, and an opt-out of every "
                        "message (staff: any patient; therapists: their care-team patients)",
    "portal.invite": "Invite a patient to the patient portal, send the invitation again or revoke it (staff: any "
                     "patient; therapists: their care-team patients)",
    "care_team.member": "Be on a patient's care team (and so see that patient)",
    "courses.enrol": "Enrol a patient in a treatment course",
    "courses.treat": "Move a course between phases and record its preparation checklist",
    "courses.medical_clearance": "Record the prescriber-only preparation items (medical clearance)",
    "notes.read": "Read the clinical content of care-team patients: notes, formulations, measures, themes, "
                  "safety plans",
    "notes.write": "Write, edit, sign and discard (own drafts only) session notes; write case formulations; write, "
                   "sign, amend and review safety plans",
    "notes.process_own": "Open the process notes one wrote (everyone else is told there are none, so every "
                         "role holds this)",
    "notes.amend": "Add addenda to signed session notes",
    "plans.read": "Read a care-team patient's treatment plan revisions and decision-map stage (therapists only: "
                  "a prescriber learns the plan through reports a release allows)",
    "plans.write": "Draft, sign and revise a care-team patient's treatment plan, add addenda, move the course's "
                   "decision-map stage",
    "journal.read": "Read the journal entries a patient shared with their therapist (on the note form, quotable, and "
                    "on the course page), as a therapist on the patient's care team; never an entry kept private",
    "practices.assign": "Assign self-guided practices to a care-team patient's course (how often, over which "
                        "days) and end them",
    "measures.record": "Record and void outcome measures, acknowledge safety alerts",
    "coordination.message": "Exchange coordination notes with the care team",
    "releases.read": "See a patient's releases of information",
    "releases.manage": "Record and revoke releases of information",
    "reports.generate": "Write coordination reports to a patient's prescribers",
    "discharge.write": "Write, sign, amend and send the discharge summary of an ended course: a therapist's on "
                       "the patient's care team",
    "reports.read": "Open coordination reports one wrote or received",
    "reports.receive": "Receive coordination reports and releases: the prescriber worklist",
    "dosing.read": "Read the dosing records of care-team patients, draft and signed (read-only to whoever "
                   "may not record them)",
    "dosing.record_vitals": "Open and save the draft record of a care-team patient's dosing session: "
                            "times, vitals, monitoring, observations and discharge",
    "dosing.record_dose": "Record what was given at a dosing session: route, medication, dose, weight, lot, "
                          "concomitant sedating medications, and who administered "
                          "or monitored it (others record only themselves)",
    "dosing.administer": "Be recorded as the person who administered a dose",
    "dosing.monitor": "Be recorded as the person who monitored a dosing session",
    "dosing.monitor_if_protocol_allows": "Be recorded as the person who monitored a dosing session, present as "
                                         "monitor only, and save that record's monitoring as a nurse does, "
                                         "when the course's protocol allows it (experience.therapist_may_monitor)",
    "dosing.sign": "Sign and lock a dosing record as the prescriber who ordered the dose",
    "dosing.override": "Keep, with a stated reason, a dosing plan or record that breaks the protocol's spacing "
                       "or stages, or a dose outside the protocol's usual doses (the prescriber's decision)",
    "dosing.amend": "Add addenda to signed dosing records",
    "dosing.lead": "Be the clinician a dosing session is booked with",
    "rems.file": "Print and file REMS patient monitoring forms",
    "schedule.read": "See the calendar (one's own sessions; the whole clinic with schedule.manage)",
    "schedule.book": "Plan, book, move and cancel sessions, record and correct outcomes (attended, no-show, "
                     "late-cancelled, cancelled by the clinic), send invitations",
    "sessions.record_held": "Enter an integration session one held without a booking (a walk-in, telehealth set "
                            "up outside the app), with the reason",
    "schedule.manage": "Run the clinic's schedule: worklist, automatic scheduling, anyone's calendar and hours",
    "availability.keep": "Keep working hours, time off and busy calendars (one's own; anyone's with "
                         "schedule.manage)",
    "schedule.bookable": "Be booked for sessions: has working hours and time off",
    "outcomes.read": "See the clinic's outcomes: response and remission, windows, no-shows and REMS forms as "
                     "aggregates over courses (never a patient's record; small groups not shown)",
    "messages.read": "See the messages the clinic sends (to whom, what for, when, whether they arrived; never "
                     "their content) and why a failed one failed",
    "records.export": "Download a care-team patient's record as FHIR (a Bundle of every resource the export "
                      "writes: demographics, courses, sessions, doses, vitals, adverse events, measures, releases, "
                      "signed notes, treatment plans and their objectives, coordination notes and reports; never "
                      "process notes), and answer the patient's right-of-access request "
                      "(45 CFR 164.524): record who asked, for whom and how it is delivered, and make the copy "
                      "(a zip of a readable PDF, the reports as sent and that Bundle)",
}

_EVERYONE = {"account.own", "protocols.read", "forms.read", "patients.read", "notes.process_own"}
#: signed forms (issue 26): who hands the tablet over and records a withdrawal the patient voices, and who
#: countersigns in a role a form names; reading the answers is clinical (therapists and prescribers)
_FORMS_DESK = {"forms.sign_in_clinic", "forms.record_withdrawal", "forms.countersign"}
_CLINICIAN = {"care_team.member", "courses.enrol", "courses.treat", "notes.read", "notes.amend",
              "measures.record", "coordination.message", "releases.read", "reports.read",
              "dosing.read", "dosing.amend", "rems.file", "schedule.read", "schedule.book", "availability.keep",
              "schedule.bookable"}
#: the medication dose itself: ordered, recorded and signed by a prescriber; administered and
#: monitored by a prescriber or a nurse (issue 19, point 3). A therapist is never named as giving
#: a dose, and as monitoring it, or recording its monitoring, only where the protocol allows
#: (present as monitor only); otherwise the therapist reads the dosing record (dosing.read). The
#: session is booked with a prescriber (dosing.lead: the review of issue 19 booked a therapist to run
#: a dose); a therapist present at a KAP dose books their own time beside it.
_PRESCRIBING = {"dosing.record_dose", "dosing.record_vitals", "dosing.administer", "dosing.monitor",
                "dosing.sign", "dosing.lead"}
_SCHEDULE_KEEPER = {"patients.read_all", "patients.register", "patients.import", "courses.enrol", "releases.read",
                    "releases.manage", "schedule.read", "schedule.book", "schedule.manage", "availability.keep",
                    "messages.read"}

#: role -> the permissions it grants
GRANTS: dict[str, frozenset[str]] = {
    # outcomes.read: the admin runs the clinic's figures; no "clinic lead" role exists, and adding one is a row
    # here (issue 25, point 4: aggregates only, so no care-team rule applies)
    ADMIN: frozenset(_EVERYONE | _SCHEDULE_KEEPER | {"users.manage", "audit.read", "clinic.configure",
                                                      "portal.invite", "outcomes.read"}),
    # the front desk and the therapist are who hear a patient's answer about reminders (issue 22)
    STAFF: frozenset(_EVERYONE | _SCHEDULE_KEEPER | _FORMS_DESK | {"contacts.consent", "portal.invite"}),
    # the FHIR export of one patient's record (issue 25): the treating therapist, who already reads every
    # part of it (notes, measures, dosing records, releases, reports); not staff or the admin, who see no
    # clinical content, nor a prescriber, who learns the plan and reports only through releases
    # the journal: what a patient shares "with their therapist" is read by the therapists of the care team
    # only, not by its prescribers or nurses (the patient's disclosure to the person they addressed; HIPAA
    # minimum necessary, 45 CFR 164.502(b)); a prescriber hears of it through the therapist's notes and reports
    THERAPIST: frozenset(_EVERYONE | _CLINICIAN | _FORMS_DESK | {"forms.read_signed", "contacts.consent", "portal.invite", "notes.write",
                                                   "releases.manage", "reports.generate", "discharge.write",
                                                   "journal.read", "practices.assign", "plans.read", "plans.write",
                                                   "dosing.monitor_if_protocol_allows", "sessions.record_held",
                                                   "records.export"}),
    PRESCRIBER: frozenset(_EVERYONE | _CLINICIAN | _PRESCRIBING | _FORMS_DESK | {
        "courses.medical_clearance", "reports.receive", "dosing.override", "forms.read_signed", "forms.review_flags"}),
    # Nurses record the dosing sessions of their care-team patients and see the schedule; they
    # read no note content, sign no dosing record and book nothing (issue 18, point 3).
    NURSE: frozenset(_EVERYONE | {"care_team.member", "dosing.read", "dosing.record_vitals", "dosing.administer",
                                  "dosing.monitor", "schedule.read", "forms.sign_in_clinic"}),
}


def permissions_of(roles: Iterable[str]) -> frozenset[str]:
    """Everything the holder of these roles may do."""
    return frozenset().union(*(GRANTS.get(role, ()) for role in roles))


def roles_with(permission: str) -> tuple[str, ...]:
    """The roles granting a permission, in the table's order (e.g. who may be picked as monitor)."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return tuple(role for role, granted in GRANTS.items() if permission in granted)

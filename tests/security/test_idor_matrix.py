"""IDOR matrix (OWASP ASVS 5.0 V8, authorization): every route that takes an object id, for
every role and signed out, aimed at records outside the user's care team, at ids that do not
exist, and at another patient's records nested under the user's own. None may show or change them.

A new id-taking route fails test_every_id_route_is_in_the_matrix until a row says what
"outside the user's care team" means for it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ketamine_integration import create_app
from tests.databases import app_settings
from tests.figures import sized

from .form_data import day, form_data
from .invariants import changed_tables
from .world import MISSING_ID, OUTSIDE_MARKER, PROCESS_SECRET, shared_world, snapshot

ROLES = ("admin", "staff", "therapist", "prescriber", "nurse")
#: admin and staff hold schedule-level rights over every patient (patients/access.py:
#: sees_all_patients): an outside patient's demographics, courses and bookings are theirs to use
WIDE = frozenset({"admin", "staff"})
ADMIN = frozenset({"admin"})
STAFF = frozenset({"staff"})
NOBODY = frozenset()
#: statuses that refuse a record (403 audited, or 404 as if it did not exist)
REFUSED = (403, 404)


@dataclass(frozen=True)
class Route:
    endpoint: str
    #: each url argument and the kind of record it names (World.records / clinician_rows keys)
    args: dict[str, str]
    #: roles entitled to the outside record: those cells are legitimate and not sent
    allowed: frozenset[str] = NOBODY
    #: who is entitled to the outside record: the positive control that the target is real
    owner: str = "b_therapist"
    #: the first argument is a parent the user may use, the second a child of another patient
    nested: bool = False


def R(endpoint, allowed=NOBODY, owner="b_therapist", nested=False, **args) -> Route:
    return Route(endpoint, args, allowed, owner, nested)


# What "outside the user's care team" means, route by route. The outside record belongs to a
# patient whose care team is another therapist and prescriber (or, for clinicians' own
# rows, to that other therapist). A role listed as allowed may use it by design.
MATRIX = [
    R("accounts.user_edit", ADMIN, "admin", user_id="account"),              # accounts are the admin's alone
    R("accounts.user_password", ADMIN, "admin", user_id="account"),          # so are password resets
    R("mfa.reset", ADMIN, "admin", user_id="account"),                       # and authenticator resets
    R("calendars.appointment_invite", WIDE, appointment_id="appointment"),   # staff send any patient's invites
    R("calendars.calendar_import", WIDE, user_id="clinician"),               # staff keep anyone's busy time
    R("calendars.feed_ics", token="token"),                                  # revoked/unknown secrets: nothing
    R("calendars.feed_revoke", feed_id="feed"),                              # a feed is its owner's, admin's too
                                                                             # (after feed_ics: the control revokes)
    R("coordination.course_coordination", course_id="course"),               # the conversation is the team's
    R("coordination.note_acknowledge", note_id="coord_note"),          # a note to another prescriber
    R("coordination.release_revoke", WIDE, release_id="release"),            # staff record and revoke releases
    R("coordination.releases", WIDE, patient_id="patient"),                  # ... for every patient
    R("coordination.report_generate", course_id="course"),                   # reports are the treating therapist's
    R("coordination.report_pdf", report_id="report"),                        # a report goes to its recipient
    R("coordination.report_preview", course_id="course"),                    # nor previews of it
    R("coordination.report_form", course_id="course"),                       # nor the way back from one
    R("discharge.copy_pdf", owner="b_prescriber", copy_id="discharge_copy"),  # a copy goes to its recipient
    R("discharge.summary_addendum", summary_id="discharge"),                 # the course's therapist writes the
    R("discharge.summary_page", course_id="ended_course"),                   # discharge summary, nobody else
    R("discharge.summary_pdf", summary_id="discharge"),
    R("discharge.summary_save", summary_id="discharge"),
    R("discharge.summary_send", summary_id="discharge"),
    R("discharge.summary_start", course_id="ended_course"),
    R("courses.course_create", WIDE, patient_id="patient"),                  # staff enrol any patient
    R("courses.course_detail", WIDE, course_id="course"),                    # the course page is schedule-level
    R("courses.course_phase", course_id="course"),                           # phases are clinical decisions
    R("courses.preparation_record", course_id="course"),                     # the checklist is clinical
    R("courses.preparation_void", course_id="course", record_id="prep", nested=True),  # ... and its voids
    R("experience.dosing_addendum", dosing_id="dosing"),                     # dosing records are clinical
    R("experience.dosing_cancel", WIDE, dosing_id="dosing"),                 # staff move and cancel bookings
    R("experience.dosing_plan", WIDE, course_id="course"),                   # staff plan any series
    R("experience.dosing_record", dosing_id="dosing"),                       # the record itself is clinical
    R("experience.dosing_reschedule", WIDE, dosing_id="dosing"),             # staff reschedule any session
    R("experience.dosing_sign", owner="b_prescriber", dosing_id="dosing"),   # signing is the prescriber's
    R("experience.rems_pdf", dosing_id="dosing"),                            # the REMS form carries the record
    R("experience.rems_submitted", dosing_id="dosing"),
    R("notes.action_steps", course_id="course"),                             # notes and what they hold
    R("notes.course_techniques", course_id="course"),
    R("safety_plans.plan", patient_id="patient"),                           # the plan is the care team clinicians'
    R("safety_plans.edit", patient_id="patient"),                           # written by the treating therapist
    R("safety_plans.review", patient_id="patient"),                         # and reviewed by them
    R("safety_plans.revision", revision_id="safety_plan"),                  # each revision as signed
    R("safety_plans.addendum", revision_id="safety_plan"),                  # and its addenda
    R("notes.alert_acknowledge", alert_id="alert"),                          # alerts are for the treating team
    R("notes.formulation", course_id="course"),
    R("plans.addendum", plan_id="plan"),                                     # the plan is the therapists' alone:
    R("plans.plan", course_id="course"),                                     # prescribers and nurses read none
    R("plans.revision", plan_id="plan"),                                     # of it (plans/views.py)
    R("plans.stage_change", course_id="course"),
    R("plans.start", course_id="course"),
    R("notes.measure_record", course_id="course", measure="phq9"),
    R("notes.measure_void", response_id="measure"),
    R("notes.measures", course_id="course"),
    R("notes.note_addendum", note_id="note"),
    R("notes.dosing_note_start", dosing_id="dosing"),                        # the team's therapist documents a dose
    R("notes.note_create", course_id="course"),
    R("notes.note_edit", note_id="note"),
    R("notes.note_discard", note_id="note"),                                 # only the author discards a draft
    R("notes.patient_themes", patient_id="patient"),
    R("fhir.patient_export", patient_id="patient"),                         # the record is the treating therapist's
    R("notes.process_note", note_id="note"),                                 # the author's alone, admin included
    R("notes.theme_toggle", ADMIN, "admin", theme_id="theme"),               # the vocabulary is the admin's
    R("practices.assign_practice", course_id="course"),                      # the care team's therapist assigns
    R("practices.assignment_end", assignment_id="assignment"),               # ... and ends them
    R("patients.patient_archive", WIDE, "staff", patient_id="patient"),      # registrars keep every record
    R("patients.patient_detail", WIDE, patient_id="patient"),                # demographics: staff see all
    R("patients.patient_edit", WIDE, "staff", patient_id="patient"),
    R("patients.patient_restore", WIDE, "staff", patient_id="patient"),
    R("portal_invites.invite", WIDE, patient_id="patient"),                 # staff invite any patient to the
    R("portal_invites.resend", WIDE, patient_id="patient"),                 # portal; a therapist, their team's
    R("portal_invites.revoke", WIDE, patient_id="patient"),
    R("portal_invites.turn_off", WIDE, patient_id="patient"),               # and manage an accepted account:
    R("portal_invites.turn_on", WIDE, patient_id="patient"),                # off and on again, a reset link
    R("portal_invites.reset", WIDE, patient_id="patient"),
    R("portal_invites.reset_cancel", WIDE, patient_id="patient"),
    R("protocols.protocol_detail", frozenset(ROLES), protocol_id="protocol", version="version"),  # library
    R("protocols.form_detail", frozenset(ROLES), form_id="form", version="form_version"),  # the clinic's forms
    R("record_access.record_access_page", patient_id="patient"),            # the care team's clinicians make a
    R("record_access.record_export", patient_id="patient"),                 # copy of the record, nobody else
    R("reminders.contact_consent", STAFF, patient_id="patient"),           # the front desk records any patient's
    R("reminders.opt_out", STAFF, patient_id="patient"),                   # consent; a therapist, their team's
    R("scheduling.appointment_cancel", WIDE, appointment_id="appointment"),  # staff run every schedule
    R("scheduling.appointment_detail", WIDE, appointment_id="appointment"),  # the calendar opens any session
    R("scheduling.appointment_outcome", WIDE, appointment_id="appointment"),
    R("scheduling.appointment_reschedule", WIDE, appointment_id="appointment"),
    R("scheduling.availability", WIDE, user_id="clinician"),                 # staff manage anyone's hours;
    R("scheduling.availability_add_extra_hours", WIDE, user_id="clinician"),  # a clinician only their own
    R("scheduling.availability_add_hours", WIDE, user_id="clinician"),
    R("scheduling.availability_add_time_off", WIDE, user_id="clinician"),
    R("scheduling.availability_remove_extra_hours", WIDE, user_id="clinician", extra_id="extra", nested=True),
    R("scheduling.availability_remove_hours", WIDE, user_id="clinician", block_id="hours", nested=True),
    R("scheduling.availability_remove_time_off", WIDE, user_id="clinician", off_id="time_off", nested=True),
    R("scheduling.book_session", WIDE, course_id="course"),                  # staff book for any patient
    R("scheduling.record_held_session", course_id="course"),                 # only the team's therapist held it
    R("scheduling.room_toggle", ADMIN, "admin", room_id="room"),             # rooms are the admin's
    R("signed_forms.packet", WIDE, course_id="course"),                      # a packet's states: whoever sees
    R("signed_forms.document", signed_form_id="signed_form"),                # the course; the answers are the
    R("signed_forms.document_pdf", signed_form_id="signed_form"),            # team's therapists and prescribers
    R("signed_forms.countersign", STAFF, "b_prescriber", signed_form_id="signed_form"),  # the role the form
    R("signed_forms.review", owner="b_prescriber", signed_form_id="signed_form"),  # names; flags: prescriber
    R("signed_forms.withdraw", STAFF, signed_form_id="signed_form"),         # the front desk hears any patient
    R("signed_forms.tablet_end", STAFF, "staff", course_id="course"),        # and ends any patient's tablet
    # last (were its POST the control, it would hand the owner's device to the patient and lock it; the control
    # opens the confirmation step, the route's first method): its GET and POST refused to everyone else
    R("signed_forms.tablet_start", STAFF, "staff", course_id="course"),      # staff hand over any patient's
]
#: rules with arguments that name no record anyone could be refused
EXEMPT = {"static": "the stylesheet: public files",
          # the patient portal's id routes open to a patient signed in to the portal, never to staff:
          # tests/security/test_portal_matrix.py sweeps them with the patient's own and others' ids
          "portal.session_calendar": "a patient's own session's calendar file (test_portal_matrix.py)",
          "portal_questionnaires.questionnaire": "a questionnaire of the patient's own course (test_portal_matrix.py)",
          "portal_questionnaires.support": "the crisis page of the patient's own answers (test_portal_matrix.py)",
          "portal_practices.practice": "a patient's own practice and its log form (test_portal_matrix.py)",
          "portal_steps.step": "a patient's own action step and its check-in form (test_portal_matrix.py)",
          "portal_journal.entry_edit": "a patient's own journal entry (test_portal_matrix.py)",
          "portal_journal.entry_share": "sharing a patient's own journal entry (test_portal_matrix.py)",
          "portal_journal.entry_unshare": "withdrawing its share (test_portal_matrix.py)",
          "portal_sign_in.accept": "an invitation link's token is the credential (test_portal_invitations.py)",
          "portal_forms.sign": "a form of the patient's own course's packet (test_portal_matrix.py)",
          "portal_forms.document": "a patient's own signed form (test_portal_matrix.py)",
          "portal_forms.document_pdf": "its PDF (test_portal_matrix.py)",
          "portal_forms.withdraw": "withdrawing a patient's own consent (test_portal_matrix.py)",
          "tablet.sign": "a form of the in-clinic signing's own packet: the tablet's token is the credential, no "
                         "login opens it (test_portal_matrix.py, test_signed_form_pages.py)"}
#: fixed values of arguments that are not ids
LITERALS = {"phq9": "phq9", "protocol": "esketamine-trd-rems", "form": "intake-questionnaire"}
CLINICIAN_KINDS = {"hours", "time_off", "extra", "feed"}


@pytest.fixture(scope="module")
def bare_app():
    return create_app(app_settings("sqlite://"))


def test_every_id_route_is_in_the_matrix(bare_app):
    """A route added with an id (any argument) fails here until the matrix has a row for it."""
    in_map = {rule.endpoint: set(rule.arguments) for rule in bare_app.url_map.iter_rules() if rule.arguments}
    in_matrix = {route.endpoint: set(route.args) for route in MATRIX}
    assert sorted(set(in_map) - set(in_matrix) - set(EXEMPT)) == [], "id routes the matrix does not cover"
    assert sorted(set(in_matrix) - set(in_map)) == [], "matrix rows for routes that are gone"
    assert {e: a for e, a in in_map.items() if e not in EXEMPT} == in_matrix, "arguments differ"


# -- running the matrix ---------------------------------------------------------------------

@dataclass
class Tally:
    requests: int = 0
    successes: int = 0
    problems: list[str] = field(default_factory=list)   # successes, changed rows, leaked text, 500s

    def fail(self, who: str, method: str, url: str, what: str) -> None:
        self.problems.append(f"{who} {method} {url}: {what}")


def _ids(world, kind: str, patient: int) -> list:
    """The outside records of a kind (the first only at the default size)."""
    if kind in LITERALS:
        return [LITERALS[kind]]
    if kind == "version":  # the shipped protocols' version
        return [3]
    if kind == "form_version":  # the shipped forms' version
        return [1]
    if kind == "token":  # a revoked secret and one never issued; the live secret is the credential
        return [world.feed_tokens[world.users["b_therapist"]]["revoked"], "never-issued-" + "x" * 30]
    outsider = world.users["b_therapist"]
    if kind in ("clinician", "account"):
        ids = [outsider]
    elif kind in CLINICIAN_KINDS:
        ids = world.clinician_rows[outsider][kind]
    elif kind in ("room", "theme"):
        ids = world.clinic[kind]
    else:
        ids = world.records[patient][kind]
    return ids if ALL_IDS else ids[:1]


ALL_IDS = sized(0, 1) == 1
OUTSIDE_PATIENTS = sized(1, 4)


def targets(route: Route, world, role: str | None) -> list[tuple[int, dict]]:
    """(patient, url arguments) to send: the outside records unless the role is entitled to
    them; ids that do not exist; another patient's child under the user's own parent; and the
    notes a therapist wrote on a patient before leaving that care team."""
    found = []
    kinds = route.args
    if role not in route.allowed:
        for patient in world.outside:
            lists = {arg: _ids(world, kind, patient) for arg, kind in kinds.items()}
            for i in range(max(len(v) for v in lists.values())):
                found.append((patient, {arg: v[i % len(v)] for arg, v in lists.items()}))
    if "token" not in kinds.values():
        found.append((world.outside[0], {arg: LITERALS.get(kind, MISSING_ID) for arg, kind in kinds.items()}))
    if route.nested:
        (parent_arg, parent_kind), (child_arg, child_kind) = kinds.items()
        parent = (world.records[world.inside]["course"][0] if parent_kind == "course"
                  else world.users[role] if role in ("therapist", "prescriber") else world.users["therapist"])
        found += [(world.outside[0], {parent_arg: parent, child_arg: child})
                  for child in _ids(world, child_kind, world.outside[0])]
    if "note" in kinds.values():
        found.append((world.outside[0], {"note_id": world.former_note}))
    unique = {tuple(sorted(args.items())): (patient, args) for patient, args in found}
    return list(unique.values())


def _url(app, world, route: Route, args: dict) -> str:
    from flask import url_for
    with app.test_request_context():
        return url_for(route.endpoint, **args)


def _methods(app, endpoint: str) -> list[str]:
    [rule] = [r for r in app.url_map.iter_rules() if r.endpoint == endpoint]
    return sorted(rule.methods & {"GET", "POST"})


def _flashed(client) -> list[str]:
    """The categories of the messages a response left (consumed, so they never pile up)."""
    with client.session_transaction() as session:
        return [category for category, _ in session.pop("_flashes", [])]


def judge(response, client, *, signed_in: bool) -> str | None:
    """None when the response refused the record; otherwise what it did instead. A redirect
    back is a refusal only when it says so (an error message) and nothing changed."""
    status, flashed = response.status_code, _flashed(client)
    if status in REFUSED:
        return None
    if status in (301, 302, 303, 307):
        where = response.headers["Location"]
        if (where.startswith("/login") and not signed_in) or (signed_in and "error" in flashed):
            return None
        return f"{status} redirect to {where}"
    return f"{status} answered"


def send(client, auth, tally: Tally, who: str, method: str, url: str, data: dict, *, refused=REFUSED) -> None:
    """One request, judged: refused, and nothing of the outside patient in the page."""
    response = client.get(url) if method == "GET" else auth.post(url, data)
    tally.requests += 1
    outcome = judge(response, client, signed_in=who != "signed out")
    if outcome is not None and response.status_code not in refused:
        tally.successes += 1
        tally.fail(who, method, url, outcome)
    body = response.get_data(as_text=True)
    if OUTSIDE_MARKER in body or PROCESS_SECRET in body:
        tally.fail(who, method, url, "the page shows the outside patient's records")


def unchanged(app, tally: Tally, who: str, before: dict, what: str) -> None:
    """No row changed since `before` (a snapshot per sweep: every POST in it was refused, so
    any change at all is a finding; the table names say where to look)."""
    changed = changed_tables(before, snapshot(app))
    if changed:
        tally.fail(who, "POST", what, f"rows changed in {changed}")


def sweep(app, client, auth, world, role: str | None, tally: Tally) -> None:
    """Every route, every target, every method, as `role` (None: signed out)."""
    who, before = role or "signed out", snapshot(app)
    for route in MATRIX:
        methods = _methods(app, route.endpoint)
        for patient, args in targets(route, world, role):
            url = _url(app, world, route, args)
            for method in methods:
                data = form_data(route.endpoint, world, patient) if method == "POST" else {}
                send(client, auth, tally, who, method, url, data)
    unchanged(app, tally, who, before, "(the whole sweep)")


def form_neighbours(app, client, auth, world, make, tally: Tally) -> None:
    """Another patient's ids inside the forms of the user's own records: refused, nothing changed."""
    from ketamine_integration.extensions import db
    from ketamine_integration.notes.models import SessionNote

    inside, outside = world.records[world.inside], world.records[world.outside[0]]
    course, draft = inside["course"][0], inside["note"][1]
    version = make.query(lambda: db.session.get(SessionNote, draft).version)
    note = {"session_date": day(), "version": str(version), "stood_out": "The music"}
    message = form_data("coordination.course_coordination", world, world.inside)
    cases = [
        # a follow-up answers a note of the same course, not another patient's
        ("therapist", f"/courses/{course}/coordination", {**message, "follows": str(outside["coord_note"][0])}),
        ("prescriber", f"/courses/{course}/coordination", {**message, "follows": str(outside["coord_note"][0])}),
        # an integration note serves its own course's dosing sessions only
        ("therapist", f"/notes/{draft}", {**note, "dosing_sessions": str(outside["dosing"][0])}),
        # a check-in is on an action step of the same course
        ("therapist", f"/notes/{draft}", {**note, "check_ins-0-step_id": str(outside["step"][0]),
                                          "check_ins-0-progress": "done", "check_ins-0-decision": "continue"}),
        # a report goes to a prescriber on this patient's care team only
        ("therapist", f"/courses/{course}/reports", {"recipient": str(world.users["b_prescriber"]),
                                                     "questions": "", "recommendations": ""}),
    ]
    for role, url, data in cases:
        auth.sign_in(world.usernames[role])
        before = snapshot(app)
        send(client, auth, tally, role, "POST", url, data, refused=(400, 403, 404, 409, 422))
        unchanged(app, tally, role, before, url)
        auth.logout()


def controls(app, client, auth, world) -> tuple[int, list[str]]:
    """Each outside target really is there: its owner (or the admin, for clinic-wide rows) gets
    past the access check. Run last: their POSTs may change records."""
    reached, missed = 0, []
    order = {"b_therapist": 0, "b_prescriber": 1, "staff": 2, "admin": 3}
    for owner in sorted({r.owner for r in MATRIX}, key=order.get):
        auth.sign_in(world.usernames[owner])
        for route in (r for r in MATRIX if r.owner == owner):
            patient = world.outside[0]
            live = world.feed_tokens[world.users["b_therapist"]]["live"]
            args = {arg: (live if kind == "token" else _ids(world, kind, patient)[0])
                    for arg, kind in route.args.items()}
            url, [method, *_] = _url(app, world, route, args), _methods(app, route.endpoint)
            response = client.get(url) if method == "GET" else auth.post(url, form_data(route.endpoint, world,
                                                                                        patient))
            location = response.headers.get("Location", "")
            _flashed(client)
            if response.status_code in REFUSED or response.status_code >= 500 or location.startswith("/login"):
                missed.append(f"{owner} {method} {url}: {response.status_code}")
            else:
                reached += 1
        if owner == "b_therapist":  # the former member's note is on this therapist's patient
            reached += client.get(f"/notes/{world.former_note}").status_code == 200
        auth.logout()
    return reached, missed


def test_no_role_reaches_records_outside_its_care_team(app, client, make, auth, databases, figures):
    world = shared_world(make, outside_patients=OUTSIDE_PATIENTS)
    tally = Tally()
    for role in ROLES:
        auth.sign_in(world.usernames[role])
        sweep(app, client, auth, world, role, tally)
        auth.logout()
    sweep(app, client, auth, world, None, tally)
    form_neighbours(app, client, auth, world, make, tally)
    before_controls = snapshot(app)
    reached, missed = controls(app, client, auth, world)
    # The owners' POSTs do change records: the snapshot sees a change when there is one.
    assert changed_tables(before_controls, snapshot(app)), "the controls changed nothing: is the snapshot blind?"
    figures.record("IDOR matrix", "requests",
                   f"{tally.requests} requests ({len(MATRIX)} id routes x {len(ROLES)} roles + signed out; "
                   f"outside records, missing ids, nested and form-borne ids), {tally.successes} successes",
                   engine=databases.name)
    figures.record("IDOR matrix", "positive controls", f"{reached} of {len(MATRIX) + 1} outside targets reached "
                   "by their owner", engine=databases.name)
    assert tally.problems == [], "\n".join(tally.problems)
    assert missed == [] and reached == len(MATRIX) + 1, "\n".join(missed)

"""Plausible form data for every state-changing route, as its users would submit it."""

from __future__ import annotations

import hashlib
import itertools
from datetime import timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

from .portal_world import PORTAL_FORMS
from .world import ICS, PROTOCOL, Team, World, local
from tests.factories import DISCHARGE_MET_FORM


def day(days: float = 0) -> str:
    return local(days).date().isoformat()


def moment(days: float, hour: int) -> str:
    return local(days, hour).strftime("%Y-%m-%dT%H:%M")


def team_of(world: World, patient_id: int) -> Team:
    inside = patient_id == world.inside
    return Team(
        world.users["therapist" if inside else "b_therapist"], world.users["prescriber" if inside else "b_prescriber"]
    )


_IMPORTS = itertools.count(1)


def _import_file(with_digest: bool) -> dict:
    """A one-patient CSV, a new person each time; the run carries the digest of the file it imports."""
    content = f"given_name,family_name,date_of_birth\nMatrix,Fictional{next(_IMPORTS):04d},1982-03-04\n".encode()
    data = {"kind": "patients", "import_file": (BytesIO(content), "patients.csv")}
    return {**data, "digest": hashlib.sha256(content).hexdigest()} if with_digest else data


def _calendar_file() -> dict:
    start = local(60, 15).astimezone(ZoneInfo("UTC"))
    ics = ICS % {
        b"start": start.strftime("%Y%m%dT%H%M%SZ").encode(),
        b"end": (start + timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ").encode(),
    }
    return {"calendar_file": (BytesIO(ics), "other.ics")}


def _demographics(family: str) -> dict:
    return {
        "given_name": "Formia",
        "family_name": family,
        "preferred_name": "",
        "date_of_birth": "1984-02-29",
        "mrn": "",
        "phone": "",
        "email": "",
        "emergency_contact_name": "",
        "emergency_contact_relationship": "",
        "emergency_contact_phone": "",
    }


def _dosing_record(team: Team) -> dict:
    data = {
        "started_at": moment(-1, 9),
        "ended_at": moment(-1, 10),
        "route": "intranasal",
        "medication": "esketamine",
        "dose_mg": "56",
        "lot_number": "LOT-44",
        "administered_by": str(team.prescriber),
        "monitored_by": str(team.prescriber),
        "sedation": "mild",
        "dissociation": "mild",
        **DISCHARGE_MET_FORM,
        "version": "1",
    }
    for timepoint in ("baseline", "post_40", "discharge"):
        data.update(
            {
                f"{timepoint}-systolic": "126",
                f"{timepoint}-diastolic": "80",
                f"{timepoint}-heart_rate": "70",
                f"{timepoint}-spo2": "98",
            }
        )
    return data


def _nothing(w, t, r) -> dict:
    return {}


#: endpoint -> its form from (w)orld, (t)eam of the patient concerned, that patient's (r)ecords
FORMS = {
    "accounts.login": lambda w, t, r: {"username": w.usernames["therapist"], "password": "wrong but plausible 42"},
    "accounts.logout": _nothing,
    "accounts.user_create": lambda w, t, r: {
        "username": "newcomer",
        "full_name": "New Comer",
        "roles": ["staff"],
        "active": "y",
        "password": "a long fictional passphrase 2031",
        "confirm": "a long fictional passphrase 2031",
    },
    "accounts.user_edit": lambda w, t, r: {
        "username": w.usernames["b_therapist"],
        "full_name": "Renamed",
        "roles": ["therapist"],
        "active": "y",
    },
    "accounts.user_password": lambda w, t, r: {
        "password": "a long fictional passphrase 2031",
        "confirm": "a long fictional passphrase 2031",
    },
    "calendars.calendar_import": lambda w, t, r: _calendar_file(),
    "imports.import_check": lambda w, t, r: _import_file(False),
    "imports.import_run": lambda w, t, r: _import_file(True),
    "calendars.feed_create": lambda w, t, r: {"label": "laptop"},
    "calendars.feed_revoke": _nothing,
    "calendars.feed_settings": lambda w, t, r: {"identity": "none", "calendar_name": "Appointments"},
    "clinic_settings.file_names_setting": lambda w, t, r: {"file_names": "mrn"},
    "telehealth.telehealth_settings": lambda w, t, r: {"template": "https://video.example.org/{appointment}"},
    "reminders.contact_consent": lambda w, t, r: {"channel": "email", "decision": "withdraw", "method": "phone"},
    "notifications.notification_settings": lambda w, t, r: {"oncall_email": "oncall@clinic.example"},
    "notifications.account_notifications": lambda w, t, r: {"digest": "on", "digest_at": "07:30",
                                                            "video_room_url": "https://video.example.org/own"},
    "reminders.opt_out": lambda w, t, r: {"opt_out-method": "phone"},
    "reminders.reminder_settings": lambda w, t, r: {
        "sender": "Oak Street Clinic", "quiet_hours": "21:00-08:00", "clinic_address": "", "clinic_phone": "",
        **{f"{kind}-offsets": "48h, 2h" for kind in ("preparation", "dosing", "integration", "follow_up")},
        **{f"{kind}-channels": ["email"] for kind in ("preparation", "dosing", "integration", "follow_up")},
    },
    "coordination.course_coordination": lambda w, t, r: {
        "recipient": str(t.prescriber),
        "priority": "routine",
        "category": "response",
        "body": "Sleeping better this week.",
    },
    "coordination.note_acknowledge": lambda w, t, r: {"reply": "Seen, thank you."},
    "coordination.release_revoke": lambda w, t, r: {"revoked_on": day()},
    "coordination.releases": lambda w, t, r: {
        "recipient": str(t.prescriber),
        "recipient_name": "",
        "categories": ["dosing"],
        "purpose": "Coordination of treatment",
        "effective_on": day(),
        "expires_on": "",
    },
    "coordination.report_generate": lambda w, t, r: {
        "recipient": str(t.prescriber),
        "questions": "Keep the spacing?",
        "recommendations": "",
    },
    "coordination.report_preview": lambda w, t, r: {
        "recipient": str(t.prescriber),
        "questions": "Keep the spacing?",
        "recommendations": "",
    },
    "coordination.report_form": lambda w, t, r: {
        "recipient": str(t.prescriber),
        "questions": "Keep the spacing?",
        "recommendations": "",
    },
    "discharge.summary_addendum": lambda w, t, r: {"body": "Booster discussed by phone."},
    "discharge.summary_save": lambda w, t, r: {"version": "1", "summary": "Mood lifted.", "recommendations": "Booster"},
    "discharge.summary_send": lambda w, t, r: {"recipient": str(t.prescriber)},
    "discharge.summary_start": _nothing,
    "record_access.record_export": lambda w, t, r: {"requested_by": "patient", "representative_name": "",
                                                    "representative_authority": "", "received_on": day(),
                                                    "delivery": "in_person", "delivery_note": ""},
    "courses.course_create": lambda w, t, r: {
        "protocol": f"{PROTOCOL}@3",
        "start_date": day(),
        "indication": "Treatment-resistant depression",
        "therapist": str(t.therapist),
        "prescriber": str(t.prescriber),
    },
    "courses.course_phase": lambda w, t, r: {"target": "integration", "reason": "Series complete", "version": "3"},
    "courses.preparation_record": lambda w, t, r: {"item": "intention_setting", "completed_on": day(), "note": ""},
    "courses.preparation_void": lambda w, t, r: {"reason": "Entered on the wrong day"},
    "experience.dosing_addendum": lambda w, t, r: {"body": "Lot number corrected to LOT-43."},
    "experience.dosing_cancel": lambda w, t, r: {"reason": "Patient unwell"},
    "experience.dosing_plan": lambda w, t, r: {
        "first_start": moment(30, 7),
        "days_between": "4",
        "count": "1",
        "clinician": str(t.prescriber),
        "room": str(w.clinic["room"][1]),
        "minutes": "",
        "reason": "",
    },
    "experience.dosing_record": lambda w, t, r: _dosing_record(t),
    "experience.dosing_reschedule": lambda w, t, r: {"planned_start": moment(2, 7), "reason": ""},
    "experience.dosing_sign": lambda w, t, r: {"version": "1"},
    "experience.rems_submitted": lambda w, t, r: {"submitted_on": day()},
    # A plausible-looking code: the CSRF check comes first, so it is never checked for forged posts.
    "mfa.code": lambda w, t, r: {"code": "492039"},
    "mfa.enrol": lambda w, t, r: {"code": "492039"},
    "mfa.regenerate": lambda w, t, r: {"code": "492039"},
    "mfa.turn_off": lambda w, t, r: {"code": "492039"},
    "mfa.reset": lambda w, t, r: {"reason": "Lost their phone on holiday"},
    "mfa.policy": lambda w, t, r: {"roles": ["therapist", "prescriber"]},
    "notes.alert_acknowledge": lambda w, t, r: {"note": "Called the patient; safety plan reviewed."},
    "safety_plans.edit": lambda w, t, r: {"warning_signs": "Not sleeping", "coping_strategies": "Walk the dog",
                                          "professionals-0-name": "988 Lifeline", "professionals-0-phone": "988",
                                          # the world's plan is revision 1, signed (safety_plans.models.edit_token)
                                          "action": "sign", "confirm_lock": "y", "version": "1000000"},
    "safety_plans.addendum": lambda w, t, r: {"body": "Dana's number changed"},
    "safety_plans.review": lambda w, t, r: {"reviewed_on": day(), "with_patient": "yes", "changes": "none"},
    "notes.formulation": lambda w, t, r: {
        "presenting_concerns": "Low mood",
        "patterns": "",
        "core_beliefs": "",
        "emotion_nervous_system": "",
        "development_context": "",
        "strengths": "",
        "why_now": "",
        "maintaining_factors": "",
        "what_might_help": "",
        "revision": "1",
    },
    "plans.addendum": lambda w, t, r: {"addendum-body": "Later: prefers morning sessions."},
    "plans.revision": lambda w, t, r: {"version": "1", "goals-0": "Re-engage with daily life",
                                       "stage": "target", "pathway": "common_factors"},
    "plans.stage_change": lambda w, t, r: {"stage-stage": "clarify", "stage-reason": "Safety steady for weeks."},
    "plans.start": lambda w, t, r: {},
    "notes.measure_record": lambda w, t, r: {
        "phq9-administered_on": day(),
        "phq9-difficulty": "somewhat",
        **{f"phq9-item{n}": "1" for n in range(1, 10)},
    },
    "notes.measure_void": lambda w, t, r: {"reason": "Entered twice"},
    "notes.note_addendum": lambda w, t, r: {"body": "Correction: the walk is twice a week."},
    "notes.dosing_note_start": lambda w, t, r: {},
    "notes.note_create": lambda w, t, r: {"note-kind": "integration", "note-session_date": day()},
    "notes.note_edit": lambda w, t, r: {
        "session_date": day(),
        "version": "1",
        "stood_out": "The music",
        "insights": "I can rest",
    },
    "notes.note_discard": lambda w, t, r: {"discard-confirm": "y", "discard-version": "1"},
    "notes.process_note": lambda w, t, r: {"body": "My own reflections", "version": ""},
    "notes.theme_toggle": _nothing,
    "notes.theme_vocabulary": lambda w, t, r: {"name": "Belonging"},
    "practices.practice_vocabulary": lambda w, t, r: {"name": "Gratitude letter"},
    "practices.practice_toggle": lambda w, t, r: {"practice": "journaling"},
    "practices.assign_practice": lambda w, t, r: {"assign-practice": "social", "assign-times": "2",
                                                  "assign-per": "week", "assign-starts_on": day(),
                                                  "assign-ends_on": day(27), "assign-instructions": ""},
    "practices.assignment_end": _nothing,
    "patients.patient_archive": _nothing,
    "patients.patient_create": lambda w, t, r: _demographics("Newcomer"),
    "patients.patient_edit": lambda w, t, r: {
        **_demographics("Renamed"),
        "therapists": [str(t.therapist)],
        "prescribers": [str(t.prescriber)],
        "version": "1",
    },
    "patients.patient_restore": _nothing,
    "scheduling.appointment_cancel": lambda w, t, r: {"reason": "Patient asked to move it"},
    "scheduling.appointment_outcome": lambda w, t, r: {"outcome": "attended"},
    "scheduling.appointment_reschedule": lambda w, t, r: {"starts_at": moment(2, 15), "reason": "Clinician ill"},
    "scheduling.auto_schedule_confirm": lambda w, t, r: {
        "course": str(r["course"][0]),
        "window": "1",
        "therapist": str(t.therapist),
        "starts_at": local(2, 16).isoformat(),
        "room": "",
        "pick": "0",
        "days": "14",
    },
    "scheduling.availability_add_extra_hours": lambda w, t, r: {
        "starts_at": moment(50, 10),
        "ends_at": moment(50, 12),
        "reason": "Cover",
    },
    "scheduling.availability_add_hours": lambda w, t, r: {"weekday": "5", "starts": "09:00", "ends": "12:00"},
    "scheduling.availability_add_time_off": lambda w, t, r: {
        "starts_at": moment(55, 9),
        "ends_at": moment(56, 9),
        "reason": "Leave",
    },
    "scheduling.availability_remove_extra_hours": _nothing,
    "scheduling.availability_remove_hours": _nothing,
    "scheduling.availability_remove_time_off": _nothing,
    "scheduling.book_session": lambda w, t, r: {
        "kind": "integration",
        "starts_at": moment(2, 14),
        "minutes": "50",
        "clinician": str(t.therapist),
        "modality": "telehealth",
        "room": "",
    },
    "scheduling.record_held_session": lambda w, t, r: {
        "held-starts_at": moment(-1, 11),
        "held-minutes": "50",
        "held-modality": "telehealth",
        "held-attended": "y",
        "held-reason": "Walk-in after a hard week",
    },
    "scheduling.room_toggle": _nothing,
    # a course's signed forms (issue 26): the world's signed consent of each patient (world.py)
    "signed_forms.tablet_start": _nothing,
    "signed_forms.tablet_end": _nothing,
    "signed_forms.countersign": _nothing,
    "signed_forms.review": lambda w, t, r: {f"review-{r['signed_form'][0]}-note": "Questions answered by phone."},
    "signed_forms.withdraw": lambda w, t, r: {f"withdraw-{r['signed_form'][0]}-reason": "Called to withdraw."},
    "scheduling.rooms": lambda w, t, r: {"name": "Matrix Room 3"},
    "scheduling.session_types": lambda w, t, r: {"kind": "integration", "default_minutes": "55"},
    # the patient portal's routes (portal_world.py) take the same submission whoever's records
    **{endpoint: (lambda make: lambda w, t, r: make())(data) for endpoint, data in PORTAL_FORMS.items()},
}


def form_data(endpoint: str, world: World, patient_id: int) -> dict:
    """What a user of `endpoint` would submit about `patient_id`'s records (their team's clinicians)."""
    if endpoint not in FORMS:
        raise AssertionError(f"no form data for the new route {endpoint}: add it to tests/security/form_data.py")
    return FORMS[endpoint](world, team_of(world, patient_id), world.records[patient_id])

"""The fictional demo clinic: staff accounts and about thirty invented patients.

Every name, date, phone number (555-01xx, reserved for fiction) and email (example.org,
reserved by RFC 2606) here is made up.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from ..accounts.models import ADMIN, NURSE, PRESCRIBER, STAFF, THERAPIST
from ..accounts.services import create_user
from .ahead import load_demo_booked_ahead
from .alerts import dated_alerts, load_demo_alert_emails
from .portal import load_demo_portal
from .attendance import load_demo_attendance
from .coordination import load_demo_coordination
from .courses import load_demo_courses
from .discharge import load_demo_discharge
from .forms import load_demo_packets
from .record_access import load_demo_record_access
from .journal import load_demo_journal
from .messages import load_demo_messages
from .notes import load_demo_notes
from .plans import load_demo_plans
from .questionnaires import load_demo_questionnaires
from .practices import load_demo_practices
from .reminders import load_demo_reminders
from .week import load_demo_week
from ..notifications.oncall import save_oncall_address
from ..patients.services import register_patient
from ..telehealth.services import save_settings as save_telehealth_settings

DEMO_PASSWORD = "harbor-light-demo-2026"
DEMO_SEED = 20261121

#: (username, full name, licence type, licence number, further credentials, roles); every number invented
DEMO_USERS = (
    ("admin", "Avery Quillfeather", None, None, None, (ADMIN,)),
    ("staff1", "Sam Driftwood", None, None, None, (STAFF,)),
    ("staff2", "Remy Tallgrass", None, None, None, (STAFF,)),
    ("therapist1", "Juniper Hollowell", "LCSW", "DEMO-LCSW-1041", None, (THERAPIST,)),
    ("therapist2", "Ellis Marrowby", "PsyD", "DEMO-PSY-2210", None, (THERAPIST,)),
    ("therapist3", "Wren Ashcombe", "LMFT", "DEMO-LMFT-3307", None, (THERAPIST,)),
    ("therapist4", "Noor Fennimore", "LPC", "DEMO-LPC-4415", None, (THERAPIST,)),
    ("prescriber1", "Idris Vantablack", "MD", "DEMO-MD-5120", None, (PRESCRIBER,)),
    ("prescriber2", "Sol Brightwater", "NP", "DEMO-NP-6034", "PMHNP-BC", (PRESCRIBER,)),
    ("nurse1", "Marigold Pennyroyal", "RN", "DEMO-RN-7781", None, (NURSE,)),
    ("nurse2", "Tobin Larchmont", "RN", "DEMO-RN-7782", None, (NURSE,)),
)
#: the clinicians' work phones (fictional numbers: 555-01xx), given on the reports and summaries they write;
#: the others' documents give the clinic's phone
DEMO_PHONES = {"therapist1": "(555) 0100 ext. 21", "therapist2": "(555) 0100 ext. 22",
               "prescriber1": "(555) 0100 ext. 31"}
#: the clinic's on-call address (README, Staff notifications), and the users who chose a daily summary
DEMO_ONCALL = "on-call@clinic.example.org"
DEMO_SUMMARY_TIMES = {"therapist1": time(7, 30), "prescriber1": time(8, 0), "staff1": time(7, 0)}
#: telehealth links (README, Telehealth links): the clinic's template gives each session a room;
#: one therapist has their own room. example.org is reserved for examples (RFC 2606)
DEMO_VIDEO_TEMPLATE = "https://video.example.org/harbor-light/{appointment}"
DEMO_VIDEO_ROOMS = {"therapist2": "https://video.example.org/rooms/ellis-marrowby"}

GIVEN = ("Alder", "Briar", "Cove", "Dune", "Ember", "Fern", "Gale", "Harbor", "Isle", "Jasper",
         "Kestrel", "Linden", "Moss", "Nettle", "Oriel", "Pike", "Quarry", "Rook", "Sorrel",
         "Thistle", "Umber", "Vale", "Willow", "Yarrow", "Zephyr", "Basil", "Clover", "Heath",
         "Lark", "Marsh")
FAMILY = ("Applewhite", "Bramblecote", "Cinderfield", "Dewberry", "Elmsworth", "Foxglove",
          "Greenleaf", "Hazelmere", "Ivybridge", "Juniperhall", "Kettleby", "Larkspur",
          "Mossbank", "Nightshade", "Oakhollow", "Pebblebrook", "Quillon", "Rushmere",
          "Stonecrop", "Thornbury", "Underhill", "Vetchling", "Wildermoor", "Yewdale",
          "Zinnford", "Birchwater", "Copperfen", "Dovecote", "Fallowmere", "Glimmerton")
RELATIONSHIPS = ("spouse", "partner", "parent", "sibling", "friend", "adult child")
PATIENT_COUNT = 30


def load_demo_clinic(now: datetime) -> None:
    """Create the demo clinic in the current transaction (the caller commits).

    Demo users start without an authenticator: every role requires one by default, so each
    demo user's first sign-in walks through setting one up, as a new clinic user's would."""
    rng = random.Random(DEMO_SEED)
    users = {}
    for username, full_name, licence_type, licence_number, credentials, roles in DEMO_USERS:
        users[username] = create_user(username=username, full_name=full_name, password=DEMO_PASSWORD,
                                      roles=roles, credentials=credentials, licence_type=licence_type,
                                      licence_number=licence_number,
                                      email=f"{username}@clinic.example.org", phone=DEMO_PHONES.get(username),
                                      video_room_url=DEMO_VIDEO_ROOMS.get(username))
    save_telehealth_settings(template=DEMO_VIDEO_TEMPLATE, in_feeds=False, by_id=users["admin"].id)
    # before any safety alert is raised: each one is emailed to the on-call address too
    save_oncall_address(DEMO_ONCALL, by_id=users["admin"].id)
    for username, at in DEMO_SUMMARY_TIMES.items():
        users[username].digest_at = at
    therapists = [u for u in users.values() if u.has_role(THERAPIST)]
    prescribers = [u for u in users.values() if u.has_role(PRESCRIBER)]
    # both nurses on every care team: they monitor the demo's dosing sessions (demo/courses.py),
    # and either may record the next one
    nurses = [u for u in users.values() if u.has_role(NURSE)]
    patients = []
    for i in range(PATIENT_COUNT):
        given, family = GIVEN[i], FAMILY[i]
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 52))
        patients.append(register_patient(
            mrn=f"DEMO-{i + 1:04d}", given_name=given, family_name=family,
            preferred_name=given[:3] if i % 7 == 0 else None, date_of_birth=born,
            phone=f"(555) 01{i % 100:02d}", email=f"{given.lower()}.{family.lower()}@example.org",
            emergency_contact_name=f"{rng.choice(GIVEN)} {family}",
            emergency_contact_relationship=rng.choice(RELATIONSHIPS),
            emergency_contact_phone=f"555-01{(i + 50) % 100:02d}",
            therapist_ids=[therapists[i % len(therapists)].id],
            prescriber_ids=[prescribers[i % len(prescribers)].id],
            nurse_ids=[nurse.id for nurse in nurses],
        ))
    with dated_alerts():  # each safety alert raised when what raised it was recorded
        load_demo_courses(users, patients, now, rng)
        load_demo_notes(now, rng)
    load_demo_practices(now, rng)  # after the notes: the patients check in on their steps
    load_demo_attendance(now)  # after the notes: a signed note proves its session was held
    load_demo_plans(now)  # after the notes: the WAI-SR follows the second integration session
    load_demo_booked_ahead(now)
    load_demo_week(now)
    load_demo_coordination(now)
    load_demo_discharge(now)  # after the attendance and the plans: signing freezes them into the summaries
    load_demo_record_access(now)  # after the discharge summary: its copy and report are in the patient's record
    load_demo_journal(now)  # after the alerts: the course with the open one gets the first journal
    load_demo_reminders(users, patients)
    load_demo_questionnaires(now)  # after the reminder settings: they hold the clinic's phone
    load_demo_portal(users, now)  # after the sessions ahead: its patients are those with some
    load_demo_packets(users, now)  # after the portal accounts: two patients sign or withdraw there
    # after the consents: the reminders of the sessions ahead are queued when this transaction commits
    load_demo_messages(now)
    load_demo_alert_emails(now)

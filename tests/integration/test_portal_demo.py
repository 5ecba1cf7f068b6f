"""The demo clinic's patient portal (issue 23, point 7 and "Done when"): three patients with accounts,
each enrolling at the first sign-in, who between them have every part of the portal to show; one
invitation waiting, one revoked; and no process note, coordination note, clinician's note, alert or
other patient's data on any portal page of the demo patients (tests/portal_canaries.py walks every GET
route under /portal, so the pages added later are walked too)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from ketamine_integration.db.types import utcnow
from ketamine_integration.demo.portal import (PORTAL_PARTS, PORTAL_PASSWORD, PRACTICE_LOGS, PRIVATE_ENTRIES,
                                              SHARED_ENTRIES, STEP_CHECK_INS, choose_portal_patients,
                                              demo_portal_logins, forms_to_see)
from ketamine_integration.domain.portal import PENDING, REVOKED
from ketamine_integration.extensions import db
from ketamine_integration.journal.models import JournalEntry
from ketamine_integration.portal.invitations import portal_status
from ketamine_integration.portal.models import PortalAccount
from tests.conftest import Auth
from tests.portal_canaries import OWN_WORDS, Walk, canaries, plant_canaries, portal_get_rules, walk_portal


def _accounts():
    return db.session.scalars(select(PortalAccount).order_by(PortalAccount.id)).all()


@pytest.mark.demo_clinic
def test_the_demo_patients_sign_in_enrolling_a_second_step_the_first_time(make, app):
    accounts = make.query(_accounts)
    active = [a for a in accounts if a.password_hash]
    assert len(active) == 3 and all(a.second_factor is None for a in active)  # each enrols at first sign-in
    states = make.query(lambda: sorted(portal_status(a.patient_id, utcnow()).state for a in accounts
                                       if not a.password_hash))
    assert states == sorted([PENDING, REVOKED])
    for account in active:
        patient = Auth(app, app.test_client())
        first = patient.post("/portal/sign-in", {"email": account.email, "password": PORTAL_PASSWORD})
        assert first.headers["Location"] == "/portal/enrol"
        assert "authenticator app" in patient.client.get("/portal/enrol").get_data(as_text=True)


@pytest.mark.demo_clinic
def test_the_demo_portal_patients_between_them_show_every_part_of_the_portal(make, databases):
    """Point 7: a journal with shared and private entries, practices with logs, check-ins on action
    steps, a PHQ-9 completed in the portal, questionnaires open now; the first account (the browser
    suite's patient) has a journal, practices and steps. `flask demo` prints each login with what it shows."""
    logins = make.query(lambda: demo_portal_logins(utcnow()))
    shown = [{part for part in PORTAL_PARTS if part in shows} for _, _, shows in logins]
    assert set().union(*shown) == set(PORTAL_PARTS)
    assert {SHARED_ENTRIES, PRIVATE_ENTRIES, PRACTICE_LOGS, STEP_CHECK_INS} <= shown[0]
    printed = databases.demo_output().split("Patient portal (/portal/sign-in")[1]
    assert PORTAL_PASSWORD in printed
    for email, _, shows in logins:
        assert f"  {email} " in printed and f"    shows {shows}\n" in printed
    assert any("forms: " in shows for _, _, shows in logins)  # a portal patient has forms to see


@pytest.mark.demo_clinic
def test_flask_demo_names_the_patients_whose_forms_show_each_state(make, databases):
    """The banner names who to open for each packet state (a new-user review found no word of which demo
    patient had forms): sent, partly signed with a flag waiting, a flag reviewed, countersignatures owed,
    a consent withdrawn."""
    found = make.query(forms_to_see)
    assert found
    printed = databases.demo_output().split("Intake and consent forms to see")[1]
    for name, words in found:
        assert f"  {name:<24} {words}\n" in printed
    states = " | ".join(words for _, words in found)
    for state in ("0 of ", "a flagged answer to review", "a flagged answer reviewed", "countersignatures owed",
                  "1 withdrawn"):
        assert state in states, state


@pytest.mark.parametrize("parts, chosen", [
    ({1: ({"a"}, 0), 2: ({"a", "b"}, 0), 3: ({"c"}, 0)}, [2, 3]),          # the most parts first, then what is missing
    ({1: ({"a", "b"}, 0), 2: ({"a", "b"}, 2), 3: ({"c"}, 0)}, [2, 3]),     # a tie: more questionnaires open
    ({1: ({"a", "b"}, 1), 2: ({"a", "b"}, 1), 3: ({"c"}, 0)}, [1, 3]),     # a full tie: the order given
    ({1: ({"a"}, 0), 2: ({"a", "c"}, 0), 3: ({"b"}, 0)}, [2, 3]),          # a part shown already counts for nothing
    ({1: (set(), 0)}, [1]),                                                # fewer patients than accounts
])
def test_the_portal_patients_are_chosen_to_show_every_part(parts, chosen):
    assert choose_portal_patients(parts, 2) == chosen


@pytest.mark.demo_clinic
def test_no_canary_on_any_portal_page_of_the_demo_patients(make, app):
    """'Done when': canaries planted on the demo patients' courses (a process note, a coordination note,
    a clinician's signed note and draft, an addendum, the formulation, a safety alert acknowledged),
    then every GET route under /portal, as each demo patient, with their own ids and other patients'."""
    accounts = make.query(lambda: [(a.id, a.patient_id) for a in _accounts() if a.password_hash])
    patients = [patient for _, patient in accounts]
    make.run(lambda: plant_canaries(patients, utcnow()))
    # another patient's own words: the journal's first patient without an account writes some too
    outsider = make.query(_journal_keeper_without_an_account)
    make.run(lambda: plant_canaries([outsider], utcnow()))
    for account, _ in accounts:  # the demo leaves them to enrol; the walk signs in as enrolled patients do
        make.run(lambda a=account: setattr(db.session.get(PortalAccount, a), "second_factor", "totp"))
    walk = Walk()
    for account, patient in accounts:
        client = app.test_client()
        Auth(app, client).portal_sign_in(account)
        others = [p for p in patients if p != patient] + [outsider]
        banned = make.query(lambda p=patient: canaries(p))
        assert len(banned) > 30  # the demo's own process and coordination notes, the canaries, 29 names
        walk_portal(app, client, patient, others, utcnow(), banned, walk)
    assert walk.problems == [], "\n".join(walk.problems)
    _assert_the_walk_was_whole(app, make, walk, patients)


def _assert_the_walk_was_whole(app, make, walk: Walk, patients: list[int]) -> None:
    """Every GET route under /portal walked (those added later too), each route with parameters opened
    with an own id at least once, and, once the journal has pages, its keepers read their own words
    there: the walk saw the patients' data, so the canaries' absence means something."""
    rules = portal_get_rules(app)
    routes = {r.endpoint for r in rules}
    assert walk.endpoints == routes and {"portal.home", "portal.account", "portal.session_calendar"} <= routes
    parametrised = {r.endpoint for r in rules if r.arguments and r.endpoint != "portal_sign_in.accept"}
    assert {e for e in parametrised if not walk.answered.get(e)} == set(), "a route no own id opened"
    keepers = set(make.query(lambda: db.session.scalars(select(JournalEntry.patient_id).where(
        JournalEntry.text.startswith(OWN_WORDS), JournalEntry.patient_id.in_(patients)))))
    if any(endpoint.startswith("portal_journal") for endpoint in routes):
        assert keepers and walk.saw_own_words >= keepers


def _journal_keeper_without_an_account() -> int:
    with_accounts = select(PortalAccount.patient_id).where(PortalAccount.password_hash.is_not(None))
    return db.session.scalar(select(JournalEntry.patient_id).where(JournalEntry.patient_id.not_in(with_accounts))
                             .order_by(JournalEntry.patient_id).limit(1))

"""CSRF matrix (OWASP ASVS 5.0 V3/V50): every state-changing route in the url_map, posted by a
user allowed to use it (signed out for /login) without a token and with a token from another
session, is refused with the CSRF error page and changes nothing; and no GET route changes data.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import url_for

from ketamine_integration.domain.permissions import permissions_of
from ketamine_integration.web import access
from tests.conftest import Auth, csrf_token

from .test_idor_matrix import CLINICIAN_KINDS, LITERALS, MATRIX

from .form_data import form_data
from .portal_world import NEVER_ISSUED, portal_args
from .invariants import changed_tables
from .world import shared_world, snapshot

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_PAGE = "The form had expired or did not come from this site, so nothing was saved."
#: who submits a route's form: the first of these its access rule admits (a clinician on the
#: inside patient's care team where clinicians may, else the admin or staff)
ACTORS = ("therapist", "prescriber", "admin", "staff")
#: GET routes that write by design, and what: the feed address counts its requests in the
#: database (FEED_REQUESTS_PER_HOUR, shared by every server process); opening a conversation marks
#: the answers to one's own notes seen (the home page's "new replies", migration 0032)
GET_WRITES = {"calendars.feed_ics": {"calendar_feeds"},
              "coordination.course_coordination": {"coordination_replies_seen"}}
#: GET routes that redirect a fully signed-in user away: they serve only a sign-in still
#: waiting for its second step (tests/integration/test_mfa.py covers them)
SECOND_STEP_ONLY = {"mfa.code", "mfa.enrol"}
#: GET routes of the patient portal that answer otherwise than 200, and why: its code steps redirect a
#: signed-in patient (tests/integration/test_portal_sign_in.py covers them); the factor confirmation
#: opens only after a change was asked for; an invitation link never issued shows the dead-link page
PORTAL_GETS = {"portal_sign_in.code": 302, "portal_sign_in.enrol": 302, "portal.factor_confirm": 302,
               "portal_sign_in.accept": 404,
               # the inside patient's only answers with an alert are a clinician's entry: no crisis page of
               # theirs (tests/integration/test_portal_questionnaires.py opens a patient's own)
               "portal_questionnaires.support": 404}
#: controls run last, and these last of all: they sign the user out or change accounts
LAST = ("accounts.user_edit", "accounts.user_password", "accounts.logout", "portal_sign_in.sign_out", "tablet.done")
#: who submits a portal route: the inside patient, signed in to the portal
PATIENT = "patient"
#: who submits the clinic tablet's routes: the inside patient, handed a tablet by their therapist
TABLET = "tablet"
#: where each kind of session lands (a staff user: the home page)
HOMES = {PATIENT: "/portal/", TABLET: "/tablet/"}


@dataclass
class Tally:
    routes: int = 0
    requests: int = 0
    accepted: list[str] = field(default_factory=list)


def actor_for(app, endpoint: str) -> str | None:
    """The role key that submits `endpoint` (None: signed out, for public routes)."""
    rule = access.rule_for(app, endpoint)
    if rule.public:
        return None
    if rule.portal is not None:
        return PATIENT
    if rule.tablet:
        return TABLET
    return next(key for key in ACTORS if rule.permission is None or rule.permission in permissions_of([key]))


def inside_value(world, kind: str, actor: str | None):
    """The inside patient's record (or the actor's own row) an argument of this kind names."""
    me = world.users[actor] if actor in ("therapist", "prescriber") else world.users["therapist"]
    if kind in LITERALS:
        return LITERALS[kind]
    if kind == "version":  # the shipped protocols' version
        return 3
    if kind == "form_version":  # the shipped forms' version
        return 1
    if kind == "token":
        return world.feed_tokens[world.users["therapist"]]["live"]
    if kind == "clinician":
        return me
    if kind in CLINICIAN_KINDS:
        return world.clinician_rows[me][kind][0]
    if kind == "account":
        return world.users["b_therapist"]
    if kind in ("room", "theme"):
        return world.clinic[kind][0]
    return world.records[world.inside][kind][0]


def url_of(app, world, rule, actor: str | None) -> str:
    kinds = {r.endpoint: r for r in MATRIX}
    args = {"filename": "style.css"} if rule.endpoint == "static" else {}
    if rule.endpoint in kinds:
        args = {arg: inside_value(world, kind, actor) for arg, kind in kinds[rule.endpoint].args.items()}
    args.update(QUERY_ARGS.get(rule.endpoint, {}))
    args.update({"portal_sign_in.accept": {"token": NEVER_ISSUED}}.get(rule.endpoint, {}))
    # the inside patient's own records (the integration session tomorrow, the PHQ-9 at baseline, the
    # private journal entry, the practice, the step of their signed note)
    args.update((portal_args(world, rule.endpoint, world.inside) or [{}])[0])
    with app.test_request_context():
        return url_for(rule.endpoint, **args)


#: GET pages opened from a link that names what they are about in the query (a free slot of the
#: calendar): without it they answer 400, which is not what this matrix looks at
QUERY_ARGS = {"scheduling.calendar_book": {"starts_at": "2030-03-04T10:00"}}


def rules(app, methods: frozenset[str]):
    return sorted((r for r in app.url_map.iter_rules() if r.methods & methods), key=lambda r: r.endpoint)


def by_actor(app, items):
    """Group rules by who submits them, signed-out ones first."""
    groups: dict[str | None, list] = {}
    for rule in items:
        groups.setdefault(actor_for(app, rule.endpoint), []).append(rule)
    return sorted(groups.items(), key=lambda kv: (kv[0] is not None, kv[0] or ""))


def hand_tablet(app, client, world) -> None:
    """The inside patient's therapist starts an in-clinic signing and hands this client the tablet."""
    from ketamine_integration.accounts.models import User
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.extensions import db
    from ketamine_integration.portal.tablet import TABLET_KEY
    from ketamine_integration.signed_forms.services import start_tablet_signing

    with app.app_context():
        course = db.session.get(TreatmentCourse, world.records[world.inside]["course"][0])
        _signing, token = start_tablet_signing(course, by=db.session.get(User, world.users["therapist"]))
        db.session.commit()
    with client.session_transaction() as session:
        session.clear()
        session[TABLET_KEY] = token


def sign_in(auth, client, app, world, actor: str | None) -> None:
    if actor == PATIENT:
        auth.portal_sign_in(world.portal_account)
    elif actor == TABLET:
        hand_tablet(app, client, world)
    elif actor is not None:
        auth.sign_in(world.usernames[actor])
    csrf_token(app, client)  # the session holds its own CSRF secret, as after any page it loads


def forged_posts(app, client, auth, world, foreign_token: str, tally: Tally) -> None:
    """Every state-changing route, by its user, without a token and with another session's."""
    for actor, group in by_actor(app, rules(app, STATE_CHANGING)):
        sign_in(auth, client, app, world, actor)
        before = snapshot(app)
        for rule in group:
            tally.routes += 1
            url = url_of(app, world, rule, actor)
            for label, token in (("no token", None), ("another session's token", foreign_token)):
                data = form_data(rule.endpoint, world, world.inside)
                if token is not None:
                    data["csrf_token"] = token
                response = client.post(url, data=data)
                tally.requests += 1
                if response.status_code != 400 or CSRF_PAGE not in response.get_data(as_text=True):
                    tally.accepted.append(f"{actor} POST {url} ({label}): {response.status_code}")
        changed = changed_tables(before, snapshot(app))
        if changed:
            tally.accepted.append(f"{actor}: rows changed in {changed}")
        if actor is not None:
            home = client.get(HOMES.get(actor, "/"))
            assert home.status_code == 200, f"{actor} was signed out by a forged POST"
            sign_out(auth, actor)


def controls(app, client, auth, world) -> tuple[int, int, list[str]]:
    """The same submissions with the session's own token are not refused as forgeries (so the
    400s above were the token's doing); run last, they may change records."""
    passed, saved, problems = 0, 0, []
    for actor, group in by_actor(app, rules(app, STATE_CHANGING)):
        sign_in(auth, client, app, world, actor)
        for rule in sorted(group, key=lambda r: LAST.index(r.endpoint) if r.endpoint in LAST else -1):
            url = url_of(app, world, rule, actor)
            before = snapshot(app)
            response = auth.post(url, form_data(rule.endpoint, world, world.inside))
            with client.session_transaction() as session:
                session.pop("_flashes", None)
            # a control may answer a file (the record export's zip): read it as text without failing on its bytes
            if CSRF_PAGE in response.get_data().decode(errors="replace") or response.status_code >= 500:
                problems.append(f"{actor} POST {url}: {response.status_code}")
            else:
                passed += 1
                saved += bool(changed_tables(before, snapshot(app)))  # rows changed, not just a 2xx/3xx
        if actor is not None and client.get(HOMES.get(actor, "/")).status_code == 200:
            sign_out(auth, actor)
    return passed, saved, problems


def get_routes(app, client, auth, world) -> tuple[int, list[str]]:
    """Every GET route, by a user allowed to use it: 200, and no row changed."""
    count, problems = 0, []
    for actor, group in by_actor(app, rules(app, frozenset({"GET"}))):
        sign_in(auth, client, app, world, actor)
        for rule in group:
            url = url_of(app, world, rule, actor)
            before = snapshot(app)
            response = client.get(url)
            count += 1
            changed = set(changed_tables(before, snapshot(app))) - GET_WRITES.get(rule.endpoint, set())
            expected = 302 if rule.endpoint in SECOND_STEP_ONLY else PORTAL_GETS.get(rule.endpoint, 200)
            if response.status_code != expected or changed:
                problems.append(f"{actor} GET {url}: {response.status_code}, changed {sorted(changed)}")
        if actor is not None:
            sign_out(auth, actor)
    return count, problems


def sign_out(auth, actor: str) -> None:
    auth.post({PATIENT: "/portal/sign-out", TABLET: "/tablet/done"}.get(actor, "/logout"), {})


def test_no_state_change_without_the_sessions_own_token(app, client, make, auth, databases, figures):
    world = shared_world(make)
    other = app.test_client()
    Auth(app, other).login(world.usernames["b_therapist"])  # the attacker's own, valid session
    foreign = csrf_token(app, other)
    tally = Tally()
    forged_posts(app, client, auth, world, foreign, tally)
    gets, get_problems = get_routes(app, client, auth, world)
    before_controls = snapshot(app)
    passed, saved, control_problems = controls(app, client, auth, world)
    figures.record("CSRF matrix", "forged posts", f"{tally.routes} state-changing routes, {tally.requests} requests, "
                   f"{len(tally.accepted)} accepted", engine=databases.name)
    figures.record("CSRF matrix", "GET routes", f"{gets} GET routes, {len(get_problems)} changed data or failed",
                   engine=databases.name)
    figures.record("CSRF matrix", "controls", f"{passed} of {tally.routes} routes past the CSRF check with the "
                   f"session's own token ({saved} of them saved)", engine=databases.name)
    assert tally.accepted == [], "\n".join(tally.accepted)
    assert get_problems == [], "\n".join(get_problems)
    assert control_problems == [] and passed == tally.routes, "\n".join(control_problems)
    assert changed_tables(before_controls, snapshot(app)), "the controls changed nothing: is the snapshot blind?"

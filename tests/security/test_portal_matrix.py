"""The patient role against every endpoint (issue 23, "Done when"): a patient signed in to the portal
sends GET and POST to every route of app.url_map with other patients' ids, and to the portal's id
routes with other patients' records: 0 successes (staff pages redirect to the staff sign-in, another
patient's record is 404) and nothing changes. The reverse: every role's staff session on every
portal page is sent to the portal's sign-in. The portal's own pages are the positive control, and
neither a process-note nor a coordination-note canary appears on any of them."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import url_for

from ketamine_integration.web import access
from tests.conftest import Auth

from .form_data import form_data
from .invariants import changed_tables
from .portal_world import portal_args
from .test_idor_matrix import MATRIX, ROLES, _ids
from .world import OUTSIDE_MARKER, PROCESS_SECRET, shared_world, snapshot

#: what a refusal of a patient at a staff page looks like: the staff sign-in, or a refusal status
STAFF_REFUSALS = (400, 403, 404, 405)
#: the portal's routes that take an id: its argument and the kind of record it names (World.records)
@dataclass
class Tally:
    requests: int = 0
    problems: list[str] = field(default_factory=list)


def _portal_rule(app, endpoint: str) -> bool:
    return access.rule_for(app, endpoint).portal is not None


def _url(app, endpoint: str, args: dict) -> str:
    with app.test_request_context():
        return url_for(endpoint, **args)


def _targets(app, world, rule) -> list[str]:
    """The URLs a patient tries for a route: other patients' records for its ids."""
    kinds = {r.endpoint: r.args for r in MATRIX}
    if rule.endpoint == "static":
        return [_url(app, "static", {"filename": "style.css"})]
    if portal_args(world, rule.endpoint, world.outside[0]):
        return [_url(app, rule.endpoint, args) for args in portal_args(world, rule.endpoint, world.outside[0])]
    if rule.endpoint == "portal_sign_in.accept":
        return []  # public: the link's token is the credential (test_portal_invitations.py)
    args = {arg: _ids(world, kind, world.outside[0])[0] for arg, kind in kinds.get(rule.endpoint, {}).items()}
    return [_url(app, rule.endpoint, args)]


def _judge(app, rule, response) -> str | None:
    """None when the patient was refused; otherwise what happened."""
    status, where = response.status_code, response.headers.get("Location", "")
    if _portal_rule(app, rule.endpoint):
        return None if status == 404 else f"{status} {where}"  # only the id routes are swept: 404 alike
    if status in STAFF_REFUSALS or (status == 302 and where.startswith("/login")):
        return None
    return f"{status} {where}"


def patient_sweep(app, client, patient, world, tally: Tally) -> None:
    """Every route but the public ones and the patient's own portal pages, GET and POST."""
    before = snapshot(app)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint):
        declared = access.rule_for(app, rule.endpoint)
        if declared.public or (_portal_rule(app, rule.endpoint) and not rule.arguments):
            continue
        for url in _targets(app, world, rule):
            for method in sorted(rule.methods & {"GET", "POST"}):
                data = form_data(rule.endpoint, world, world.outside[0]) if method == "POST" else {}
                response = client.get(url) if method == "GET" else patient.post(url, data)
                tally.requests += 1
                outcome = _judge(app, rule, response)
                if outcome is not None:
                    tally.problems.append(f"patient {method} {url}: {outcome}")
                body = response.get_data(as_text=True)
                if OUTSIDE_MARKER in body or PROCESS_SECRET in body:
                    tally.problems.append(f"patient {method} {url}: shows another patient's records")
    changed = changed_tables(before, snapshot(app))
    if changed:
        tally.problems.append(f"the patient's sweep changed {changed}")


def staff_sweep(app, client, auth, world, tally: Tally) -> None:
    """Each role's staff session on every portal page (not the public sign-in and link pages)."""
    portal = [r for r in app.url_map.iter_rules() if _portal_rule(app, r.endpoint)]
    for role in ROLES:
        auth.sign_in(world.usernames[role])
        before = snapshot(app)
        for rule in portal:
            args = portal_args(world, rule.endpoint, world.inside)[0] if rule.arguments else {}
            url = _url(app, rule.endpoint, args)
            for method in sorted(rule.methods & {"GET", "POST"}):
                response = client.get(url) if method == "GET" else auth.post(url, form_data(rule.endpoint, world,
                                                                                          world.inside))
                tally.requests += 1
                if response.status_code != 302 or not response.headers["Location"].startswith("/portal/sign-in"):
                    tally.problems.append(f"{role} {method} {url}: {response.status_code}")
        changed = changed_tables(before, snapshot(app))
        if changed:
            tally.problems.append(f"{role}'s sweep of the portal changed {changed}")
        assert client.get("/").status_code == 200, f"{role} was signed out by the portal"
        auth.logout()


def own_pages(app, client, world) -> list[str]:
    """The positive control: the patient's own portal pages open, with no canary on any."""
    problems = []
    pages = ["/portal/", "/portal/account", "/portal/forms/", "/portal/questionnaires/", "/portal/practices/", "/portal/steps/", "/portal/journal/",
             *(_url(app, endpoint, portal_args(world, endpoint, world.inside)[0])
               for endpoint in ("portal.session_calendar", "portal_questionnaires.questionnaire",
                                "portal_practices.practice", "portal_steps.step",
                                "portal_journal.entry_edit", "portal_forms.sign", "portal_forms.document",
                                "portal_forms.withdraw"))]
    for url in pages:
        response = client.get(url)
        body = response.get_data(as_text=True)
        if response.status_code != 200:
            problems.append(f"own page {url}: {response.status_code}")
        for canary in (PROCESS_SECRET, "coordination", OUTSIDE_MARKER):
            if canary.lower() in body.lower():
                problems.append(f"own page {url} shows {canary!r}")
    return problems


def test_a_patient_reaches_nothing_but_their_own_portal_and_staff_nothing_of_the_portal(app, client, make, auth,
                                                                                       databases, figures):
    world = shared_world(make)
    patient_client = app.test_client()
    patient = Auth(app, patient_client)
    patient.portal_sign_in(world.portal_account)
    tally = Tally()
    patient_sweep(app, patient_client, patient, world, tally)
    own = own_pages(app, patient_client, world)
    staff_sweep(app, client, auth, world, tally)
    figures.record("Portal matrix", "requests", f"{tally.requests} requests (a patient on every staff route and "
                   f"the portal's id routes with another patient's ids; {len(ROLES)} staff roles on every portal "
                   f"route), {len(tally.problems)} successes", engine=databases.name)
    assert tally.problems == [], "\n".join(tally.problems)
    assert own == [], "\n".join(own)

"""Who may use each endpoint: one declared rule per view, enforced before every request.

Every view states its rule with @public, @during_sign_in or @permission("dosing.sign"), a permission
of the table in domain/permissions.py (never a role); the patient portal's with @portal_page (a
patient signed in to the portal, both steps done) or @portal_sign_in (a patient half-way through
the portal's sign-in); the clinic tablet's with @tablet_page (a patient handed a device for an in-clinic
signing: the browser holds that signing's token, and while it does every other page is closed to it).
Staff and portal sessions are separate: a portal session satisfies no staff
rule, a staff login no portal rule. A user half-way through signing in
(password given, authenticator code or enrolment still due) is not signed in: they reach only
the @during_sign_in pages. An endpoint with no rule is refused (fail closed), and
tests/integration/test_authorization_rules.py walks app.url_map so that a forgotten rule fails
the suite before it reaches a clinic.

What the check needs to know of sign-in, the audit trail and patients it asks the
collaborators create_app passes to `register` (AccessCollaborators): plumbing knows no feature.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from flask import Flask, abort, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user

from ..domain.permissions import PERMISSIONS, roles_with
from ..domain.roles import ROLE_LABELS

RULE_ATTR = "_access_rule"


@dataclass(frozen=True)
class AccessRule:
    #: anyone, signed in or not
    public: bool = False
    #: the permission a signed-in user needs (domain/permissions.py)
    permission: str | None = None
    #: any signed-in user, and one whose second sign-in step is still due (that step's pages, sign-out)
    during_sign_in: bool = False
    #: PORTAL_PAGE: a patient signed in to the portal; PORTAL_SIGN_IN: also one half-way through
    portal: str | None = None
    #: a patient on the clinic tablet: the browser holds a live in-clinic signing's token
    tablet: bool = False

    @property
    def declared(self) -> bool:
        """Whether the rule says who may come: public, the sign-in steps, a permission, the portal's or
        the tablet's."""
        return (self.public or self.during_sign_in or self.permission is not None or self.portal is not None
                or self.tablet)

    def describe(self) -> str:
        if self.public:
            return "public"
        if self.tablet:
            return TABLET_WORDS
        if self.portal is not None:
            return PORTAL_WORDS[self.portal]
        if self.during_sign_in:
            return "any signed-in user, or one half-way through signing in"
        holders = ", ".join(ROLE_LABELS[r] for r in roles_with(self.permission))
        return f"{self.permission} ({holders})"


PORTAL_PAGE, PORTAL_SIGN_IN = "page", "sign_in"
PORTAL_WORDS = {PORTAL_PAGE: "a patient signed in to the portal",
                PORTAL_SIGN_IN: "a patient signed in to the portal, or half-way through its sign-in"}
TABLET_WORDS = "a patient handed the clinic tablet for an in-clinic signing"
PUBLIC = AccessRule(public=True)
DURING_SIGN_IN = AccessRule(during_sign_in=True)
#: where a pending sign-in is sent, by its stage (accounts/sessions.py)
SECOND_STEP_PAGES = {"code": "mfa.code", "enrol": "mfa.enrol"}


@dataclass(frozen=True)
class AccessCollaborators:
    """What the access check asks the features, passed in by create_app."""

    #: this request's half-finished sign-in (an object with a `stage`), or None
    pending_sign_in: Callable[[], Any]
    #: keep what a signed-out request submitted, to offer it back after sign-in; True if kept
    keep_timed_out_submission: Callable[[], bool]
    #: write the audit row of a refused request: (detail, patient_id=...)
    record_denial: Callable[..., Any]
    #: whether a patient with this id exists (a denied URL's patient goes into the audit row)
    patient_exists: Callable[[int], bool]
    #: the portal's check of this request for a portal rule (PORTAL_PAGE or PORTAL_SIGN_IN): None
    #: to let it through, else the response (a redirect to the portal's sign-in)
    portal_check: Callable[[str], Any] = lambda kind: abort(403)
    #: cookie-session keys that outlive a refused staff request (the portal's own session)
    kept_keys: tuple[str, ...] = ()
    #: the clinic tablet's check, asked first for every request with whether its endpoint is a
    #: @tablet_page: None to go on with the endpoint's rule, else the answer (a browser handed to a
    #: patient reaches the tablet's pages only; a tablet page without a live signing is refused)
    tablet_check: Callable[[bool], Any] = lambda tablet_page: abort(403) if tablet_page else None


def register(app: Flask, collaborators: AccessCollaborators) -> None:
    """Check every request against its endpoint's rule, asking `collaborators`."""
    app.extensions["access"] = collaborators
    allow_endpoint(app, "static", PUBLIC)
    app.before_request(enforce_access)


def _collaborators() -> AccessCollaborators:
    return current_app.extensions["access"]


def _attach(rule: AccessRule):
    def decorate(view):
        setattr(view, RULE_ATTR, rule)
        return view
    return decorate


def public(view):
    """No login needed (login page, health check, static files)."""
    return _attach(PUBLIC)(view)


def during_sign_in(view):
    """Any signed-in user, and a user whose second sign-in step is due (that step, sign-out)."""
    return _attach(DURING_SIGN_IN)(view)


def portal_page(view):
    """A patient signed in to the portal, both steps done (portal/sessions.py); never a staff login."""
    return _attach(AccessRule(portal=PORTAL_PAGE))(view)


def portal_sign_in(view):
    """A patient signed in to the portal or half-way through its sign-in (its second step, sign-out)."""
    return _attach(AccessRule(portal=PORTAL_SIGN_IN))(view)


def tablet_page(view):
    """A patient on the clinic tablet, during the in-clinic signing staff started on it (portal/tablet.py)."""
    return _attach(AccessRule(tablet=True))(view)


def permission(name: str):
    """Signed-in users one of whose roles grants this permission."""
    if name not in PERMISSIONS:
        raise ValueError(f"permission() needs a permission of domain/permissions.py, got {name!r}")
    return _attach(AccessRule(permission=name))


def allow_endpoint(app: Flask, endpoint: str, rule: AccessRule) -> None:
    """Declare a rule for an endpoint whose view we do not own (e.g. 'static')."""
    app.extensions.setdefault("access_rules", {})[endpoint] = rule


def rule_for(app: Flask, endpoint: str) -> AccessRule | None:
    view = app.view_functions.get(endpoint)
    rule = getattr(view, RULE_ATTR, None)
    if rule is None:
        rule = app.extensions.get("access_rules", {}).get(endpoint)
    return rule


def enforce_access():
    """before_request: apply the endpoint's rule; unknown URLs fall through to the 404 page."""
    if request.endpoint is None:
        return None
    rule = rule_for(current_app, request.endpoint)
    features = _collaborators()
    tablet = features.tablet_check(rule is not None and rule.tablet)
    if tablet is not None:
        return tablet
    if rule is None or not rule.declared:
        features.record_denial(f"no access rule for endpoint {request.endpoint}")
        abort(403)
    if rule.public or rule.tablet:  # the tablet's check above let it through
        return None
    if rule.portal is not None:
        return features.portal_check(rule.portal)
    if not current_user.is_authenticated:
        return _not_signed_in(rule, features)
    if rule.permission is not None and not current_user.can(rule.permission):
        features.record_denial(f"{request.endpoint} needs permission {rule.describe()}",
                               patient_id=_patient_in_url(features))
        g.refused_role = True  # the 403 page says it is the role, not the care team, that stops them
        abort(403)
    return None


def _not_signed_in(rule: AccessRule, features: AccessCollaborators):
    """A request with no signed-in user: half-way through signing in it reaches only that step's
    pages; otherwise it is sent to sign in, keeping what a timed-out form submitted."""
    pending = features.pending_sign_in()
    if pending is not None:
        if rule.during_sign_in:
            return None
        flash("Finish signing in first.", "info")
        return redirect(url_for(SECOND_STEP_PAGES[pending.stage]))
    reason = g.pop("session_end_message", None)
    outliving = {key: session[key] for key in features.kept_keys if key in session}
    session.clear()
    session.update(outliving)  # a patient's portal session is not ended by a staff page it was refused
    kept = features.keep_timed_out_submission()
    if not reason and not kept and request.method == "GET" and request.path == "/":
        # the app's own address: a first visit (or a bookmark) is simply signing in; nothing stopped it
        return redirect(url_for("accounts.login"))
    flash(reason or "Please sign in to continue.", "info")
    if kept:
        flash("What you submitted is kept: sign in and it will be offered back on the same page.", "info")
    next_url = request.full_path.rstrip("?") if request.method == "GET" or kept else None
    if kept:
        next_url = request.path
    return redirect(url_for("accounts.login", next=next_url))


def _patient_in_url(features: AccessCollaborators) -> int | None:
    """The patient a denied URL names, if it names an existing one (for the audit filter)."""
    patient_id = (request.view_args or {}).get("patient_id")
    if patient_id is None or not features.patient_exists(patient_id):
        return None
    return patient_id

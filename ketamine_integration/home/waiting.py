"""What waits on the user (issue 21, point 1): the home page's counts, each shown only to the roles
it concerns and linking to where the work is done, and the menu's badge, their sum: one function
(waiting_for) for both, so the badge counts exactly what the home page lists as waiting (a new-user
review found a therapist's badge at 1 beside 3 items, a prescriber's at 5 beside 7: the REMS forms
and the reports due were left off the badge). A constant number of statements whatever the clinic's
size: the counts SQL can make are one statement, built once per user and run with the moment bound."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from threading import Lock
from typing import Callable

from flask import g, url_for
from flask_login import current_user
from sqlalchemy import Date, Select, bindparam, select

from ..accounts.models import User
from ..coordination import inbox
from ..db.clinic_time import clinic_today
from ..discharge.services import count_due as count_discharge_due
from ..db.types import UTCDateTime, utcnow
from ..domain.form_library import FormLibrary
from ..experience.overdue import count_overdue_planned
from ..experience.rems import count_forms_outstanding, rems_versions
from ..extensions import db
from ..notes.drafts import drafts_in, drafts_statement, drafts_to_sign
from ..notes.safety import count_open_alerts
from ..patients.access import active_caseload
from ..protocols.forms import current_forms
from ..protocols.models import ProtocolVersion
from ..scheduling.attendance import count_unconfirmed
from ..scheduling.worklist import closing_windows
from ..signed_forms import waiting as forms_waiting
from .caseload import own_courses, pending_reports_of


def _runs_schedule(user: User) -> bool:
    return user.can("schedule.manage")


def _confirms_own(user: User) -> bool:
    """A clinician who books: their own sessions over with no outcome (the whole clinic's: _runs_schedule)."""
    return not _runs_schedule(user) and user.can("care_team.member") and user.can("schedule.book")


def _reads_alerts(user: User) -> bool:
    # safety alerts come from measures, which only those who read clinical content see (not nurses)
    return user.can("care_team.member") and user.can("notes.read")


def _reviews_forms(user: User) -> bool:
    """A prescriber on the care team reviews flagged answers and is told of consents withdrawn (issue 26)."""
    return user.can("forms.review_flags") and user.can("care_team.member")


def _countersigns(user: User) -> bool:
    """A prescriber or therapist on the care team countersigns the forms that ask their role (a new-user review
    of issue 26: the countersignatures owed were listed nowhere)."""
    return user.can("forms.countersign") and user.can("care_team.member") and \
        any(role in user.roles for role in forms_waiting.TEAM_COUNTERSIGNERS)


def _hands_tablets(user: User) -> bool:
    """The front desk: it hands the clinic tablet to patients with forms to sign, for every patient (issue 26);
    clinicians see their patients' forms on the course pages."""
    return user.can("forms.sign_in_clinic") and user.can("patients.read_all")


def _home(anchor: str) -> Callable[[User], str]:
    return lambda user: url_for("home.home") + anchor


def _worklist(anchor: str) -> Callable[[User], str]:
    return lambda user: url_for("scheduling.staff_worklist") + anchor


def _unconfirmed_link(user: User) -> str:
    return _worklist("#unconfirmed")(user) if _runs_schedule(user) else _home("#unconfirmed")(user)


def _notes_link(user: User) -> str:
    """A prescriber acknowledges on their worklist (a reply box by each note); others from the home page's list."""
    if user.can("reports.receive"):
        return url_for("coordination.prescriber_worklist") + "#notes-h"
    return _home("#to-acknowledge")(user)


@dataclass(frozen=True)
class CountKind:
    """One count of the home page: what it counts, for whom, where its work is done."""

    key: str
    #: its words for one and for several ("note to sign", "notes to sign")
    one: str
    several: str
    #: whether the user is shown it
    applies: Callable[[User], bool]
    #: where the work is done
    link: Callable[[User], str]

    def words(self, count: int) -> str:
        return self.one if count == 1 else self.several


#: every count, in the order the home page shows them
KINDS = (
    CountKind("closing", "window closing with nothing booked", "windows closing with nothing booked",
              _runs_schedule, _worklist("")),
    CountKind("unconfirmed", "session to confirm", "sessions to confirm",
              lambda u: _runs_schedule(u) or _confirms_own(u), _unconfirmed_link),
    CountKind("drafts", "note to sign", "notes to sign", lambda u: u.can("notes.write"), _home("#drafts")),
    CountKind("to_acknowledge", "coordination note waiting for your acknowledgement",
              "coordination notes waiting for your acknowledgement", lambda u: u.can("coordination.message"),
              _notes_link),
    CountKind("replies", "new reply to your notes", "new replies to your notes",
              lambda u: u.can("coordination.message"), _home("#replies")),
    CountKind("alerts", "safety alert to acknowledge", "safety alerts to acknowledge", _reads_alerts,
              _home("#alerts")),
    # a flagged answer holds the course's dosing until a prescriber reviews it; a withdrawn consent
    # stands until the patient signs it again (issue 26, points 2 and 4)
    CountKind("form_flags", "form with flagged answers to review", "forms with flagged answers to review",
              _reviews_forms, _home("#form-flags")),
    CountKind("withdrawals", "consent withdrawn", "consents withdrawn", _reviews_forms, _home("#withdrawals")),
    CountKind("countersign", "form to countersign", "forms to countersign", _countersigns, _home("#countersign")),
    CountKind("forms_to_sign", "course with forms still to sign", "courses with forms still to sign",
              _hands_tablets, _home("#forms-to-sign")),
    CountKind("rems", "REMS form due", "REMS forms due",
              lambda u: u.can("rems.file") and u.can("care_team.member"),
              lambda u: url_for("experience.rems_list")),
    CountKind("reports_due", "prescriber report called for", "prescriber reports called for",
              lambda u: u.can("reports.generate"), _home("#due")),
    CountKind("overdue_doses", "planned dose not recorded", "planned doses not recorded",
              lambda u: u.can("dosing.sign") and u.can("reports.receive"),
              lambda u: url_for("coordination.prescriber_worklist") + "#overdue-h"),
    # the therapist of a course that has ended writes its discharge summary (issue 24, point 6)
    CountKind("discharge_due", "discharge summary due", "discharge summaries due",
              lambda u: u.can("discharge.write") and u.can("care_team.member"), _home("#discharge-due")),
)
BY_KEY = {kind.key: kind for kind in KINDS}


@dataclass(frozen=True)
class Count:
    kind: CountKind
    count: int
    link: str
    #: for the coordination notes: how many of them are urgent
    urgent: int = 0

    @property
    def words(self) -> str:
        return self.kind.words(self.count)


@dataclass(frozen=True)
class Waiting:
    """The user's counts (by key; only the kinds that apply to them), how many of the notes waiting
    for their acknowledgement are urgent, and the reports due the home page lists."""

    counts: dict[str, int]
    urgent: int = 0
    #: the reports due the count counts (home.caseload.pending_reports_of), for the home page's list
    pending_reports: tuple = ()
    #: every registered protocol version, by id, when they were read (for the list of reports)
    versions: dict[int, ProtocolVersion] = field(default_factory=dict)
    #: the drafts to sign the count counts (notes.drafts.drafts_to_sign), for the home page's list
    drafts: tuple = ()

    @property
    def badge(self) -> int:
        """The menu's badge: every count the home page shows, summed."""
        return sum(self.counts.values())


#: every registered protocol version (the REMS forms and the reports due follow their rules)
ALL_VERSIONS = select(ProtocolVersion)

#: what a request binds into a user's statements, which are built once (_statements_of): the clock, the
#: clinic's day and the protocol versions whose doses need a REMS form (a version registered since counts)
NOW = bindparam("now", type_=UTCDateTime())
TODAY = bindparam("today", type_=Date())
REMS_VERSIONS = bindparam("rems_versions", expanding=True)


def _sql_counts(user: User) -> dict[str, Select]:
    """The counts SQL makes, each a SELECT of one number, by key (over NOW, TODAY and REMS_VERSIONS)."""
    found = {}
    if _runs_schedule(user):
        found["unconfirmed"] = count_unconfirmed(NOW)
    elif _confirms_own(user):
        found["unconfirmed"] = count_unconfirmed(NOW, clinician_id=user.id)
    if user.can("coordination.message"):
        found["to_acknowledge"] = inbox.count_to_acknowledge(user, TODAY)
        found["urgent"] = inbox.count_urgent_to_acknowledge(user, TODAY)
        found["replies"] = inbox.count_new_replies(user)
    if _reads_alerts(user):
        found["alerts"] = count_open_alerts(active_caseload(user))
    if _reviews_forms(user):
        found["form_flags"] = forms_waiting.count_flags_to_review(user)
        found["withdrawals"] = forms_waiting.count_withdrawals(user)
    if _countersigns(user):
        found["countersign"] = forms_waiting.count_countersignatures_owed(user)
    if _hands_tablets(user):
        found["forms_to_sign"] = forms_waiting.count_courses_with_forms_to_sign()
    if BY_KEY["overdue_doses"].applies(user):
        found["overdue_doses"] = count_overdue_planned(user, NOW)
    if BY_KEY["rems"].applies(user):
        found["rems"] = count_forms_outstanding(user, REMS_VERSIONS)
    if BY_KEY["discharge_due"].applies(user):
        found["discharge_due"] = count_discharge_due(user, active_caseload(user))
    return found


@dataclass(frozen=True)
class _Statements:
    """What waiting_for runs for one user: the counts SQL makes as one SELECT of a column each, the
    drafts to sign (whether a draft holds anything is read from its content) and the courses whose
    reports may be due; None where they do not apply to the user."""

    counts: Select | None
    drafts: Select | None
    reports: Select | None
    #: the forms library the counts of signed forms were built from (None: the user has none of them)
    library: FormLibrary | None


def _build(user: User, library: FormLibrary | None) -> _Statements:
    queries = _sql_counts(user)
    counts = select(*(q.scalar_subquery().label(key) for key, q in queries.items())) if queries else None
    drafts = drafts_statement(user.id, active_caseload(user)) if BY_KEY["drafts"].applies(user) else None
    reports = own_courses(user) if BY_KEY["reports_due"].applies(user) else None
    return _Statements(counts, drafts, reports, library)


#: each user's statements, by user id and roles (bounded: the oldest go first)
_BUILT: dict[tuple[int, frozenset[str]], _Statements] = {}
_BUILT_LIMIT = 256
_BUILT_LOCK = Lock()


def _statements_of(user: User) -> _Statements:
    """The user's statements, built once: building them (a few hundred SQLAlchemy constructs, and the
    cache key of the whole SELECT generated on every run) was two thirds of the badge's time, which
    every page a user loads pays. They hold only what stays true of the user: their id and roles (a
    role changed is another key) and, for the counts of signed forms, the forms library's (form,
    version) pairs; a library re-read since (a form file changed: protocols.file_cache) rebuilds them.
    What changes from one request to the next is bound when they run (NOW, TODAY, REMS_VERSIONS); the
    rest (care teams, notes, releases...) is read by the SQL itself, so every count is of now."""
    library = current_forms() if _countersigns(user) or _hands_tablets(user) else None
    key = (user.id, user.roles)
    with _BUILT_LOCK:
        built = _BUILT.get(key)
    if built is None or built.library is not library:
        built = _build(user, library)
        with _BUILT_LOCK:
            if key not in _BUILT and len(_BUILT) >= _BUILT_LIMIT:
                del _BUILT[next(iter(_BUILT))]
            _BUILT[key] = built
    return built


def waiting_for(user: User, now: datetime, today: date) -> Waiting:
    """The home page's counts and the badge's: one statement for those SQL makes, one for the
    drafts to sign, two for the windows closing; for the REMS forms and the reports due (worked out
    from the protocols' rules: coordination.due) one for the protocol versions and two more for the
    reports. Each is built once per user (_statements_of)."""
    counts: dict[str, int] = {}
    reads_rules = BY_KEY["rems"].applies(user) or BY_KEY["reports_due"].applies(user)
    versions = db.session.scalars(ALL_VERSIONS).all() if reads_rules else []
    statements = _statements_of(user)
    if statements.counts is not None:
        params = {"now": now, "today": today, "rems_versions": rems_versions(versions)}
        counts.update(db.session.execute(statements.counts, params).one()._asdict())
    drafts = []
    if statements.drafts is not None:
        drafts = drafts_in(db.session.execute(statements.drafts))
        counts["drafts"] = len(drafts)
    if BY_KEY["closing"].applies(user):
        counts["closing"] = closing_windows(now)
    by_id = {v.id: v for v in versions}
    pending = []
    if statements.reports is not None:
        pending = pending_reports_of(user, now, by_id, statements.reports)
        counts["reports_due"] = len(pending)
    urgent = counts.pop("urgent", 0)
    return Waiting({kind.key: counts[kind.key] for kind in KINDS if kind.key in counts}, urgent, tuple(pending),
                   by_id, tuple(drafts))


#: the counts a daily summary email carries (notifications/digests.py): work that waits, named in
#: words with no clinical term; the home page's others (doses, REMS forms, alerts...) stay in the app
SUMMARY_KINDS = ("closing", "unconfirmed", "drafts")


def summary_counts(users: list[User], now: datetime) -> dict[int, dict[str, int]]:
    """By user id, the SUMMARY_KINDS counts that apply to each user, counted as the home page counts
    them: the clinic's (windows closing, sessions to confirm) once for all who run the schedule, then
    a clinician's own sessions to confirm and drafts to sign, one statement each."""
    clinic: dict[str, int] = {}
    if any(_runs_schedule(user) for user in users):
        clinic = {"closing": closing_windows(now), "unconfirmed": db.session.scalar(count_unconfirmed(now))}
    found = {}
    for user in users:
        counts = dict(clinic) if _runs_schedule(user) else {}
        if _confirms_own(user):
            counts["unconfirmed"] = db.session.scalar(count_unconfirmed(now, clinician_id=user.id))
        if BY_KEY["drafts"].applies(user):
            counts["drafts"] = len(drafts_to_sign(user.id, active_caseload(user)))
        found[user.id] = counts
    return found


def current_waiting() -> Waiting:
    """The signed-in user's counts, worked out once per request (the home page and the menu share them)."""
    if "home_waiting" not in g:
        g.home_waiting = waiting_for(current_user, utcnow(), clinic_today())
    return g.home_waiting


def menu_badge() -> int:
    """What waits on the signed-in user, for the menu (0 for nobody signed in)."""
    return current_waiting().badge if current_user.is_authenticated else 0


def home_counts(waiting: Waiting, user: User) -> list[Count]:
    """Every count that applies to the user, in KINDS order: what the badge sums."""
    return [Count(kind, waiting.counts[kind.key], kind.link(user),
                  waiting.urgent if kind.key == "to_acknowledge" else 0)
            for kind in KINDS if kind.key in waiting.counts and kind.applies(user)]

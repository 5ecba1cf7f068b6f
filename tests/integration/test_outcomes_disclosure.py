"""Clinic outcomes, attacked (issue 25 review): on a clinic built to be differenced, every quarter the page offers
is read, page and CSV; each figure shown is paired with the patients behind it, worked out here from the
records (never from the page's query); then an attacker who may add and subtract any of the figures of one
kind (a linear combination) must not isolate a set of 1 to 4 patients: with M the shown figures (rows) over
the patients (columns), a set S is isolable when rank(M) > rank(M without S's columns), in exact arithmetic.

The clinic holds the three-figure case (a protocol whose patients are two therapists' and one more patient,
under a therapist who also treats another protocol's: a clinic-wide by-therapist table gave that patient as
the protocol less the two), a patient with courses under two therapists of one protocol, another with courses
in two protocols, groups of 1, 4 and 5 patients and courses without a PHQ-9 follow-up."""
from __future__ import annotations

import csv
import html as html_text
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from io import StringIO
from itertools import combinations

import pytest
from sqlalchemy import select

from ketamine_integration.accounts.models import User
from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.clinic_time import clinic_today, clinic_zone
from ketamine_integration.domain import measures as scoring
from ketamine_integration.domain.disclosure import Quarter
from ketamine_integration.experience.models import CANCELLED, DosingSession
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import MeasureResponse
from ketamine_integration.outcomes.queries import MIN_GROUP
from ketamine_integration.protocols.models import ProtocolVersion
from tests.conftest import todays_world

# SQLite in `make test` (PostgreSQL in `make test-all-engines`): what is tested is which figures the page
# hides; the cohort's SQL (first doses by clinic day) runs on both engines in test_outcomes.py.

A, B, C, D = "iv-ketamine-induction", "im-ketamine-kap", "sublingual-ketamine-kap", "esketamine-trd-rems"


def _many(prefix: str, n: int, protocol: str, therapist: str, measured: bool = True) -> list[tuple]:
    return [(f"{prefix}{i}", protocol, therapist, measured) for i in range(n)]


#: (patient, protocol, therapist, measured) per course, in the quarter before today's
ATTACKED = (
    # the three-figure case: A's patients are t1's 5, t2's 5 and x, x under t4, who also has 5 of B's
    *_many("a", 5, A, "t1"), *_many("b", 5, A, "t2"), ("x", A, "t4", True),
    *_many("c", 5, B, "t4"), *_many("d", 4, B, "t5"), ("d4", B, "t5", False),
    # y has a course under t6 and another under t7, both of C: t6 and t7 less C would be y (6, 6 and 11
    # patients, none nested with fewer than 5 between)
    *_many("e", 5, C, "t6"), ("y", C, "t6", True), *_many("f", 5, C, "t7"), ("y", C, "t7", True),
    # z has a course in B (t5) and one in D (t8): B and D less (the total less A and C) would be z
    *_many("g", 4, D, "t8"), ("z", D, "t8", True), ("z", B, "t5", True),
)
#: two quarters back, groups of 6 and 5: everything may be shown there
CLEAN = (*_many("h", 6, A, "t1"), *_many("i", 5, B, "t2"))


@dataclass(frozen=True)
class Course:
    patient: int
    protocol: str  # the protocol's name, as the page labels it
    therapist: str  # the therapist's name
    measured: bool
    quarter: str


@pytest.fixture
def attacked_clinic(make):
    """The admin's id, on the clinic built to be differenced: 11-13 s of setup on PostgreSQL, so built once per
    engine per worker and clinic day (its courses fall in the quarters before today's) and loaded from its
    snapshot for the other tests (tests.conftest.todays_world)."""
    return todays_world(make.app, "attacked_clinic", lambda: _build_attacked_clinic(make))


def _build_attacked_clinic(make) -> int:
    admin = make.user("admin", username="lead")
    therapists = {t: make.user("therapist", username=t) for t in ("t1", "t2", "t4", "t5", "t6", "t7", "t8")}
    prescriber = make.user("prescriber", username="rx")
    today = make.query(clinic_today)
    patients = {}
    for back, courses in ((1, ATTACKED), (2, CLEAN)):
        quarter = Quarter.of(today)
        for _ in range(back):
            quarter = Quarter.of(quarter.first_day - timedelta(days=1))
        for n, (who, protocol, therapist, measured) in enumerate(courses):
            first_day = quarter.first_day + timedelta(days=3 + n % 60)
            if (back, who) not in patients:
                patients[back, who] = make.patient(family_name=f"Differenced {who} {back}")
            course = make.course(patients[back, who], therapists[therapist], prescriber, protocol=protocol,
                                 phase="experience", start=first_day - timedelta(days=20))
            make.run(lambda: _dose_and_scores(course, first_day, measured, prescriber))
    return admin


def _dose_and_scores(course_id: int, first_day: date, measured: bool, by: int) -> None:
    """A first dose that clinic day at 10:00 and, when measured, a baseline PHQ-9 entered the week before and
    one four weeks after (entered then)."""
    started = datetime.combine(first_day, time(10), clinic_zone())
    db.session.add(DosingSession(course_id=course_id, sequence=1, status="draft", started_at=started,
                                 ended_at=started + timedelta(hours=2)))
    course = db.session.get(TreatmentCourse, course_id)
    for days, answers in ((-7, [2] * 9), (28, [1] * 9) if measured else (None, None)):
        if days is None:
            continue
        scored = scoring.score("phq9", answers)
        db.session.add(MeasureResponse(patient_id=course.patient_id, course_id=course_id, measure="phq9",
                                       administered_on=first_day + timedelta(days=days), answers=answers,
                                       total=scored.total, band=scored.band, entered_by_id=by,
                                       created_at=started + timedelta(days=days)))


def _courses_from_the_records() -> list[Course]:
    """Each course with a first dose: its patient, groups, quarter (clinic day of the earliest start of a
    dose not cancelled) and whether it has a baseline PHQ-9 (dated before that day, entered before the
    dose began) and one dated on or after that day."""
    zone, found = clinic_zone(), []
    for course in db.session.scalars(select(TreatmentCourse)):
        starts = [s.started_at for s in db.session.scalars(select(DosingSession).where(
            DosingSession.course_id == course.id)) if s.status != CANCELLED and s.started_at is not None]
        if not starts:
            continue
        first = min(starts)
        first_day = first.astimezone(zone).date()
        phq = [r for r in db.session.scalars(select(MeasureResponse).where(MeasureResponse.course_id == course.id))
               if r.measure == "phq9" and r.voided_at is None]
        measured = (any(r.administered_on < first_day and r.created_at < first for r in phq)
                    and any(r.administered_on >= first_day for r in phq))
        found.append(Course(course.patient_id, db.session.get(ProtocolVersion, course.protocol_version_id).name,
                            db.session.get(User, course.therapist_id).display_name, measured,
                            Quarter.of(first_day).key))
    return found


#: a shown row as the attacker names it: (which figures it gives, "PHQ-9" or "Sessions"; its group's label)
Row = tuple[str, str]


def _csv_rows(text: str) -> list[tuple]:
    return [tuple(row.items()) for row in csv.DictReader(StringIO(text))]


def _every_protocol_filter_shows_a_part_of(quarter: str, html: str, text: str, client) -> None:
    """The protocol filter offers no figure the unfiltered quarter does not: each filtered CSV row is a row of
    the unfiltered CSV, figures and all (a recount of the protocol alone would be a table to subtract)."""
    protocols = [p for p in re.findall(r'<option[^>]*value="([a-z0-9-]+)"', html) if not re.match(r"\d{4}-Q", p)]
    assert protocols, "the protocol filter offers the registered protocols"
    unfiltered = set(_csv_rows(text))
    for protocol in protocols:
        filtered = client.get(f"/outcomes/outcomes.csv?quarter={quarter}&protocol={protocol}")
        assert filtered.status_code == 200, (quarter, protocol)
        assert set(_csv_rows(filtered.get_data(as_text=True))) <= unfiltered, (quarter, protocol)
        page = client.get(f"/outcomes/?quarter={quarter}&protocol={protocol}").get_data(as_text=True)
        assert _shown_rows_of_the_page(page) <= _shown_rows_of_the_page(html), (quarter, protocol)
    assert client.get(f"/outcomes/?quarter={quarter}&protocol=no-such-protocol").status_code == 422


def _family(section: str) -> str:
    return "PHQ-9" if "PHQ-9" in section else "Sessions"


def _shown_rows_of_the_csv(text: str) -> set[Row]:
    """Every CSV row that gives figures (a hidden one says "hidden" as its courses)."""
    return {(_family(row["Section"]), row["Group"]) for row in csv.DictReader(StringIO(text))
            if row["Courses"] != "hidden"}


def _shown_rows_of_the_page(page: str) -> set[Row]:
    """Every table row that gives figures, named by its row header's text (a therapist's names its protocol)."""
    shown = set()
    for caption, body in re.findall(r"<caption>(.*?)</caption>(.*?)</table>", page, flags=re.S):
        for header, cells in re.findall(r'<th scope="row">(.*?)</th>(.*?)</tr>', body, flags=re.S):
            if "(hidden)" not in cells and "hidden" not in cells.lower():
                shown.add((_family(caption), html_text.unescape(re.sub(r"<[^>]+>", "", header)).strip()))
    return shown


def _members(group: str, courses: list[Course]) -> list[Course]:
    """The courses a row's figures are counted over, from its label: the total, a protocol, a therapist
    within a protocol ("IV ketamine, therapist Dr Rowe"), or a therapist across the clinic (a table this
    page no longer has: attacked all the same, should it come back)."""
    if group == "Every protocol":
        return courses
    if any(group == f"{c.protocol}, therapist {c.therapist}" for c in courses):
        return [c for c in courses if group == f"{c.protocol}, therapist {c.therapist}"]
    if any(group == c.therapist for c in courses):
        return [c for c in courses if c.therapist == group]
    members = [c for c in courses if c.protocol == group]
    assert members, group  # every row shown is a group of the records
    return members


def _figures(rows: set[Row], courses: list[Course]) -> dict[str, set[frozenset]]:
    """Kind -> the patient sets of the figures of that kind the shown rows give: a row's courses (the count,
    and the sessions' figures counted over them) and, on a PHQ-9 row, its measured courses."""
    figures = defaultdict(set)
    for family, group in rows:
        members = _members(group, courses)
        figures["courses"].add(frozenset(c.patient for c in members))
        if family == "PHQ-9":
            figures["measured"].add(frozenset(c.patient for c in members if c.measured))
    return figures


def _rank(matrix: list[list[int]]) -> int:
    """The rank over the rationals (exact: Fraction), by Gaussian elimination."""
    rows = [[Fraction(v) for v in row] for row in matrix if any(row)]
    rank, width = 0, len(rows[0]) if rows else 0
    for col in range(width):
        pivot = next((i for i in range(rank, len(rows)) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        for i in range(len(rows)):
            if i != rank and rows[i][col] != 0:
                factor = rows[i][col] / rows[rank][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[rank])]
        rank += 1
    return rank


def _isolable(figures: set[frozenset], limit: int = MIN_GROUP - 1) -> list[frozenset]:
    """Every set of 1 to `limit` patients some linear combination of the figures isolates: rank(M) >
    rank(M without the set's columns). A combination takes one value on patients in exactly the same
    figures (equal columns), so it vanishes outside a set only on whole classes of such patients: every
    set is tried whose columns are whole classes (a set cutting a class isolates no more than the classes
    it holds whole)."""
    rows = sorted(figures, key=sorted)
    classes = defaultdict(set)
    for patient in set().union(*rows):
        classes[tuple(patient in r for r in rows)].add(patient)
    columns = [(key, frozenset(ps)) for key, ps in classes.items() if len(ps) <= limit]
    every = [key for key in classes]

    def rank_without(dropped: set) -> int:
        kept = [key for key in every if key not in dropped]
        return _rank([[key[i] for key in kept] for i in range(len(rows))])
    full, found = rank_without(set()), []
    for n in range(1, limit + 1):
        for chosen in combinations(columns, n):
            patients = frozenset().union(*(ps for _, ps in chosen))
            if len(patients) <= limit and rank_without({key for key, _ in chosen}) < full:
                found.append(patients)
    return found


@pytest.mark.parametrize("figures, isolated", [
    # the three-figure case: P less T1 less T2 is x (no pair of the three nested)
    ({frozenset(range(11)), frozenset(range(5)), frozenset(range(5, 10))}, [frozenset({10})]),
    # a patient in two blocks: T1 + T2 - P is patient 0 (P - T1 and P - T2 are 6 and 5 patients)
    ({frozenset(range(12)), frozenset(range(6)), frozenset({0, *range(6, 12)})}, [frozenset({0})]),
    # blocks of 5 and more, shown or hidden: nothing
    ({frozenset(range(16)), frozenset(range(5)), frozenset(range(5, 10))}, []),
])
def test_the_attacker_finds_what_a_combination_isolates(figures, isolated):
    assert _isolable(figures) == isolated


def test_no_quarter_lets_a_combination_of_figures_single_out_fewer_than_five_patients(attacked_clinic, make, auth,
                                                                                       client):
    auth.sign_in("lead")
    page = client.get("/outcomes/").get_data(as_text=True)
    offered = re.findall(r'<option[^>]*value="(\d{4}-Q[1-4])"', page)
    today = make.query(clinic_today)
    assert len(offered) == 3 and offered[0] == Quarter.of(today).key  # two quarters of courses, and this one
    courses = make.query(_courses_from_the_records)
    shown_anything = {}
    for quarter in offered:
        html = client.get(f"/outcomes/?quarter={quarter}").get_data(as_text=True)
        text = client.get(f"/outcomes/outcomes.csv?quarter={quarter}").get_data(as_text=True)
        rows = _shown_rows_of_the_page(html)
        assert rows == _shown_rows_of_the_csv(text), quarter  # the CSV offers what the page does, no more
        figures = _figures(rows, [c for c in courses if c.quarter == quarter])
        assert {kind: _isolable(sets) for kind, sets in figures.items()} == {k: [] for k in figures}, quarter
        shown_anything[quarter] = rows
        _every_protocol_filter_shows_a_part_of(quarter, html, text, client)
    # not by showing nothing: the clean quarter shows its therapists; the attacked one a therapist within a
    # protocol and the totals
    attacked, clean = offered[1], offered[2]
    t1 = make.query(lambda: db.session.get(User, _user("t1")).display_name)
    assert any(label.endswith(f", therapist {t1}") for _, label in shown_anything[clean])
    assert any(", therapist " in label for _, label in shown_anything[attacked])
    assert ("Sessions", "Every protocol") in shown_anything[attacked]
    assert ("PHQ-9", "Every protocol") in shown_anything[attacked]
    assert not shown_anything[offered[0]]  # this quarter: no course, nothing shown


def _user(username: str) -> int:
    return db.session.scalar(select(User.id).where(User.username == username))


def test_a_hidden_row_says_why_and_never_its_number_of_courses(attacked_clinic, make, auth, client):
    auth.sign_in("lead")
    today = make.query(clinic_today)
    attacked = Quarter.of(Quarter.of(today).first_day - timedelta(days=1)).key
    html = client.get(f"/outcomes/?quarter={attacked}").get_data(as_text=True)
    # x alone under t4 within A: too few; one of A's other therapists, large enough on its own, hidden so x
    # cannot be worked out; B and D share z, and C's t6 and t7 share y
    assert "Fewer than 5 patients measured (hidden)" in html
    assert "Hidden too, so that a smaller hidden group cannot be worked out by subtraction" in html
    assert "Hidden, as a patient here is counted in another row of the table too" in html
    text = client.get(f"/outcomes/outcomes.csv?quarter={attacked}").get_data(as_text=True)
    hidden = [row for row in csv.DictReader(StringIO(text)) if row["Courses"] == "hidden"]
    reasons = ("fewer than 5", "hidden too", "hidden, as a patient")
    assert hidden and all(row["Value"].startswith(reasons) for row in hidden)
    counted = defaultdict(int)
    for row in csv.DictReader(StringIO(text)):
        counted[row["Courses"]] += 1
    assert "1" not in counted and "4" not in counted  # no group's size under the minimum, anywhere


def _outcomes_audit_details() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.detail).where(
        AuditEvent.action.in_(("outcomes.view", "outcomes.export"))).order_by(AuditEvent.id)))


def test_the_audit_log_names_the_quarter_and_never_a_count_the_page_hid(make, auth, client):
    # review of issue 25: the row read "clinic outcomes over 3 courses" for a quarter whose page showed
    # nothing (fewer than 5 patients), and an admin reads the audit log
    make.user("admin", username="lead")
    therapist, prescriber = make.user("therapist", username="t1"), make.user("prescriber", username="rx")
    today = make.query(clinic_today)
    small = Quarter.of(Quarter.of(today).first_day - timedelta(days=1))
    for n in range(3):
        course = make.course(make.patient(family_name=f"Few {n}"), therapist, prescriber, protocol=A,
                             phase="experience", start=small.first_day - timedelta(days=10))
        make.run(lambda course=course, n=n: _dose_and_scores(course, small.first_day + timedelta(days=3 + n),
                                                             True, prescriber))
    auth.sign_in("lead")
    page = client.get(f"/outcomes/?quarter={small.key}")
    assert "Fewer than 5 patients had their first dose in this quarter" in page.get_data(as_text=True)
    assert client.get(f"/outcomes/outcomes.csv?quarter={small.key}").status_code == 200
    details = make.query(_outcomes_audit_details)
    assert len(details) == 2
    assert details == [f"clinic outcomes of {small.label}, first doses {small.first_day} to {small.last_day}: "
                       "nothing shown (fewer than 5 patients)"] * 2
    log = client.get("/audit/").get_data(as_text=True)
    assert "nothing shown" in log and "3 courses" not in log


def test_the_audit_log_of_a_shown_quarter_says_so_without_a_count(attacked_clinic, make, auth, client):
    auth.sign_in("lead")
    today = make.query(clinic_today)
    clean = Quarter.of(Quarter.of(Quarter.of(today).first_day - timedelta(days=1)).first_day - timedelta(days=1))
    assert client.get(f"/outcomes/?quarter={clean.key}").status_code == 200
    [detail] = make.query(_outcomes_audit_details)
    assert detail == (f"clinic outcomes of {clean.label}, first doses {clean.first_day} to {clean.last_day}: "
                      "figures of groups of 5 or more patients shown")

"""Clinic outcomes, attacked (issue 25 review): on a clinic built to be differenced (groups of 1, 4, 5 and 6
patients, a therapist whose patients are all but one of a protocol's, courses without a PHQ-9 follow-up),
every quarter the page offers is read, page and CSV; each figure shown is paired with the patients behind
it, worked out here from the records (never from the page's query); no subtraction the figures allow (one
nested in another of its kind, or a table's total minus its shown groups) may leave 1 to 4 patients."""
from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from io import StringIO
from itertools import product

import pytest
from sqlalchemy import select

from ketamine_integration.accounts.models import User
from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.clinic_time import clinic_today, clinic_zone
from ketamine_integration.domain import measures as scoring
from ketamine_integration.domain.disclosure import Quarter
from ketamine_integration.experience.models import CANCELLED, DosingSession
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import MeasureResponse
from ketamine_integration.outcomes.queries import MIN_GROUP
from ketamine_integration.protocols.models import ProtocolVersion

#: the cohort (first doses by clinic day) and the row locks depend on the engine
pytestmark = pytest.mark.both_engines

A, B, C, D = "iv-ketamine-induction", "im-ketamine-kap", "sublingual-ketamine-kap", "esketamine-trd-rems"
#: (quarters before today's, protocol, therapist, measured) per course, one patient each
ATTACKED = (
    # protocol A: 6 patients, 5 of them therapist t1's (A minus t1 would be one patient)
    *[(1, A, "t1", True)] * 5, (1, A, "t2", True),
    # protocol B: 5 patients of t2, one not measured (B's PHQ-9 figures rest on 4)
    *[(1, B, "t2", True)] * 4, (1, B, "t2", False),
    # protocol C: 4 patients, therapist t3; protocol D: 1 patient, therapist t4
    *[(1, C, "t3", True)] * 4, (1, D, "t4", True),
)
#: two groups of 5 and 6 in an earlier quarter: everything may be shown there
CLEAN = (*[(2, A, "t1", True)] * 6, *[(2, B, "t2", True)] * 5)


@dataclass(frozen=True)
class Course:
    patient: int
    protocol: str  # the protocol's name, as the page labels it
    therapist: str  # the therapist's name
    measured: bool
    quarter: str


@pytest.fixture
def attacked_clinic(make):
    admin = make.user("admin", username="lead")
    therapists = {t: make.user("therapist", username=t) for t in ("t1", "t2", "t3", "t4")}
    prescriber = make.user("prescriber", username="rx")
    today = make.query(clinic_today)
    for n, (back, protocol, therapist, measured) in enumerate(ATTACKED + CLEAN):
        quarter = Quarter.of(today)
        for _ in range(back):
            quarter = Quarter.of(quarter.first_day - timedelta(days=1))
        first_day = quarter.first_day + timedelta(days=3 + n % 60)
        patient = make.patient(family_name=f"Differenced{n}")
        course = make.course(patient, therapists[therapist], prescriber, protocol=protocol, phase="experience",
                             start=first_day - timedelta(days=20))
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


def _shown_rows_of_the_csv(text: str) -> set[tuple[str, str]]:
    """(section, group) of every CSV row that gives figures (a hidden one says "hidden" as its courses)."""
    return {(row["Section"], row["Group"]) for row in csv.DictReader(StringIO(text)) if row["Courses"] != "hidden"}


def _shown_rows_of_the_page(html: str) -> set[tuple[str, str]]:
    """(section, group) of every table row that gives figures, by the table's caption."""
    sections = {"PHQ-9 response and remission by protocol": "PHQ-9 by protocol",
                "PHQ-9 response and remission by therapist": "PHQ-9 by therapist",
                "Doses, windows, attendance and REMS forms by protocol": "Sessions and windows"}
    shown = set()
    for caption, body in re.findall(r"<caption>(.*?)</caption>(.*?)</table>", html, flags=re.S):
        for label, cells in re.findall(r'<th scope="row">(.*?)</th>(.*?)</tr>', body, flags=re.S):
            if "(hidden)" not in cells and "hidden too" not in cells.lower():
                shown.add((sections[caption], label.replace("&#39;", "'").replace("&amp;", "&")))
    return shown


def _figures(rows: set[tuple[str, str]], courses: list[Course]) -> list[tuple[str, str, frozenset]]:
    """(table, kind, patients) of each figure the shown rows give: a row's courses (the count, and the
    sessions' figures) and, on a PHQ-9 row, its measured courses."""
    figures = []
    for section, group in rows:
        if section == "PHQ-9 by therapist":
            members = [c for c in courses if c.therapist == group]
        else:
            members = [c for c in courses if group == "Every protocol" or c.protocol == group]
        figures.append((section, "courses", frozenset(c.patient for c in members)))
        if section.startswith("PHQ-9"):
            figures.append((section, "measured", frozenset(c.patient for c in members if c.measured)))
    return figures


def _leaks(figures: list[tuple[str, str, frozenset]], overall: dict[str, frozenset]) -> list[str]:
    """Every subtraction of shown figures that leaves between 1 and MIN_GROUP - 1 patients."""
    leaks = []
    for (_t1, kind, inner), (_t2, other, outer) in product(figures, figures):
        if kind == other and inner < outer and 0 < len(outer - inner) < MIN_GROUP:
            leaks.append(f"{kind}: {sorted(outer)} minus {sorted(inner)}")
    tables = {"PHQ-9 by protocol": "PHQ-9 by protocol", "PHQ-9 by therapist": "PHQ-9 by protocol",
              "Sessions and windows": "Sessions and windows"}
    for table, overall_in in tables.items():
        for kind, everyone in overall.items():
            if (overall_in, kind, everyone) not in figures:
                continue
            shown = [s for t, k, s in figures if t == table and k == kind and s != everyone]
            rest = everyone.difference(*shown)
            if 0 < len(rest) < MIN_GROUP:
                leaks.append(f"{table} {kind}: the total minus its shown groups leaves {sorted(rest)}")
    return leaks


def test_no_quarter_lets_a_subtraction_reveal_fewer_than_five_patients(attacked_clinic, make, auth, client):
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
        of_quarter = [c for c in courses if c.quarter == quarter]
        overall = {"courses": frozenset(c.patient for c in of_quarter),
                   "measured": frozenset(c.patient for c in of_quarter if c.measured)}
        assert _leaks(_figures(rows, of_quarter), overall) == [], quarter
        shown_anything[quarter] = rows
    # not by showing nothing: the clean quarter shows every group; the attacked one its totals at least
    attacked, clean = offered[1], offered[2]
    assert ("PHQ-9 by therapist", make.query(lambda: db.session.get(User, _user("t1")).display_name)) in shown_anything[clean]
    assert ("Sessions and windows", "Every protocol") in shown_anything[attacked]
    assert ("PHQ-9 by protocol", "Every protocol") in shown_anything[attacked]
    assert not shown_anything[offered[0]]  # this quarter: no course, nothing shown


def _user(username: str) -> int:
    return db.session.scalar(select(User.id).where(User.username == username))


def test_a_hidden_row_says_why_and_never_its_number_of_courses(attacked_clinic, make, auth, client):
    auth.sign_in("lead")
    today = make.query(clinic_today)
    attacked = Quarter.of(Quarter.of(today).first_day - timedelta(days=1)).key
    html = client.get(f"/outcomes/?quarter={attacked}").get_data(as_text=True)
    # D's single patient: too few; B, large enough on its own, hidden so D cannot be worked out
    assert "Fewer than 5 patients (hidden)" in html
    assert "Hidden too, so that a smaller hidden group cannot be worked out by subtraction" in html
    text = client.get(f"/outcomes/outcomes.csv?quarter={attacked}").get_data(as_text=True)
    hidden = [row for row in csv.DictReader(StringIO(text)) if row["Courses"] == "hidden"]
    assert hidden and all(row["Value"].startswith(("fewer than 5", "hidden too")) for row in hidden)
    counted = defaultdict(int)
    for row in csv.DictReader(StringIO(text)):
        counted[row["Courses"]] += 1
    assert "1" not in counted and "4" not in counted  # no group's size under the minimum, anywhere

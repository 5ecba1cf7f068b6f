"""The demo's therapy structure (issue 24 point 7): every course that reached integration has a signed
treatment plan written from the vocabulary, some a second revision, one review due on the worklist,
stage moves; a signed integration note after the plan records progress on its objectives (two of them
move the stage); two completed courses have signed discharge summaries (one sent under a release that
carries the action plan); the new measures are used; `signatures verify` passes."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from ketamine_integration.courses.models import TreatmentCourse
from ketamine_integration.db.clinic_time import clinic_today
from ketamine_integration.discharge.models import DischargeCopy, DischargeSummary
from ketamine_integration.domain.phases import Phase
from ketamine_integration.extensions import db
from ketamine_integration.discharge.content import NO_PROGRESS
from ketamine_integration.notes.models import MeasureResponse, SessionNote
from ketamine_integration.plans.models import CourseStageChange
from ketamine_integration.plans.services import course_revisions, review_words
from ketamine_integration.protocols.techniques import current_vocabulary

PAST_INTEGRATION = (Phase.INTEGRATION, Phase.MAINTENANCE, Phase.COMPLETED)


def _story():
    courses = db.session.scalars(select(TreatmentCourse).order_by(TreatmentCourse.id)).all()
    vocabulary = current_vocabulary()
    plans = {}
    for course in courses:
        plans[course.id] = [(p.revision, p.signed, p.stage, len(p.objectives), p.pathway, p.host_theory,
                             p.review_on is not None, all(vocabulary.get(t.technique_key) for t in p.techniques),
                             len(p.techniques), all(o.criterion and o.mechanism and o.by_when for o in p.objectives))
                            for p in course_revisions(course.id)]
    live = {c.id: c.protocol_version for c in courses if c.current_phase in (Phase.INTEGRATION, Phase.MAINTENANCE)}
    due = {course_id: words for course_id, words in review_words(live, clinic_today()).items() if words}
    moves = db.session.execute(select(CourseStageChange.course_id, CourseStageChange.note_id)
                               .where(CourseStageChange.plan_id.is_(None))).all()
    progress = [(n.course_id, n.status, n.session_date, n.plan.signed, clinic_today(n.plan.signed_at),
                 {o.lineage_id for o in n.plan.objectives}, [(p.lineage_id, p.progress) for p in n.objective_progress])
                for n in db.session.scalars(select(SessionNote).where(SessionNote.objective_progress.any()))]
    summaries = [(db.session.get(TreatmentCourse, s.course_id).current_phase, s.signed, s.computed)
                 for s in db.session.scalars(select(DischargeSummary))]
    copies = [sorted(c.categories) for c in db.session.scalars(select(DischargeCopy))]
    measured = {key: set(db.session.scalars(select(MeasureResponse.course_id).where(MeasureResponse.measure == key)))
                for key in ("pcl5", "wsas", "waisr")}
    trauma = {c.id for c in courses if "trauma" in c.indication.lower() and c.current_phase is not Phase.PREPARATION}
    return ([c for c in courses if c.current_phase in PAST_INTEGRATION], plans, due, moves, summaries, copies,
            measured, trauma, progress)


@pytest.mark.demo_clinic  # built by `flask demo` once per engine (tests/databases.py), copied here
def test_the_demo_plans_summaries_and_new_measures(app, make):
    courses, plans, due, moves, summaries, copies, measured, trauma, progress = make.query(_story)
    assert len(courses) == 12
    for course in courses:
        revisions = plans[course.id]
        assert revisions and all(r[1] for r in revisions), f"course {course.id}: a signed plan, nothing left a draft"
        for _rev, _signed, stage, objectives, pathway, host, review, known, techniques, smart in revisions:
            assert stage and pathway and host and review, f"course {course.id}: stage, pathway, host, review date"
            assert 2 <= objectives <= 3 and smart, f"course {course.id}: 2-3 SMART objectives"
            assert techniques and known, f"course {course.id}: planned techniques from the vocabulary"
    assert sum(len(r) == 2 for r in plans.values()) >= 4                # some revised
    [words] = due.values()                                              # one review due on the worklist
    assert words.startswith("plan review due: the plan's review date")
    assert len({course for course, note in moves if note is None}) == 2  # stage moved on two courses
    assert len({course for course, note in moves if note is not None}) == 2  # and by a note on two others
    assert [(phase, signed) for phase, signed, _computed in summaries] == [(Phase.COMPLETED, True)] * 2
    assert all(computed["objectives"]["objectives"] for _p, _s, computed in summaries)
    for _phase, _signed, computed in summaries:                         # each says what was met, what not
        outcomes = [o["outcome"] for o in computed["objectives"]["objectives"]]
        assert any(o.startswith("Achieved (recorded ") for o in outcomes), outcomes
        assert any(not o.startswith("Achieved") and o != NO_PROGRESS for o in outcomes), outcomes
    assert len({course for course, *_ in progress}) >= len(courses) - 1  # nearly every planned course
    kinds = set()
    for course, status, session_date, plan_signed, plan_day, lineages, rows in progress:
        assert status == "signed" and plan_signed and session_date > plan_day, f"course {course}: after its plan"
        assert {lineage for lineage, _p in rows} == lineages, f"course {course}: every objective judged"
        kinds |= {p for _l, p in rows}
    assert kinds == {"achieved", "some", "setback", "not_started"}
    assert copies == [["action_plan", "measures", "treatment"]]
    assert trauma and trauma <= measured["pcl5"]                        # PCL-5 for every trauma indication
    assert len(measured["wsas"]) >= 12 and len(measured["waisr"]) >= 4
    verified = app.test_cli_runner().invoke(args=["signatures", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "2 of 2 signed discharge summaries verified." in verified.output
    assert f"{sum(len(r) for r in plans.values())} of {sum(len(r) for r in plans.values())} signed treatment plan " \
           "revisions verified." in verified.output

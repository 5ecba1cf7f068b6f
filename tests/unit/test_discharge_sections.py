"""Which sections of a discharge summary a prescriber's copy carries under the patient's release
(discharge.content.kept_sections): a table, one comment per row."""
import pytest

from ketamine_integration.coordination.models import CATEGORIES
from ketamine_integration.discharge.content import COMPUTED, WRITTEN, kept_sections

EVERY = {s.key for s in (*COMPUTED, *WRITTEN)}


@pytest.mark.parametrize("categories, discontinued, carried, left_out", [
    # the writers' own copy: everything, the reason for ending only on a discontinued course
    (None, True, EVERY, []),
    (None, False, EVERY - {"ending_reason"}, []),
    # a release of every category: everything, nothing named as left out
    (set(CATEGORIES), True, EVERY, []),
    # measures only: the measures and the recommendations written for the prescriber
    ({"measures"}, False, {"measures", "recommendations"},
     ["Course dates and phases", "Doses", "Integration sessions and windows", "Treatment plan objectives",
      "Themes and insights",
      "Summary of the course", "Relapse prevention: early warning signs", "Relapse prevention: practices to keep",
      "Relapse prevention: when to ask for a booster or return"]),
    # the action plan carries the plan's objectives and the relapse-prevention plan, not the themes
    ({"action_plan"}, False, {"objectives", "warning_signs", "practices", "booster_or_return", "recommendations"},
     ["Course dates and phases", "Doses", "Integration sessions and windows", "Measures from baseline to last",
      "Themes and insights", "Summary of the course"]),
    # the treatment summary carries the course, the clinician's summary and the reason for ending
    ({"treatment"}, True, {"course", "summary", "ending_reason", "recommendations"},
     ["Doses", "Integration sessions and windows", "Measures from baseline to last", "Treatment plan objectives",
      "Themes and insights", "Relapse prevention: early warning signs", "Relapse prevention: practices to keep",
      "Relapse prevention: when to ask for a booster or return"]),
    # dosing-session notes are a category of their own and carry nothing here
    ({"dosing_notes"}, False, {"recommendations"}, None),
])
def test_a_copy_carries_what_the_release_permits_and_names_the_rest(categories, discontinued, carried, left_out):
    kept, omitted = kept_sections(categories, discontinued=discontinued)
    assert kept == carried
    if left_out is not None:
        assert omitted == left_out


def test_every_section_names_a_category_a_release_can_hold():
    assert {s.category for s in (*COMPUTED, *WRITTEN)} - {None} <= set(CATEGORIES)
    assert [s.key for s in WRITTEN if s.category is None] == ["recommendations"]   # written for the prescriber

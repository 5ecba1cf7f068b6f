"""The safety plan's rules (domain/safety_plans.py): what any save keeps and refuses, and what a plan
needs to be signed. Tables with a comment per row."""
import pytest

from ketamine_integration.domain import safety_plans as rules

COMPLETE = {"warning_signs": ["Not sleeping"], "coping_strategies": ["Walk the dog"],
            "professionals": [{"name": "988 Suicide & Crisis Lifeline", "phone": "988"}]}


@pytest.mark.parametrize("phone, accepted", [
    ("988", True),                      # the Lifeline's three digits
    ("555-010-0199", True),             # a US number with dashes
    ("(555) 010 0199", True),           # brackets and spaces
    ("+1 555 010 0199", True),          # international prefix
    ("555-0100 x12", True),             # an extension
    ("555-0100 ext. 12", True),         # an extension, spelled out
    ("55", False),                      # too short to dial
    ("call Dana", False),               # words, not a number
    ("555-0100; DROP TABLE", False),    # anything after the number
    ("1" * 26, False),                  # longer than any number
    ("+-()", False),                    # punctuation alone
])
def test_a_contact_needs_a_phone_number_as_written(phone, accepted):
    _, problems = rules.clean({"help_contacts": [{"name": "Dana", "phone": phone}]})
    assert ("help_contacts-0-phone" not in problems) is accepted


@pytest.mark.parametrize("row, field, message", [
    ({"name": "Dana", "phone": ""}, "help_contacts-0-phone", "Give a phone number"),  # nobody reaches a name alone
    ({"name": "", "phone": "555-0142"}, "help_contacts-0-name", "Name who"),  # nor a number with no name
    ({"name": "D" * 81, "phone": "555-0142"}, "help_contacts-0-name", "80 characters"),  # a name is bounded
])
def test_a_half_written_contact_is_refused_on_its_field(row, field, message):
    _, problems = rules.clean({"help_contacts": [row]})
    assert message in problems[field]


@pytest.mark.parametrize("items, problem", [
    (["x" * 200], None),                                     # a line of the maximum length
    (["x" * 201], "Keep each line to 200 characters"),       # one character over
    (["sign"] * 12, None),                                   # the most lines a section keeps
    (["sign"] * 13, "Keep to 12 lines"),                     # one line over
    (["  ", "", "Not sleeping  "], None),                    # blank lines dropped, the rest stripped
])
def test_list_sections_are_bounded(items, problem):
    kept, problems = rules.clean({"warning_signs": items})
    if problem is None:
        assert "warning_signs" not in problems
        assert all(item == item.strip() and item for item in kept["warning_signs"])
    else:
        assert problem in problems["warning_signs"]


@pytest.mark.parametrize("line", [
    ".",                  # punctuation says nothing
    "\u200b\u200b",       # nor zero-width spaces
    "—",                  # nor a dash
])
def test_a_line_that_says_nothing_does_not_count_towards_signing(line):
    kept, _ = rules.clean({**COMPLETE, "warning_signs": [line]})
    assert kept["warning_signs"] == [] and "warning_signs" in rules.signing_problems(kept)


def test_empty_contact_rows_are_dropped_and_nothing_else_is_kept():
    kept, problems = rules.clean({"professionals": [{"name": "", "phone": ""}, {"name": " 988 ", "phone": "988"}],
                                  "unknown": ["ignored"]})
    assert problems == {} and kept["professionals"] == [{"name": "988", "phone": "988"}] and "unknown" not in kept


@pytest.mark.parametrize("missing, field", [
    ("warning_signs", "warning_signs"),                  # a plan starts from noticing the crisis coming
    ("professionals", "professionals-0-name"),           # and always names a professional or crisis line
])
def test_a_signed_plan_needs_warning_signs_and_a_professional(missing, field):
    plan = {k: v for k, v in COMPLETE.items() if k != missing}
    assert field in rules.signing_problems(plan)


@pytest.mark.parametrize("own_step", [
    {"coping_strategies": ["Walk the dog"]},                               # something to do alone
    {"distractions": ["Coffee with Dana"]},                                # a person or place to be with
    {"help_contacts": [{"name": "Dana", "phone": "555-0142"}]},            # someone to ask for help
])
def test_a_signed_plan_needs_one_thing_the_patient_can_do_of_any_kind(own_step):
    plan = {"warning_signs": ["Not sleeping"], "professionals": COMPLETE["professionals"], **own_step}
    assert rules.signing_problems(plan) == {}


def test_a_plan_with_nothing_the_patient_can_do_is_not_signed():
    plan = {"warning_signs": ["Not sleeping"], "professionals": COMPLETE["professionals"]}
    assert "coping_strategies" in rules.signing_problems(plan)


def test_reasons_for_living_are_optional_and_every_other_section_is_not():
    assert [s.key for s in rules.SECTIONS if s.optional] == ["reasons_for_living"]
    assert rules.signing_problems(COMPLETE) == {}


def test_lines_of_a_textarea():
    assert rules.lines(" Not sleeping \r\n\r\nCancelling plans\n  ") == ["Not sleeping", "Cancelling plans"]
    assert rules.lines(None) == []

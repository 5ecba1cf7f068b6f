"""The permission table: every permission named and used, every role's grants known, and the
README's table the one the code enforces."""
import re
from pathlib import Path

import pytest

from ketamine_integration.accounts.models import ROLE_LABELS, ROLES
from ketamine_integration.domain.permissions import GRANTS, PERMISSIONS, permissions_of, roles_with
from ketamine_integration.domain.roles import NURSE, PRESCRIBER, THERAPIST

ROOT = Path(__file__).resolve().parents[2]
#: where a permission may be asked for: views, services, templates
SOURCES = [*ROOT.joinpath("ketamine_integration").rglob("*.py"), *ROOT.joinpath("templates").rglob("*.html")]
TABLE = ROOT / "ketamine_integration" / "accounts" / "permissions.py"
README_START, README_END = "<!-- permissions table: start -->", "<!-- permissions table: end -->"


def markdown_table() -> str:
    """The README's roles x permissions table, from GRANTS."""
    head = "| Permission | " + " | ".join(ROLE_LABELS[r] for r in ROLES) + " | What it allows |"
    rule = "|---|" + "---|" * len(ROLES) + "---|"
    rows = [f"| `{name}` | " + " | ".join("✓" if name in GRANTS[r] else "" for r in ROLES) + f" | {text} |"
            for name, text in PERMISSIONS.items()]
    return "\n".join([head, rule, *rows])


def test_every_role_has_grants_and_every_grant_is_a_named_permission():
    assert set(GRANTS) == set(ROLES) == set(ROLE_LABELS)
    for role, granted in GRANTS.items():
        assert granted, f"{role} grants nothing"
        assert granted <= set(PERMISSIONS), f"{role} grants unnamed permissions: {granted - set(PERMISSIONS)}"
    assert all(text.strip() for text in PERMISSIONS.values())


def test_every_permission_is_granted_to_someone_and_asked_for_somewhere():
    asked = set()
    for path in SOURCES:
        if path != TABLE:
            asked |= set(re.findall(r"""["']([a-z_]+\.[a-z_]+)["']""", path.read_text(encoding="utf-8")))
    for name in PERMISSIONS:
        assert roles_with(name), f"{name} is granted to no role"
        assert name in asked, f"{name} is in the table but nothing asks for it"


def test_a_permission_used_in_the_code_is_in_the_table():
    pattern = re.compile(r"""(?:\.can\(|permission\(|roles_with\(|clinical=)["']([a-z_.]+)["']""")
    used = {m for path in SOURCES for m in pattern.findall(path.read_text(encoding="utf-8"))}
    assert used and used <= set(PERMISSIONS), used - set(PERMISSIONS)


@pytest.mark.parametrize("permission, expected", [
    ("dosing.record_vitals", True),   # records vitals and monitoring on a care-team patient's session
    ("dosing.monitor", True),         # may be recorded as who monitored
    ("dosing.administer", True),      # ... and as who administered
    ("schedule.read", True),          # sees the schedule
    ("dosing.sign", False),           # never signs as the responsible clinician
    ("notes.read", False),            # reads no note content
    ("coordination.message", False),  # nor the therapist-prescriber conversation
    ("schedule.book", False),         # sees the schedule but books nothing
    ("patients.read_all", False),     # only their care team's patients
])
def test_what_a_nurse_may_do(permission, expected):
    assert (permission in permissions_of([NURSE])) is expected


@pytest.mark.parametrize("permission, expected", [
    ("dosing.read", True),                          # reads a care-team patient's dosing record
    ("dosing.monitor_if_protocol_allows", True),    # monitors, and records the monitoring, where allowed
    ("dosing.record_vitals", False),                # otherwise never edits a dosing record (issue 19, point 3)
    ("dosing.record_dose", False),                  # nor the dose
    ("dosing.administer", False),                   # is never named as giving it
    ("dosing.sign", False),                         # nor signs it
])
def test_what_a_therapist_may_do_at_a_dose(permission, expected):
    assert (permission in permissions_of([THERAPIST])) is expected


def test_who_records_a_dosing_session():
    assert roles_with("dosing.record_vitals") == (PRESCRIBER, NURSE)


def test_front_desk_staff_never_administer_or_monitor_dosing():
    assert "staff" not in roles_with("dosing.monitor")
    assert "staff" not in roles_with("dosing.administer")


@pytest.mark.parametrize("permission, roles", [
    # the answers are clinical: the treating therapist and prescriber read them
    ("forms.read_signed", (THERAPIST, PRESCRIBER)),
    # whoever is with the patient at the clinic hands over the tablet and witnesses
    ("forms.sign_in_clinic", ("staff", THERAPIST, PRESCRIBER, NURSE)),
    # the role a form names countersigns (checked against the form file too)
    ("forms.countersign", ("staff", THERAPIST, PRESCRIBER)),
    # a flagged screening answer is a prescriber's to review before dosing
    ("forms.review_flags", (PRESCRIBER,)),
    # a patient may tell the front desk or a clinician that they withdraw
    ("forms.record_withdrawal", ("staff", THERAPIST, PRESCRIBER)),
])
def test_who_handles_signed_forms(permission, roles):
    assert set(roles_with(permission)) == set(roles)


def test_an_unknown_permission_is_an_error_not_an_empty_answer():
    with pytest.raises(KeyError):
        roles_with("dosing.sing")


def test_the_readme_table_is_the_table_the_code_enforces():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    written = readme.split(README_START, 1)[1].split(README_END, 1)[0].strip()
    assert written == markdown_table(), "regenerate it: python -c 'from tests.unit.test_permissions import " \
                                         "markdown_table; print(markdown_table())'"

"""nurse role: users may hold it, and a nurse may be on a patient's care team

Revision ID: 0019_nurse_role
Revises: 0018_open_measure_registry
Create Date: 2026-11-26 09:00:00

Issue 18, point 3: nurses record vitals and monitoring on their care-team patients' dosing
sessions. What each role may do is code (domain/permissions.py); the schema only has to
accept the new role name in the two columns that hold role names.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019_nurse_role'
down_revision = '0018_open_measure_registry'
branch_labels = None
depends_on = None

#: (table, constraint name, roles before, roles after)
CHECKS = (
    ("user_roles", "known_role", ("admin", "staff", "therapist", "prescriber"),
     ("admin", "staff", "therapist", "prescriber", "nurse")),
    ("care_team_members", "clinical_role", ("therapist", "prescriber"), ("therapist", "prescriber", "nurse")),
)


def _role_check(table: str, name: str, roles: tuple[str, ...]) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
        batch_op.create_check_constraint(name, "role IN (" + ", ".join(f"'{r}'" for r in roles) + ")")


#: the two-step sign-in policy, when an admin has saved one: a comma-separated list of roles
POLICY = "key = 'mfa_required_roles'"


def upgrade():
    for table, name, _before, after in CHECKS:
        _role_check(table, name, after)
    # A saved two-step policy lists the roles of its day; nurses read patient data, so a clinic
    # that saved one requires two-step sign-in of nurses too until an admin says otherwise.
    op.execute(f"UPDATE clinic_settings SET value = CASE WHEN value = '' THEN 'nurse' ELSE value || ',nurse' END "
               f"WHERE {POLICY} AND value NOT LIKE '%nurse%'")


def downgrade():
    # A nurse's rows would break the narrower check: they go first (their grants with them).
    op.execute("DELETE FROM care_team_members WHERE role = 'nurse'")
    op.execute("DELETE FROM user_roles WHERE role = 'nurse'")
    op.execute(f"UPDATE clinic_settings SET value = REPLACE(REPLACE(value, ',nurse', ''), 'nurse', '') WHERE {POLICY}")
    for table, name, before, _after in CHECKS:
        _role_check(table, name, before)

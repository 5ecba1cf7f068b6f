"""flask signatures verify: recompute the digest of every signed record (dosing sessions, notes,
treatment and safety plan revisions) and of every append-only record that carries one (addenda, measures, releases,
formulations, preparation entries, safety plan reviews), and check append-only records against the
audit trail."""
from __future__ import annotations

from collections.abc import Callable

import click
from flask.cli import AppGroup

from ..db.append_only import DIGESTED, undone_one_way_changes, verify_digests
from ..audit.append_only_trail import (broken_histories, malformed_audit_rows, missing_records, rewritten_one_way_changes, rewritten_records,
                                      short_histories, unaudited_records)
from ..audit.cli import verify_chain
from ..extensions import db
from ..experience.services import verify_protocol_snapshots, verify_signed_sessions
from ..plans.services import verify_signed_plans
from ..safety_plans.services import verify_signed_safety_plans
from .services import verify_signed_notes

signatures_cli = AppGroup("signatures", help="Signed-record integrity commands.")

#: each record's verdict: whether its digest still matches, or what differs (empty: nothing does)
Verdict = bool | tuple[str, ...]
#: signed records of packages above notes (the discharge summary): their name in the report -> a
#: function giving (id, verdict) for each, and their table where the report names it; registered by
#: cli.register_commands
SIGNED_RECORDS: dict[tuple[str, str], tuple[Callable[[], list[tuple[int, Verdict]]], str | None]] = {}


def register_signed_records(name: str, plural: str, verify: Callable[[], list[tuple[int, Verdict]]],
                            table: str | None = None) -> None:
    """Have `signatures verify` recheck another kind of signed record (`name`: "discharge summary")."""
    SIGNED_RECORDS[(name, plural)] = (verify, table)

#: how a digested table's rows are named in the report
RECORD_NAMES = {"note_addenda": "note addendum", "dosing_addenda": "dosing addendum",
                "measure_responses": "measure response", "releases_of_information": "release of information",
                "safety_alerts": "safety alert", "preparation_records": "preparation record",
                "case_formulations": "formulation revision", "coordination_reports": "coordination report",
                "coordination_notes": "coordination note", "phase_transitions": "phase transition",
                "appointment_changes": "appointment change", "treatment_courses": "course",
                "appointments": "appointment", "plan_addenda": "plan addendum",
                "course_stage_changes": "course stage change", "discharge_addenda": "discharge addendum",
                "safety_plan_addenda": "safety plan addendum", "safety_plan_reviews": "safety plan review",
                "safety_plan_revisions": "safety plan revision", "signed_forms": "signed form",
                "form_countersignatures": "form countersignature", "form_flag_reviews": "form flag review",
                "consent_withdrawals": "consent withdrawal"}


@signatures_cli.command("verify")
def verify_command():
    """Check signed dosing sessions, signed notes, signed treatment and safety plan revisions, protocol
    snapshots, addenda, measures, releases, formulations, preparation entries and safety plan reviews
    against their hashes, and append-only records against the audit trail; exit 1 on any mismatch. The
    audit trail is only as good as its HMAC chain (a forged audit row naming a forged record would
    otherwise vouch for it), so the chain is walked first and a break fails the run."""
    broken = _report_chain()
    sessions, snapshots, notes = verify_signed_sessions(), verify_protocol_snapshots(), verify_signed_notes()
    plans, safety_plans = verify_signed_plans(), verify_signed_safety_plans()
    records = verify_digests()
    broken += _report_records(records) + _report_undone(undone_one_way_changes()) + _report_trail()
    signed = "content differs from what was signed"
    broken += _report_signed(notes, "session note", signed) + _report_signed(plans, "treatment plan revision", signed)
    broken += _report_signed(sessions, "dosing session", signed)
    broken += _report_signed(snapshots, "protocol snapshot", "definition differs from its content hash")
    broken += _report_signed(safety_plans, "safety plan revision", signed)
    broken += _report_signed_records()
    click.echo(f"{sum(ok for _, ok in sessions)} of {len(sessions)} signed dosing sessions verified.")
    click.echo(f"{sum(ok for _, ok in notes)} of {len(notes)} signed session notes verified.")
    click.echo(f"{sum(ok for _, ok in plans)} of {len(plans)} signed treatment plan revisions verified.")
    click.echo(f"{sum(ok for _, ok in snapshots)} of {len(snapshots)} protocol snapshots verified.")
    click.echo(f"{sum(ok for _, ok in safety_plans)} of {len(safety_plans)} signed safety plan revisions verified.")
    for table in DIGESTED:
        checked = [ok for name, _, ok in records if name == table]
        click.echo(f"{sum(checked)} of {len(checked)} {table.replace('_', ' ')} rows verified.")
    if broken:
        raise SystemExit(1)


def _report_chain() -> int:
    """Walk the audit chain (as `flask audit verify` does); name where it breaks. 1 if it does."""
    result = verify_chain(db.session())
    if not result.broken:
        return 0
    position, row_id, why = result.broken
    row = f" (audit row id {row_id})" if row_id is not None else ""
    click.echo(f"BROKEN audit chain at position {position}{row}: {why}. The checks against the audit trail "
               "below trust rows that may be forged; run `flask audit verify`.", err=True)
    return 1


def _report_signed(results, name: str, problem: str, table: str | None = None) -> int:
    """Name each signed record (or snapshot) whose content no longer matches its digest, once per thing that
    differs where the verdict names them; the count of such records."""
    broken = 0
    where = f" ({table})" if table else ""
    for key, verdict in results:
        problems = _problems(verdict, problem)
        broken += bool(problems)
        for each in problems:
            click.echo(f"MISMATCH {name} {key}{where}: {each}", err=True)
    return broken


def _problems(verdict: Verdict, problem: str) -> tuple[str, ...]:
    if isinstance(verdict, bool):
        return () if verdict else (problem,)
    return verdict


def _report_signed_records() -> int:
    """Recheck each registered kind of signed record; name each mismatch; their count."""
    broken = 0
    for (name, plural), (verify, table) in SIGNED_RECORDS.items():
        results = verify()
        broken += _report_signed(results, name, "content differs from what was signed", table)
        verified = sum(not _problems(verdict, "") for _, verdict in results)
        click.echo(f"{verified} of {len(results)} signed {plural} verified.")
    return broken


def _report_records(records) -> int:
    """Name each append-only record whose content no longer matches its digest; their count."""
    broken = 0
    for table, row_id, ok in records:
        if not ok:
            broken += 1
            click.echo(f"MISMATCH {RECORD_NAMES[table]} {row_id} ({table}): content differs from its digest",
                       err=True)
    return broken


def _report_undone(undone) -> int:
    """Name each void, acknowledgement or revocation the audit trail records but the row lost."""
    for table, row_id in undone:
        click.echo(f"UNDONE {RECORD_NAMES[table]} {row_id} ({table}): the audit trail records a one-way change "
                   "the row no longer shows", err=True)
    return len(undone)


def _report_trail() -> int:
    """Name each record the audit trail or its own history says is gone or rewritten; their count."""
    problems = [f"MISSING {RECORD_NAMES[table]} {row_id} ({table}): the audit trail records it, the row is gone"
                for table, row_id in missing_records()]
    problems += [f"MISSING {RECORD_NAMES[table]} rows of {parent_id} ({table}): the audit trail records "
                 f"{recorded}, {present} remain" for table, parent_id, recorded, present in short_histories()]
    problems += [f"REWRITTEN {RECORD_NAMES[table]} {row_id} ({table}): its void, acknowledgement or revocation "
                 "differs from what the audit trail recorded" for table, row_id in rewritten_one_way_changes()]
    problems += [f"REWRITTEN {RECORD_NAMES[table]} {row_id} ({table}): its content differs from the digest the "
                 "audit row of its creation carries" for table, row_id in rewritten_records()]
    problems += [f"UNAUDITED {RECORD_NAMES[table]} {row_id} ({table}): no audit row records its creation (written "
                 "behind the app)" for table, row_id in unaudited_records()]
    problems += [f"BROKEN {RECORD_NAMES[table]} {row_id} ({table}): {what}"
                 for table, row_id, what in broken_histories()]
    problems += [f"MALFORMED audit row {audit_id}: its {action} names '{object_id}', which is no record's id "
                 "(written behind the app)" for audit_id, action, object_id in malformed_audit_rows()]
    for line in problems:
        click.echo(line, err=True)
    return len(problems)

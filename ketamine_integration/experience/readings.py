"""Saved vital-sign readings as facts: who entered each set, and a saved reading changed only with
a reason, its earlier values kept (vital_sign_corrections, append-only) and shown as "Earlier
readings" on the record, whose signature covers them."""
from __future__ import annotations

from datetime import datetime, timezone

from ..accounts.models import User
from ..db.clinic_time import format_local
from ..domain.dosing_plan import AT_HOME
from ..domain.vitals import MIN_ACTION_CHARACTERS, READINGS, TIMEPOINTS, substantive
from .models import VITAL_SOURCES, DosingSession, VitalSignCorrection, VitalSigns

#: the form field holding why a saved reading changed
REASON_FIELD = "vitals_correction_reason"


def _source(session: DosingSession, readings: dict) -> str:
    """The source as stored: as chosen, else the setting's (the clinic's staff in the clinic; at
    home a set with readings needs an explicit choice, see plan_rules.vital_source_problems)."""
    return readings.get("source") or ("patient_reported" if session.setting == AT_HOME else "clinician")


def _changed(row: VitalSigns, readings: dict, source: str) -> bool:
    """A saved reading changes when a number that was saved is replaced or removed, or who took
    the readings changes; a number added where none was saved is not a correction."""
    saved = {name: getattr(row, name) for name in READINGS if getattr(row, name) is not None}
    return bool(saved) and (any(readings.get(name) != value for name, value in saved.items()) or row.source != source)


def corrected_timepoints(session: DosingSession, vitals: dict[str, dict]) -> list[str]:
    """The timepoints whose saved readings the submission changes."""
    by_point = {v.timepoint: v for v in session.vitals}
    return [tp for tp in TIMEPOINTS if tp in vitals and tp in by_point
            and _changed(by_point[tp], vitals[tp], _source(session, vitals[tp]))]


def correction_problems(session: DosingSession, vitals: dict[str, dict], reason: str | None) -> dict[str, str]:
    """A changed saved reading needs a reason, in words."""
    changed = corrected_timepoints(session, vitals)
    if not changed or substantive(reason):
        return {}
    where = ", ".join(TIMEPOINTS[tp].lower() for tp in changed)
    return {REASON_FIELD: f"You changed a reading already saved ({where}). Say why, in words (at least "
                          f"{MIN_ACTION_CHARACTERS} characters): the earlier reading stays on the record."}


def record_vitals(session: DosingSession, vitals: dict[str, dict], *, by: User, reason: str | None,
                  now: datetime) -> None:
    """Update the readings at each submitted timepoint, adding those not yet recorded; a changed
    saved reading keeps its earlier values as a correction (the reason was checked before)."""
    by_point = {v.timepoint: v for v in session.vitals}
    for timepoint, readings in vitals.items():
        row = by_point.get(timepoint)
        values = {name: readings.get(name) for name in READINGS}
        values["source"] = _source(session, readings)
        if row is None:
            row = VitalSigns(timepoint=timepoint)
            session.vitals.append(row)
        elif _changed(row, readings, values["source"]):
            session.vital_corrections.append(VitalSignCorrection(
                timepoint=timepoint, source=row.source, entered_by_id=row.entered_by_id, corrected_by_id=by.id,
                corrected_at=now, reason=" ".join(reason.split()),
                **{name: getattr(row, name) for name in READINGS}))
        if row.id is None or any(getattr(row, name) != value for name, value in values.items()):
            row.entered_by_id = by.id
        for name, value in values.items():
            setattr(row, name, value)


def reading_words(readings: dict[str, int | None]) -> str:
    parts = []
    if readings.get("systolic") is not None or readings.get("diastolic") is not None:
        parts.append(f"blood pressure {readings.get('systolic') or '—'}/{readings.get('diastolic') or '—'} mmHg")
    parts += [f"{READINGS[name][0]} {readings[name]} {READINGS[name][1]}"
              for name in ("heart_rate", "spo2", "respiratory_rate") if readings.get(name) is not None]
    return ", ".join(parts) or "nothing recorded"


def earlier_reading_lines(session: DosingSession) -> list[str]:
    """Each replaced reading in plain words: what it was, who entered it, who changed it, when and why."""
    lines = []
    for c in session.vital_corrections:
        entered = c.entered_by.display_name if c.entered_by else "not recorded"
        lines.append(f"{TIMEPOINTS[c.timepoint]}: {reading_words(c.readings)} ({VITAL_SOURCES.get(c.source, '—')}; "
                     f"entered by {entered}). Changed by {c.corrected_by.display_name} on "
                     f"{format_local(c.corrected_at)}: {c.reason}")
    return lines


def signed_corrections(session: DosingSession) -> dict:
    """The earlier readings and who entered what, for the signed content: nothing on a record
    without them, so records signed before migration 0024 hash as they did."""
    extras = {}
    if session.vital_corrections:
        extras["earlier_readings"] = [
            [c.timepoint, [c.readings[name] for name in READINGS], c.source, c.entered_by_id, c.corrected_by_id,
             c.corrected_at.astimezone(timezone.utc).isoformat(), c.reason] for c in session.vital_corrections]
    entered = {v.timepoint: v.entered_by_id for v in session.vitals if v.entered_by_id is not None}
    entered.update({f"response_{r.timepoint}": r.entered_by_id for r in session.vital_responses
                    if r.entered_by_id is not None})
    if entered:
        extras["entered_by"] = entered
    return extras

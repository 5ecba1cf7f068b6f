"""What a dosing record's signature covers: its clinical content as canonical plain data, the
SHA-256 digest stored at signing, and the checks `flask signatures verify` runs on every signed
record and protocol snapshot."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import select

from ..domain.dosing_plan import IN_CLINIC
from ..domain.protocols import content_hash
from ..extensions import db
from ..protocols.models import ProtocolVersion
from . import monitoring, readings, revisions
from .models import SIGNED, DosingSession

#: columns copied from the record form as they are
RECORD_FIELDS = ("started_at", "ended_at", "route", "medication", "dose_mg", "weight_kg", "lot_number",
                 "administered_by_id", "monitored_by_id", "sedation", "dissociation",
                 "concomitant_sedating_medications", "discharged_at", "ready_to_leave_at",
                 "vitals_acceptable_before_dosing", "vitals_acceptable_before_discharge")
#: columns derived when the record is saved (monitoring from its times, discharge readiness from
#: its criteria: experience.monitoring), signed with the rest
DERIVED_FIELDS = ("monitoring_minutes", "discharge_ready")


#: decimal places of the numeric columns, so a value hashes the same before and after storage
DECIMAL_PLACES = {"dose_mg": 2, "weight_kg": 1, "dose_mg_per_kg": 3}


def _canonical(name: str, value):
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if name in DECIMAL_PLACES:
        return str(Decimal(str(value)).quantize(Decimal(1).scaleb(-DECIMAL_PLACES[name])))
    return value


def signed_content(session: DosingSession) -> dict:
    """The clinical content a signature covers, as canonical plain data (digest and documents)."""
    content = {name: getattr(session, name) for name in RECORD_FIELDS + DERIVED_FIELDS}
    content.update(id=session.id, course_id=session.course_id, sequence=session.sequence,
                   status=session.status, dose_mg_per_kg=session.dose_mg_per_kg,
                   signed_by_id=session.signed_by_id, signed_at=session.signed_at)
    content = {name: _canonical(name, value) for name, value in content.items()}
    # a respiratory rate is signed when recorded; records without one hash as they always did
    content["vitals"] = {v.timepoint: [v.systolic, v.diastolic, v.heart_rate, v.spo2]
                         + ([v.respiratory_rate] if v.respiratory_rate is not None else [])
                         + ([v.source] if v.source not in (None, "clinician") else [])
                         for v in sorted(session.vitals, key=lambda v: v.timepoint)}
    # Added with issue 19: present only when they say something, so earlier signatures still verify.
    if session.setting not in (None, IN_CLINIC):
        content["setting"] = session.setting
    if session.dose_confirmation_reason:
        content["dose_confirmation_reason"] = session.dose_confirmation_reason
    content["adverse_events"] = [[e.event_type, e.severity, e.action_taken] for e in session.adverse_events]
    content.update(monitoring.signed_extras(session))
    content.update(readings.signed_corrections(session))
    content.update(revisions.signed_history(session))
    return content


def content_digest(session: DosingSession) -> str:
    payload = json.dumps(signed_content(session), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def verify_signed_sessions() -> list[tuple[int, bool]]:
    """(id, digest still matches) for every signed dosing session."""
    sessions = db.session.scalars(select(DosingSession).where(DosingSession.status == SIGNED)
                                  .order_by(DosingSession.id)).all()
    return [(s.id, s.content_digest == content_digest(s)) for s in sessions]


def verify_protocol_snapshots() -> list[tuple[str, bool]]:
    """("id vN", snapshot still hashes to its recorded content hash) for every registered version."""
    versions = db.session.scalars(select(ProtocolVersion).order_by(ProtocolVersion.id)).all()
    return [(f"{v.protocol_id} v{v.version}", content_hash(v.definition) == v.content_hash) for v in versions]

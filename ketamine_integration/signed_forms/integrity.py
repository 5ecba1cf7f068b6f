"""`flask signatures verify`'s recheck of the signed forms: each document against its digest and the
columns that repeat it, each countersignature against its digest and the role its form's file names,
each flag review against the form it reviews (issue 26). What the audit trail says of these records
(deleted, rewritten, forged) is audit.append_only_trail's.
"""
from __future__ import annotations

from datetime import timezone

from sqlalchemy import select
from sqlalchemy.orm import lazyload, selectinload

from ..courses.models import TreatmentCourse
from ..courses.services import course_protocol
from ..domain.form_answers import document_digest, document_json, flag_count
from ..extensions import db
from .models import FormCountersignature, FormFlagReview, FormPacket, SignedForm
from .services import countersignature_digest, iso_instant, signed_definition
from .status import document_of

__all__ = ["verify_countersignatures", "verify_flag_reviews", "verify_packets", "verify_signed_forms"]


def verify_signed_forms() -> list[tuple[int, tuple[str, ...]]]:
    """(id, what differs) per signed form: its document against its digest, and each column that repeats
    what the document says against the document (empty: it verifies). A row changed by hand, its patient
    or its flags say, is named with the column that no longer matches what the patient signed."""
    rows = db.session.execute(select(SignedForm, TreatmentCourse.patient_id)
                              .join(TreatmentCourse, TreatmentCourse.id == SignedForm.course_id)
                              .order_by(SignedForm.id).options(lazyload("*")))
    return [(row.id, _mismatches(row, course_patient_id)) for row, course_patient_id in rows]


def _mismatches(row: SignedForm, course_patient_id: int) -> tuple[str, ...]:
    try:
        document = document_of(row)
        stated = _stated(document)
    except (ValueError, KeyError, TypeError, AttributeError):
        return ("content differs from what was signed (the document cannot be read)",)
    problems = []
    if document_digest(document) != row.digest or document_json(document) != row.document:
        problems.append("content differs from what was signed")
    problems += [f"{column} differs from the signed document" for column, value in stated.items()
                 if _column(row, column) != value]
    # the document names no course: the course must at least be the signed patient's
    if course_patient_id != stated["patient_id"]:
        problems.append("course_id names a course of another patient than the signed document's")
    return tuple(problems)


def _stated(document: dict) -> dict[str, object]:
    """The signed row's columns as the document states them."""
    form, signature = document["form"], document["signature"]
    witness = signature["witness"]
    return {"patient_id": document["patient"]["id"], "form_id": form["id"], "form_version": form["version"],
            "form_content_hash": form["content_sha256"], "kind": form["kind"], "title": form["title"],
            "signed_at": signature["signed_at"], "method": signature["method"], "typed_name": signature["typed_name"],
            "witness_id": witness["id"] if witness is not None else None, "flagged_count": flag_count(document)}


def _column(row: SignedForm, column: str) -> object:
    value = getattr(row, column)
    return iso_instant(value.astimezone(timezone.utc)) if column == "signed_at" else value


def verify_packets() -> list[tuple[int, tuple[str, ...]]]:
    """(id, what is missing) per form packet: each form its course's protocol snapshot names must be in it
    (create_packet copies them). The dosing gate asks for the missing one all the same
    (status.forms_asked_for); this names the row deleted behind the app."""
    packets = db.session.scalars(select(FormPacket).order_by(FormPacket.id)
                                 .options(selectinload(FormPacket.forms), selectinload(FormPacket.course)))
    results = []
    for packet in packets:
        held = {f.form_id for f in packet.forms}
        named = course_protocol(packet.course).preparation.forms
        results.append((packet.id, tuple(f"lacks {form_id}, which its course's protocol snapshot names"
                                         for form_id in named if form_id not in held)))
    return results


def verify_countersignatures() -> list[tuple[int, tuple[str, ...]]]:
    """(id, what differs) per countersignature: its digest against the signed form's digest, the
    countersigner, the role and the time; and its role against the one the form's file names (a
    countersignature by anyone else does not stand for the one the form asks for)."""
    rows = db.session.execute(select(FormCountersignature, SignedForm).join(SignedForm)
                              .order_by(FormCountersignature.id).options(lazyload("*")))
    results = []
    for countersignature, signed in rows:
        problems = []
        if countersignature.digest != countersignature_digest(signed, user_id=countersignature.user_id,
                                                              role=countersignature.role,
                                                              signed_at=countersignature.signed_at):
            problems.append("content differs from what was signed")
        definition = signed_definition(signed)
        named = definition.countersign if definition is not None else None
        if countersignature.role != named:
            problems.append(f"countersigned as {countersignature.role}; the form's file asks for "
                            f"{named or 'no countersignature'}")
        results.append((countersignature.id, tuple(problems)))
    return results


def verify_flag_reviews() -> list[tuple[int, tuple[str, ...]]]:
    """(id, what is wrong) per review of flagged answers: of a signed form that flags nothing. Such a
    review would let dosing go ahead (status.PacketItem.stops_dosing) on nobody's clinical judgement.

    Who wrote it is not checked against their roles today: a prescriber who later leaves the role wrote
    an honest review all the same. The service checks the role when the review is written, and the
    reviewer is covered by the digest its audit row carries (append_only_trail.rewritten_records), so a
    reviewer rewritten afterwards is reported there."""
    rows = db.session.execute(select(FormFlagReview.id, SignedForm.flagged_count)
                              .join(SignedForm, SignedForm.id == FormFlagReview.signed_form_id)
                              .order_by(FormFlagReview.id))
    results = []
    for row in rows:
        problems = () if row.flagged_count else ("the signed form it reviews flags no answer",)
        results.append((row.id, problems))
    return results

"""Consent (releases of information), DocumentReference (signed session notes, signed discharge
summaries, coordination reports) and Communication (coordination notes between the patient's clinicians).
Process notes are another table (notes.models.ProcessNote) that nothing here reads: they never leave their
author (45 CFR 164.501, 164.508(a)(2))."""
from __future__ import annotations

import base64
import hashlib

from ..coordination.models import CATEGORIES, NOTE_CATEGORIES, CoordinationNote, CoordinationReport, ReleaseOfInformation
from ..discharge.content import WRITTEN
from ..discharge.models import DischargeSummary
from ..notes.models import NOTE_KINDS, SessionNote
from . import codes as c
from .care import episode_id
from .people import patient_id, practitioner_ref

WRITTEN_TITLES = {section.key: section.title for section in WRITTEN}


def consent_resource(release: ReleaseOfInformation, today) -> dict:
    """A release: who may receive which categories, from when until when; revoked or expired: inactive."""
    recipient = (practitioner_ref(release.recipient) if release.recipient is not None
                 else {"display": release.recipient_name or "Recipient named on the release"})
    period = {"start": release.effective_on.isoformat()}
    end = min(d for d in (release.expires_on, release.revoked_on) if d) if (release.expires_on or
                                                                           release.revoked_on) else None
    if end:
        period["end"] = end.isoformat()
    return {
        "resourceType": "Consent", "id": f"release-{release.id}", "identifier": c.identifier(c.RELEASE, release.id),
        "status": "active" if release.active_on(today) else "inactive",
        "scope": c.concept(c.CONSENT_SCOPE, "patient-privacy", "Privacy Consent"),
        "category": [c.concept(c.LOINC, *c.CONSENT_CATEGORY)],
        "patient": c.ref("Patient", patient_id(release.patient_id)), "dateTime": c.instant(release.created_at),
        "policyRule": {"text": "Release of information (HIPAA 45 CFR 164.508); psychotherapy notes are never released"},
        "provision": {
            "type": "permit", "period": period,
            "actor": [{"role": c.concept(c.PARTICIPATION, "IRCP", "information recipient"), "reference": recipient}],
            "purpose": [{"display": release.purpose}],
            "code": [c.concept(c.RELEASE_CATEGORY, key, CATEGORIES.get(key, key)) for key in release.categories],
        },
    }


def _text_attachment(title: str, text: str, created) -> dict:
    data = text.encode("utf-8")
    return {"contentType": "text/plain; charset=utf-8", "data": base64.b64encode(data).decode("ascii"),
            "size": len(data), "hash": base64.b64encode(hashlib.sha1(data).digest()).decode("ascii"),
            "title": title, "creation": c.instant(created)}


def _sections(content: dict, titles: dict[str, str]) -> list[str]:
    lines = []
    for key, value in content.items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        if value not in (None, ""):
            lines.append(f"{titles.get(key, key.replace('_', ' ').capitalize())}:\n{value}\n")
    return lines


def _addenda(addenda) -> list[str]:
    return [f"Addendum by {a.author.full_name}, {c.instant(a.created_at)}:\n{a.body}\n" for a in addenda]


def _document(doc_id: str, system: str, pk: int, doc_type: tuple[str, str], *, patient: int, course: int,
              author, date, attachment: dict) -> dict:
    out = {"resourceType": "DocumentReference", "id": doc_id, "identifier": c.identifier(system, pk),
           "status": "current", "docStatus": "final", "type": c.concept(c.LOINC, *doc_type),
           "subject": c.ref("Patient", patient_id(patient)), "date": c.instant(date).replace("Z", "+00:00"),
           "content": [{"attachment": attachment}],
           "context": {"related": [c.ref("EpisodeOfCare", episode_id(course))]}}
    author_ref = practitioner_ref(author)
    if author_ref:
        out["author"] = [author_ref]
    return out


def note_document(note: SessionNote) -> dict | None:
    """A signed session note's sections and addenda as text; a draft or discarded note is not a record."""
    if not note.signed or note.discarded:
        return None
    title = f"{NOTE_KINDS[note.kind]} note, {note.session_date.isoformat()}"
    text = "\n".join([title + "\n", *_sections(note.content or {}, {}), *_addenda(note.addenda)])
    return _document(f"note-{note.id}", c.SESSION_NOTE, note.id, c.NOTE_TYPE, patient=note.patient_id,
                     course=note.course_id, author=note.author, date=note.signed_at,
                     attachment=_text_attachment(title, text, note.signed_at))


def discharge_document(summary: DischargeSummary) -> dict | None:
    if not summary.signed:
        return None
    title = "Discharge summary"
    text = "\n".join([title + "\n", *_sections(summary.written or {}, WRITTEN_TITLES), *_addenda(summary.addenda)])
    return _document(f"discharge-{summary.id}", c.DISCHARGE_SUMMARY, summary.id, c.DISCHARGE_TYPE,
                     patient=summary.patient_id, course=summary.course_id, author=summary.signed_by,
                     date=summary.signed_at, attachment=_text_attachment(title, text, summary.signed_at))


def report_document(report: CoordinationReport) -> dict:
    """A coordination report as it was sent: its stored PDF."""
    attachment = {"contentType": "application/pdf", "data": base64.b64encode(report.pdf).decode("ascii"),
                  "size": len(report.pdf), "hash": base64.b64encode(hashlib.sha1(report.pdf).digest()).decode("ascii"),
                  "title": f"Coordination report to {report.recipient.full_name}",
                  "creation": c.instant(report.created_at)}
    return _document(f"report-{report.id}", c.REPORT, report.id, c.REPORT_TYPE, patient=report.patient_id,
                     course=report.course_id, author=report.created_by, date=report.created_at, attachment=attachment)


def communication_resources(note: CoordinationNote) -> list[dict]:
    """A coordination note between the patient's clinicians, and its acknowledgement's reply when it has one.

    Designated record set (45 CFR 164.501): the care team's account of the patient's response, adverse
    effects, safety and scheduling, used to make decisions about the patient; not psychotherapy notes, which
    are kept apart (their table is never read here). The clinic keeps no messages exchanged with the patient
    (what it sends the patient is reminders and sign-in codes, whose text is not kept once sent), so no
    Communication is written for any."""
    sent = {
        "resourceType": "Communication", "id": f"coordination-{note.id}",
        "identifier": c.identifier(c.COORDINATION_NOTE, note.id), "status": "completed",
        "category": [c.concept(c.NOTE_CATEGORY, note.category, NOTE_CATEGORIES.get(note.category))],
        "priority": note.priority, "subject": c.ref("Patient", patient_id(note.patient_id)),
        "sent": c.instant(note.sent_at), "recipient": [practitioner_ref(note.recipient)],
        "sender": practitioner_ref(note.author), "payload": [{"contentString": note.body}],
    }
    if note.acknowledged_at is not None:
        sent["received"] = c.instant(note.acknowledged_at)
    if note.follows_id is not None:
        sent["inResponseTo"] = [c.ref("Communication", f"coordination-{note.follows_id}")]
    if not note.reply:
        return [sent]
    reply = {
        "resourceType": "Communication", "id": f"coordination-{note.id}-reply", "status": "completed",
        "category": sent["category"], "subject": sent["subject"], "sent": c.instant(note.acknowledged_at),
        "recipient": [practitioner_ref(note.author)], "sender": practitioner_ref(note.recipient),
        "inResponseTo": [c.ref("Communication", f"coordination-{note.id}")],
        "payload": [{"contentString": note.reply}],
    }
    return [sent, reply]

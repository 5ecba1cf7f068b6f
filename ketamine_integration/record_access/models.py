"""Right-of-access requests: who asked, for whom, when, how the copy goes, and what the copy held.

One row per export made, whether a clinician made it for a request that reached the clinic or the
patient downloaded their record in the portal. The row is the clinic's accounting of what left: the
zip's SHA-256 and its manifest (every file's name, size and SHA-256), never the files themselves, so
the record is not copied into a second place. Rows are append-only (migration 0055_record_exports).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..db.types import UTCDateTime, utcnow
from ..extensions import db
from ..patients.models import Patient

#: who asked: the patient, or a personal representative (45 CFR 164.502(g)) named in the request
PATIENT, REPRESENTATIVE = "patient", "representative"
REQUESTERS = {PATIENT: "The patient", REPRESENTATIVE: "A personal representative named in the request"}
#: how the copy reaches whoever asked
DELIVERIES = {"in_person": "Handed over in person (on paper or a device)",
              "mail": "Sent by post on a device or on paper",
              "email": "Sent by email (the patient asked for email, 164.524(c)(2))",
              "portal": "Downloaded by the patient in the portal"}
PORTAL_DELIVERY = "portal"


class RecordExport(db.Model):
    __tablename__ = "record_exports"
    __table_args__ = (
        CheckConstraint("requested_by IN ('patient', 'representative')", name="known_requester"),
        CheckConstraint("delivery IN ('in_person', 'mail', 'email', 'portal')", name="known_delivery"),
        # a representative is named, with the authority they act under
        CheckConstraint("requested_by = 'patient' OR (representative_name IS NOT NULL "
                        "AND representative_authority IS NOT NULL)", name="representative_named"),
        # made by a clinician, or by the patient in the portal: one of the two, never both
        CheckConstraint("(made_by_id IS NULL) <> (portal_account_id IS NULL)", name="one_maker"),
        # the portal's download is the patient's own
        CheckConstraint("portal_account_id IS NULL OR (requested_by = 'patient' AND delivery = 'portal')",
                        name="portal_is_the_patients"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: whose record
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(20))
    #: the personal representative's name and what makes them one (e.g. "Health care power of attorney")
    representative_name: Mapped[str | None] = mapped_column(String(120))
    representative_authority: Mapped[str | None] = mapped_column(String(200))
    #: the clinic day the request reached the clinic (the 30 days of 164.524(b)(2) count from it)
    received_on: Mapped[date]
    delivery: Mapped[str] = mapped_column(String(20))
    #: where or to whom it goes (an address, "at the front desk"), as the clinician wrote it
    delivery_note: Mapped[str | None] = mapped_column(String(300))
    #: the clinician who made it (None: the patient in the portal)
    made_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: the patient's portal account that downloaded it (None: a clinician made it)
    portal_account_id: Mapped[int | None] = mapped_column(ForeignKey("portal_accounts.id"))
    made_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    file_name: Mapped[str] = mapped_column(String(200))
    #: SHA-256 of the zip as handed out, and its size in bytes
    zip_sha256: Mapped[str] = mapped_column(String(64))
    zip_bytes: Mapped[int]
    #: the zip's files: [{"path", "bytes", "sha256"}], as its manifest.json lists them
    manifest: Mapped[list] = mapped_column(JSON)
    #: whether the FHIR bundle was in it
    fhir_included: Mapped[bool]

    patient: Mapped[Patient] = relationship()
    made_by: Mapped[User | None] = relationship(lazy="joined")

    @property
    def requester_words(self) -> str:
        if self.requested_by == PATIENT:
            return "The patient"
        return f"{self.representative_name}, personal representative ({self.representative_authority})"

"""Registered protocol versions: the immutable snapshot every course is pinned to."""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..db.types import UTCDateTime, utcnow
from ..extensions import db


class ProtocolVersion(db.Model):
    """One protocol version as first used by a course; never changed afterwards.

    A file edited without raising its version no longer matches content_hash and is refused,
    so a running course can never silently follow a changed definition.
    """

    __tablename__ = "protocol_versions"
    __table_args__ = (UniqueConstraint("protocol_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the protocol's id in its file, e.g. "iv-ketamine-induction"
    protocol_id: Mapped[str] = mapped_column(String(60))
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(120))
    #: SHA-256 of the canonical JSON of the definition
    content_hash: Mapped[str] = mapped_column(String(64))
    #: the definition as canonical JSON: what courses on this version follow
    definition_json: Mapped[str] = mapped_column(Text)
    source_file: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def definition(self) -> dict:
        return json.loads(self.definition_json)

    @property
    def label(self) -> str:
        return f"{self.name} (v{self.version})"


class SnapshotChanged(RuntimeError):
    """Code tried to change or delete a registered protocol version."""


def refuse_snapshot_changes(db_session: Session, flush_context, instances) -> None:
    # A course follows its snapshot for life; the migration adds database triggers as well.
    for obj in list(db_session.dirty) + list(db_session.deleted):
        if isinstance(obj, ProtocolVersion) and (obj in db_session.deleted or db_session.is_modified(obj)):
            raise SnapshotChanged(f"protocol version {obj.protocol_id} v{obj.version} is immutable")
